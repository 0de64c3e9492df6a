// The rule language's grammar: declarations of the X3 rules a caller may use. The bodies are in
// grammar_def.h and are compiled once, in grammar.cc. A caller (rules/parser.cc) parses one
// declaration at a time so that a syntax error in one declaration does not hide the next.
#ifndef QPREP_RULES_GRAMMAR_GRAMMAR_H_
#define QPREP_RULES_GRAMMAR_GRAMMAR_H_

#include <boost/spirit/home/x3.hpp>

#include "rules/grammar/ast.h"
#include "rules/grammar/config.h"

namespace qprep::rules::parser {

struct DeclarationClass;
using declaration_type = x3::rule<DeclarationClass, ast::Declaration>;
BOOST_SPIRIT_DECLARE(declaration_type)

const declaration_type& Declaration();

}  // namespace qprep::rules::parser

#endif  // QPREP_RULES_GRAMMAR_GRAMMAR_H_
