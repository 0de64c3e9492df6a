#include "prepare/explain.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/matcher.h"
#include "engine/provenance.h"

namespace qprep::prepare {
namespace {

using engine::Datum;
using engine::RelationId;

class Explainer {
 public:
  Explainer(const PrepareResult& r, const ExplainOptions& o) : r_(r), o_(o) {}

  RelationId Rel(std::string_view name) const { return r_.rules.program.Find(name); }

  // Tuples of `relation` whose column `col` equals `v` (a scan: explain is interactive).
  std::vector<std::vector<Datum>> Where(std::string_view relation, size_t col, Datum v) const {
    std::vector<std::vector<Datum>> out;
    RelationId id = Rel(relation);
    if (id == engine::Program::kInvalid || r_.db->is_equivalence(id)) return out;
    const engine::Relation& rel = r_.db->relation(id);
    for (engine::TupleId t = 0; t < rel.size(); ++t) {
      if (rel.at(t, col) == v) {
        auto s = rel.tuple(t);
        out.emplace_back(s.begin(), s.end());
      }
    }
    return out;
  }
  bool Holds(std::string_view relation, std::vector<Datum> tuple) const {
    RelationId id = Rel(relation);
    return id != engine::Program::kInvalid && r_.db->Contains(id, absl::MakeConstSpan(tuple));
  }
  std::string Sym(Datum d) const { return std::string(r_.rules.symbols->Name(d)); }

  // The proof of a fact, indented under `indent`.
  std::string Proof(std::string_view relation, const std::vector<Datum>& tuple,
                    const std::string& indent) const {
    auto tree = engine::ExplainTree(*r_.db, r_.rules.symbols.get(), Rel(relation),
                                    absl::MakeConstSpan(tuple), o_.max_depth);
    std::string text = tree.ok() ? *tree : absl::StrCat(tree.status().message(), "\n");
    std::string out;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      absl::StrAppend(&out, indent, text.substr(start, end - start), "\n");
      start = end + 1;
    }
    return out;
  }

  std::string NodeName(ir::NodeId fused) const { return r_.fusion.graph.node(fused).name; }
  std::string ObserverText(Datum o) const {
    return r_.tables.observers.at(static_cast<size_t>(o)).ToString();
  }

 private:
  const PrepareResult& r_;
  const ExplainOptions& o_;
};

}  // namespace

