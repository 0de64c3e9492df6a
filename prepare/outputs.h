// What a prepare run hands to people and other programs besides the plan JSON:
//  - the prepared graph: the *input* graph with one `activation_post_process_<k>` call_module
//    node per plan insertion, placed right after the observed value's producer, and the plan's
//    consumers rewired to read through it (readable by `qprepc` again; the module table gets
//    one entry per observer node, type = the observer class, args as attributes, `instance` =
//    the plan's observer id so shared instances are visible);
//  - a Graphviz DOT drawing: observers on their edges, shared instances in one colour, fp32
//    nodes greyed;
//  - a one-screen text summary: observers by class, quantized vs fp32 nodes, why nodes stayed
//    fp32;
//  - the warnings PyTorch's prepare_fx would print about the run (today: nodes not equalized
//    because they are on a quantized branch, the prelude's equalization_skipped_branch).
// The prepared graph also chains an equalization observer (plan kind "equalization") after the
// ordinary observer its consumer reads through.
#ifndef QPREP_PREPARE_OUTPUTS_H_
#define QPREP_PREPARE_OUTPUTS_H_

#include <string>

#include <vector>

#include "absl/status/statusor.h"
#include "engine/plan.h"
#include "ir/graph.h"
#include "prepare/pipeline.h"

namespace qprep::prepare {

absl::StatusOr<ir::Graph> BuildPreparedGraph(const ir::Graph& input, const engine::Plan& plan);
std::string PlanToDot(const ir::Graph& input, const engine::Plan& plan);
std::string PlanSummary(const engine::Plan& plan);
// PyTorch's warning texts, one per line-less message, in graph order.
std::vector<std::string> PrepareWarnings(const PrepareResult& result);

}  // namespace qprep::prepare

#endif  // QPREP_PREPARE_OUTPUTS_H_
