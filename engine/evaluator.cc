// Implements engine/evaluator.h: join-plan compilation and stratified semi-naive evaluation.
#include "engine/evaluator.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace qprep::engine {
namespace {

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Where a value comes from at run time: a constant or a bound variable.
struct Source {
  bool is_const = false;
  Datum value = 0;
  int var = -1;
};

// One step of a compiled rule body, executed left to right as nested loops.
struct Step {
  enum class Kind : uint8_t { kAtom, kEqAtom, kNegAtom, kNegEq, kCompare, kBind };
  Kind kind = Kind::kAtom;
  int literal = -1;  // index in Rule::body
  RelationId rel = 0;
  bool delta = false;  // reads the relation's delta instead of full
  // kAtom / kNegAtom: index on the bound columns (-1: none bound, scan). For a delta step the
  // bound columns are checked by `filters` instead (delta is a range, not indexed).
  int index = -1;
  std::vector<Source> key;                      // bound columns' values, in column order
  std::vector<std::pair<int, Source>> filters;  // (column, value) for delta scans
  std::vector<std::pair<int, int>> binds;       // (column, var) bound by this atom
  std::vector<std::pair<int, int>> same;        // (c1, c2): a variable repeated in this atom
  // kEqAtom / kNegEq: per argument, bound value, or binds a var, or wildcard.
  Source arg[2];
  bool bound[2] = {false, false};
  int bind_var[2] = {-1, -1};
  bool same_var = false;  // eq(X, X) with X unbound
  // kCompare / kBind (bind_var[0] = lhs-or-rhs side's variable, arg[0] = the bound side)
  CompareOp op = CompareOp::kEq;
  int premise_slot = -1;  // kAtom / kEqAtom: position of this premise in body order
};

struct Plan {
  int rule = -1;
  int delta_literal = -1;  // -1: every atom reads full
  RelationId delta_rel = 0;
  std::vector<Step> steps;
  std::vector<Source> head;
  RelationId head_rel = 0;
  bool head_is_eq = false;
  int num_vars = 0;
  std::vector<int> premise_steps;  // step index per premise slot (body order)
};

bool Compare(CompareOp op, Datum a, Datum b) {
  switch (op) {
    case CompareOp::kEq:
      return a == b;
    case CompareOp::kNe:
      return a != b;
    case CompareOp::kLt:
      return a < b;
    case CompareOp::kLe:
      return a <= b;
    case CompareOp::kGt:
      return a > b;
    case CompareOp::kGe:
      return a >= b;
  }
  return false;
}

int NumVars(const Rule& rule) {
  int n = static_cast<int>(rule.variable_names.size());
  auto see = [&](const Term& t) {
    if (t.kind == Term::Kind::kVariable) n = std::max(n, t.var + 1);
  };
  for (const Term& t : rule.head.args) see(t);
  for (const Literal& l : rule.body) {
    for (const Term& t : l.atom.args) see(t);
    see(l.lhs);
    see(l.rhs);
  }
  return n;
}

// Compiles one version of a rule. `delta_literal` (or -1) is the body atom that reads delta.
Plan Compile(const Program& program, Database* db, int rule_index, int delta_literal) {
  const Rule& rule = program.rules[rule_index];
  Plan plan;
  plan.rule = rule_index;
  plan.delta_literal = delta_literal;
  plan.num_vars = NumVars(rule);
  plan.head_rel = rule.head.relation;
  plan.head_is_eq = db->is_equivalence(rule.head.relation);
  std::vector<bool> is_bound(plan.num_vars, false);
  auto term_bound = [&](const Term& t) {
    return t.kind == Term::Kind::kConstant || (t.kind == Term::Kind::kVariable && is_bound[t.var]);
  };
  auto source = [&](const Term& t) {
    Source s;
    if (t.kind == Term::Kind::kConstant) {
      s.is_const = true;
      s.value = t.value;
    } else {
      s.var = t.var;
    }
    return s;
  };
  const size_t n = rule.body.size();
  std::vector<bool> placed(n, false);

  auto place_atom = [&](size_t l) {
    const Literal& lit = rule.body[l];
    const Atom& atom = lit.atom;
    Step s;
    s.literal = static_cast<int>(l);
    s.rel = atom.relation;
    s.delta = static_cast<int>(l) == delta_literal;
    const bool negated = lit.kind == Literal::Kind::kNegated;
    if (db->is_equivalence(atom.relation)) {
      s.kind = negated ? Step::Kind::kNegEq : Step::Kind::kEqAtom;
      for (int k = 0; k < 2; ++k) {
        const Term& t = atom.args[k];
        if (term_bound(t)) {
          s.bound[k] = true;
          s.arg[k] = source(t);
        } else if (t.kind == Term::Kind::kVariable) {
          QPREP_CHECK(!negated);  // range restriction
          // eq(X, X) with X unbound: the second occurrence repeats the first.
          if (k == 1 && s.bind_var[0] == t.var) {
            s.same_var = true;
          } else {
            s.bind_var[k] = t.var;
          }
        }
      }
      for (int k = 0; k < 2; ++k) {
        if (s.bind_var[k] >= 0) is_bound[s.bind_var[k]] = true;
      }
    } else {
      s.kind = negated ? Step::Kind::kNegAtom : Step::Kind::kAtom;
      ColumnMask mask = 0;
      std::vector<int> first_col(plan.num_vars, -1);
      for (size_t c = 0; c < atom.args.size(); ++c) {
        const Term& t = atom.args[c];
        if (term_bound(t)) {
          mask |= ColumnMask{1} << c;
          s.key.push_back(source(t));
          s.filters.emplace_back(static_cast<int>(c), source(t));
        } else if (t.kind == Term::Kind::kVariable) {
          QPREP_CHECK(!negated);  // range restriction
          if (first_col[t.var] >= 0) {
            s.same.emplace_back(first_col[t.var], static_cast<int>(c));
          } else {
            first_col[t.var] = static_cast<int>(c);
            s.binds.emplace_back(static_cast<int>(c), t.var);
          }
        }
      }
      for (auto [c, v] : s.binds) is_bound[v] = true;
      if (!s.delta && mask != 0) s.index = db->relation(atom.relation).EnsureIndex(mask);
    }
    if (!negated) {
      s.premise_slot = 0;  // renumbered below
      if (s.delta) plan.delta_rel = atom.relation;
    }
    placed[l] = true;
    plan.steps.push_back(std::move(s));
  };

  // Places every negation / comparison whose variables are bound (or `X = bound` binders).
  auto place_filters = [&]() {
    bool progress = true;
    while (progress) {
      progress = false;
      for (size_t l = 0; l < n; ++l) {
        if (placed[l]) continue;
        const Literal& lit = rule.body[l];
        if (lit.kind == Literal::Kind::kNegated) {
          bool ready = true;
          for (const Term& t : lit.atom.args) {
            if (t.kind == Term::Kind::kVariable && !is_bound[t.var]) ready = false;
          }
          if (ready) {
            place_atom(l);
            progress = true;
          }
        } else if (lit.kind == Literal::Kind::kCompare) {
          bool lb = term_bound(lit.lhs), rb = term_bound(lit.rhs);
          Step s;
          s.literal = static_cast<int>(l);
          s.op = lit.op;
          if (lb && rb) {
            s.kind = Step::Kind::kCompare;
            s.arg[0] = source(lit.lhs);
            s.arg[1] = source(lit.rhs);
          } else if (lit.op == CompareOp::kEq && (lb || rb) &&
                     (lb ? lit.rhs : lit.lhs).kind == Term::Kind::kVariable) {
            s.kind = Step::Kind::kBind;
            s.arg[0] = source(lb ? lit.lhs : lit.rhs);
            s.bind_var[0] = (lb ? lit.rhs : lit.lhs).var;
            is_bound[s.bind_var[0]] = true;
          } else {
            continue;
          }
          placed[l] = true;
          plan.steps.push_back(std::move(s));
          progress = true;
        }
      }
    }
  };

  if (delta_literal >= 0) place_atom(delta_literal);
  place_filters();
  while (true) {
    // Greedy: the positive atom with the most bound arguments; on ties the smaller relation
    // (sizes of lower strata are final when a stratum is compiled, so the first scan is over
    // the smallest candidate), then body order.
    int best = -1, best_score = -1;
    size_t best_size = 0;
    for (size_t l = 0; l < n; ++l) {
      if (placed[l] || rule.body[l].kind != Literal::Kind::kPositive) continue;
      int score = 0;
      for (const Term& t : rule.body[l].atom.args) score += term_bound(t) ? 1 : 0;
      const RelationId rel = rule.body[l].atom.relation;
      const size_t size =
          db->is_equivalence(rel) ? db->equivalence(rel).PairCount() : db->relation(rel).size();
      if (score > best_score || (score == best_score && size < best_size)) {
        best = static_cast<int>(l);
        best_score = score;
        best_size = size;
      }
    }
    if (best < 0) break;
    place_atom(best);
    place_filters();
  }
  for (size_t l = 0; l < n; ++l) QPREP_CHECK(placed[l]);  // else not range-restricted

  // Premise slots in body order.
  std::vector<std::pair<int, int>> by_literal;  // (literal, step)
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    if (plan.steps[i].premise_slot >= 0) {
      by_literal.emplace_back(plan.steps[i].literal, static_cast<int>(i));
    }
  }
  std::sort(by_literal.begin(), by_literal.end());
  for (size_t k = 0; k < by_literal.size(); ++k) {
    plan.steps[by_literal[k].second].premise_slot = static_cast<int>(k);
    plan.premise_steps.push_back(by_literal[k].second);
  }
  for (const Term& t : rule.head.args) {
    QPREP_CHECK(t.kind != Term::Kind::kWildcard);
    QPREP_CHECK(term_bound(t));
    plan.head.push_back(source(t));
  }
  return plan;
}

