// The built-in relation table and the fact loader; see facts.h.
#include "engine/facts.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace qprep::engine {
namespace {

using CT = ColumnType;

BuiltinRelation Rel(std::string name, std::vector<std::pair<std::string, CT>> cols,
                    std::string doc) {
  BuiltinRelation r;
  r.decl.name = std::move(name);
  r.decl.kind = RelationDecl::Kind::kInput;
  for (auto& [n, t] : cols) {
    r.decl.column_names.push_back(n);
    r.decl.columns.push_back(t);
  }
  r.doc = std::move(doc);
  return r;
}

std::vector<BuiltinRelation> MakeBuiltins() {
  const CT N = CT::kNode, E = CT::kEdge, S = CT::kSymbol, I = CT::kInt, O = CT::kObserver,
           Q = CT::kQConfig, P = CT::kPattern;
  return {
      // --- the graph -------------------------------------------------------------------------
      Rel("node", {{"n", N}, {"name", S}}, "every node of the (fused) graph, with its name"),
      Rel("op", {{"n", N}, {"kind", S}},
          "the node's FX op: placeholder, get_attr, call_module, call_function, call_method, "
          "output"),
      Rel("target", {{"n", N}, {"target", S}},
          "the node's target: module path, canonical function name, method name, input name"),
      Rel("module_type", {{"n", N}, {"type", S}},
          "a call_module node's module type, fully qualified (the fused type after fusion)"),
      Rel("scope", {{"n", N}, {"path", S}, {"type", S}},
          "the enclosing module as QuantizationTracer recorded it (node_name_to_scope)"),
      Rel("edge", {{"e", E}, {"src", N}, {"dst", N}},
          "one per reference to node src inside dst's args / kwargs"),
      Rel("edge_arg", {{"e", E}, {"index", I}}, "the positional argument the reference sits in"),
      Rel("edge_kwarg", {{"e", E}, {"name", S}}, "the keyword argument the reference sits in"),
      Rel("edge_elem", {{"e", E}, {"index", I}},
          "the element position when the reference sits inside a list / tuple argument (cat)"),
      Rel("edge_path", {{"e", E}, {"path", S}},
          "the argument path as text: args[1][0], kwargs[\"weight\"]"),
      Rel("user", {{"n", N}, {"u", N}}, "u reads n's value (FX node.users, distinct)"),
      Rel("num_users", {{"n", N}, {"k", I}}, "number of distinct users"),
      Rel("is_tensor", {{"n", N}}, "shape propagation saw a tensor result"),
      Rel("tensor_dtype", {{"n", N}, {"dtype", S}},
          "the result tensor's dtype (float32, int64, bool, ...)"),
      Rel("tensor_rank", {{"n", N}, {"rank", I}}, "the result tensor's number of dimensions"),
      Rel("tensor_dim", {{"n", N}, {"i", I}, {"size", I}}, "the result tensor's i-th dimension"),
      Rel("non_tensor_value", {{"n", N}},
          "shape propagation saw a non-tensor Python value (int, Size, ...)"),
      Rel("args_have_no_tensors", {{"n", N}},
          "PyTorch's all_node_args_have_no_tensors(n): n's args surely hold no tensors (x.size(0), "
          "x.shape)"),
      Rel("num_tensor_args", {{"n", N}, {"k", I}},
          "QuantizeHandler.num_tensor_args: positional args that are nodes with tensors (x + y: 2, "
          "x + 3: 1)"),
      Rel("non_observable_arg", {{"e", E}, {"dtype", S}},
          "NON_OBSERVABLE_ARG_DICT: the referenced value is a non-float (bool / int / float "
          "scalar) argument"),
      Rel("non_quantizable_weight_op", {{"n", N}},
          "NON_QUANTIZABLE_WEIGHT_OPS: layer_norm / group_norm / instance_norm (weights never "
          "observed)"),
      Rel("input_point", {{"e", E}, {"p", I}},
          "observation point of an input observer on edge e (p = e)"),
      Rel("output_point", {{"n", N}, {"p", I}},
          "observation point of n's output observer (p = number of edges + n)"),
      Rel("graph_input", {{"n", N}, {"index", I}}, "the index-th placeholder"),
      Rel("graph_output", {{"e", E}, {"index", I}},
          "a reference from the output node: index is its position in the returned tuple / list (0 "
          "if one value)"),
      Rel("input_quantized", {{"n", N}}, "a placeholder listed in input_quantized_idxs"),
      Rel("input_quantized_idx", {{"i", I}}, "PrepareCustomConfig input_quantized_idxs"),
      Rel("output_quantized_idx", {{"i", I}}, "PrepareCustomConfig output_quantized_idxs"),
      Rel("config_flag", {{"flag", S}}, "run-wide flags: qat"),
      Rel("group_op", {{"group", S}, {"kind", S}, {"op", S}},
          "a member of a rule-file `group`: kind call_module (op: the module type), call_function "
          "(the function) or call_method (the method name)"),
      Rel("dtype_is_quantized", {{"dtype", S}},
          "quint8, qint8, qint32, quint4x2 (and int8 / uint8 / int32)"),
      // --- fusion ----------------------------------------------------------------------------
      Rel("value_name", {{"n", N}, {"name", S}},
          "the input-graph name of n's value: the pattern's last node for a fused node, else n's "
          "name"),
      Rel("fused", {{"n", N}, {"type", S}}, "n is a fused node; its fused module type"),
      Rel("fused_member", {{"n", N}, {"name", S}}, "input-graph nodes absorbed by fused node n"),
      // --- qconfig resolution ---------------------------------------------------------------
      Rel("qconfig", {{"n", N}, {"q", Q}}, "n's effective qconfig (absent when None or `none`)"),
      Rel("qconfig_none", {{"n", N}}, "n has no qconfig, or `none`: leave fp32"),
      Rel("qconfig_level", {{"n", N}, {"level", S}, {"key", S}},
          "which level decided n's qconfig (global, object_type, module_name_regex, module_name, "
          "module_name_object_type_order, unset) and its key"),
      Rel("qconfig_name", {{"q", Q}, {"name", S}}, "the qconfig's declared name"),
      Rel("qconfig_activation", {{"q", Q}, {"o", O}}, "QConfig.activation"),
      Rel("qconfig_weight", {{"q", Q}, {"o", O}}, "QConfig.weight"),
      Rel("qconfig_bias", {{"q", Q}, {"o", O}}, "the bias observer, when declared"),
      Rel("qconfig_input", {{"q", Q}, {"o", O}},
          "input-specific activation observer, when declared"),
      Rel("qconfig_output", {{"q", Q}, {"o", O}},
          "output-specific activation observer, when declared"),
      Rel("equalization_qconfig", {{"n", N}, {"name", S}},
          "n's equalization qconfig (prepare_fx's _equalization_config, resolved like the qconfig "
          "mapping; absent when None or without --equalization)"),
      Rel("equalization_input_activation", {{"n", N}, {"o", O}},
          "EqualizationQConfig.input_activation of n's equalization qconfig"),
      Rel("equalization_weight", {{"n", N}, {"o", O}},
          "EqualizationQConfig.weight of n's equalization qconfig"),
      Rel("qconfig_is_dynamic", {{"q", Q}}, "activation is PlaceholderObserver(is_dynamic=True)"),
      Rel("qconfig_reuse_input", {{"q", Q}}, "activation is ReuseInputObserver"),
      // --- observers -------------------------------------------------------------------------
      Rel("observer_class", {{"o", O}, {"class", S}}, "PyTorch's class name"),
      Rel("observer_text", {{"o", O}, {"text", S}}, "canonical Class(arg=value, ...) text"),
      Rel("observer_dtype", {{"o", O}, {"dtype", S}}, "effective dtype"),
      Rel("observer_qscheme", {{"o", O}, {"qscheme", S}}, "effective qscheme"),
      Rel("observer_quant_min", {{"o", O}, {"v", I}}, "effective quant_min"),
      Rel("observer_quant_max", {{"o", O}, {"v", I}}, "effective quant_max"),
      Rel("observer_eps", {{"o", O}, {"key", I}}, "eps as a FloatKey"),
      Rel("observer_scale", {{"o", O}, {"key", I}},
          "fixed scale (FixedQParamsObserver) as a FloatKey"),
      Rel("observer_zero_point", {{"o", O}, {"v", I}}, "fixed zero_point (FixedQParamsObserver)"),
      Rel("observer_is_dynamic", {{"o", O}}, "PlaceholderObserver(is_dynamic=True)"),
      Rel("observer_name", {{"o", O}, {"name", S}},
          "an observer declared in a rule file (`observer NAME = ...;`), by its name"),
      Rel("fixed_qparams_fake_quantize", {{"o", O}, {"fq", O}},
          "for a declared FixedQParamsObserver o: FixedQParamsFakeQuantize(observer=o), what PT2E "
          "makes of a FixedQParamsQuantizationSpec under QAT"),
      // --- pattern matching and the backend config ------------------------------------------
      Rel("match", {{"n", N}, {"root", N}, {"last", N}, {"p", P}},
          "n belongs to a match of pattern p; root is its first-executed node, last its output "
          "node"),
      Rel("standalone_module", {{"n", N}}, "n is a standalone module (prepared separately)"),
      Rel("custom_module", {{"n", N}}, "n is a custom module class (float_to_observed_mapping)"),
      Rel("standalone_input_quantized", {{"n", N}, {"i", I}},
          "standalone module n's own PrepareCustomConfig lists positional input i in "
          "input_quantized_idxs (the parent observes that input)"),
      Rel("pattern_text", {{"p", P}, {"text", S}},
          "the pattern in PyTorch's reversed nested-tuple form"),
      Rel("observation_type", {{"p", P}, {"type", S}},
          "output_use_different_observer_as_input, output_share_observer_with_input, "
          "input_output_not_observed"),
      Rel("num_tensor_args_observation_type", {{"p", P}, {"k", I}, {"type", S}},
          "_num_tensor_args_to_observation_type: observation type by number of tensor args"),
      Rel("input_type_index", {{"p", P}, {"input_type", S}, {"index", I}},
          "_input_type_to_index: positional index of weight / bias"),
      Rel("function_config", {{"target", S}},
          "some backend config is keyed by this function alone (`node.target in "
          "backend_config.configs`)"),
      Rel("function_input_type_index", {{"target", S}, {"input_type", S}, {"index", I}},
          "_input_type_to_index of the config keyed by this function (node_arg_is_weight / _bias)"),
      Rel("input_output_not_observed", {{"p", P}}, "1.13's _input_output_observed=False"),
      Rel("fixed_qparams_observer", {{"p", P}, {"o", O}},
          "_overwrite_output_observer (or _overwrite_output_fake_quantize under QAT)"),
      Rel("dtype_config", {{"p", P}, {"d", I}}, "pattern p supports dtype config d"),
      Rel("dtype_config_input", {{"d", I}, {"dtype", S}}, "DTypeConfig.input_dtype"),
      Rel("dtype_config_output", {{"d", I}, {"dtype", S}}, "DTypeConfig.output_dtype"),
      Rel("dtype_config_weight", {{"d", I}, {"dtype", S}}, "DTypeConfig.weight_dtype"),
      Rel("dtype_config_bias", {{"d", I}, {"dtype", S}}, "DTypeConfig.bias_dtype"),
      Rel("dtype_config_is_dynamic", {{"d", I}}, "DTypeConfig.is_dynamic"),
      Rel("dtype_constraint", {{"d", I}, {"which", S}, {"name", S}, {"value", I}},
          "DTypeWithConstraints of input / output / weight: quant_min_lower_bound, "
          "quant_max_upper_bound, "
          "zero_point_exact_match (ints), scale_min_lower_bound, scale_max_upper_bound, "
          "scale_exact_match (FloatKeys)"),
  };
}

// NON_OBSERVABLE_ARG_DICT of fx/utils.py (the two NodeInfo("call_method", torch.fn) entries can
// never match a call_method node, whose target is a string, and are left out).
struct NonObservable {
  std::string_view method;
  std::string_view dtype;  // "bool", "float", "int"
  int first;               // arg indices [first, last]; last -1: all args from `first`
  int last;
};
constexpr NonObservable kNonObservable[] = {
    {"masked_fill", "bool", 1, 1}, {"masked_fill", "float", 2, 2}, {"permute", "int", 1, -1},
    {"repeat", "int", 1, -1},      {"reshape", "int", 1, -1},      {"size", "int", 1, 1},
    {"transpose", "int", 1, -1},   {"unsqueeze", "int", 1, 1},     {"unsqueeze_", "int", 1, 1},
    {"view", "int", 1, -1},
};

constexpr std::string_view kNonQuantizableWeightOps[] = {"torch.nn.functional.layer_norm",
                                                         "torch.nn.functional.group_norm",
                                                         "torch.nn.functional.instance_norm"};

// fx/utils.py all_node_args_have_no_tensors, quirks included (a float or None positional arg
// counts as "found a tensor"; kwargs are ignored; every call_module is "has tensors").
class NoTensorOracle {
 public:
  // Node args refer only to earlier nodes (ir/graph.h), so filling the memo in graph order makes
  // every recursive call a memo hit: no deep recursion on long chains.
  explicit NoTensorOracle(const ir::Graph& g) : g_(g), memo_(g.num_nodes(), -1) {
    for (ir::NodeId id = 0; id < g.num_nodes(); ++id) NoTensors(id);
  }

