// PyTorch's fuse; see fusion.h for the semantics reproduced here.
#include "engine/fusion.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/matcher.h"

namespace qprep::engine {
namespace {

constexpr int kUnclaimed = -1;

// fuse.py DefaultFuseHandler.get_modules: a functional relu inside a fusion becomes an nn.ReLU
// child; other functions / methods are kept as themselves.
std::string ChildType(const ir::Graph& g, ir::NodeId id) {
  const ir::Node& n = g.node(id);
  if (n.kind == ir::NodeKind::kCallModule) return std::string(ModuleTypeOf(g, id));
  if (n.kind == ir::NodeKind::kCallFunction && n.target == "torch.nn.functional.relu") {
    return "torch.nn.modules.activation.ReLU";
  }
  return n.target;
}

// Walks a matched pattern: records every non-MatchAllNode node (fuse.py apply_match) and returns
// the root by fuse.py's default_root_node_getter (the innermost last element).
ir::NodeId Walk(const ir::Graph& g, const Pattern& p, ir::NodeId node,
                std::vector<ir::NodeId>& members) {
  if (p.op.kind != OpRef::Kind::kAny) members.push_back(node);
  if (!p.is_tuple()) return node;
  ir::NodeId root = node;
  const auto& args = g.node(node).args;
  for (size_t i = 0; i < p.args.size() && i < args.size(); ++i) {
    if (!args[i].is_node()) continue;
    root = Walk(g, p.args[i], args[i].node, members);
  }
  return root;
}

// PT2E's _fuse_conv_bn_ root: the conv is the batch norm's first argument, whatever the other
// (MatchAllNode) positions hold. Follows argument 0 down the pattern to its innermost op.
ir::NodeId FirstArgRoot(const ir::Graph& g, const Pattern& p, ir::NodeId node) {
  while (p.is_tuple() && !p.args.empty() && p.args[0].op.kind != OpRef::Kind::kAny) {
    const auto& args = g.node(node).args;
    if (args.empty() || !args[0].is_node()) break;
    return FirstArgRoot(g, p.args[0], args[0].node);
  }
  return node;
}

ir::Value Remap(const ir::Value& v, const std::vector<ir::NodeId>& env) {
  ir::Value out = v;
  if (v.is_node()) {
    out.node = env[v.node];
    QPREP_CHECK(out.node != ir::kNoNode);
  }
  for (ir::Value& item : out.items) item = Remap(item, env);
  return out;
}

// prepare.py's QAT step after fusion: propagate_qconfig_ (flattened mapping) + qat_swap_modules.
void SwapQatModules(const PrepareConfig& config, FusionResult& out) {
  const BackendConfig& backend = config.backend_config;
  const QConfigMapping& m = config.qconfig_mapping;
  // get_module_to_qat_module: leaf module patterns with a qat_module (dict: last wins).
  std::map<std::string, std::string> to_qat;
  for (const BackendPatternConfig& c : backend.configs) {
    if (c.qat_module && !c.pattern.is_tuple() && c.pattern.op.kind == OpRef::Kind::kModule) {
      to_qat[c.pattern.op.name] = *c.qat_module;
    }
  }
  for (const auto& [from, to] : to_qat) out.qat_type_aliases.emplace_back(from, to);

  // The flattened dict: {"": global, **object_type, **module_name}; each value's None-ness is all
  // the swap needs. update_qconfig_for_fusion's fused-type entries come first.
  std::map<std::string, bool> type_none;  // module type -> qconfig is None
  for (const auto& e : m.object_type_qconfigs) {
    if (e.object_type.kind == OpRef::Kind::kModule)
      type_none[e.object_type.name] = e.qconfig.is_none;
  }
  if (!m.object_type_qconfigs.empty()) {
    for (const FusedNode& f : out.fused) {
      if (!f.is_fused_module || f.child_module_types.empty()) continue;
      auto it = type_none.find(f.child_module_types[0]);
      if (it != type_none.end()) type_none[f.fused_module_type] = it->second;
    }
  }
  std::map<std::string, bool> name_none;  // str keys: method object types, then module names
  for (const auto& e : m.object_type_qconfigs) {
    if (e.object_type.kind == OpRef::Kind::kMethod)
      name_none[e.object_type.name] = e.qconfig.is_none;
  }
  for (const auto& e : m.module_name_qconfigs) name_none[e.module_name] = e.qconfig.is_none;
  const bool global_none = !m.global_qconfig.has_value() || m.global_qconfig->is_none;

  ir::Graph& g = out.graph;
  for (ir::NodeId id : g.NodesOfKind(ir::NodeKind::kCallModule)) {
    const std::string& path = g.node(id).target;
    bool none = global_none;
    for (size_t end = 0; end != std::string::npos;) {
      end = path.find('.', end + 1);
      const std::string prefix = path.substr(0, end);
      if (const ir::Module* mod = g.FindModule(prefix); mod != nullptr) {
        if (auto it = type_none.find(mod->type); it != type_none.end()) none = it->second;
      }
      if (auto it = name_none.find(prefix); it != name_none.end()) none = it->second;
    }
    if (none) continue;
    const ir::Module* mod = g.FindModule(path);
    if (mod == nullptr) continue;
    auto it = to_qat.find(mod->type);
    if (it == to_qat.end()) continue;
    ir::Module swapped = *mod;
    swapped.type = it->second;
    g.AddModule(std::move(swapped));
    out.qat_swapped_paths.push_back(path);
  }
}

}  // namespace

absl::StatusOr<FusionResult> Fuse(const ir::Graph& input, const PrepareConfig& config,
                                  const FuseOptions& options) {
  const BackendConfig& backend = config.backend_config;
  const std::vector<PatternEntry> patterns = SortedPatterns(backend, /*fusion_only=*/true);

  // Matching (fuse.py _find_matches): claim[n] = index into `matches`, first claim wins.
  struct Match {
    ir::NodeId last;
    ir::NodeId root;
    std::vector<ir::NodeId> members;
    int config_index;
  };
  std::vector<Match> matches;
  std::vector<int> claim(input.num_nodes(), kUnclaimed);
  const HeadIndex heads(input, patterns);
  std::vector<size_t> candidates;
  for (size_t i = input.num_nodes(); i-- > 0;) {
    const ir::NodeId id = static_cast<ir::NodeId>(i);
    if (claim[id] != kUnclaimed) continue;
    heads.Candidates(input, id, candidates);
    for (size_t p : candidates) {
      const PatternEntry& e = patterns[p];
      if (!IsMatch(input, id, e.pattern)) continue;
      Match m{id, ir::kNoNode, {}, e.config_index};
      m.root = Walk(input, e.pattern, id, m.members);
      if (options.allow_function_root_fold &&
          input.node(m.root).kind != ir::NodeKind::kCallModule) {
        m.root = FirstArgRoot(input, e.pattern, id);  // checked when the match is emitted
      }
      std::vector<ir::NodeId> claimed;
      for (ir::NodeId n : m.members) {
        if (claim[n] == kUnclaimed) {
          claim[n] = static_cast<int>(matches.size());
          claimed.push_back(n);
        }
      }
      m.members = std::move(claimed);
      std::sort(m.members.begin(), m.members.end());
      matches.push_back(std::move(m));
      break;
    }
  }

  FusionResult out;
  out.graph.set_name(input.name());
  for (const ir::Module& mod : input.modules()) out.graph.AddModule(mod);
  out.from_input.assign(input.num_nodes(), ir::kNoNode);
  std::vector<ir::NodeId> env(input.num_nodes(), ir::kNoNode);

  for (ir::NodeId id = 0; id < input.num_nodes(); ++id) {
    const int mi = claim[id];
    if (mi != kUnclaimed && matches[mi].last != id) continue;  // absorbed; emitted at `last`
    const ir::Node& src = input.node(id);
    ir::Node n;
    if (mi == kUnclaimed) {
      n = src;
    } else {
      const Match& m = matches[mi];
      const BackendPatternConfig& cfg = backend.configs[m.config_index];
      const ir::Node& root = input.node(m.root);
      const FuserMethod& fm = cfg.fuser_method;
      // PT2E's functional conv-bn fold (FuseOptions): an eval fold of a call_function root.
      const bool function_fold = options.allow_function_root_fold && !config.is_qat &&
                                 root.kind == ir::NodeKind::kCallFunction &&
                                 fm.kind == FuserMethod::Kind::kFoldBn &&
                                 fm.eval_module_type.empty();
      if (root.kind != ir::NodeKind::kCallModule && !function_fold) {
        return ConfigError(cfg.where, absl::StrCat("fusion pattern ", cfg.pattern.ToString(),
                                                   " matched at '", src.name, "' has root '",
                                                   root.name, "' which is not a call_module node"));
      }
      FusedNode f;
      f.root = m.root;
      f.last = id;
      f.members = m.members;
      f.last_name = src.name;
      for (ir::NodeId mem : m.members) f.member_names.push_back(input.node(mem).name);
      f.config_index = m.config_index;
      const std::string root_type(function_fold ? root.target : ModuleTypeOf(input, m.root));
      std::vector<std::string> children;
      for (ir::NodeId mem : m.members) children.push_back(ChildType(input, mem));
      if (fm.kind == FuserMethod::Kind::kSequential) {
        f.fused_module_type = (config.is_qat && !fm.qat_module_type.empty()) ? fm.qat_module_type
                                                                             : fm.eval_module_type;
        f.is_fused_module = true;
        f.child_module_types = children;
      } else if (config.is_qat) {
        f.fused_module_type = fm.qat_module_type;
        f.is_fused_module = true;
        f.child_module_types = children;
      } else {
        // Eval fold: BatchNorm disappears into the root's weights.
        f.fused_module_type = fm.eval_module_type.empty() ? root_type : fm.eval_module_type;
        f.is_fused_module = !fm.eval_module_type.empty();
        for (const std::string& c : children) {
          if (!absl::StrContains(c, "BatchNorm")) f.child_module_types.push_back(c);
        }
      }
      if (f.fused_module_type.empty()) {
        return ConfigError(
            cfg.where, absl::StrCat("fusion pattern ", cfg.pattern.ToString(), " (fuser ", fm.name,
                                    ") has no fused module type for ",
                                    config.is_qat ? "QAT" : "eval", " mode"));
      }
      // fused_graph.node_copy(root): root's name, target, args; the value is the last node's.
      n = root;
      n.meta = src.meta;
      // scope_type stays the root's traced type: PyTorch's node_name_to_scope is recorded at
      // trace time, before fusion, and the qconfig order level counts by it.
      if (!function_fold) {
        ir::Module fused_mod;
        if (const ir::Module* old = input.FindModule(root.target); old != nullptr) fused_mod = *old;
        fused_mod.path = root.target;
        fused_mod.type = f.fused_module_type;
        out.graph.AddModule(std::move(fused_mod));
      }
      f.fused = static_cast<ir::NodeId>(out.graph.num_nodes());
      out.fused.push_back(std::move(f));
    }
    for (ir::Value& a : n.args) a = Remap(a, env);
    for (auto& [k, v] : n.kwargs) v = Remap(v, env);
    ASSIGN_OR_RETURN(ir::NodeId new_id, out.graph.AddNode(std::move(n)));
    env[id] = new_id;
    out.to_input.push_back(mi == kUnclaimed ? id : matches[mi].root);
    out.fused_index.push_back(mi == kUnclaimed ? -1 : static_cast<int>(out.fused.size()) - 1);
    if (mi == kUnclaimed) {
      out.from_input[id] = new_id;
    } else {
      for (ir::NodeId mem : matches[mi].members) out.from_input[mem] = new_id;
    }
  }
  if (config.is_qat) SwapQatModules(config, out);
  return out;
}

}  // namespace qprep::engine
