// The PT2E prepare flow (PyTorch 2.x prepare_pt2e(model, quantizer)), as an alternative front half
// of the prepare pipeline (pipeline.h):
//
//   ir::Graph ─► [conv-bn folding, when the quantizer file declares a backend] ─► facts ─┐
//   rules/prelude/pt2e.qr + the quantizer's annotation rules ─► CompiledRules ───────────┴►
//   fixpoint ─► Plan
//
// There is no QConfigMapping, no pattern matching and no BackendConfig dtype check: a quantizer's
// rules *annotate* edges and node outputs with quantization specs (observer declarations), and
// the prelude pt2e.qr derives observer placement and sharing from the annotations as
// torch/ao/quantization/pt2e/prepare.py does, into the same relations the FX prelude derives
// (input_observer, output_observer, same_insertion, shares, quantized, fp32_reason), so the plan
// builder, the prepared graph, DOT and explain work unchanged.
//
// prepare_pt2e folds BatchNorm into the preceding convolution before annotating (_fuse_conv_bn_):
// a quantizer file may declare one `backend` block whose fusion patterns (fold_bn) are run by the
// ordinary fusion stage for that; without one the graph is annotated as read. Under QAT
// (PrepareOptions::qat) nothing is folded (prepare_qat_pt2e keeps conv-bn for the quantizer) and
// the run-wide flag `config_flag(qat)` is set.
#ifndef QPREP_PREPARE_PT2E_H_
#define QPREP_PREPARE_PT2E_H_

#include <memory>

#include "absl/status/statusor.h"
#include "prepare/pipeline.h"

namespace qprep::prepare {

// Runs the PT2E flow on `graph` with compiled `rules` (the prelude pt2e.qr and a quantizer).
// Errors: a quantizer file declaring several backends without PrepareOptions::backend naming one;
// stage errors; annotations PyTorch rejects (the prelude's `prepare_error` facts, reported by the
// plan builder with the node's name).
absl::StatusOr<std::unique_ptr<PrepareResult>> PreparePt2e(const ir::Graph& graph,
                                                           rules::CompiledRules rules,
                                                           const PrepareOptions& options);

}  // namespace qprep::prepare

#endif  // QPREP_PREPARE_PT2E_H_
