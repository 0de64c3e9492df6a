// Parsing one rule file (*.qr) into declarations (rules/grammar/ast.h), with error recovery:
// a syntax error is reported as a located diagnostic and parsing resumes at the next
// declaration (the next line that starts in column 0), so one run reports several errors.
// Part of the rule-language front end: parser -> checker/lowering (compiler.h).
#ifndef QPREP_RULES_PARSER_H_
#define QPREP_RULES_PARSER_H_

#include <memory>
#include <vector>

#include "common/diagnostics.h"
#include "rules/grammar/ast.h"
#include "rules/grammar/error_handler.h"

namespace qprep::rules {

struct ParsedFile {
  std::shared_ptr<const SourceFile> file;
  std::vector<ast::Declaration> declarations;
  // Maps AST position tags to source ranges; valid as long as `file` is.
  std::unique_ptr<parser::ErrorHandler> positions;

  SourceRange RangeOf(const boost::spirit::x3::position_tagged& node) const {
    return positions->RangeOf(node);
  }
};

// Never fails: syntax errors go to `sink`; the declarations that parsed are returned.
ParsedFile ParseSource(std::shared_ptr<const SourceFile> file, DiagnosticSink* sink);

}  // namespace qprep::rules

#endif  // QPREP_RULES_PARSER_H_
