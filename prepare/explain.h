// `qprepc explain`: answers, for one node of the input graph, the questions a backend author
// asks — which qconfig level applied, which pattern matched, why each input and the output is
// or is not observed, and why it shares an observer with other points — from a finished prepare
// run, as the chain of named rules and facts that derived each answer (engine/provenance.h).
#ifndef QPREP_PREPARE_EXPLAIN_H_
#define QPREP_PREPARE_EXPLAIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "prepare/pipeline.h"

namespace qprep::prepare {

struct ExplainOptions {
  int max_depth = 3;  // proof tree depth shown per answer
};

// NotFound if `node_name` names no node of `input_graph`.
absl::StatusOr<std::string> ExplainNode(const PrepareResult& result, const ir::Graph& input_graph,
                                        const std::string& node_name,
                                        const ExplainOptions& options = {});

}  // namespace qprep::prepare

#endif  // QPREP_PREPARE_EXPLAIN_H_