// The `new` side of a relation being derived in the current stratum, and its `delta`.
struct Pending {
  std::unique_ptr<Relation> tuples;  // tuple relations: new facts, deduplicated
  std::vector<Derivation> derivs;    // parallel to tuples
  struct PendingUnion {
    Datum a, b;
    Derivation d;
  };
  std::vector<PendingUnion> unions;  // equivalence relations
  TupleId delta_begin = 0, delta_end = 0;
  std::vector<std::pair<Datum, Datum>> eq_delta;
  bool eq_delta_needed = false;
};

}  // namespace

std::string_view StopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kSaturated:
      return "saturated";
    case StopReason::kIterationLimit:
      return "iteration limit";
    case StopReason::kFactLimit:
      return "fact limit";
    case StopReason::kTimeLimit:
      return "time limit";
  }
  return "?";
}

struct Evaluator::Impl {
  const Program& program;
  Database* db;
  const EvalOptions& options;
  RunReport& report;
  Clock::time_point start;

  std::vector<Pending> pending;                   // by RelationId (only stratum relations are used)
  std::vector<Datum> env;                         // variable bindings of the running plan
  std::vector<TupleId> cur_tuple;                 // per step: the premise tuple matched
  std::vector<std::pair<Datum, Datum>> cur_pair;  // per step: the equivalence pair matched
  std::vector<std::vector<Datum>> key_buf;        // per step: probe key scratch
  std::vector<Datum> head_buf;
  std::vector<uint64_t> iter_derived;  // per rule, in the current iteration
  uint64_t stored_facts = 0;
  uint64_t emits_since_clock = 0;
  uint32_t iteration = 0;
  bool stop = false;
  // Semi-naive, non-recursive stratum: no rule of the stratum reads its own heads, so derived
  // tuples go straight into full (saving the `new` probe and copy, which dominate strata that
  // derive many facts in one pass).
  bool direct_insert = false;
  StopReason stop_reason = StopReason::kSaturated;
  int stop_rule = -1;

