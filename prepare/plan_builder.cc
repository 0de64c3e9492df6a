#include "prepare/plan_builder.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace qprep::prepare {
namespace {

using engine::Datum;
using engine::RelationId;

// prepare_fx processes nodes in graph order; at each node its input observers (argument order)
// come first, then its input-weight equalization observers (argument order), then its output
// observer.
using OrderKey = std::tuple<ir::NodeId, int, size_t>;
constexpr int kInputStage = 0;
constexpr int kEqualizationStage = 1;
constexpr int kOutputStage = 2;

struct Point {
  size_t id = 0;
  int observer = -1;  // FactTables::observers index
  OrderKey order;
  ir::NodeId producer = ir::kNoNode;            // fused-graph id of the observed value's producer
  std::vector<ir::NodeId> consumers;            // fused-graph ids
};

absl::StatusOr<RelationId> Rel(const engine::Program& p, std::string_view name) {
  RelationId id = p.Find(name);
  if (id == engine::Program::kInvalid) {
    return absl::FailedPreconditionError(
        absl::StrCat("the rules do not define relation '", std::string(name),
                     "', which the plan builder reads (include the prelude: "
                     "rules/prelude/prepare.qr)"));
  }
  return id;
}

// Representative of `point` in an equivalence relation (the point itself if never unioned).
Datum Rep(const engine::UnionFind& uf, Datum point) {
  std::optional<Datum> r = uf.Find(point);
  return r ? *r : point;
}

}  // namespace

