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
#include <string>

#include "rules/grammar/error_handler.h"

namespace qprep::rules::parser {

namespace x3 = boost::spirit::x3;

using iterator_type = std::string::const_iterator;

// Whitespace, `// line`, `# line` and `/* block */` comments. The skipper runs without a skipper
// in its own context, so no lexeme[] is needed inside it.
inline const auto kSkipper = x3::ascii::space | (x3::lit("//") >> *(x3::char_ - x3::eol)) |
                             (x3::lit('#') >> *(x3::char_ - x3::eol)) |
                             (x3::lit("/*") >> *(x3::char_ - x3::lit("*/")) >> x3::lit("*/"));
using skipper_type = std::remove_const_t<decltype(kSkipper)>;

using phrase_context_type = x3::phrase_parse_context<skipper_type>::type;
using context_type = x3::context<ErrorHandlerTag, ErrorHandler, phrase_context_type>;

}  // namespace qprep::rules::parser

#endif  // QPREP_RULES_GRAMMAR_CONFIG_H_
