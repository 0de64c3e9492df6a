// The configuration of one prepare run, as plain data: PyTorch's BackendConfig, QConfigMapping and
// PrepareCustomConfig with PyTorch's names. The rule language (rules/) lowers backend-config and
// qconfig-mapping declarations into these structures; the built-in engine stages (fusion.h,
// qconfig_resolution.h, matcher.h) and the fact loader (facts.h) read them.
//
// Contract: this header is data (plus trivial accessors, name/parse helpers and ConfigError, the
// one way stages report a bad configuration entry). Names follow torch/ao/quantization/backend_config/backend_config.py,
// qconfig.py, qconfig_mapping.py and fx/custom_config.py (PyTorch 1.13 and 2.x). Ops are named as
// the .qg graph spells targets (docs/qg-format.md): fully qualified module types
// (`torch.nn.modules.conv.Conv2d`), canonical function names (`torch.nn.functional.relu`,
// `operator.add`, `torch.cat`), method names (`relu`, `view`).
//
// Source ranges are optional everywhere; a front end that has them fills them so stages can
// point their diagnostics (e.g. "children of a fused module have different qconfigs") at the
// declaration.
#ifndef QPREP_ENGINE_PREPARE_CONFIG_H_
#define QPREP_ENGINE_PREPARE_CONFIG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/diagnostics.h"
#include "common/observer_spec.h"

namespace qprep::engine {

// ---------------------------------------------------------------------------------------------
// Backend config (torch.ao.quantization.backend_config)
// ---------------------------------------------------------------------------------------------

// backend_config.ObservationType. kInputOutputNotObserved is 2.x's INPUT_OUTPUT_NOT_OBSERVED
// (1.13 spells it `_input_output_observed=False`, see BackendPatternConfig).
enum class ObservationType : uint8_t {
  kOutputUseDifferentObserverAsInput,  // OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT
  kOutputShareObserverWithInput,       // OUTPUT_SHARE_OBSERVER_WITH_INPUT
  kInputOutputNotObserved,             // INPUT_OUTPUT_NOT_OBSERVED
};
// "output_use_different_observer_as_input", "output_share_observer_with_input",
// "input_output_not_observed" (the spelling of the rule language and of plan reasons).
std::string_view ObservationTypeName(ObservationType t);
std::optional<ObservationType> ParseObservationType(std::string_view name);

// backend_config.DTypeWithConstraints: a dtype and the limits an observer's qparams must respect.
// Unset optionals mean "no constraint" (PyTorch's None).
struct DTypeWithConstraints {
  std::optional<Dtype> dtype;                     // dtype (None: not specified)
  std::optional<int64_t> quant_min_lower_bound;   // quant_min_lower_bound
  std::optional<int64_t> quant_max_upper_bound;   // quant_max_upper_bound
  std::optional<double> scale_min_lower_bound;    // scale_min_lower_bound (vs observer eps)
  std::optional<double> scale_max_upper_bound;    // scale_max_upper_bound
  std::optional<double> scale_exact_match;        // scale_exact_match (2.x, fixed-qparams ops)
  std::optional<int64_t> zero_point_exact_match;  // zero_point_exact_match (2.x)
  SourceRange where;
};

// backend_config.DTypeConfig: one combination of dtypes a backend supports for a pattern.
struct DTypeConfig {
  DTypeWithConstraints input_dtype;   // input_dtype (activation inputs)
  DTypeWithConstraints output_dtype;  // output_dtype
  DTypeWithConstraints weight_dtype;  // weight_dtype
  std::optional<Dtype> bias_dtype;    // bias_dtype
  std::optional<bool> is_dynamic;     // is_dynamic (None in PyTorch means False)
  SourceRange where;
};

// One op of a pattern: a module type, a function, a method, or PyTorch's MatchAllNode.
// Matching (fx/match_utils.py is_match): modules by exact type, functions by identity (here: the
// canonical name), methods by name.
struct OpRef {
  enum class Kind : uint8_t {
    kModule,    // call_module whose module type == name (fully qualified)
    kFunction,  // call_function whose target == name (canonical: operator.add, torch.cat, ...)
    kMethod,    // call_method whose target == name ("relu", "view", ...)
    kAny,       // MatchAllNode: matches any node (or non-node argument); name is empty
  };
  Kind kind = Kind::kAny;
  std::string name;
  SourceRange where;

