// Assembles the Plan (engine/plan.h, PLAN_FORMAT.md) from the relations the prelude derived:
//   input_observer(e, o)     an observer node on edge e (its consumer reads through it)
//   output_observer(n, o)    an observer node on n's output (every user reads through it)
//   same_insertion(a, b)     points a and b are one observer node (deduplicated inputs)
//   shares(a, b)             points a and b call one observer instance
//   quantized(n), fp32_reason(n, why)
//   equalization_observer(e, o)  an input-weight equalization observer on edge e (optional
//                            relation): after e's other observer, a fresh instance, kind
//                            "equalization", named <observed node>_equalization_process_<k>
// Points: edge e is point e, node n's output is point num_edges + n.
//
// Insertions are ordered as prepare_fx inserts them (graph order of the node being processed;
// a node's input observers in argument order before its output observer) and named
// activation_post_process_<k> in that order. Values and consumers are named in the input graph:
// a fused node's value is its last member, a consumer is the fused node's (root's) name.
#ifndef QPREP_PREPARE_PLAN_BUILDER_H_
#define QPREP_PREPARE_PLAN_BUILDER_H_

#include "absl/status/statusor.h"
#include "prepare/pipeline.h"

namespace qprep::prepare {

absl::StatusOr<engine::Plan> BuildPlan(const PrepareResult& result, const ir::Graph& input_graph);

}  // namespace qprep::prepare

#endif  // QPREP_PREPARE_PLAN_BUILDER_H_
