// PyTorch's per-node qconfig resolution; see qconfig_resolution.h for the semantics.
#include "engine/qconfig_resolution.h"

#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/matcher.h"

namespace qprep::engine {
namespace {

bool SameSpec(const std::optional<ObserverSpec>& a, const std::optional<ObserverSpec>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a.has_value()) return true;
  if (a->class_name != b->class_name || a->args != b->args) return false;
  if ((a->observer == nullptr) != (b->observer == nullptr)) return false;
  if (a->observer == nullptr) return true;
  return SameSpec(*a->observer, *b->observer);
}

// qconfig.qconfig_equals: both None, or equal activation and weight constructors.
bool QConfigEquals(const QConfig* a, const QConfig* b) {
  const bool a_none = a == nullptr || a->is_none;
  const bool b_none = b == nullptr || b->is_none;
  if (a_none || b_none) return a_none == b_none;
  return SameSpec(a->activation, b->activation) && SameSpec(a->weight, b->weight);
}

// "a.b.c" -> "a.b"; "a" -> "" (torch.ao.quantization.utils._parent_name).
std::string ParentName(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string() : std::string(path.substr(0, dot));
}

// A candidate during resolution: null `q` is PyTorch's None.
struct Choice {
  const QConfig* q = nullptr;
  QConfigLevel level = QConfigLevel::kUnset;
  std::string key;
};

class Resolver {
 public:
  explicit Resolver(const QConfigMapping& m) : m_(m) {}

  absl::Status Init() {
    // Python dicts: duplicate keys keep the first position and the last value.
    for (const auto& e : m_.module_name_regex_qconfigs) {
      auto it = std::find_if(regexes_.begin(), regexes_.end(),
                             [&](const Regex& r) { return r.text == e.regex; });
      if (it != regexes_.end()) {
        it->q = &e.qconfig;
        continue;
      }
      try {
        regexes_.push_back(Regex{e.regex, std::regex(e.regex, std::regex::ECMAScript), &e.qconfig});
      } catch (const std::regex_error& err) {
        return ConfigError(e.qconfig.where, absl::StrCat("module_name_regex '", e.regex,
                                                         "' is not a valid regex: ", err.what()));
      }
    }
    for (const auto& e : m_.module_name_qconfigs) module_names_[e.module_name] = &e.qconfig;
    for (const auto& e : m_.object_type_qconfigs) object_types_[OpKey(e.object_type)] = &e.qconfig;
    return absl::OkStatus();
  }

  // The fused-type entries update_qconfig_for_fusion adds to object_type_qconfigs.
  void AddFusedObjectType(const std::string& type, const QConfig* q) { fused_types_[type] = q; }

  // get_object_type_qconfig; null when there is no entry.
  const QConfig* ObjectType(const OpRef& op) const {
    if (op.kind == OpRef::Kind::kModule) {
      if (auto it = fused_types_.find(op.name); it != fused_types_.end()) return it->second;
    }
    auto it = object_types_.find(OpKey(op));
    return it == object_types_.end() ? nullptr : it->second;
  }

  Choice Global() const {
    if (m_.global_qconfig.has_value()) {
      return Choice{&*m_.global_qconfig, QConfigLevel::kGlobal, ""};
    }
    return Choice{};
  }

  // maybe_adjust_qconfig_for_module_type_or_name.
  Choice Adjust(const OpRef& type, const std::string& module_name, Choice fallback) const {
    Choice c = std::move(fallback);
    // Every entry holds a QConfig (an explicit `none` too), so null means "no entry".
    if (const QConfig* q = ObjectType(type); q != nullptr) {
      c = Choice{q, QConfigLevel::kObjectType, type.ToString()};
    }
    if (const Regex* r = FirstRegex(module_name); r != nullptr) {
      c = Choice{r->q, QConfigLevel::kModuleNameRegex, r->text};
    }
    // get_module_name_qconfig: exact, else nearest parent; "" never matches.
    for (std::string name = module_name; !name.empty(); name = ParentName(name)) {
      if (auto it = module_names_.find(name); it != module_names_.end()) {
        c = Choice{it->second, QConfigLevel::kModuleName, name};
        break;
      }
    }
    return c;
  }

