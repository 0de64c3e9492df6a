// Built-in stage: one qconfig per node of the fused graph, as PyTorch's
// fx/qconfig_mapping_utils.py generate_qconfig_map (after update_qconfig_for_fusion) computes it.
// Runs after fusion.h, before matcher.h; its results are facts (facts.h) and explain output.
//
// Levels, later wins: global < object_type < module_name_regex (first match in insertion order,
// Python re.match: anchored at the start) < module_name (exact, else the nearest parent path;
// "" never matches) < module_name_object_type_order (scope path, type, n-th call). Per node kind,
// exactly as PyTorch (including its quirks):
//  - call_module: object_type by the module's type, regex / name by its path; the order level
//    counts (parent of the module path, module type);
//  - call_function: object_type by the function, then object_type by the *enclosing module's*
//    type (if that type has an entry it overrides the function's), regex / name by the scope
//    path; the order level counts (scope path, function);
//  - call_method: object_type by the method name with regex / name by the scope path, then again
//    with the scope's type as object_type; no order level;
//  - get_attr: object_type by the parent module's type, regex / name by the parent path;
//  - placeholder / output: no qconfig.
// Fused modules (torch.nn.intrinsic _FusedModule types) take their first child's object_type
// qconfig when the mapping has object_type entries; children whose object_type qconfigs differ
// are an error (PyTorch raises LookupError).
#ifndef QPREP_ENGINE_QCONFIG_RESOLUTION_H_
#define QPREP_ENGINE_QCONFIG_RESOLUTION_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/fusion.h"
#include "engine/prepare_config.h"
#include "ir/graph.h"

namespace qprep::engine {

enum class QConfigLevel : uint8_t {
  kNotApplicable,  // placeholder / output: PyTorch gives these no qconfig
  kUnset,          // nothing matched and there is no global qconfig
  kGlobal,
  kObjectType,
  kModuleNameRegex,
  kModuleName,
  kModuleNameObjectTypeOrder,
};
// "n/a", "unset", "global", "object_type", "module_name_regex", "module_name",
// "module_name_object_type_order"
std::string_view QConfigLevelName(QConfigLevel level);

struct ResolvedQConfig {
  // Index into QConfigResolution::qconfigs, or -1: PyTorch's None (no qconfig). An explicit
  // `none` entry keeps its index (the QConfig has is_none set) so explain can name it.
  int qconfig = -1;
  QConfigLevel level = QConfigLevel::kNotApplicable;
  std::string key;  // the entry that decided: the regex, module name, type, "path/type/n", ...
};

struct QConfigResolution {
  std::vector<QConfig> qconfigs;          // distinct entries used, by first use
  std::vector<ResolvedQConfig> per_node;  // indexed by fused-graph node id

  // The qconfig of a node, or null when it has none or it is `none` (leave fp32).
  const QConfig* Effective(ir::NodeId id) const;
};

// `fusion` supplies fused modules' children; pass null when the graph was not fused.
// Errors: InvalidArgument for differing child qconfigs of a fused module, or an invalid regex.
absl::StatusOr<QConfigResolution> ResolveQConfigs(const ir::Graph& graph,
                                                  const FusionResult* fusion,
                                                  const QConfigMapping& mapping);

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_QCONFIG_RESOLUTION_H_