  static OpRef Module(std::string n) { return {Kind::kModule, std::move(n), {}}; }
  static OpRef Function(std::string n) { return {Kind::kFunction, std::move(n), {}}; }
  static OpRef Method(std::string n) { return {Kind::kMethod, std::move(n), {}}; }
  static OpRef Any() { return {}; }
  bool SameOp(const OpRef& o) const { return kind == o.kind && name == o.name; }
  // module:torch.nn.modules.conv.Conv2d / function:operator.add / method:relu / MatchAllNode
  std::string ToString() const;
};

// A pattern in PyTorch's nested-tuple form, where the first element is the *last* executed op and
// the remaining elements are patterns for that op's positional args:
//   (ReLU, (BatchNorm2d, Conv2d))  ==  {op: ReLU, args: [{op: BatchNorm2d, args: [{op: Conv2d}]}]}
// A leaf (no args) is a single op (`Conv2d`, not a 1-tuple); a non-leaf must match a node with
// exactly args.size() positional args (is_match's `len(arg_matches) != len(node.args)`).
//
// `alternatives`: additional ops accepted at this position (a rule-language convenience, e.g. a
// named op group). A pattern with alternatives stands for the list of plain patterns obtained by
// choosing one op at every position (ExpandAlternatives), in order: first choice first.
struct Pattern {
  OpRef op;
  std::vector<OpRef> alternatives;  // extra choices for `op`; empty for plain PyTorch patterns
  std::vector<Pattern> args;        // sub-patterns for positional args 0..n-1
  SourceRange where;

  static Pattern Leaf(OpRef op) { return Pattern{std::move(op), {}, {}, {}}; }
  static Pattern Tuple(OpRef op, std::vector<Pattern> args) {
    return Pattern{std::move(op), {}, std::move(args), {}};
  }
  bool is_tuple() const { return !args.empty(); }
  // PyTorch's sorted_patterns_dict get_len: number of ops in the tuple tree (1 for a leaf).
  int Length() const;
  // Structural equality ignoring source ranges (PyTorch's dict-key equality of patterns).
  bool SameAs(const Pattern& o) const;
  // PyTorch-like text: (module:...ReLU, (module:...BatchNorm2d, module:...Conv2d))
  std::string ToString() const;
};

// The plain patterns a pattern with alternatives stands for, in choice order.
std::vector<Pattern> ExpandAlternatives(const Pattern& p);

// How the fused module of a fusion pattern is built (backend_config fuser_method). PyTorch's fuser
// methods are Python callables; the ones the native backends use come in two shapes, and the
// result type depends on is_qat (fuser_method_mappings.py):
//   - kSequential: `_sequential_wrapper2(nni.ConvReLU2d)` etc.: the fused type is the same in
//     training and eval;
//   - kFoldBn: fuse_conv_bn / fuse_conv_bn_relu / fuse_linear_bn / fuse_convtranspose_bn: in eval
//     BatchNorm is folded into the root (type: `eval_module_type`, or the root's own type when
//     empty, e.g. Conv2d for conv-bn), in QAT the modules are kept in `qat_module_type`
//     (ConvBn2d, ConvBnReLU2d, LinearBn1d).
struct FuserMethod {
  enum class Kind : uint8_t { kNone, kSequential, kFoldBn };
  Kind kind = Kind::kNone;
  std::string name;              // PyTorch's name, for explain: "fuse_conv_bn_relu", ...
  std::string eval_module_type;  // fused type when !is_qat; "" with kFoldBn: the root's type
  std::string qat_module_type;   // fused type when is_qat; "" with kSequential: eval_module_type
};

// backend_config.BackendPatternConfig: everything a backend says about one pattern.
struct BackendPatternConfig {
  Pattern pattern;                    // pattern (reversed nested tuple)
  ObservationType observation_type =  // observation_type
      ObservationType::kOutputUseDifferentObserverAsInput;
  std::vector<DTypeConfig> dtype_configs;                 // dtype_configs
  std::optional<std::string> root_module;                 // root_module (module type)
  std::optional<std::string> qat_module;                  // qat_module
  std::optional<std::string> reference_quantized_module;  // reference_quantized_module
  std::optional<std::string> fused_module;                // fused_module (the fused *type*)
  FuserMethod fuser_method;                               // fuser_method (kNone: not a fusion)
  // _input_type_to_index: argument positions of "weight" and "bias" for functional ops
  // (F.linear: weight 1, bias 2). Module patterns leave it empty (weights are attributes).
  std::map<std::string, int> input_type_to_index;
  // _num_tensor_args_to_observation_type: for binary ops (add/mul), the observation type by the
  // number of tensor args (1: share with input, 2: different observer). Empty: not used.
  std::map<int, ObservationType> num_tensor_args_to_observation_type;
  // _root_node_getter as a named built-in strategy: "" = PyTorch's default_root_node_getter
  // (follow the last element of the nested tuple to the innermost node: the first-executed op).
  std::string root_node_getter;
  // _extra_inputs_getter as a named built-in strategy: "" = none.
  std::string extra_inputs_getter;
  // 1.13 `_input_output_observed` (False for shape ops); 2.x uses kInputOutputNotObserved.
  std::optional<bool> input_output_observed;
  // 1.13 `_overwrite_output_observer` / `_overwrite_output_fake_quantize`: the fixed-qparams
  // observer of ops like sigmoid / tanh / hardsigmoid.
  std::optional<ObserverSpec> overwrite_output_observer;
  std::optional<ObserverSpec> overwrite_output_fake_quantize;
  SourceRange where;