  Impl(const Program& p, Database* d, const EvalOptions& o, RunReport& r)
      : program(p), db(d), options(o), report(r) {}

  Datum Value(const Source& s) const { return s.is_const ? s.value : env[s.var]; }

  void Halt(StopReason reason, int rule) {
    if (stop) return;
    stop = true;
    stop_reason = reason;
    stop_rule = rule;
  }

  void RecordPremises(const Plan& p, Derivation* d) {
    d->rule = static_cast<uint32_t>(p.rule);
    d->iteration = iteration;
    if (!db->provenance_enabled()) return;
    auto& pool = db->premise_pool();
    d->premise_begin = static_cast<uint32_t>(pool.size());
    d->premise_count = static_cast<uint32_t>(p.premise_steps.size());
    for (int si : p.premise_steps) {
      const Step& s = p.steps[si];
      if (s.kind == Step::Kind::kEqAtom) {
        auto& eqp = db->equivalence_premises();
        pool.push_back({s.rel, static_cast<uint32_t>(eqp.size())});
        eqp.push_back(cur_pair[si]);
      } else {
        pool.push_back({s.rel, cur_tuple[si]});
      }
    }
  }

  void Emit(const Plan& p) {
    RunReport::RuleReport& rr = report.rules[p.rule];
    ++rr.matches;
    if (options.max_seconds > 0 && ++emits_since_clock >= 4096) {
      emits_since_clock = 0;
      if (SecondsSince(start) > options.max_seconds) Halt(StopReason::kTimeLimit, p.rule);
    }
    Pending& pend = pending[p.head_rel];
    if (p.head_is_eq) {
      Datum a = Value(p.head[0]), b = Value(p.head[1]);
      const UnionFind& uf = db->equivalence(p.head_rel);
      if (uf.Same(a, b)) return;
      Pending::PendingUnion u{a, b, {}};
      RecordPremises(p, &u.d);
      pend.unions.push_back(u);
      return;  // counted as derived at the merge, where redundant unions are dropped
    }
    head_buf.resize(p.head.size());
    for (size_t i = 0; i < p.head.size(); ++i) head_buf[i] = Value(p.head[i]);
    Relation& full = db->relation(p.head_rel);
    Derivation d;
    if (direct_insert) {
      if (full.Insert(head_buf) == kNoTuple) return;
      RecordPremises(p, &d);
      if (db->provenance_enabled()) full.derivations().push_back(d);
    } else {
      if (full.Contains(head_buf)) return;
      if (pend.tuples->Insert(head_buf) == kNoTuple) return;
      RecordPremises(p, &d);
      pend.derivs.push_back(d);
    }
    ++rr.derived;
    ++iter_derived[p.rule];
    if (++stored_facts > options.max_facts) Halt(StopReason::kFactLimit, p.rule);
  }

