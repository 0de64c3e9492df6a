#include "prepare/outputs.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace qprep::prepare {
namespace {

// Copies a value, renumbering node references; `redirect` replaces a reference to an old id.
ir::Value Remap(const ir::Value& v, const std::vector<ir::NodeId>& new_id,
                const absl::flat_hash_map<ir::NodeId, ir::NodeId>& redirect) {
  ir::Value out = v;
  if (v.kind == ir::Value::Kind::kNode) {
    auto it = redirect.find(v.node);
    out.node = it != redirect.end() ? it->second : new_id[v.node];
  }
  for (size_t i = 0; i < v.items.size(); ++i) out.items[i] = Remap(v.items[i], new_id, redirect);
  return out;
}

ir::Value JsonToValue(const nlohmann::json& j) {
  if (j.is_boolean()) return ir::Value::Bool(j.get<bool>());
  if (j.is_number_integer()) return ir::Value::Int(j.get<int64_t>());
  if (j.is_number()) return ir::Value::Float(j.get<double>());
  if (j.is_string()) return ir::Value::String(j.get<std::string>());
  return ir::Value::None();
}

}  // namespace

absl::StatusOr<ir::Graph> BuildPreparedGraph(const ir::Graph& input, const engine::Plan& plan) {
  // Observer nodes per observed value, in insertion order; consumers per observer node.
  std::map<std::string, std::vector<size_t>> by_value;
  for (size_t k = 0; k < plan.insertions.size(); ++k) {
    by_value[plan.insertions[k].value].push_back(k);
  }
  ir::Graph out(input.name());
  for (const ir::Module& m : input.modules()) out.AddModule(m);
  for (const engine::PlanInsertion& ins : plan.insertions) {
    const engine::PlanObserver& o = plan.observers.at(static_cast<size_t>(ins.observer));
    ir::Module m;
    m.path = ins.name;
    m.type = o.class_name;
    for (auto it = o.args.begin(); it != o.args.end(); ++it) {
      m.attrs.emplace_back(it.key(), JsonToValue(it.value()));
    }
    m.attrs.emplace_back("instance", ir::Value::Int(o.id));
    out.AddModule(std::move(m));
  }
  std::vector<ir::NodeId> new_id(input.num_nodes(), ir::kNoNode);
  // (consumer name, old value id) -> observer node id in `out`.
  std::map<std::pair<std::string, ir::NodeId>, ir::NodeId> through;
  for (ir::NodeId i = 0; i < input.num_nodes(); ++i) {
    const ir::Node& n = input.node(i);
    std::string consumer = n.kind == ir::NodeKind::kOutput ? "output" : n.name;
    absl::flat_hash_map<ir::NodeId, ir::NodeId> redirect;
    for (const auto& [key, obs] : through) {
      if (key.first == consumer) redirect[key.second] = obs;
    }
    ir::Node copy = n;
    for (ir::Value& a : copy.args) a = Remap(a, new_id, redirect);
    for (auto& [k, a] : copy.kwargs) a = Remap(a, new_id, redirect);
    ASSIGN_OR_RETURN(new_id[i], out.AddNode(std::move(copy)));
    auto it = by_value.find(n.name);
    if (it == by_value.end()) continue;
    for (size_t k : it->second) {
      const engine::PlanInsertion& ins = plan.insertions[k];
      ir::Node obs;
      obs.name = ins.name;
      obs.kind = ir::NodeKind::kCallModule;
      obs.target = ins.name;
      // A chained observer (equalization, kind non-empty) reads the observer its consumer
      // already reads this value through: value -> activation_post_process -> equalization.
      ir::NodeId source = new_id[i];
      if (!ins.kind.empty() && ins.consumers.size() == 1) {
        if (auto at = through.find({ins.consumers.front(), i}); at != through.end()) {
          source = at->second;
        }
      }
      obs.args = {ir::Value::Node(source)};
      obs.meta = n.meta;
      obs.scope_path = ins.name;
      obs.scope_type = plan.observers.at(static_cast<size_t>(ins.observer)).class_name;
      ASSIGN_OR_RETURN(ir::NodeId obs_id, out.AddNode(std::move(obs)));
      for (const std::string& c : ins.consumers) through[{c, i}] = obs_id;
    }
  }
  return out;
}