  bool NoTensors(ir::NodeId id) {
    if (memo_[id] >= 0) return memo_[id] == 1;
    const bool r = Compute(id);
    memo_[id] = r ? 1 : 0;
    return r;
  }

 private:
  bool Compute(ir::NodeId id) {
    const ir::Node& n = g_.node(id);
    switch (n.kind) {
      case ir::NodeKind::kPlaceholder:
      case ir::NodeKind::kCallModule:
      case ir::NodeKind::kGetAttr:
        return false;
      default:
        break;
    }
    if (n.kind == ir::NodeKind::kCallFunction && n.target == "operator.getitem") {
      return n.args.empty() || !n.args[0].is_node() || NoTensors(n.args[0].node);
    }
    if (n.kind == ir::NodeKind::kCallFunction &&
        (n.target == "getattr" || n.target == "builtins.getattr") && n.args.size() >= 2 &&
        n.args[1].kind == ir::Value::Kind::kString &&
        (n.args[1].text == "ndim" || n.args[1].text == "shape")) {
      return true;
    }
    if (n.kind == ir::NodeKind::kCallMethod && n.target == "size") return true;
    for (const ir::Value& a : n.args) {
      switch (a.kind) {
        case ir::Value::Kind::kList:
          for (const ir::Value& el : a.items) {
            if (el.is_node() && !NoTensors(el.node)) return false;
          }
          break;
        case ir::Value::Kind::kInt:
        case ir::Value::Kind::kBool:  // isinstance(True, int)
          break;
        case ir::Value::Kind::kNode:
          if (!NoTensors(a.node)) return false;
          break;
        default:
          return false;  // any other Python value: "found_one_tensor = True"
      }
    }
    return true;
  }