  // maybe_adjust_qconfig_for_module_name_object_type_order.
  Choice Order(const std::string& path, const OpRef& type, int index, Choice fallback) const {
    for (const auto& e : m_.module_name_object_type_order_qconfigs) {
      if (e.module_name == path && e.object_type.SameOp(type) && e.index == index) {
        return Choice{&e.qconfig, QConfigLevel::kModuleNameObjectTypeOrder,
                      absl::StrCat(path, "/", type.ToString(), "/", index)};
      }
    }
    return fallback;
  }

 private:
  struct Regex {
    std::string text;
    std::regex re;
    const QConfig* q;
  };
  static std::string OpKey(const OpRef& op) {
    return std::string(1, static_cast<char>('0' + static_cast<int>(op.kind))) + op.name;
  }
  // First regex (insertion order) that re.match-es `name`, cached per name: many nodes share a
  // scope path.
  const Regex* FirstRegex(const std::string& name) const {
    if (regexes_.empty()) return nullptr;
    auto [it, inserted] = regex_cache_.try_emplace(name, -1);
    if (inserted) {
      for (size_t i = 0; i < regexes_.size(); ++i) {
        if (std::regex_search(name, regexes_[i].re, std::regex_constants::match_continuous)) {
          it->second = static_cast<int>(i);
          break;
        }
      }
    }
    return it->second < 0 ? nullptr : &regexes_[it->second];
  }

  const QConfigMapping& m_;
  std::vector<Regex> regexes_;
  mutable absl::flat_hash_map<std::string, int> regex_cache_;
  absl::flat_hash_map<std::string, const QConfig*> object_types_;  // dict: last value wins
  absl::flat_hash_map<std::string, const QConfig*> module_names_;
  absl::flat_hash_map<std::string, const QConfig*> fused_types_;
};

// Where the object_type entry for module type `type` was declared (the last one: dict semantics).
const SourceRange* EntryWhere(const QConfigMapping& m, const std::string& type) {
  const SourceRange* where = nullptr;
  for (const auto& e : m.object_type_qconfigs) {
    if (e.object_type.kind == OpRef::Kind::kModule && e.object_type.name == type) {
      where = e.object_type.where.file != nullptr ? &e.object_type.where : &e.qconfig.where;
    }
  }
  return where;
}

}  // namespace

std::string_view QConfigLevelName(QConfigLevel level) {
  switch (level) {
    case QConfigLevel::kNotApplicable:
      return "n/a";
    case QConfigLevel::kUnset:
      return "unset";
    case QConfigLevel::kGlobal:
      return "global";
    case QConfigLevel::kObjectType:
      return "object_type";
    case QConfigLevel::kModuleNameRegex:
      return "module_name_regex";
    case QConfigLevel::kModuleName:
      return "module_name";
    case QConfigLevel::kModuleNameObjectTypeOrder:
      return "module_name_object_type_order";
  }
  return "?";
}

const QConfig* QConfigResolution::Effective(ir::NodeId id) const {
  const int q = per_node[id].qconfig;
  if (q < 0 || qconfigs[q].is_none) return nullptr;
  return &qconfigs[q];
}

