// Graph summaries (ir/summary.h).
#include "ir/summary.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace qprep::ir {

std::string OpKey(const Graph& graph, NodeId id) {
  const Node& n = graph.node(id);
  switch (n.kind) {
    case NodeKind::kCallModule: {
      const Module* m = graph.FindModule(n.target);
      // The reader guarantees the module exists; a graph built in memory may not.
      return m != nullptr ? m->type : absl::StrCat("<unknown module ", n.target, ">");
    }
    case NodeKind::kCallFunction:
    case NodeKind::kCallMethod:
      return n.target;
    default:
      return std::string(NodeKindName(n.kind));
  }
}

Summary Summarize(const Graph& graph) {
  Summary s;
  s.graph = graph.name();
  s.nodes = graph.num_nodes();
  s.edges = graph.num_edges();
  s.modules = graph.modules().size();
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    ++s.by_kind[std::string(NodeKindName(graph.node(id).kind))];
    ++s.by_op[OpKey(graph, id)];
  }
  return s;
}

namespace {
std::vector<std::pair<std::string, size_t>> ByCount(const std::map<std::string, size_t>& m) {
  std::vector<std::pair<std::string, size_t>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return v;
}
}  // namespace

std::string SummaryText(const Summary& s) {
  std::string out = absl::StrFormat("graph %s: %d nodes, %d edges, %d modules\n", s.graph, s.nodes,
                                    s.edges, s.modules);
  size_t width = 0;
  for (const auto& [k, v] : s.by_op) width = std::max(width, k.size());
  for (const auto& [k, v] : s.by_kind) width = std::max(width, k.size());
  out += "\nnodes by kind:\n";
  for (const auto& [k, v] : ByCount(s.by_kind)) {
    absl::StrAppend(&out, absl::StrFormat("  %-*s %6d\n", width, k, v));
  }
  out += "\nnodes by op:\n";
  for (const auto& [k, v] : ByCount(s.by_op)) {
    absl::StrAppend(&out, absl::StrFormat("  %-*s %6d\n", width, k, v));
  }
  return out;
}

std::string SummaryJson(const Summary& s) {
  nlohmann::ordered_json j;
  j["graph"] = s.graph;
  j["nodes"] = s.nodes;
  j["edges"] = s.edges;
  j["modules"] = s.modules;
  j["by_kind"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : s.by_kind) j["by_kind"][k] = v;
  j["by_op"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : s.by_op) j["by_op"][k] = v;
  return j.dump(2) + "\n";
}

}  // namespace qprep::ir