  const ir::Graph& g_;
  std::vector<int8_t> memo_;
};

const std::string* StringArg(const ObserverSpec& s, std::string_view name) {
  auto it = s.args.find(std::string(name));
  if (it == s.args.end()) {
    return s.observer != nullptr ? StringArg(*s.observer, name) : nullptr;
  }
  return std::get_if<std::string>(&it->second.v);
}
std::optional<int64_t> IntArg(const ObserverSpec& s, std::string_view name) {
  auto it = s.args.find(std::string(name));
  if (it == s.args.end()) {
    return s.observer != nullptr ? IntArg(*s.observer, name) : std::nullopt;
  }
  if (const int64_t* i = std::get_if<int64_t>(&it->second.v)) return *i;
  return std::nullopt;
}
std::optional<double> FloatArg(const ObserverSpec& s, std::string_view name) {
  auto it = s.args.find(std::string(name));
  if (it == s.args.end()) {
    return s.observer != nullptr ? FloatArg(*s.observer, name) : std::nullopt;
  }
  if (const double* d = std::get_if<double>(&it->second.v)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(&it->second.v)) return static_cast<double>(*i);
  return std::nullopt;
}
bool BoolArg(const ObserverSpec& s, std::string_view name) {
  auto it = s.args.find(std::string(name));
  if (it == s.args.end()) return s.observer != nullptr && BoolArg(*s.observer, name);
  const bool* b = std::get_if<bool>(&it->second.v);
  return b != nullptr && *b;
}

// Adds facts to the relations the program declares.
class Loader {
 public:
  Loader(SymbolTable* symbols, Database* db) : symbols_(symbols), db_(db) {}

