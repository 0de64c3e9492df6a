// The single instantiation of the .qg grammar (see config.h for why the types must match the
// reader's call exactly).
#include "ir/qg/config.h"
#include "ir/qg/grammar_def.h"

namespace qprep::ir::qg::parser {
BOOST_SPIRIT_INSTANTIATE(line_type, iterator_type, context_type);
}  // namespace qprep::ir::qg::parser