  void Exec(const Plan& p, size_t i) {
    if (stop) return;
    if (i == p.steps.size()) {
      Emit(p);
      return;
    }
    const Step& s = p.steps[i];
    switch (s.kind) {
      case Step::Kind::kAtom: {
        const Relation& r = db->relation(s.rel);
        auto visit = [&](TupleId id) {
          auto row = r.tuple(id);
          for (auto [c1, c2] : s.same) {
            if (row[c1] != row[c2]) return;
          }
          for (auto [c, v] : s.binds) env[v] = row[c];
          cur_tuple[i] = id;
          Exec(p, i + 1);
        };
        if (s.delta) {
          const Pending& pend = pending[s.rel];
          for (TupleId id = pend.delta_begin; id < pend.delta_end && !stop; ++id) {
            bool ok = true;
            for (const auto& [c, src] : s.filters) ok = ok && r.at(id, c) == Value(src);
            if (ok) visit(id);
          }
        } else if (s.index >= 0) {
          std::vector<Datum>& key = key_buf[i];
          key.resize(s.key.size());
          for (size_t k = 0; k < s.key.size(); ++k) key[k] = Value(s.key[k]);
          r.ForEachMatch(s.index, key, visit);
        } else {
          const TupleId size = static_cast<TupleId>(r.size());
          for (TupleId id = 0; id < size && !stop; ++id) visit(id);
        }
        return;
      }
      case Step::Kind::kNegAtom: {
        const Relation& r = db->relation(s.rel);
        if (s.key.size() == r.arity()) {
          std::vector<Datum>& key = key_buf[i];
          key.resize(s.key.size());
          for (size_t k = 0; k < s.key.size(); ++k) key[k] = Value(s.key[k]);
          if (!r.Contains(key)) Exec(p, i + 1);
        } else if (s.key.empty()) {
          if (r.size() == 0) Exec(p, i + 1);
        } else {
          std::vector<Datum>& key = key_buf[i];
          key.resize(s.key.size());
          for (size_t k = 0; k < s.key.size(); ++k) key[k] = Value(s.key[k]);
          bool any = false;
          for (TupleId id = r.ChainHead(s.index, key); id != kNoTuple && !any;
               id = r.ChainNext(s.index, id)) {
            any = r.Matches(s.index, id, key);
          }
          if (!any) Exec(p, i + 1);
        }
        return;
      }
      case Step::Kind::kEqAtom: {
        const UnionFind& uf = db->equivalence(s.rel);
        auto visit = [&](Datum x, Datum y) {
          if (s.bind_var[0] >= 0) env[s.bind_var[0]] = x;
          if (s.bind_var[1] >= 0) env[s.bind_var[1]] = y;
          cur_pair[i] = {x, y};
          Exec(p, i + 1);
        };
        if (s.delta) {
          const auto& delta = pending[s.rel].eq_delta;
          for (size_t k = 0; k < delta.size() && !stop; ++k) {
            auto [x, y] = delta[k];
            if ((s.bound[0] && x != Value(s.arg[0])) || (s.bound[1] && y != Value(s.arg[1])) ||
                (s.same_var && x != y)) {
              continue;
            }
            visit(x, y);
          }
        } else if (s.bound[0]) {
          Datum x = Value(s.arg[0]);
          if (s.bound[1]) {
            Datum y = Value(s.arg[1]);
            if (uf.Same(x, y) || (x == y && uf.Contains(x))) visit(x, y);
          } else {
            uf.ForEachInClass(x, [&](Datum y) { visit(x, y); });
          }
        } else if (s.bound[1]) {
          Datum y = Value(s.arg[1]);
          uf.ForEachInClass(y, [&](Datum x) { visit(x, y); });
        } else {
          const auto& values = uf.values();
          const size_t count = values.size();
          for (size_t k = 0; k < count && !stop; ++k) {
            Datum x = values[k];
            if (s.same_var) {
              visit(x, x);
            } else {
              uf.ForEachInClass(x, [&](Datum y) { visit(x, y); });
            }
          }
        }
        return;
      }
      case Step::Kind::kNegEq: {
        const UnionFind& uf = db->equivalence(s.rel);
        bool holds;
        if (s.bound[0] && s.bound[1]) {
          holds = uf.Same(Value(s.arg[0]), Value(s.arg[1]));
        } else if (s.bound[0]) {
          holds = uf.Contains(Value(s.arg[0]));
        } else if (s.bound[1]) {
          holds = uf.Contains(Value(s.arg[1]));
        } else {
          holds = uf.domain_size() > 0;
        }
        if (!holds) Exec(p, i + 1);
        return;
      }
      case Step::Kind::kCompare:
        if (Compare(s.op, Value(s.arg[0]), Value(s.arg[1]))) Exec(p, i + 1);
        return;
      case Step::Kind::kBind:
        env[s.bind_var[0]] = Value(s.arg[0]);
        Exec(p, i + 1);
        return;
    }
  }

