// Error handling for the .qg grammar (ir/qg/grammar_def.h), in the
// style of Spirit X3's rexpr_full example: rule-ID structs inherit this behaviour.
//
// The grammar never prints. An expectation failure inside a line is caught by the top rule's
// on_error, which records where and what was expected into the ParseError the reader passes in
// through the parse context (x3::with<error_handler_tag>); the reader turns it into a located
// diagnostic and moves on to the next line.
#ifndef QPREP_IR_QG_ERROR_HANDLER_H_
#define QPREP_IR_QG_ERROR_HANDLER_H_

#include <string>

#include "boost/spirit/home/x3.hpp"
#include "ir/qg/ast.h"

namespace qprep::ir::qg::parser {

namespace x3 = boost::spirit::x3;

// Tag under which the reader's ParseError sits in the parse context.
struct error_handler_tag;

// The first (and only) expectation failure of one line.
struct ParseError {
  bool failed = false;
  const char* where = nullptr;  // the offending position inside the line
  std::string which;            // what was expected: a rule name ("value") or "')'"
};

// Base for the top rule: records the failure instead of throwing out of the parser.
struct error_handler_base {
  template <typename Iterator, typename Exception, typename Context>
  x3::error_handler_result on_error(Iterator& /*first*/, Iterator const& /*last*/,
                                    Exception const& x, Context const& context) {
    ParseError& error = x3::get<error_handler_tag>(context);
    if (!error.failed) {
      error.failed = true;
      error.where = x.where();
      error.which = x.which();
    }
    return x3::error_handler_result::fail;
  }
};

}  // namespace qprep::ir::qg::parser

#endif  // QPREP_IR_QG_ERROR_HANDLER_H_
