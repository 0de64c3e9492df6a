// Implements engine/stratify.h with boost::strong_components.
#include "engine/stratify.h"

#include <algorithm>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "boost/graph/adjacency_list.hpp"
#include "boost/graph/strong_components.hpp"

namespace qprep::engine {
namespace {

// One dependency: rules[rule].head depends on body[literal]'s relation.
struct DepEdge {
  RelationId to;
  int rule;
  int literal;
  bool negated;
};

struct DepGraph {
  std::vector<std::vector<DepEdge>> out;  // by head relation
  std::vector<int> component;             // SCC number per relation (Tarjan order)
  int num_components = 0;
};

DepGraph BuildGraph(const Program& program) {
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
  const size_t n = program.relations.size();
  DepGraph dg;
  dg.out.resize(n);
  Graph g(n);
  for (size_t r = 0; r < program.rules.size(); ++r) {
    const Rule& rule = program.rules[r];
    for (size_t l = 0; l < rule.body.size(); ++l) {
      const Literal& lit = rule.body[l];
      if (lit.kind == Literal::Kind::kCompare) continue;
      dg.out[rule.head.relation].push_back({lit.atom.relation, static_cast<int>(r),
                                            static_cast<int>(l),
                                            lit.kind == Literal::Kind::kNegated});
      boost::add_edge(rule.head.relation, lit.atom.relation, g);
    }
  }
  dg.component.resize(n);
  dg.num_components = n == 0
                          ? 0
                          : static_cast<int>(boost::strong_components(
                                g, boost::make_iterator_property_map(
                                       dg.component.begin(), boost::get(boost::vertex_index, g))));
  return dg;
}

std::string CycleText(const Program& program, const NegationCycle& c) {
  std::string text = program.relations[c.relations[0]].name;
  for (size_t i = 0; i < c.relations.size(); ++i) {
    RelationId next = c.relations[(i + 1) % c.relations.size()];
    absl::StrAppend(&text, " -> ", c.negated[i] ? "!" : "", program.relations[next].name);
  }
  return text;
}

}  // namespace

std::optional<NegationCycle> FindNegationCycle(const Program& program) {
  DepGraph dg = BuildGraph(program);
  for (size_t h = 0; h < dg.out.size(); ++h) {
    for (const DepEdge& neg : dg.out[h]) {
      if (!neg.negated || dg.component[neg.to] != dg.component[h]) continue;
      // Close the cycle: shortest path from neg.to back to h inside the SCC.
      NegationCycle c;
      c.relations.push_back(static_cast<RelationId>(h));
      c.rules.push_back(neg.rule);
      c.literals.push_back(neg.literal);
      c.negated.push_back(true);
      if (neg.to != h) {
        absl::flat_hash_map<RelationId, const DepEdge*> via;  // node -> edge that reached it
        absl::flat_hash_map<RelationId, RelationId> prev;
        std::deque<RelationId> queue{neg.to};
        prev[neg.to] = neg.to;
        while (!queue.empty() && !prev.contains(static_cast<RelationId>(h))) {
          RelationId u = queue.front();
          queue.pop_front();
          for (const DepEdge& e : dg.out[u]) {
            if (dg.component[e.to] != dg.component[h] || prev.contains(e.to)) continue;
            prev[e.to] = u;
            via[e.to] = &e;
            queue.push_back(e.to);
          }
        }
        std::vector<RelationId> path;  // neg.to ... h, reversed below
        for (RelationId v = static_cast<RelationId>(h); v != neg.to; v = prev.at(v)) {
          path.push_back(v);
        }
        std::reverse(path.begin(), path.end());
        RelationId u = neg.to;
        for (RelationId v : path) {
          const DepEdge* e = via.at(v);
          c.relations.push_back(u);
          c.rules.push_back(e->rule);
          c.literals.push_back(e->literal);
          c.negated.push_back(e->negated);
          u = v;
        }
      }
      c.text = CycleText(program, c);
      return c;
    }
  }
  return std::nullopt;
}

absl::StatusOr<Strata> Stratify(const Program& program) {
  if (auto cycle = FindNegationCycle(program)) {
    std::vector<std::string> names;
    for (int r : cycle->rules) names.push_back(program.rules[r].name);
    return absl::FailedPreconditionError(absl::StrCat("negation is not stratifiable: ", cycle->text,
                                                      " (rules ", absl::StrJoin(names, ", "), ")"));
  }
  DepGraph dg = BuildGraph(program);
  const size_t n = program.relations.size();
  std::vector<std::vector<int>> rules_of(n);
  for (size_t r = 0; r < program.rules.size(); ++r) {
    rules_of[program.rules[r].head.relation].push_back(static_cast<int>(r));
  }
  // Components in ascending number are dependencies-first (see header).
  std::vector<std::vector<RelationId>> members(dg.num_components);
  for (size_t v = 0; v < n; ++v) members[dg.component[v]].push_back(static_cast<RelationId>(v));
  Strata out;
  out.stratum_of.assign(n, -1);
  for (int c = 0; c < dg.num_components; ++c) {
    Stratum s;
    for (RelationId v : members[c]) {
      if (rules_of[v].empty()) continue;
      s.relations.push_back(v);
      s.rules.insert(s.rules.end(), rules_of[v].begin(), rules_of[v].end());
      for (const DepEdge& e : dg.out[v]) {
        if (dg.component[e.to] == c) s.recursive = true;
      }
    }
    if (s.rules.empty()) continue;
    std::sort(s.rules.begin(), s.rules.end());
    for (RelationId v : s.relations) out.stratum_of[v] = static_cast<int>(out.strata.size());
    out.strata.push_back(std::move(s));
  }
  return out;
}

}  // namespace qprep::engine