  void RunPlan(const Plan& p) {
    env.assign(p.num_vars, 0);
    cur_tuple.assign(p.steps.size(), kNoTuple);
    cur_pair.assign(p.steps.size(), {0, 0});
    key_buf.resize(std::max(key_buf.size(), p.steps.size()));
    auto t = Clock::now();
    Exec(p, 0);
    report.rules[p.rule].seconds += SecondsSince(t);
  }

  // Moves every new fact into full; the moved range becomes the next delta. Returns the number
  // of facts that changed the database.
  uint64_t Merge(const Stratum& stratum) {
    uint64_t changed = 0;
    for (RelationId rel : stratum.relations) {
      Pending& pend = pending[rel];
      if (db->is_equivalence(rel)) {
        UnionFind& uf = db->equivalence(rel);
        auto& derivs = db->union_derivations(rel);
        pend.eq_delta.clear();
        for (const auto& u : pend.unions) {
          bool grew = false;
          for (Datum v : {u.a, u.b}) {
            if (uf.Add(v)) {
              grew = true;
              ++stored_facts;
              if (pend.eq_delta_needed) pend.eq_delta.emplace_back(v, v);
            }
          }
          if (!uf.Same(u.a, u.b)) {
            if (pend.eq_delta_needed) {
              uf.ForEachInClass(u.a, [&](Datum x) {
                uf.ForEachInClass(u.b, [&](Datum y) {
                  pend.eq_delta.emplace_back(x, y);
                  pend.eq_delta.emplace_back(y, x);
                });
              });
            }
            uf.Union(u.a, u.b, static_cast<uint32_t>(derivs.size()));
            derivs.push_back(u.d);
            grew = true;
          }
          if (grew) {
            ++changed;
            ++report.rules[u.d.rule].derived;
            ++iter_derived[u.d.rule];
          }
        }
        pend.unions.clear();
        continue;
      }
      Relation& full = db->relation(rel);
      pend.delta_begin = static_cast<TupleId>(full.size());
      const Relation& fresh = *pend.tuples;
      for (TupleId id = 0; id < fresh.size(); ++id) {
        full.InsertNew(fresh.tuple(id));  // Emit checked it is not in full
        if (db->provenance_enabled()) full.derivations().push_back(pend.derivs[id]);
      }
      pend.delta_end = static_cast<TupleId>(full.size());
      changed += fresh.size();
      pend.tuples->Clear();
      pend.derivs.clear();
    }
    if (stored_facts > options.max_facts && !stop) {
      int top = -1;
      for (int r : stratum.rules) {
        if (top < 0 || iter_derived[r] > iter_derived[top]) top = r;
      }
      Halt(StopReason::kFactLimit, top);
    }
    return changed;
  }