absl::StatusOr<std::string> ExplainNode(const PrepareResult& r, const ir::Graph& input_graph,
                                        const std::string& node_name,
                                        const ExplainOptions& options) {
  std::optional<ir::NodeId> in = input_graph.FindNode(node_name);
  if (!in) return absl::NotFoundError(absl::StrCat("no node named '", node_name, "' in the graph"));
  const ir::NodeId f = r.fusion.from_input.empty() ? *in : r.fusion.from_input[*in];
  const Datum fd = static_cast<Datum>(f);
  Explainer x(r, options);
  const ir::Graph& g = r.fusion.graph;
  std::string out;
  const ir::Node& node = input_graph.node(*in);
  absl::StrAppend(&out, node_name, ": ", std::string(ir::NodeKindName(node.kind)), "[", node.target, "]\n");
  int fi = r.fusion.fused_index.empty() ? -1 : r.fusion.fused_index[f];
  if (fi >= 0) {
    const auto& fused = r.fusion.fused[fi];
    std::string members;
    for (const auto& m : fused.member_names) absl::StrAppend(&members, members.empty() ? "" : ", ", m);
    absl::StrAppend(&out, "  fused into ", fused.fused_module_type, " (node '", g.node(f).name,
                    "', members: ", members, ")\n");
  }

  absl::StrAppend(&out, "  (in the facts below, node ", f, " is '", g.node(f).name,
                  "'; ids are fused-graph node ids)\n");

  // qconfig (the PT2E flow has none: a quantizer annotated the graph, rules/prelude/pt2e.qr)
  const bool pt2e = x.Rel("qspec_at") != engine::Program::kInvalid;
  const engine::ResolvedQConfig& q = r.qconfigs.per_node[f];
  if (pt2e) {
    out += "flow: PT2E (the quantizer's annotations; no qconfig mapping, no backend patterns)\n";
  } else if (q.qconfig >= 0) {
    absl::StrAppend(&out, "qconfig: ", r.qconfigs.qconfigs[q.qconfig].name, " — decided at level ",
                    std::string(engine::QConfigLevelName(q.level)), q.key.empty() ? "" : " by entry '",
                    q.key, q.key.empty() ? "" : "'", "\n");
  } else {
    absl::StrAppend(&out, "qconfig: None (no mapping level applies)\n");
  }

  // pattern
  const engine::NodeMatch& m = r.matches.per_node[f];
  if (m.kind == engine::NodeMatch::Kind::kPattern) {
    const engine::Pattern& pattern = r.config.backend_config.configs[m.config_index].pattern;
    std::string text = pattern.ToString();
    // A grouped entry (`{relu_ops, pool_ops, ...}`) lists every alternative: name the one that
    // matched this node instead.
    if (!pattern.alternatives.empty() && !pattern.is_tuple()) {
      text = absl::StrCat(node.kind == ir::NodeKind::kCallModule ? "module " : "",
                          node.kind == ir::NodeKind::kCallModule
                              ? std::string(engine::ModuleTypeOf(g, f))
                              : node.target,
                          " (one of the ", pattern.alternatives.size() + 1,
                          " alternatives of its backend entry)");
    }
    absl::StrAppend(&out, "pattern: ", text,
                    "\n  root node '", x.NodeName(m.root), "' (gets the input observers), last node '",
                    x.NodeName(m.last), "' (gets the output observer)\n");
  } else if (m.kind == engine::NodeMatch::Kind::kStandaloneModule) {
    out += "pattern: standalone module (prepared separately)\n";
  } else if (m.kind == engine::NodeMatch::Kind::kCustomModule) {
    out += "pattern: custom module class\n";
  } else if (!pt2e) {
    out += "pattern: none — no backend pattern matches this node\n";
  }

  // quantized?
  if (x.Holds("quantized", {fd})) {
    out += "quantized: yes\n";
    out += x.Proof("quantized", {fd}, "  ");
  } else {
    out += "quantized: no\n";
    for (const auto& t : x.Where("fp32_reason", 0, fd)) {
      absl::StrAppend(&out, "  because ", x.Sym(t[1]), "\n");
      out += x.Proof("fp32_reason", t, "    ");
    }
  }

  // inputs
  out += "inputs:\n";
  for (size_t e = 0; e < r.tables.edges.size(); ++e) {
    const auto& edge = r.tables.edges[e];
    if (edge.consumer != f) continue;
    const Datum ed = static_cast<Datum>(e);
    absl::StrAppend(&out, "  ", edge.path.ToString(), " <- ", x.NodeName(edge.producer), ": ");
    auto obs = x.Where("input_observer", 0, ed);
    if (!obs.empty()) {
      absl::StrAppend(&out, "observed by ", x.ObserverText(obs[0][1]), "\n");
      out += x.Proof("input_observer", obs[0], "    ");
    } else if (x.Holds("reads_through_output", {ed})) {
      // PT2E (rules/prelude/pt2e.qr): the edge's instance is the producer's output observer's.
      out += "reads through the producer's output observer (the same instance)\n";
      out += x.Proof("reads_through_output", {ed}, "    ");
    } else if (x.Rel("arg_target") == engine::Program::kInvalid) {
      // PT2E: no dtype reasoning, only annotations.
      out += x.Holds("keyed", {ed}) ? "not observed here (keyword argument)\n"
                                    : "not observed here: the quantizer gave this edge no spec\n";
    } else {
      out += "not observed here\n";
      auto target = x.Where("arg_target", 0, ed);
      auto produced = x.Where("out_dt", 0, static_cast<Datum>(edge.producer));
      absl::StrAppend(&out, "    wants ", target.empty() ? "no dtype (not a quantized input)" : x.Sym(target[0][1]),
                      "; the producer gives ", produced.empty() ? "no tensor dtype" : x.Sym(produced[0][1]),
                      x.Holds("active", {fd}) ? "" : "; this node is not active (see quantized)",
                      m.kind == engine::NodeMatch::Kind::kPattern && m.root != f
                          ? "; only the pattern's root gets input observers"
                          : "",
                      "\n");
    }
  }

  // input-weight equalization (only with an equalization config: `--equalization`)
  if (auto eq = x.Where("equalization_qconfig", 0, fd); !eq.empty()) {
    absl::StrAppend(&out, "equalization: qconfig ", x.Sym(eq[0][1]), "\n");
    bool any = false;
    for (size_t e = 0; e < r.tables.edges.size(); ++e) {
      const auto& edge = r.tables.edges[e];
      if (edge.consumer != f) continue;
      auto obs = x.Where("equalization_observer", 0, static_cast<Datum>(e));
      if (obs.empty()) continue;
      any = true;
      absl::StrAppend(&out, "  ", edge.path.ToString(), " <- ", x.NodeName(edge.producer),
                      ": then ", x.ObserverText(obs[0][1]), "\n");
      out += x.Proof("equalization_observer", obs[0], "    ");
    }
    if (!any) {
      if (x.Holds("equalization_skipped_branch", {fd})) {
        out += "  not equalized: on a quantized branch (PyTorch warns \"Cannot equalize ... "
               "because it is part of a branch\")\n";
        out += x.Proof("equalization_skipped_branch", {fd}, "    ");
      } else if (!x.Holds("supports_equalization", {fd})) {
        out += "  not equalized: not an op that supports equalization (group equalization_ops)\n";
      } else {
        out += "  not equalized: only a quantized pattern root is equalized (see quantized)\n";
      }
    }
  }

  // output
  const Datum out_point = static_cast<Datum>(r.num_edges + f);
  auto oobs = x.Where("output_observer", 0, fd);
  if (!oobs.empty()) {
    absl::StrAppend(&out, "output: observed by ", x.ObserverText(oobs[0][1]), "\n");
    out += x.Proof("output_observer", oobs[0], "  ");
    engine::RelationId shares = x.Rel("shares");
    if (shares != engine::Program::kInvalid) {
      const engine::UnionFind& uf = r.db->equivalence(shares);
      std::vector<Datum> others;
      uf.ForEachInClass(out_point, [&](Datum v) {
        if (v != out_point) others.push_back(v);
      });
      for (Datum p : others) {
        std::string what =
            static_cast<size_t>(p) < r.num_edges
                ? absl::StrCat("the input observer of ",
                               x.NodeName(r.tables.edges[static_cast<size_t>(p)].consumer), " on ",
                               x.NodeName(r.tables.edges[static_cast<size_t>(p)].producer))
                : absl::StrCat("the output observer of ",
                               x.NodeName(static_cast<ir::NodeId>(p - static_cast<Datum>(r.num_edges))));
        absl::StrAppend(&out, "  shares one instance with ", what, "\n");
        out += x.Proof("shares", {out_point, p}, "    ");
      }
    }
  } else if (m.kind == engine::NodeMatch::Kind::kPattern && m.last != f) {
    absl::StrAppend(&out, "output: not observed — inside a pattern; the last node '", x.NodeName(m.last),
                    "' carries the output observer\n");
  } else {
    auto dt = x.Where("out_dt", 0, fd);
    absl::StrAppend(&out, "output: not observed (output dtype ", dt.empty() ? "none" : x.Sym(dt[0][1]),
                    x.Holds("static_output", {fd}) ? "; a share op whose input has no observer" : "",
                    ")\n");
  }
  return out;
}

}  // namespace qprep::prepare
