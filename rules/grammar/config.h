// Parser configuration shared by the grammar's one instantiation (grammar.cc) and its one caller
// (rules/parser.cc): the iterator, the skipper (whitespace and comments) and the context.
//
// With Boost 1.74 the context a rule is *called* with must be exactly `context_type` below, or
// the single BOOST_SPIRIT_INSTANTIATE in grammar.cc does not match and the link fails with an
// undefined parse_rule. parser.cc therefore builds this context by hand (see MakeContext there)
// instead of using x3::with<> / phrase_parse; keep the two in step.
#ifndef QPREP_RULES_GRAMMAR_CONFIG_H_
#define QPREP_RULES_GRAMMAR_CONFIG_H_

#include <boost/spirit/home/x3.hpp>
#include <iterator>
#include <string>

#include "rules/grammar/error_handler.h"

namespace qprep::rules::parser {

namespace x3 = boost::spirit::x3;

using iterator_type = std::string::const_iterator;

// Whitespace, `// line`, `# line` and `/* block */` comments. It accepts exactly what the X3
// expression
//   ascii::space | ("//" >> *(char_ - eol)) | ('#' >> *(char_ - eol))
//                | ("/*" >> *(char_ - "*/") >> "*/")
// skips, but as one hand-written loop: X3's skip_over calls the skipper until it fails, and the
// composed expression, tried once per character, was a fifth of parsing the bundled rules. A
// line comment stops before its '\r' or '\n' (which is whitespace); an unterminated `/*` is
// not skipped (the parser then reports the '/').
struct Skipper : x3::parser<Skipper> {
  using attribute_type = x3::unused_type;
  static const bool has_attribute = false;

  template <typename Iterator, typename Context, typename RContext, typename Attribute>
  bool parse(Iterator& first, const Iterator& last, const Context& /*context*/,
             RContext& /*rcontext*/, Attribute& /*attr*/) const {
    Iterator it = first;
    while (it != last) {
      const char c = *it;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
        ++it;
        continue;
      }
      const bool slash_next = c == '/' && std::next(it) != last;
      if (c == '#' || (slash_next && *std::next(it) == '/')) {
        while (it != last && *it != '\n' && *it != '\r') ++it;
        continue;
      }
      if (slash_next && *std::next(it) == '*') {
        Iterator body = std::next(it, 2);
        Iterator close = body;
        while (close != last && !(*close == '*' && std::next(close) != last &&
                                  *std::next(close) == '/')) {
          ++close;
        }
        if (close == last) break;  // unterminated: not a comment
        it = std::next(close, 2);
        continue;
      }
      break;
    }
    const bool skipped = it != first;
    first = it;
    return skipped;
  }
};
inline constexpr Skipper kSkipper{};
using skipper_type = Skipper;

using phrase_context_type = x3::phrase_parse_context<skipper_type>::type;
using context_type = x3::context<ErrorHandlerTag, ErrorHandler, phrase_context_type>;

}  // namespace qprep::rules::parser

#endif  // QPREP_RULES_GRAMMAR_CONFIG_H_