  absl::Status Fail(const Stratum& stratum, size_t stratum_index) {
    std::vector<std::string> names;
    for (RelationId r : stratum.relations) names.push_back(program.relations[r].name);
    std::string rule_text = "no rule";
    if (stop_rule >= 0) {
      const Rule& rule = program.rules[stop_rule];
      rule_text = absl::StrCat("rule '", rule.name, "' kept firing (", iter_derived[stop_rule],
                               " new facts in the last iteration)");
      if (rule.where.file) {
        auto lc = rule.where.file->Locate(rule.where.begin);
        absl::StrAppend(&rule_text, " at ", rule.where.file->name(), ":", lc.line, ":", lc.col);
      }
    }
    std::string limit;
    switch (stop_reason) {
      case StopReason::kIterationLimit:
        limit = absl::StrCat("iteration limit (", options.max_iterations, ")");
        break;
      case StopReason::kFactLimit:
        limit = absl::StrCat("fact limit (", options.max_facts, ")");
        break;
      case StopReason::kTimeLimit:
        limit = absl::StrFormat("time limit (%gs)", options.max_seconds);
        break;
      case StopReason::kSaturated:
        break;
    }
    report.stop = stop_reason;
    report.stop_detail =
        absl::StrCat(limit, " reached in stratum ", stratum_index, " {", absl::StrJoin(names, ", "),
                     "} at iteration ", iteration, ": ", rule_text);
    std::string message = absl::StrCat("evaluation stopped: ", report.stop_detail);
    if (stop_reason == StopReason::kTimeLimit) return absl::DeadlineExceededError(message);
    return absl::ResourceExhaustedError(message);
  }