  bool is_fusion() const { return fuser_method.kind != FuserMethod::Kind::kNone; }
};

// backend_config.BackendConfig.
struct BackendConfig {
  std::string name;                           // name ("fbgemm", "native", ...)
  std::vector<BackendPatternConfig> configs;  // configs, in declaration order
  SourceRange where;
};

// ---------------------------------------------------------------------------------------------
// QConfig and QConfigMapping (torch.ao.quantization.qconfig / qconfig_mapping)
// ---------------------------------------------------------------------------------------------

// qconfig.QConfig (and 2.x QConfig plus the PT2E-style input/output/bias specs a rule file may
// name). A QConfig with is_none set is PyTorch's `None` qconfig ("leave fp32"); its specs are
// empty.
struct QConfig {
  std::string name;  // the declared name, shown in plans and explain ("default", "none", ...)
  bool is_none = false;
  std::optional<ObserverSpec> activation;  // activation
  std::optional<ObserverSpec> weight;      // weight
  std::optional<ObserverSpec> bias;        // bias (PlaceholderObserver(bias dtype) when unset)
  std::optional<ObserverSpec> input;       // input-specific activation override (rule language)
  std::optional<ObserverSpec> output;      // output-specific activation override (rule language)
  SourceRange where;

  static QConfig None() {
    QConfig q;
    q.name = "none";
    q.is_none = true;
    return q;
  }
  // activation is ReuseInputObserver (PyTorch's default for reshape in 2.x mappings):
  // no input observer, the output reuses the input's.
  bool is_reuse_input() const;
  // activation is a PlaceholderObserver with is_dynamic=true (qconfig_utils activation_is_dynamic).
  bool is_dynamic() const;
};

// qconfig_mapping.QConfigMapping: the five levels; every list keeps insertion order, which
// decides regex priority (first match wins) and overrides of equal keys (later value, first
// position: Python dict semantics).
struct QConfigMapping {
  // object_type keys are ops: module types, functions or method names.
  struct ObjectTypeEntry {
    OpRef object_type;
    QConfig qconfig;
  };
  struct ModuleNameRegexEntry {
    std::string regex;  // Python `re.match` semantics: anchored at the start only
    QConfig qconfig;
  };
  struct ModuleNameEntry {
    std::string module_name;
    QConfig qconfig;
  };
  struct ModuleNameObjectTypeOrderEntry {
    std::string module_name;  // scope path of the calls
    OpRef object_type;
    int index = 0;  // n-th call (0-based) of object_type in that scope, in graph order
    QConfig qconfig;
  };
  std::optional<QConfig> global_qconfig;                         // global_qconfig
  std::vector<ObjectTypeEntry> object_type_qconfigs;             // object_type_qconfigs
  std::vector<ModuleNameRegexEntry> module_name_regex_qconfigs;  // module_name_regex_qconfigs
  std::vector<ModuleNameEntry> module_name_qconfigs;             // module_name_qconfigs
  std::vector<ModuleNameObjectTypeOrderEntry> module_name_object_type_order_qconfigs;
  SourceRange where;
};

// ---------------------------------------------------------------------------------------------
// PrepareCustomConfig (fx/custom_config.py)
// ---------------------------------------------------------------------------------------------

struct PrepareConfig;

// custom_config.StandaloneModuleConfigEntry: a submodule prepared recursively with its own
// configuration (a null pointer: the parent's, as PyTorch does for None).
struct StandaloneModuleConfigEntry {
  std::string key;  // module path (by name) or fully qualified type (by class)
  std::shared_ptr<const QConfigMapping> qconfig_mapping;
  std::shared_ptr<const PrepareConfig> prepare_config;  // custom config + backend for the child
};

struct PrepareCustomConfig {
  std::vector<int> input_quantized_idxs;                               // input_quantized_indexes
  std::vector<int> output_quantized_idxs;                              // output_quantized_indexes
  std::vector<StandaloneModuleConfigEntry> standalone_module_names;    // standalone_module_names
  std::vector<StandaloneModuleConfigEntry> standalone_module_classes;  // standalone_module_classes
  // float_to_observed_mapping[QuantType.STATIC]: custom module classes, float type -> observed
  // type.
  std::vector<std::pair<std::string, std::string>> float_to_observed_mapping;
  std::vector<std::string> non_traceable_module_names;    // non_traceable_module_names
  std::vector<std::string> non_traceable_module_classes;  // non_traceable_module_classes
  std::vector<std::string> preserved_attributes;          // preserved_attributes
};

// Everything prepare_fx / prepare_qat_fx takes besides the model.
struct PrepareConfig {
  BackendConfig backend_config;
  QConfigMapping qconfig_mapping;
  PrepareCustomConfig prepare_custom_config;
  bool is_qat = false;  // prepare_qat_fx: fusion keeps BN (QAT fused types), modules swapped
};

// An InvalidArgument status for a user error about a configuration entry. When `at` has a file
// (the entry came from a rule file), the message is the rendered located diagnostic (with an
// optional note, e.g. "the other qconfig is set here"), as DiagnosticSink::ToStatus renders it;
// otherwise it is `message` alone.
absl::Status ConfigError(const SourceRange& at, std::string message,
                         const SourceRange* note_at = nullptr, std::string note = "");

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_PREPARE_CONFIG_H_