  Datum Sym(std::string_view s) { return symbols_->Intern(s); }

  void Add(std::string_view relation, std::initializer_list<Datum> t) {
    auto it = ids_.find(absl::string_view(relation.data(), relation.size()));
    RelationId id;
    if (it == ids_.end()) {
      id = db_->program().Find(relation);
      ids_.emplace(std::string(relation), id);
    } else {
      id = it->second;
    }
    if (id == Program::kInvalid) return;
    db_->AddFact(id, t);
  }

 private:
  SymbolTable* symbols_;
  Database* db_;
  absl::flat_hash_map<std::string, RelationId> ids_;
};

}  // namespace

const std::vector<BuiltinRelation>& BuiltinRelations() {
  static const std::vector<BuiltinRelation>* kBuiltins =
      new std::vector<BuiltinRelation>(MakeBuiltins());
  return *kBuiltins;
}

void DeclareBuiltinRelations(Program* program) {
  for (const BuiltinRelation& r : BuiltinRelations()) {
    if (program->Find(r.decl.name) == Program::kInvalid) program->AddRelation(r.decl);
  }
}

Datum FloatKey(double d) {
  if (d == 0.0) d = 0.0;  // -0.0 == 0.0
  int64_t bits = std::bit_cast<int64_t>(d);
  // Negative doubles order reversed in their bit pattern: flip the magnitude bits.
  return bits < 0 ? static_cast<int64_t>(bits ^ INT64_MAX) : bits;
}

double FloatFromKey(Datum key) {
  int64_t bits = key < 0 ? static_cast<int64_t>(key ^ INT64_MAX) : key;
  return std::bit_cast<double>(bits);
}