  absl::Status Run() {
    start = Clock::now();
    ASSIGN_OR_RETURN(Strata strata, Stratify(program));
    const size_t nrel = program.relations.size();
    report = RunReport{};
    report.rules.resize(program.rules.size());
    iter_derived.assign(program.rules.size(), 0);
    pending.clear();
    pending.resize(nrel);
    for (size_t r = 0; r < nrel; ++r) {
      stored_facts += db->is_equivalence(static_cast<RelationId>(r))
                          ? db->equivalence(static_cast<RelationId>(r)).domain_size()
                          : db->relation(static_cast<RelationId>(r)).size();
    }
    const bool naive = options.mode == EvalOptions::Mode::kNaive;
    for (size_t si = 0; si < strata.strata.size(); ++si) {
      const Stratum& stratum = strata.strata[si];
      auto t0 = Clock::now();
      RunReport::StratumReport sr;
      sr.relations = stratum.relations;
      sr.rules = stratum.rules;
      sr.recursive = stratum.recursive;
      auto in_stratum = [&](RelationId rel) { return strata.stratum_of[rel] == int(si); };
      // Compile: a full version of every rule, and (semi-naive, recursive) one delta version
      // per body atom over a relation of this stratum.
      std::vector<Plan> full_plans, delta_plans;
      for (int r : stratum.rules) {
        full_plans.push_back(Compile(program, db, r, -1));
        if (naive || !stratum.recursive) continue;
        const Rule& rule = program.rules[r];
        for (size_t l = 0; l < rule.body.size(); ++l) {
          const Literal& lit = rule.body[l];
          if (lit.kind != Literal::Kind::kPositive || !in_stratum(lit.atom.relation)) continue;
          delta_plans.push_back(Compile(program, db, r, static_cast<int>(l)));
          if (db->is_equivalence(lit.atom.relation)) {
            pending[lit.atom.relation].eq_delta_needed = true;
          }
        }
      }
      for (RelationId rel : stratum.relations) {
        if (!db->is_equivalence(rel)) {
          pending[rel].tuples = std::make_unique<Relation>(db->relation(rel).arity());
        }
      }
      uint64_t before = stored_facts;
      direct_insert = !naive && !stratum.recursive;
      for (iteration = 0;; ++iteration) {
        if (iteration >= options.max_iterations) {
          int top = -1;
          for (int r : stratum.rules) {
            if (top < 0 || iter_derived[r] > iter_derived[top]) top = r;
          }
          Halt(StopReason::kIterationLimit, top);
        }
        if (!stop && options.max_seconds > 0 && SecondsSince(start) > options.max_seconds) {
          Halt(StopReason::kTimeLimit, -1);
        }
        if (stop) {
          sr.iterations = iteration;
          sr.facts_derived = stored_facts - before;
          sr.seconds = SecondsSince(t0);
          report.strata.push_back(std::move(sr));
          report.total_iterations += iteration;
          return Fail(stratum, si);
        }
        for (int r : stratum.rules) iter_derived[r] = 0;
        const bool use_delta = iteration > 0 && !naive;
        for (const Plan& p : use_delta ? delta_plans : full_plans) {
          if (use_delta) {
            const Pending& dp = pending[p.delta_rel];
            bool empty = db->is_equivalence(p.delta_rel) ? dp.eq_delta.empty()
                                                         : dp.delta_begin == dp.delta_end;
            if (empty) continue;
          }
          RunPlan(p);
          if (stop) break;
        }
        uint64_t changed = Merge(stratum);
        if (stop) continue;  // reported at the top of the loop
        if (changed == 0 || (!stratum.recursive && !naive)) {
          ++iteration;
          break;
        }
      }
      for (RelationId rel : stratum.relations) {
        pending[rel].tuples.reset();
        pending[rel].eq_delta.clear();
        pending[rel].eq_delta.shrink_to_fit();
      }
      sr.iterations = iteration;
      sr.facts_derived = stored_facts - before;
      sr.seconds = SecondsSince(t0);
      report.total_iterations += iteration;
      report.strata.push_back(std::move(sr));
    }
    report.stop = StopReason::kSaturated;
    report.facts.resize(nrel);
    for (size_t r = 0; r < nrel; ++r) report.facts[r] = db->Size(static_cast<RelationId>(r));
    report.seconds = SecondsSince(start);
    return absl::OkStatus();
  }
};

