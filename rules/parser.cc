#include "rules/parser.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rules/grammar/config.h"
#include "rules/grammar/grammar.h"

namespace qprep::rules {
namespace {

// After this many syntax errors in one file the rest is likely noise.
constexpr size_t kMaxSyntaxErrors = 30;

using Iter = parser::iterator_type;

// Recovery point: the start of the first line after `from` that begins in column 0 with
// something other than whitespace or a closing brace. Declarations start in column 0 by
// convention; the lines of a block are indented.
Iter NextDeclarationStart(const std::string& text, Iter from) {
  Iter it = from;
  while (it != text.end()) {
    while (it != text.end() && *it != '\n') ++it;
    if (it == text.end()) return it;
    ++it;  // first character of the next line
    if (it == text.end()) return it;
    char c = *it;
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '}' && c != ')' && c != ']') {
      return it;
    }
  }
  return it;
}

// The parser (and the checker after it) recurse once per nesting level; a bound keeps hostile
// input from exhausting the stack. Returns the position of the first bracket that is too deep.
constexpr int kMaxNesting = 128;

// The characters TooDeep must look at; everything else is passed over by one table lookup
// (this scan runs over every byte of every rule file).
constexpr std::array<bool, 256> kNestingSignificant = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : std::string_view("\"#/([{)]}")) t[c] = true;
  return t;
}();

std::optional<size_t> TooDeep(const std::string& text) {
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!kNestingSignificant[static_cast<unsigned char>(text[i])]) continue;
    char c = text[i];
    if (c == '"') {  // skip strings (escapes included)
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i) {
        if (text[i] == '\\') ++i;
      }
    } else if (c == '#' || (c == '/' && i + 1 < text.size() && text[i + 1] == '/')) {
      i = std::min(text.find('\n', i), text.size());  // stop on the newline (or at the end)
    } else if (c == '(' || c == '[' || c == '{') {
      if (++depth > kMaxNesting) return i;
    } else if (c == ')' || c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    }
  }
  return std::nullopt;
}

}  // namespace

ParsedFile ParseSource(std::shared_ptr<const SourceFile> file, DiagnosticSink* sink) {
  ParsedFile out;
  out.file = file;
  out.positions = std::make_unique<parser::ErrorHandler>(file, sink);
  parser::ErrorHandler& handler = *out.positions;
  const std::string& text = file->text();
  if (std::optional<size_t> at = TooDeep(text)) {
    sink->Error(SourceRange{file, *at, *at + 1},
                absl::StrCat("brackets nested more than ", kMaxNesting, " levels deep"));
    return out;
  }

  // Built by hand to be exactly parser::context_type (see rules/grammar/config.h).
  parser::phrase_context_type skip_context(parser::kSkipper);
  parser::context_type context(handler, skip_context);

  Iter it = text.begin();
  const Iter end = text.end();
  size_t errors_before = sink->error_count();
  while (true) {
    boost::spirit::x3::skip_over(it, end, skip_context);
    if (it == end) break;
    if (sink->error_count() - errors_before >= kMaxSyntaxErrors) break;
    ast::Declaration decl;
    Iter start = it;
    handler.ClearFailure();
    bool ok = false;
    try {
      ok = parser::Declaration().parse(it, end, context, boost::spirit::x3::unused, decl);
    } catch (const boost::spirit::x3::expectation_failure<Iter>& e) {
      // Thrown past the top rule's handler only if the handler itself did not run.
      handler.Expected(e.where(), e.which());
    }
    if (ok && !handler.failed()) {
      out.declarations.push_back(std::move(decl));
      continue;
    }
    Iter failure = start;
    if (handler.failed()) {
      failure = handler.failure();
    } else {
      Iter tok_end = start;
      while (tok_end != end && !std::isspace(static_cast<unsigned char>(*tok_end))) ++tok_end;
      sink->Error(handler.RangeAt(start, tok_end),
                  "syntax error: expected a declaration (include, alias, group, observer, "
                  "qconfig, dtype_config, qconfig_mapping, backend, relation, equivalence, or "
                  "a rule `name: head(...) :- body.`)");
    }
    if (failure < start) failure = start;
    it = NextDeclarationStart(text, failure);
  }
  return out;
}

}  // namespace qprep::rules