std::string PlanToDot(const ir::Graph& input, const engine::Plan& plan) {
  static const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
  std::map<int, int> uses;  // observer id -> insertions using it
  for (const auto& ins : plan.insertions) ++uses[ins.observer];
  absl::flat_hash_map<std::string, const engine::PlanNode*> node_info;
  for (const auto& n : plan.nodes) node_info[n.name] = &n;
  std::string out = absl::StrCat("digraph \"", input.name(), "\" {\n  rankdir=TB;\n",
                                 "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n");
  auto id = [](const std::string& name) { return absl::StrCat("\"", name, "\""); };
  for (ir::NodeId i = 0; i < input.num_nodes(); ++i) {
    const ir::Node& n = input.node(i);
    auto it = node_info.find(n.name);
    bool q = it != node_info.end() && it->second->quantized;
    absl::StrAppend(&out, "  ", id(n.name), " [label=\"", n.name, "\\n", n.target, "\", fillcolor=\"",
                    q ? "#cfe8ff" : "#e0e0e0", "\"", q ? "" : ", fontcolor=\"#555555\"", "];\n");
  }
  // Observed edges: producer -> observer(s) -> consumers. Observers of one (value, consumer) in
  // plan order form a chain (an equalization observer after the ordinary one).
  std::set<std::pair<std::string, std::string>> observed;
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> chain;
  for (size_t k = 0; k < plan.insertions.size(); ++k) {
    for (const auto& c : plan.insertions[k].consumers) {
      chain[{plan.insertions[k].value, c}].push_back(k);
    }
  }
  std::set<std::pair<std::string, std::string>> drawn;
  for (size_t k = 0; k < plan.insertions.size(); ++k) {
    const auto& ins = plan.insertions[k];
    bool shared = uses[ins.observer] > 1;
    const char* colour = shared ? kColours[ins.observer % 10] : "#444444";
    absl::StrAppend(&out, "  ", id(ins.name), " [shape=ellipse, label=\"",
                    plan.observers[ins.observer].class_name, "\\n#", ins.observer,
                    "\", fillcolor=\"white\", color=\"", colour, "\", penwidth=", shared ? 3 : 1,
                    "];\n");
    for (const auto& c : ins.consumers) {
      const std::vector<size_t>& links = chain[{ins.value, c}];
      size_t pos = std::find(links.begin(), links.end(), k) - links.begin();
      const std::string& from = pos == 0 ? ins.value : plan.insertions[links[pos - 1]].name;
      if (drawn.insert({from, ins.name}).second) {
        absl::StrAppend(&out, "  ", id(from), " -> ", id(ins.name), ";\n");
      }
      if (pos + 1 == links.size()) absl::StrAppend(&out, "  ", id(ins.name), " -> ", id(c), ";\n");
      observed.insert({ins.value, c});
    }
  }
  for (ir::NodeId i = 0; i < input.num_nodes(); ++i) {
    const ir::Node& n = input.node(i);
    std::string cname = n.kind == ir::NodeKind::kOutput ? "output" : n.name;
    std::set<ir::NodeId> seen;
    for (auto [it, end] = boost::in_edges(i, input.boost_graph()); it != end; ++it) {
      ir::NodeId src = static_cast<ir::NodeId>(boost::source(*it, input.boost_graph()));
      if (!seen.insert(src).second) continue;
      const std::string& pname = input.node(src).name;
      if (observed.count({pname, cname})) continue;
      absl::StrAppend(&out, "  ", id(pname), " -> ", id(n.name), ";\n");
    }
  }
  out += "}\n";
  return out;
}

std::string PlanSummary(const engine::Plan& plan) {
  std::map<std::string, int> by_class;
  for (const auto& o : plan.observers) ++by_class[o.class_name];
  int quantized = 0;
  std::map<std::string, std::vector<std::string>> fp32_by_reason;
  for (const auto& n : plan.nodes) {
    if (n.quantized) {
      ++quantized;
    } else {
      fp32_by_reason[n.reason].push_back(n.name);
    }
  }
  std::string out = absl::StrFormat(
      "graph %s, backend %s: %d observer nodes, %d observer instances\n", plan.graph,
      plan.backend, plan.insertions.size(), plan.observers.size());
  out += "observers by class:\n";
  for (const auto& [c, k] : by_class) absl::StrAppendFormat(&out, "  %-36s %d\n", c, k);
  absl::StrAppendFormat(&out, "nodes: %d quantized, %d fp32\n", quantized,
                        plan.nodes.size() - quantized);
  for (const auto& [why, names] : fp32_by_reason) {
    std::string sample;
    for (size_t i = 0; i < names.size() && i < 4; ++i) absl::StrAppend(&sample, i ? ", " : "", names[i]);
    if (names.size() > 4) absl::StrAppend(&sample, ", ...");
    absl::StrAppendFormat(&out, "  fp32 (%s): %d  [%s]\n", why, names.size(), sample);
  }
  return out;
}

std::vector<std::string> PrepareWarnings(const PrepareResult& result) {
  std::vector<std::string> out;
  engine::RelationId skipped = result.rules.program.Find("equalization_skipped_branch");
  if (skipped == engine::Program::kInvalid || result.db == nullptr) return out;
  const engine::Relation& rel = result.db->relation(skipped);
  std::vector<ir::NodeId> nodes;
  for (engine::TupleId t = 0; t < rel.size(); ++t) nodes.push_back(static_cast<ir::NodeId>(rel.at(t, 0)));
  std::sort(nodes.begin(), nodes.end());
  for (ir::NodeId n : nodes) {
    // insert_observers_for_model / maybe_insert_input_equalization_observers_for_node.
    out.push_back(absl::StrCat("Cannot equalize ", result.fusion.graph.node(n).name,
                               " because it is part of a branch."));
  }
  return out;
}

}  // namespace qprep::prepare