Evaluator::Evaluator(const Program& program, Database* db, EvalOptions options)
    : program_(program), db_(db), options_(options) {
  QPREP_CHECK(&db->program() == &program);
}
Evaluator::~Evaluator() = default;

absl::StatusOr<RunReport> Evaluator::Run() {
  Impl impl(program_, db_, options_, report_);
  absl::Status s = impl.Run();
  if (!s.ok()) {
    report_.facts.resize(program_.relations.size());
    for (size_t r = 0; r < program_.relations.size(); ++r) {
      report_.facts[r] = db_->Size(static_cast<RelationId>(r));
    }
    report_.seconds = SecondsSince(impl.start);
    return s;
  }
  return report_;
}

absl::StatusOr<RunReport> Evaluate(const Program& program, Database* db,
                                   const EvalOptions& options) {
  return Evaluator(program, db, options).Run();
}

std::string RunReport::ToText(const Program& program) const {
  std::string out;
  absl::StrAppendFormat(&out, "stop: %s%s\n", StopReasonName(stop),
                        stop_detail.empty() ? "" : absl::StrCat(" (", stop_detail, ")"));
  absl::StrAppendFormat(&out, "total: %d strata, %d iterations, %.3f ms\n", strata.size(),
                        total_iterations, seconds * 1e3);
  out += "strata:\n";
  for (size_t i = 0; i < strata.size(); ++i) {
    const StratumReport& s = strata[i];
    std::vector<std::string> names;
    for (RelationId r : s.relations) names.push_back(program.relations[r].name);
    absl::StrAppendFormat(&out, "  %2d %-9s {%s}: %d rules, %d iterations, %d facts, %.3f ms\n", i,
                          s.recursive ? "recursive" : "", absl::StrJoin(names, ", "),
                          s.rules.size(), s.iterations, s.facts_derived, s.seconds * 1e3);
  }
  out += "relations:\n";
  for (size_t r = 0; r < facts.size() && r < program.relations.size(); ++r) {
    absl::StrAppendFormat(&out, "  %-32s %10d\n", program.relations[r].name, facts[r]);
  }
  out += "rules:                            matches    derived         ms\n";
  for (size_t r = 0; r < rules.size() && r < program.rules.size(); ++r) {
    absl::StrAppendFormat(&out, "  %-30s %10d %10d %10.3f\n", program.rules[r].name,
                          rules[r].matches, rules[r].derived, rules[r].seconds * 1e3);
  }
  return out;
}

}  // namespace qprep::engine
