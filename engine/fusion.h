// Built-in stage: PyTorch's fuse (fx/fuse.py, 1.13 and 2.x agree). First engine stage after the
// graph is read; qconfig resolution, matching and facts run on its output.
//
// What it does: the backend's fusion patterns (configs with a fuser method), in the order of
// sorted_patterns_dict, are matched greedily over the input graph in reverse node order (the
// fuse-time variant of `_find_matches`: first matching pattern wins, nodes already claimed are
// skipped, inner nodes single-user). Each match becomes one call_module node that
//   - keeps the *root* node's name, target (module path) and args (PyTorch: node_copy(root)),
//   - sits where the match's *last* node was, and replaces it for every user,
//   - has the fused module type: the fuser method's type for eval or QAT (BatchNorm folded into
//     the root in eval: conv-bn stays a Conv2d, conv-bn-relu becomes ConvReLU2d),
// and the other absorbed nodes disappear. Nodes matched by a MatchAllNode position are kept.
// The PT2E flow's functional conv-bn fold is the one exception to "call_module" (FuseOptions).
//
// Under QAT (config.is_qat) it also does what prepare does right after fusion: propagate_qconfig_
// with the flattened mapping (global, object_type, module_name; fused types take their first
// child's object_type qconfig), then qat_swap_modules: a call_module whose module type has a
// backend qat_module (get_module_to_qat_module) and whose propagated qconfig is not None gets the
// QAT type (ConvBnReLU2d -> its nniqat class). `qat_type_aliases` records the float -> QAT type
// pairs so qconfig resolution can apply update_qconfig_for_qat.
//
// Invariants of the output: node ids are dense and in execution order; every node name is an
// input-graph name; `to_input` / `from_input` map between the two graphs; every input node is
// either copied, the root of a fused node, or absorbed into exactly one fused node.
#ifndef QPREP_ENGINE_FUSION_H_
#define QPREP_ENGINE_FUSION_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/prepare_config.h"
#include "ir/graph.h"

namespace qprep::engine {

struct FusedNode {
  ir::NodeId fused = ir::kNoNode;   // id in the fused graph
  ir::NodeId root = ir::kNoNode;    // input-graph id of the root (first-executed) node
  ir::NodeId last = ir::kNoNode;    // input-graph id of the last node (its value is the output)
  std::vector<ir::NodeId> members;  // input-graph ids absorbed (root and last included), in
                                    // graph order; MatchAllNode positions excluded
  std::string last_name;            // input-graph name of `last`: how plans name the value
  std::vector<std::string> member_names;  // input-graph names of `members`
  std::string fused_module_type;          // type of the module now at the root's path
  // True when the result is one of torch.nn.intrinsic's _FusedModule types (not when BN was
  // folded into a plain Conv2d / Linear): only those take their first child's object_type
  // qconfig (qconfig_mapping_utils.update_qconfig_for_fusion).
  bool is_fused_module = false;
  // The fused module's children (`_modules.values()`), in order, by type.
  std::vector<std::string> child_module_types;
  int config_index = -1;  // BackendConfig::configs index of the fusion pattern
};

struct FusionResult {
  ir::Graph graph;                     // the fused graph
  std::vector<FusedNode> fused;        // one per fused node, in fused-graph order
  std::vector<ir::NodeId> to_input;    // fused id -> input id (the root for fused nodes)
  std::vector<ir::NodeId> from_input;  // input id -> fused id holding it (fused node if absorbed)
  std::vector<int> fused_index;        // fused id -> index into `fused`, or -1
  // QAT only: the backend's float -> QAT module types (object_type qconfigs of the float type
  // also apply to the QAT type), and the module paths that were swapped.
  std::vector<std::pair<std::string, std::string>> qat_type_aliases;
  std::vector<std::string> qat_swapped_paths;
};

struct FuseOptions {
  // PT2E's _fuse_conv_bn_ (pt2e/utils.py) folds a batch norm into a *functional* conv: on
  // exported graphs conv2d(x, weight, bias) is a call_function reading its weight through a
  // get_attr. With this set, an eval fold-BN pattern (a fuser without a fused module type) may
  // have a call_function root: the fused node is a copy of that call (name, target, args; the
  // value is the last node's), no module is added, and FusedNode::fused_module_type is the root's
  // function target. The FX flow leaves it unset (fuse.py asserts a call_module root).
  bool allow_function_root_fold = false;
};

// Runs fusion. Errors: InvalidArgument when a fusion pattern's root is not a call_module
// (PyTorch asserts the same; see FuseOptions for the PT2E exception), or when its fuser method is
// incomplete for the requested mode (e.g. no QAT type for a fold-BN fuser under --qat).
absl::StatusOr<FusionResult> Fuse(const ir::Graph& input, const PrepareConfig& config,
                                  const FuseOptions& options = {});

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_FUSION_H_
