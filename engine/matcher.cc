// PyTorch's greedy pattern matcher; see matcher.h for the semantics reproduced here.
#include "engine/matcher.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>

#include "common/status_macros.h"

namespace qprep::engine {
namespace {

// The nested "matched node pattern" PyTorch builds in record_match: a node or a tuple.
struct NodePattern {
  ir::NodeId node = ir::kNoNode;   // set for a node
  std::vector<NodePattern> items;  // set for a tuple
  bool is_node() const { return node != ir::kNoNode; }
};

// record_match of fx/match_utils.py, appending to `out`.
void RecordMatch(const ir::Graph& g, const Pattern& p, ir::NodeId node,
                 std::vector<NodePattern>& out) {
  if (!p.is_tuple()) {
    out.push_back(NodePattern{node, {}});
    return;
  }
  out.push_back(NodePattern{node, {}});
  std::vector<NodePattern> current;
  const auto& args = g.node(node).args;
  for (size_t i = 0; i < p.args.size() && i < args.size(); ++i) {
    // A MatchAllNode may sit on a non-node argument (a constant): PyTorch records the
    // constant, which never becomes a graph fact; we record nothing.
    if (!args[i].is_node()) continue;
    RecordMatch(g, p.args[i], args[i].node, current);
  }
  if (current.size() > 1) {
    out.push_back(NodePattern{ir::kNoNode, std::move(current)});
  } else if (current.size() == 1) {
    out.push_back(std::move(current[0]));
  }
}

void Flatten(const NodePattern& np, std::vector<ir::NodeId>& out) {
  if (np.is_node()) {
    out.push_back(np.node);
    return;
  }
  for (const NodePattern& i : np.items) Flatten(i, out);
}

bool OpMatches(const ir::Graph& g, ir::NodeId id, const OpRef& op) {
  const ir::Node& n = g.node(id);
  switch (op.kind) {
    case OpRef::Kind::kAny:
      return true;
    case OpRef::Kind::kModule:
      return n.kind == ir::NodeKind::kCallModule && ModuleTypeOf(g, id) == op.name;
    case OpRef::Kind::kFunction:
      return n.kind == ir::NodeKind::kCallFunction && n.target == op.name;
    case OpRef::Kind::kMethod:
      return n.kind == ir::NodeKind::kCallMethod && n.target == op.name;
  }
  return false;
}

// len(node.users) > max_uses, counting distinct consumers without building the user list.
bool DistinctUsersAbove(const ir::Graph& g, ir::NodeId node, size_t max_uses) {
  const auto& bg = g.boost_graph();
  auto [it, end] = boost::out_edges(node, bg);
  if (static_cast<size_t>(std::distance(it, end)) <= max_uses) return false;
  if (max_uses > 1) return g.Users(node).size() > max_uses;
  // max_uses 0 or 1 (the inner-node case): more than one distinct target?
  const auto first = boost::target(*it, bg);
  if (max_uses == 0) return true;
  for (; it != end; ++it) {
    if (boost::target(*it, bg) != first) return true;
  }
  return false;
}

bool IsMatchValue(const ir::Graph& g, const ir::Value& v, const Pattern& p, size_t max_uses) {
  if (p.op.kind == OpRef::Kind::kAny) return true;  // checked before the Node test in PyTorch
  if (!v.is_node()) return false;
  return IsMatch(g, v.node, p, max_uses);
}

}  // namespace

HeadIndex::HeadIndex(const ir::Graph& g, const std::vector<PatternEntry>& patterns) {
  (void)g;
  for (size_t p = 0; p < patterns.size(); ++p) {
    const OpRef& op = patterns[p].pattern.op;
    if (op.kind == OpRef::Kind::kAny) {
      any_.push_back(p);
    } else {
      by_head_[Key(op.kind, op.name)].push_back(p);
    }
  }
}

std::string HeadIndex::Key(OpRef::Kind kind, std::string_view name) {
  std::string k(1, static_cast<char>('0' + static_cast<int>(kind)));
  k.append(name);
  return k;
}

void HeadIndex::Candidates(const ir::Graph& g, ir::NodeId id, std::vector<size_t>& out) const {
  out.clear();
  const ir::Node& n = g.node(id);
  const std::vector<size_t>* list = nullptr;
  auto find = [&](OpRef::Kind kind, std::string_view name) -> const std::vector<size_t>* {
    auto it = by_head_.find(Key(kind, name));
    return it == by_head_.end() ? nullptr : &it->second;
  };
  switch (n.kind) {
    case ir::NodeKind::kCallModule:
      list = find(OpRef::Kind::kModule, ModuleTypeOf(g, id));
      break;
    case ir::NodeKind::kCallFunction:
      list = find(OpRef::Kind::kFunction, n.target);
      break;
    case ir::NodeKind::kCallMethod:
      list = find(OpRef::Kind::kMethod, n.target);
      break;
    default:
      break;
  }
  if (list != nullptr) out = *list;
  if (!any_.empty()) {
    // Keep table order: merge the MatchAllNode-headed patterns in.
    std::vector<size_t> merged;
    std::merge(out.begin(), out.end(), any_.begin(), any_.end(), std::back_inserter(merged));
    out = std::move(merged);
  }
}

std::string_view ModuleTypeOf(const ir::Graph& g, ir::NodeId id) {
  const ir::Node& n = g.node(id);
  if (n.kind != ir::NodeKind::kCallModule) return {};
  if (const ir::Module* m = g.FindModule(n.target); m != nullptr) return m->type;
  return n.scope_type;
}

bool IsMatch(const ir::Graph& g, ir::NodeId node, const Pattern& pattern, size_t max_uses) {
  // Alternatives are expanded before matching (SortedPatterns); a caller passing a pattern with
  // alternatives gets the head op only, so expand first.
  if (pattern.op.kind == OpRef::Kind::kAny) return true;
  if (!OpMatches(g, node, pattern.op)) return false;
  if (max_uses != std::numeric_limits<size_t>::max() && DistinctUsersAbove(g, node, max_uses)) {
    return false;
  }
  if (!pattern.is_tuple()) return true;
  const auto& args = g.node(node).args;
  if (args.size() != pattern.args.size()) return false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!IsMatchValue(g, args[i], pattern.args[i], /*max_uses=*/1)) return false;
  }
  return true;
}

