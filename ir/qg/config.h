// Iterator, skipper and context types of the .qg grammar: the one place that fixes the template
// arguments the grammar is instantiated with (ir/qg/grammar.cc) and parsed with
// (ir/qg_reader.cc).
//
// Boost 1.74: the context a caller builds with
//   x3::phrase_parse(first, last, x3::with<error_handler_tag>(error)[line()], skipper, attr)
// must be exactly `context_type` below, or the call does not match the single explicit
// instantiation and the program fails to link (undefined parse_rule<...>). The with<> directive
// given an lvalue ParseError& puts `ParseError` (held by reference) in front of phrase_parse's
// skipper context, which is what context_type spells. Change both together.
#ifndef QPREP_IR_QG_CONFIG_H_
#define QPREP_IR_QG_CONFIG_H_

#include "boost/spirit/home/x3.hpp"
#include "ir/qg/error_handler.h"

namespace qprep::ir::qg::parser {

namespace x3 = boost::spirit::x3;

// The reader parses one line at a time out of the file text held in memory.
using iterator_type = const char*;
// Blanks separate tokens; newlines never reach the parser (the reader splits lines), and
// comments are cut off by the reader too (it knows where strings are).
using skipper_type = x3::ascii::blank_type;
using phrase_context_type = x3::phrase_parse_context<skipper_type>::type;
using context_type = x3::context<error_handler_tag, ParseError, phrase_context_type>;

}  // namespace qprep::ir::qg::parser

#endif  // QPREP_IR_QG_CONFIG_H_