absl::StatusOr<QConfigResolution> ResolveQConfigs(const ir::Graph& graph,
                                                  const FusionResult* fusion,
                                                  const QConfigMapping& mapping) {
  Resolver r(mapping);
  if (absl::Status s = r.Init(); !s.ok()) return s;

  // update_qconfig_for_fusion (only when object_type entries exist, as PyTorch).
  if (fusion != nullptr && !mapping.object_type_qconfigs.empty()) {
    for (const FusedNode& f : fusion->fused) {
      if (!f.is_fused_module || f.child_module_types.empty()) continue;
      const QConfig* first = r.ObjectType(OpRef::Module(f.child_module_types[0]));
      for (size_t i = 1; i < f.child_module_types.size(); ++i) {
        const QConfig* other = r.ObjectType(OpRef::Module(f.child_module_types[i]));
        if (!QConfigEquals(other, first)) {
          // Point at the offending child's entry if it has one, else at the first child's.
          const SourceRange* at = EntryWhere(mapping, f.child_module_types[i]);
          const SourceRange* first_at = EntryWhere(mapping, f.child_module_types[0]);
          if (at == nullptr) std::swap(at, first_at);
          static const SourceRange kNowhere;
          return ConfigError(
              at != nullptr ? *at : kNowhere,
              absl::StrCat("During fusion, we need to specify the same qconfigs for all module "
                           "types in ",
                           f.fused_module_type, " (node '", graph.node(f.fused).name,
                           "'); offending type: ", f.child_module_types[i]),
              first_at, "the other child's object_type qconfig is set here");
        }
      }
      if (first != nullptr) r.AddFusedObjectType(f.fused_module_type, first);
    }
  }
  // update_qconfig_for_qat: an object_type entry for a float module type also applies to its QAT
  // type (after the fused-type entries, as in prepare).
  if (fusion != nullptr) {
    for (const auto& [from, to] : fusion->qat_type_aliases) {
      if (const QConfig* q = r.ObjectType(OpRef::Module(from)); q != nullptr) {
        r.AddFusedObjectType(to, q);
      }
    }
  }

  QConfigResolution out;
  out.per_node.resize(graph.num_nodes());
  absl::flat_hash_map<const QConfig*, int> index;
  std::map<std::pair<std::string, std::string>, int> counters;  // (scope path, op) -> calls

  for (ir::NodeId id = 0; id < graph.num_nodes(); ++id) {
    const ir::Node& n = graph.node(id);
    Choice c;
    switch (n.kind) {
      case ir::NodeKind::kPlaceholder:
      case ir::NodeKind::kOutput:
        out.per_node[id].level = QConfigLevel::kNotApplicable;
        continue;
      case ir::NodeKind::kGetAttr: {
        const std::string parent = ParentName(n.target);
        const ir::Module* m = graph.FindModule(parent);
        c = r.Adjust(OpRef::Module(m != nullptr ? m->type : ""), parent, r.Global());
        break;
      }
      case ir::NodeKind::kCallFunction: {
        const OpRef fn = OpRef::Function(n.target);
        Choice fq = r.Global();
        if (const QConfig* q = r.ObjectType(fn); q != nullptr) {
          fq = Choice{q, QConfigLevel::kObjectType, fn.ToString()};
        }
        c = r.Adjust(OpRef::Module(n.scope_type), n.scope_path, fq);
        const int idx = counters[{n.scope_path, fn.ToString()}]++;
        c = r.Order(n.scope_path, fn, idx, c);
        break;
      }
      case ir::NodeKind::kCallMethod: {
        c = r.Adjust(OpRef::Method(n.target), n.scope_path, r.Global());
        c = r.Adjust(OpRef::Module(n.scope_type), n.scope_path, c);
        break;
      }
      case ir::NodeKind::kCallModule: {
        const OpRef type = OpRef::Module(std::string(ModuleTypeOf(graph, id)));
        c = r.Adjust(type, n.target, r.Global());
        const std::string parent = ParentName(n.scope_path);
        const OpRef scope_type = OpRef::Module(n.scope_type);
        const int idx = counters[{parent, scope_type.ToString()}]++;
        c = r.Order(parent, scope_type, idx, c);
        break;
      }
    }
    ResolvedQConfig& rq = out.per_node[id];
    rq.level = c.level;
    rq.key = std::move(c.key);
    if (c.q != nullptr) {
      auto [it, inserted] = index.try_emplace(c.q, static_cast<int>(out.qconfigs.size()));
      if (inserted) out.qconfigs.push_back(*c.q);
      rq.qconfig = it->second;
    }
  }
  return out;
}

}  // namespace qprep::engine
