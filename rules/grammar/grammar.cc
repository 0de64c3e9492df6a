// The one translation unit that compiles the rule-language grammar (X3 templates are heavy:
// every other file sees only grammar.h's declarations).
// GCC 12 at -O2 reports -Wmaybe-uninitialized inside X3's attribute moves (std::string members
// of fusion-adapted structs constructed on every path); a known false positive. It must precede
// every include: the warning is located in <string>, so it is suppressed by position.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "rules/grammar/grammar.h"

#include "rules/grammar/config.h"
#include "rules/grammar/grammar_def.h"

namespace qprep::rules::parser {

BOOST_SPIRIT_INSTANTIATE(declaration_type, iterator_type, context_type)

const declaration_type& Declaration() { return declaration; }

void ErrorHandler::Expected(iterator_type where, const std::string& what) {
  if (failed_) return;  // the innermost failure is reported; outer rules rethrow it
  failed_ = true;
  failure_ = where;
  const auto& text = file_->text();
  auto end = where;
  if (end != text.end() && (std::isalnum(static_cast<unsigned char>(*end)) || *end == '_')) {
    while (end != text.end() &&
           (std::isalnum(static_cast<unsigned char>(*end)) || *end == '_' || *end == '.')) {
      ++end;
    }
  } else if (end != text.end()) {
    ++end;
  }
  std::string found;
  if (where == text.end()) {
    found = "end of file";
  } else if (*where == '\n' || *where == '\r') {
    found = "end of line";
  } else {
    found = "'" + std::string(where, end) + "'";
  }
  sink_->Error(RangeAt(where, end), "syntax error: expected " + what + ", found " + found);
}

}  // namespace qprep::rules::parser