MatchedNodes CollectMatch(const ir::Graph& g, ir::NodeId last, const Pattern& pattern) {
  std::vector<NodePattern> top;
  RecordMatch(g, pattern, last, top);
  MatchedNodes out;
  for (const NodePattern& np : top) Flatten(np, out.nodes);
  // _default_root_node_getter: while not a Node, take the last element.
  const NodePattern* cur = nullptr;
  NodePattern whole{ir::kNoNode, std::move(top)};
  cur = &whole;
  while (!cur->is_node() && !cur->items.empty()) cur = &cur->items.back();
  out.root = cur->is_node() ? cur->node : last;
  return out;
}

std::vector<PatternEntry> SortedPatterns(const BackendConfig& backend, bool fusion_only) {
  // BackendConfig.configs is a dict keyed by pattern: first insertion position, last value.
  std::vector<PatternEntry> table;
  for (size_t c = 0; c < backend.configs.size(); ++c) {
    const BackendPatternConfig& cfg = backend.configs[c];
    for (Pattern& p : ExpandAlternatives(cfg.pattern)) {
      auto it = std::find_if(table.begin(), table.end(),
                             [&](const PatternEntry& e) { return e.pattern.SameAs(p); });
      if (it != table.end()) {
        it->config_index = static_cast<int>(c);
      } else {
        table.push_back(PatternEntry{std::move(p), static_cast<int>(c)});
      }
    }
  }
  if (fusion_only) {
    // get_fusion_pattern_to_fuse_handler_cls keeps the configs whose (final) value fuses.
    std::erase_if(
        table, [&](const PatternEntry& e) { return !backend.configs[e.config_index].is_fusion(); });
  }
  std::stable_sort(table.begin(), table.end(), [](const PatternEntry& a, const PatternEntry& b) {
    auto key = [](const Pattern& p) { return p.is_tuple() ? -p.Length() : 1; };
    return key(a.pattern) < key(b.pattern);
  });
  return table;
}

absl::StatusOr<MatchResult> FindMatches(const ir::Graph& g, const PrepareConfig& config) {
  MatchResult result;
  for (const BackendPatternConfig& cfg : config.backend_config.configs) {
    // Only PyTorch's default root-node getter is built in; a named strategy we do not know
    // would silently give wrong input-observer positions.
    if (!cfg.root_node_getter.empty() && cfg.root_node_getter != "default") {
      return ConfigError(cfg.where, "pattern " + cfg.pattern.ToString() +
                                        ": unknown root_node_getter '" + cfg.root_node_getter +
                                        "' (built in: default)");
    }
  }
  result.patterns = SortedPatterns(config.backend_config, /*fusion_only=*/false);
  result.per_node.assign(g.num_nodes(), NodeMatch{});
  const HeadIndex heads(g, result.patterns);
  std::vector<size_t> candidates;
  for (size_t i = g.num_nodes(); i-- > 0;) {
    const ir::NodeId id = static_cast<ir::NodeId>(i);
    if (result.per_node[id].kind != NodeMatch::Kind::kNone) continue;
    heads.Candidates(g, id, candidates);
    for (size_t p : candidates) {
      const PatternEntry& e = result.patterns[p];
      if (!IsMatch(g, id, e.pattern)) continue;
      MatchedNodes m = CollectMatch(g, id, e.pattern);
      for (ir::NodeId n : m.nodes) {
        result.per_node[n] =
            NodeMatch{NodeMatch::Kind::kPattern, m.root, id, e.config_index, static_cast<int>(p)};
      }
      break;
    }
  }

  const PrepareCustomConfig& custom = config.prepare_custom_config;
  auto is_custom = [&](std::string_view type) {
    for (const auto& [float_type, observed] : custom.float_to_observed_mapping) {
      if (float_type == type) return true;
    }
    return false;
  };
  auto is_standalone = [&](ir::NodeId id) {
    const std::string& path = g.node(id).target;
    std::string_view type = ModuleTypeOf(g, id);
    for (const auto& e : custom.standalone_module_names) {
      if (e.key == path) return true;
    }
    for (const auto& e : custom.standalone_module_classes) {
      if (e.key == type) return true;
    }
    return false;
  };
  for (ir::NodeId id : g.NodesOfKind(ir::NodeKind::kCallModule)) {
    if (is_custom(ModuleTypeOf(g, id))) {
      result.per_node[id] = NodeMatch{NodeMatch::Kind::kCustomModule, id, id, -1, -1};
    }
  }
  for (ir::NodeId id : g.NodesOfKind(ir::NodeKind::kCallModule)) {
    if (is_standalone(id)) {
      result.per_node[id] = NodeMatch{NodeMatch::Kind::kStandaloneModule, id, id, -1, -1};
    }
  }
  return result;
}

}  // namespace qprep::engine