absl::StatusOr<engine::Plan> BuildPlan(const PrepareResult& r, const ir::Graph& input_graph) {
  const engine::Program& program = r.rules.program;
  const engine::Database& db = *r.db;
  const ir::Graph& g = r.fusion.graph;
  ASSIGN_OR_RETURN(RelationId input_observer, Rel(program, "input_observer"));
  ASSIGN_OR_RETURN(RelationId output_observer, Rel(program, "output_observer"));
  ASSIGN_OR_RETURN(RelationId same_insertion, Rel(program, "same_insertion"));
  ASSIGN_OR_RETURN(RelationId shares, Rel(program, "shares"));
  ASSIGN_OR_RETURN(RelationId quantized, Rel(program, "quantized"));
  ASSIGN_OR_RETURN(RelationId fp32_reason, Rel(program, "fp32_reason"));
  if (!db.is_equivalence(same_insertion) || !db.is_equivalence(shares)) {
    return absl::FailedPreconditionError(
        "same_insertion and shares must be declared as equivalence relations");
  }
  // Optional `prepare_error(n: node, message: symbol)`: configurations PyTorch rejects at prepare
  // time (rules/prelude/pt2e.qr: e.g. a SharedQuantizationSpec naming an unannotated edge).
  if (RelationId errors = program.Find("prepare_error"); errors != engine::Program::kInvalid) {
    const engine::Relation& rel = db.relation(errors);
    std::vector<std::string> messages;
    for (engine::TupleId t = 0; t < rel.size(); ++t) {
      messages.push_back(absl::StrCat("node '", r.fusion.graph.node(rel.at(t, 0)).name, "': ",
                                      std::string(r.rules.symbols->Name(rel.at(t, 1)))));
    }
    if (!messages.empty()) {
      std::sort(messages.begin(), messages.end());
      std::string text = "the annotations are rejected:";
      for (const std::string& m : messages) absl::StrAppend(&text, "\n  ", m);
      return absl::InvalidArgumentError(text);
    }
  }

  // 1. Points with their observer spec.
  std::map<Datum, Point> points;
  {
    const engine::Relation& rel = db.relation(input_observer);
    for (engine::TupleId t = 0; t < rel.size(); ++t) {
      size_t e = static_cast<size_t>(rel.at(t, 0));
      const auto& edge = r.tables.edges.at(e);
      Point& p = points[static_cast<Datum>(e)];
      if (p.observer >= 0) continue;  // first derivation wins (one spec per point)
      p.id = e;
      p.observer = static_cast<int>(rel.at(t, 1));
      p.order = {edge.consumer, kInputStage, e};
      p.producer = edge.producer;
      p.consumers = {edge.consumer};
    }
  }
  {
    const engine::Relation& rel = db.relation(output_observer);
    for (engine::TupleId t = 0; t < rel.size(); ++t) {
      ir::NodeId n = static_cast<ir::NodeId>(rel.at(t, 0));
      Datum id = static_cast<Datum>(r.num_edges + n);
      Point& p = points[id];
      if (p.observer >= 0) continue;
      p.id = static_cast<size_t>(id);
      p.observer = static_cast<int>(rel.at(t, 1));
      p.order = {n, kOutputStage, 0};
      p.producer = n;
      p.consumers = g.Users(n);
    }
  }

  // 2. Insertions: classes of same_insertion among the points.
  const engine::UnionFind& insertion_uf = db.equivalence(same_insertion);
  std::map<Datum, std::vector<const Point*>> groups;
  for (const auto& [id, p] : points) groups[Rep(insertion_uf, id)].push_back(&p);
  struct Insertion {
    OrderKey order;
    const Point* first;
    std::set<ir::NodeId> consumers;
    Datum rep;
    size_t equalization_edge = SIZE_MAX;  // an equalization observer on this edge
  };
  std::vector<Insertion> insertions;
  for (auto& [rep, members] : groups) {
    std::sort(members.begin(), members.end(),
              [](const Point* a, const Point* b) { return a->order < b->order; });
    Insertion ins{members.front()->order, members.front(), {}, rep};
    for (const Point* p : members) ins.consumers.insert(p->consumers.begin(), p->consumers.end());
    insertions.push_back(std::move(ins));
  }
  // Equalization observers (the prelude's equalization_observer, absent from older rule sets):
  // one fresh instance per edge, never deduplicated or shared.
  std::vector<Point> equalization_points;
  if (RelationId eq = program.Find("equalization_observer"); eq != engine::Program::kInvalid) {
    const engine::Relation& rel = db.relation(eq);
    std::set<size_t> seen;
    for (engine::TupleId t = 0; t < rel.size(); ++t) {
      size_t e = static_cast<size_t>(rel.at(t, 0));
      if (!seen.insert(e).second) continue;
      const auto& edge = r.tables.edges.at(e);
      Point p;
      p.id = r.num_edges + g.num_nodes() + e;  // outside the input / output point ranges
      p.observer = static_cast<int>(rel.at(t, 1));
      p.order = {edge.consumer, kEqualizationStage, e};
      p.producer = edge.producer;
      p.consumers = {edge.consumer};
      equalization_points.push_back(std::move(p));
    }
  }
  for (const Point& p : equalization_points) {
    Insertion ins{p.order, &p, {p.consumers.begin(), p.consumers.end()},
                  static_cast<Datum>(p.id), p.id - r.num_edges - g.num_nodes()};
    insertions.push_back(std::move(ins));
  }
  std::sort(insertions.begin(), insertions.end(),
            [](const Insertion& a, const Insertion& b) { return a.order < b.order; });

  // 3. Observer instances: classes of `shares`, numbered by first insertion.
  const engine::UnionFind& share_uf = db.equivalence(shares);
  absl::flat_hash_map<Datum, int> instance_of_class;
  auto value_name = [&](ir::NodeId fused_id) -> std::string {
    int fi = r.fusion.fused_index.empty() ? -1 : r.fusion.fused_index[fused_id];
    return fi >= 0 ? r.fusion.fused[fi].last_name : g.node(fused_id).name;
  };
  auto consumer_name = [&](ir::NodeId fused_id) -> std::string {
    const ir::Node& n = g.node(fused_id);
    return n.kind == ir::NodeKind::kOutput ? "output" : n.name;
  };
  engine::Plan plan;
  plan.graph = input_graph.name();
  std::vector<Datum> instance_point;  // per instance: the point whose spec made it
  // Observer node names as insert_observer gives them: activation_post_process_<k> counting
  // ordinary observers only; an equalization observer is <name of the node it observes in the
  // prepared graph>_equalization_process_<k> (get_new_attr_name_with_prefix: first free k).
  absl::flat_hash_map<Datum, std::string> name_of_rep;  // same_insertion class -> node name
  absl::flat_hash_map<std::string, int> equalization_prefix_count;
  size_t next_observer = 0;
  if (!equalization_points.empty()) {
    for (const Insertion& ins : insertions) {
      if (ins.equalization_edge != SIZE_MAX) continue;
      name_of_rep[ins.rep] = absl::StrCat("activation_post_process_", next_observer++);
    }
  }
  // The observer node at an input / output point, if there is one.
  auto node_at_point = [&](Datum point) -> const std::string* {
    if (!points.contains(point)) return nullptr;
    auto it = name_of_rep.find(Rep(insertion_uf, point));
    return it == name_of_rep.end() ? nullptr : &it->second;
  };
  next_observer = 0;
  for (size_t k = 0; k < insertions.size(); ++k) {
    const Insertion& ins = insertions[k];
    Datum cls = ins.equalization_edge != SIZE_MAX ? static_cast<Datum>(ins.first->id)
                                                  : Rep(share_uf, static_cast<Datum>(ins.first->id));
    auto [it, fresh] = instance_of_class.try_emplace(cls, static_cast<int>(plan.observers.size()));
    if (fresh) {
      plan.observers.push_back(engine::PlanObserverFromSpec(
          it->second, r.tables.observers.at(static_cast<size_t>(ins.first->observer))));
      instance_point.push_back(static_cast<Datum>(ins.first->id));
    }
    engine::PlanInsertion out;
    if (ins.equalization_edge == SIZE_MAX) {
      out.name = absl::StrCat("activation_post_process_", next_observer++);
    } else {
      // The node the consumer reads on this edge: its input observer, else the producer's
      // output observer (which took over all its users), else the producer itself.
      const size_t e = ins.equalization_edge;
      const ir::NodeId producer = r.tables.edges.at(e).producer;
      std::string read = g.node(producer).name;
      if (const std::string* in = node_at_point(static_cast<Datum>(e))) {
        read = *in;
      } else if (const std::string* out_obs =
                     node_at_point(static_cast<Datum>(r.num_edges + producer))) {
        read = *out_obs;
      }
      std::string prefix = absl::StrCat(read, "_equalization_process_");
      out.name = absl::StrCat(prefix, equalization_prefix_count[prefix]++);
      out.kind = "equalization";
    }
    out.observer = it->second;
    out.value = value_name(ins.first->producer);
    for (ir::NodeId c : ins.consumers) out.consumers.push_back(consumer_name(c));
    std::sort(out.consumers.begin(), out.consumers.end());
    plan.insertions.push_back(std::move(out));
  }

  // 3b. Optional `observer_derived_from(p, i, src)` (rules/prelude/pt2e.qr): the instance made at
  // point p derives its qparams from the instances at the points src, in order i
  // (_DerivedObserverOrFakeQuantize's obs_or_fqs): its args get "derived_from": [instance ids].
  if (RelationId derived = program.Find("observer_derived_from");
      derived != engine::Program::kInvalid) {
    std::map<Datum, std::map<Datum, Datum>> sources;  // point -> index -> source point
    const engine::Relation& rel = db.relation(derived);
    for (engine::TupleId t = 0; t < rel.size(); ++t) {
      sources[rel.at(t, 0)].emplace(rel.at(t, 1), rel.at(t, 2));
    }
    for (size_t k = 0; k < plan.observers.size(); ++k) {
      auto s = sources.find(instance_point[k]);
      if (s == sources.end()) continue;
      nlohmann::json ids = nlohmann::json::array();
      for (const auto& [index, src] : s->second) {
        auto inst = instance_of_class.find(Rep(share_uf, src));
        if (inst == instance_of_class.end()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "observer ", k, " derives its qparams from an edge or node that has no observer"));
        }
        ids.push_back(inst->second);
      }
      plan.observers[k].args["derived_from"] = std::move(ids);
    }
  }

  // 4. Nodes of the input graph.
  std::vector<bool> is_quantized(g.num_nodes(), false);
  {
    const engine::Relation& rel = db.relation(quantized);
    for (engine::TupleId t = 0; t < rel.size(); ++t) is_quantized[rel.at(t, 0)] = true;
  }
  std::vector<std::string> reason(g.num_nodes());
  {
    const engine::Relation& rel = db.relation(fp32_reason);
    for (engine::TupleId t = 0; t < rel.size(); ++t) {
      std::string& why = reason[rel.at(t, 0)];
      if (why.empty()) why = std::string(r.rules.symbols->Name(rel.at(t, 1)));
    }
  }
  for (ir::NodeId i = 0; i < input_graph.num_nodes(); ++i) {
    const ir::Node& in = input_graph.node(i);
    ir::NodeId f = r.fusion.from_input.empty() ? i : r.fusion.from_input[i];
    engine::PlanNode node;
    node.name = in.name;
    const engine::NodeMatch& m = r.matches.per_node[f];
    if (m.kind == engine::NodeMatch::Kind::kPattern && m.config_index >= 0) {
      node.pattern = r.config.backend_config.configs[m.config_index].pattern.ToString();
    }
    const engine::ResolvedQConfig& q = r.qconfigs.per_node[f];
    if (q.qconfig >= 0) {
      node.qconfig = absl::StrCat(r.qconfigs.qconfigs[q.qconfig].name, " (",
                                  std::string(engine::QConfigLevelName(q.level)), ")");
    }
    node.quantized = is_quantized[f];
    node.reason = node.quantized ? "quantized" : reason[f];
    if (!node.quantized && node.reason.empty()) {
      node.reason = in.kind == ir::NodeKind::kPlaceholder || in.kind == ir::NodeKind::kGetAttr ||
                            in.kind == ir::NodeKind::kOutput
                        ? std::string(ir::NodeKindName(in.kind))
                        : "not observed";
    }
    plan.nodes.push_back(std::move(node));
  }
  return plan;
}

}  // namespace qprep::prepare
