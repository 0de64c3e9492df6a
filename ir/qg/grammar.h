// The .qg line grammar's public face: one X3 rule, `line`, that parses any one line of a .qg
// file (header, graph name, module, node; docs/qg-format.md) into an ast::Line. Its body is in
// grammar_def.h and is compiled once, in grammar.cc, for config.h's iterator and context.
#ifndef QPREP_IR_QG_GRAMMAR_H_
#define QPREP_IR_QG_GRAMMAR_H_

#include "boost/spirit/home/x3.hpp"
#include "ir/qg/ast.h"

namespace qprep::ir::qg {

namespace parser {
namespace x3 = boost::spirit::x3;
struct line_class;
using line_type = x3::rule<line_class, ast::Line>;
BOOST_SPIRIT_DECLARE(line_type);
}  // namespace parser

const parser::line_type& line();

}  // namespace qprep::ir::qg

#endif  // QPREP_IR_QG_GRAMMAR_H_