absl::StatusOr<FactTables> LoadFacts(const ir::Graph& g, const StageResults& stages,
                                     const PrepareConfig& config, SymbolTable* symbols,
                                     Database* db) {
  if (stages.qconfigs == nullptr || stages.matches == nullptr) {
    return absl::InvalidArgumentError("LoadFacts needs qconfig and match results");
  }
  if (stages.qconfigs->per_node.size() != g.num_nodes() ||
      stages.matches->per_node.size() != g.num_nodes()) {
    return absl::InvalidArgumentError("stage results are for a different graph");
  }
  const BackendConfig& backend = config.backend_config;
  const PrepareCustomConfig& custom = config.prepare_custom_config;
  Loader L(symbols, db);
  FactTables tables;
  absl::flat_hash_map<std::string, Datum> observer_ids;
  auto observer_id = [&](const ObserverSpec& s) -> Datum {
    std::string text = s.ToString();
    auto [it, inserted] =
        observer_ids.try_emplace(text, static_cast<Datum>(tables.observers.size()));
    if (inserted) {
      const Datum o = it->second;
      tables.observers.push_back(s);
      L.Add("observer_class", {o, L.Sym(s.class_name)});
      L.Add("observer_text", {o, L.Sym(text)});
      if (const std::string* d = StringArg(s, "dtype")) L.Add("observer_dtype", {o, L.Sym(*d)});
      if (const std::string* q = StringArg(s, "qscheme")) L.Add("observer_qscheme", {o, L.Sym(*q)});
      if (auto v = IntArg(s, "quant_min")) L.Add("observer_quant_min", {o, *v});
      if (auto v = IntArg(s, "quant_max")) L.Add("observer_quant_max", {o, *v});
      if (auto v = FloatArg(s, "eps")) L.Add("observer_eps", {o, FloatKey(*v)});
      if (auto v = FloatArg(s, "scale")) L.Add("observer_scale", {o, FloatKey(*v)});
      if (auto v = IntArg(s, "zero_point")) L.Add("observer_zero_point", {o, *v});
      if (BoolArg(s, "is_dynamic")) L.Add("observer_is_dynamic", {o});
    }
    return it->second;
  };

  // --- the graph ---------------------------------------------------------------------------
  NoTensorOracle no_tensors(g);
  int placeholder_index = 0;
  for (ir::NodeId id = 0; id < g.num_nodes(); ++id) {
    const ir::Node& n = g.node(id);
    const Datum nd = id;
    L.Add("node", {nd, L.Sym(n.name)});
    L.Add("op", {nd, L.Sym(ir::NodeKindName(n.kind))});
    L.Add("target", {nd, L.Sym(n.target)});
    if (std::string_view t = ModuleTypeOf(g, id); !t.empty()) L.Add("module_type", {nd, L.Sym(t)});
    L.Add("scope", {nd, L.Sym(n.scope_path), L.Sym(n.scope_type)});
    const std::vector<ir::NodeId> users = g.Users(id);
    for (ir::NodeId u : users) L.Add("user", {nd, static_cast<Datum>(u)});
    L.Add("num_users", {nd, static_cast<Datum>(users.size())});
    switch (n.meta.kind) {
      case ir::Meta::Kind::kTensor:
        L.Add("is_tensor", {nd});
        L.Add("tensor_dtype", {nd, L.Sym(n.meta.dtype)});
        L.Add("tensor_rank", {nd, static_cast<Datum>(n.meta.shape.size())});
        for (size_t i = 0; i < n.meta.shape.size(); ++i) {
          L.Add("tensor_dim", {nd, static_cast<Datum>(i), n.meta.shape[i]});
        }
        break;
      case ir::Meta::Kind::kScalar:
        L.Add("non_tensor_value", {nd});
        break;
      default:
        break;
    }
    if (n.kind != ir::NodeKind::kPlaceholder && n.kind != ir::NodeKind::kOutput) {
      if (no_tensors.NoTensors(id)) L.Add("args_have_no_tensors", {nd});
      Datum k = 0;
      for (const ir::Value& a : n.args) {
        if (a.is_node() && !no_tensors.NoTensors(a.node)) ++k;
      }
      L.Add("num_tensor_args", {nd, k});
    }
    if (n.kind == ir::NodeKind::kCallFunction) {
      for (std::string_view op : kNonQuantizableWeightOps) {
        if (n.target == op) L.Add("non_quantizable_weight_op", {nd});
      }
    }
    if (n.kind == ir::NodeKind::kPlaceholder) {
      L.Add("graph_input", {nd, placeholder_index});
      for (int i : custom.input_quantized_idxs) {
        if (i == placeholder_index) L.Add("input_quantized", {nd});
      }
      ++placeholder_index;
    }
  }

  // Edges: consumers in order, then each consumer's in-edges in insertion (argument) order.
  const auto& bg = g.boost_graph();
  for (ir::NodeId id = 0; id < g.num_nodes(); ++id) {
    const ir::Node& n = g.node(id);
    for (auto [it, end] = boost::in_edges(id, bg); it != end; ++it) {
      const Datum e = static_cast<Datum>(tables.edges.size());
      const ir::NodeId src = static_cast<ir::NodeId>(boost::source(*it, bg));
      const ir::ArgPath& path = bg[*it].path;
      tables.edges.push_back({src, id, path});
      L.Add("edge", {e, static_cast<Datum>(src), static_cast<Datum>(id)});
      L.Add("edge_path", {e, L.Sym(path.ToString())});
      if (path.is_kwarg()) {
        L.Add("edge_kwarg", {e, L.Sym(path.steps[0].key)});
      } else if (!path.steps.empty()) {
        L.Add("edge_arg", {e, path.steps[0].index});
      }
      if (path.steps.size() >= 2 && path.steps[1].key.empty()) {
        L.Add("edge_elem", {e, path.steps[1].index});
      }
      if (n.kind == ir::NodeKind::kOutput) {
        // output(args=(value,)): value itself (index 0) or a tuple / list of values.
        int index = path.steps.size() >= 2 ? path.steps[1].index : 0;
        L.Add("graph_output", {e, index});
      }
      if (n.kind == ir::NodeKind::kCallMethod && !path.is_kwarg() && path.steps.size() == 1) {
        const int arg = path.steps[0].index;
        for (const NonObservable& no : kNonObservable) {
          if (n.target != no.method || arg < no.first) continue;
          if (no.last >= 0 && arg > no.last) continue;
          L.Add("non_observable_arg", {e, L.Sym(no.dtype)});
        }
      }
    }
  }
  // Observation points: one per edge (an input observer), then one per node (its output
  // observer); sharing and deduplication are equivalences over them (rules/prelude/prepare.qr).
  const Datum num_edges = static_cast<Datum>(tables.edges.size());
  for (Datum e = 0; e < num_edges; ++e) L.Add("input_point", {e, e});
  for (ir::NodeId id = 0; id < g.num_nodes(); ++id) {
    L.Add("output_point", {static_cast<Datum>(id), num_edges + static_cast<Datum>(id)});
  }
  for (int i : custom.input_quantized_idxs) L.Add("input_quantized_idx", {i});
  for (int i : custom.output_quantized_idxs) L.Add("output_quantized_idx", {i});
  if (config.is_qat) L.Add("config_flag", {L.Sym("qat")});
  for (Dtype d : {Dtype::kQUInt8, Dtype::kQInt8, Dtype::kQInt32, Dtype::kQUInt4x2, Dtype::kFloat16,
                  Dtype::kFloat32, Dtype::kInt8, Dtype::kUInt8, Dtype::kInt32}) {
    if (IsQuantizedDtype(d)) L.Add("dtype_is_quantized", {L.Sym(DtypeName(d))});
  }

  if (stages.named_observers != nullptr) {
    for (const auto& [name, spec] : *stages.named_observers) {
      const Datum o = observer_id(spec);
      L.Add("observer_name", {o, L.Sym(name)});
      if (spec.class_name == "FixedQParamsObserver") {
        // _create_obs_or_fq_from_qspec: FixedQParamsFakeQuantize.with_args(observer=ctr) (QAT).
        auto fq = MakeObserverSpec("FixedQParamsFakeQuantize",
                                   {{"observer", SpecValue{spec.ToString()}}});
        if (!fq.ok()) return fq.status();
        L.Add("fixed_qparams_fake_quantize", {o, observer_id(*fq)});
      }
    }
  }

  // --- fusion ------------------------------------------------------------------------------
  for (ir::NodeId id = 0; id < g.num_nodes(); ++id) {
    const FusionResult* f = stages.fusion;
    const Datum nd = id;
    if (f != nullptr && id < f->fused_index.size() && f->fused_index[id] >= 0) {
      const FusedNode& fn = f->fused[f->fused_index[id]];
      L.Add("fused", {nd, L.Sym(fn.fused_module_type)});
      L.Add("value_name", {nd, L.Sym(fn.last_name)});
      for (const std::string& m : fn.member_names) L.Add("fused_member", {nd, L.Sym(m)});
    } else {
      L.Add("value_name", {nd, L.Sym(g.node(id).name)});
    }
  }

  // --- qconfigs ----------------------------------------------------------------------------
  const QConfigResolution& qr = *stages.qconfigs;
  for (size_t q = 0; q < qr.qconfigs.size(); ++q) {
    const QConfig& c = qr.qconfigs[q];
    const Datum qd = static_cast<Datum>(q);
    L.Add("qconfig_name", {qd, L.Sym(c.name)});
    if (c.is_none) continue;
    if (c.activation) L.Add("qconfig_activation", {qd, observer_id(*c.activation)});
    if (c.weight) L.Add("qconfig_weight", {qd, observer_id(*c.weight)});
    if (c.bias) L.Add("qconfig_bias", {qd, observer_id(*c.bias)});
    if (c.input) L.Add("qconfig_input", {qd, observer_id(*c.input)});
    if (c.output) L.Add("qconfig_output", {qd, observer_id(*c.output)});
    if (c.is_dynamic()) L.Add("qconfig_is_dynamic", {qd});
    if (c.is_reuse_input()) L.Add("qconfig_reuse_input", {qd});
  }
  if (stages.equalization != nullptr) {
    const QConfigResolution& eq = *stages.equalization;
    if (eq.per_node.size() != g.num_nodes()) {
      return absl::InvalidArgumentError("equalization qconfigs are for a different graph");
    }
    for (ir::NodeId id = 0; id < g.num_nodes(); ++id) {
      const QConfig* c = eq.Effective(id);
      if (c == nullptr) continue;
      const Datum nd = id;
      L.Add("equalization_qconfig", {nd, L.Sym(c->name)});
      if (c->activation) L.Add("equalization_input_activation", {nd, observer_id(*c->activation)});
      if (c->weight) L.Add("equalization_weight", {nd, observer_id(*c->weight)});
    }
  }
  if (stages.groups != nullptr) {
    for (const auto& [name, ops] : *stages.groups) {
      for (const OpRef& op : ops) {
        std::string_view kind = op.kind == OpRef::Kind::kModule     ? "call_module"
                                : op.kind == OpRef::Kind::kFunction ? "call_function"
                                : op.kind == OpRef::Kind::kMethod   ? "call_method"
                                                                    : "";
        if (kind.empty()) continue;
        L.Add("group_op", {L.Sym(name), L.Sym(kind), L.Sym(op.name)});
      }
    }
  }
  for (ir::NodeId id = 0; id < g.num_nodes(); ++id) {
    const ResolvedQConfig& r = qr.per_node[id];
    if (r.level == QConfigLevel::kNotApplicable) continue;
    const Datum nd = id;
    L.Add("qconfig_level", {nd, L.Sym(QConfigLevelName(r.level)), L.Sym(r.key)});
    if (qr.Effective(id) != nullptr) {
      L.Add("qconfig", {nd, static_cast<Datum>(r.qconfig)});
    } else {
      L.Add("qconfig_none", {nd});
    }
  }

  // --- matches and the backend config --------------------------------------------------------
  const MatchResult& mr = *stages.matches;
  for (ir::NodeId id = 0; id < g.num_nodes(); ++id) {
    const NodeMatch& m = mr.per_node[id];
    const Datum nd = id;
    switch (m.kind) {
      case NodeMatch::Kind::kNone:
        break;
      case NodeMatch::Kind::kPattern:
        if (m.config_index < 0 || static_cast<size_t>(m.config_index) >= backend.configs.size()) {
          return absl::InvalidArgumentError(absl::StrCat("match of node '", g.node(id).name,
                                                         "' names pattern ", m.config_index,
                                                         " which the backend does not have"));
        }
        L.Add("match", {nd, static_cast<Datum>(m.root), static_cast<Datum>(m.last),
                        static_cast<Datum>(m.config_index)});
        break;
      case NodeMatch::Kind::kCustomModule:
        L.Add("custom_module", {nd});
        break;
      case NodeMatch::Kind::kStandaloneModule:
        L.Add("standalone_module", {nd});
        // get_standalone_module_configs: the entry by class, overridden by the entry by name; a
        // child without a PrepareCustomConfig of its own has no quantized inputs. When the parent
        // inserts its observers, PyTorch (1.13 and 2.x) has already swapped the child for its
        // ObservedStandaloneGraphModule (run_prepare_fx_on_standalone_modules runs first), so
        // the by-class lookup (`type(modules[name])`) never finds the float class: only an entry
        // by name gives the parent quantized inputs (golden standalone_parent_qconfig). The
        // child's own prepare does use its class entry.
        {
          const StandaloneModuleConfigEntry* entry = nullptr;
          for (const auto& e : custom.standalone_module_names) {
            if (e.key == g.node(id).target) entry = &e;
          }
          if (entry != nullptr && entry->prepare_config != nullptr) {
            for (int i : entry->prepare_config->prepare_custom_config.input_quantized_idxs) {
              L.Add("standalone_input_quantized", {nd, i});
            }
          }
        }
        break;
    }
  }
  // node_arg_is_weight / node_arg_is_bias: backend_config.configs[node.target] (a dict keyed by
  // pattern: the last config whose pattern is exactly that function).
  {
    std::map<std::string, int> function_configs;
    for (size_t p = 0; p < backend.configs.size(); ++p) {
      for (const Pattern& e : ExpandAlternatives(backend.configs[p].pattern)) {
        if (!e.is_tuple() && e.op.kind == OpRef::Kind::kFunction) {
          function_configs[e.op.name] = static_cast<int>(p);
        }
      }
    }
    for (const auto& [fn, p] : function_configs) {
      const Datum f = L.Sym(fn);
      L.Add("function_config", {f});
      for (const auto& [name, index] : backend.configs[p].input_type_to_index) {
        L.Add("function_input_type_index", {f, L.Sym(name), index});
      }
    }
  }
  auto dtype_sym = [&](const std::optional<Dtype>& d) { return L.Sym(DtypeName(*d)); };
  for (size_t p = 0; p < backend.configs.size(); ++p) {
    const BackendPatternConfig& c = backend.configs[p];
    const Datum pd = static_cast<Datum>(p);
    L.Add("pattern_text", {pd, L.Sym(c.pattern.ToString())});
    L.Add("observation_type", {pd, L.Sym(ObservationTypeName(c.observation_type))});
    for (const auto& [k, t] : c.num_tensor_args_to_observation_type) {
      L.Add("num_tensor_args_observation_type", {pd, k, L.Sym(ObservationTypeName(t))});
    }
    for (const auto& [name, index] : c.input_type_to_index) {
      L.Add("input_type_index", {pd, L.Sym(name), index});
    }
    if (c.input_output_observed.has_value() && !*c.input_output_observed) {
      L.Add("input_output_not_observed", {pd});
    }
    const std::optional<ObserverSpec>& fixed = config.is_qat && c.overwrite_output_fake_quantize
                                                   ? c.overwrite_output_fake_quantize
                                                   : c.overwrite_output_observer;
    if (fixed) L.Add("fixed_qparams_observer", {pd, observer_id(*fixed)});
    for (size_t i = 0; i < c.dtype_configs.size(); ++i) {
      const DTypeConfig& dc = c.dtype_configs[i];
      const Datum d = static_cast<Datum>(tables.dtype_configs.size());
      tables.dtype_configs.push_back({static_cast<int>(p), static_cast<int>(i)});
      L.Add("dtype_config", {pd, d});
      if (dc.input_dtype.dtype) L.Add("dtype_config_input", {d, dtype_sym(dc.input_dtype.dtype)});
      if (dc.output_dtype.dtype)
        L.Add("dtype_config_output", {d, dtype_sym(dc.output_dtype.dtype)});
      if (dc.weight_dtype.dtype)
        L.Add("dtype_config_weight", {d, dtype_sym(dc.weight_dtype.dtype)});
      if (dc.bias_dtype) L.Add("dtype_config_bias", {d, dtype_sym(dc.bias_dtype)});
      if (dc.is_dynamic.value_or(false)) L.Add("dtype_config_is_dynamic", {d});
      auto constraints = [&](std::string_view which, const DTypeWithConstraints& w) {
        const Datum ws = L.Sym(which);
        if (w.quant_min_lower_bound)
          L.Add("dtype_constraint",
                {d, ws, L.Sym("quant_min_lower_bound"), *w.quant_min_lower_bound});
        if (w.quant_max_upper_bound)
          L.Add("dtype_constraint",
                {d, ws, L.Sym("quant_max_upper_bound"), *w.quant_max_upper_bound});
        if (w.zero_point_exact_match)
          L.Add("dtype_constraint",
                {d, ws, L.Sym("zero_point_exact_match"), *w.zero_point_exact_match});
        if (w.scale_min_lower_bound)
          L.Add("dtype_constraint",
                {d, ws, L.Sym("scale_min_lower_bound"), FloatKey(*w.scale_min_lower_bound)});
        if (w.scale_max_upper_bound)
          L.Add("dtype_constraint",
                {d, ws, L.Sym("scale_max_upper_bound"), FloatKey(*w.scale_max_upper_bound)});
        if (w.scale_exact_match)
          L.Add("dtype_constraint",
                {d, ws, L.Sym("scale_exact_match"), FloatKey(*w.scale_exact_match)});
      };
      constraints("input", dc.input_dtype);
      constraints("output", dc.output_dtype);
      constraints("weight", dc.weight_dtype);
    }
  }
  return tables;
}

}  // namespace qprep::engine
