// Property test: on random stratifiable programs (recursion, negation of lower strata,
// comparisons, constants, wildcards, an equivalence relation) over random graphs, semi-naive
// and naive evaluation reach the same fixpoint, and both equal an independent brute-force
// oracle that tries every variable assignment over the active domain.
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/database.h"
#include "engine/evaluator.h"
#include "gtest/gtest.h"
#include "tests/engine/program_builder.h"

namespace qprep::engine {
namespace {

using ::qprep::engine::testing::C;
using ::qprep::engine::testing::Cmp;
using ::qprep::engine::testing::L;
using ::qprep::engine::testing::N;
using ::qprep::engine::testing::P;
using ::qprep::engine::testing::ProgramBuilder;
using ::qprep::engine::testing::T;
using ::qprep::engine::testing::V;
using ::qprep::engine::testing::W;
using Tuple = std::vector<Datum>;

struct RelInfo {
  std::string name;
  size_t arity;
  int level;  // inputs: -1; a rule for a level-k relation reads positive levels <= k and
              // negates levels < k, so the program is stratifiable by construction
  bool eq = false;
};

struct RandomCase {
  ProgramBuilder builder;
  std::vector<RelInfo> rels;
  std::map<std::string, std::set<Tuple>> input;
};

RandomCase MakeCase(std::mt19937& rng) {
  RandomCase c;
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const int domain = 3 + pick(4);
  c.rels = {{"edge", 2, -1}, {"node", 1, -1}, {"mark", 1, -1}};
  const int derived = 2 + pick(4);
  for (int i = 0; i < derived; ++i) {
    c.rels.push_back({absl::StrCat("d", i), static_cast<size_t>(1 + pick(2)), i});
  }
  c.rels.push_back({"share", 2, pick(derived), true});
  for (const RelInfo& r : c.rels) {
    if (r.eq) {
      c.builder.Equivalence(r.name);
    } else if (r.level < 0) {
      c.builder.Input(r.name, r.arity);
    } else {
      c.builder.Derived(r.name, r.arity);
    }
  }
  for (int x = 0; x < domain; ++x) c.input["node"].insert({x});
  for (int k = pick(2 * domain); k > 0; --k) c.input["edge"].insert({pick(domain), pick(domain)});
  for (int k = pick(domain); k > 0; --k) c.input["mark"].insert({pick(domain)});

  const char* vars[] = {"A", "B", "Cv", "D"};
  int rule_no = 0;
  for (const RelInfo& head : c.rels) {
    if (head.level < 0) continue;
    for (int nr = 1 + pick(3); nr > 0; --nr) {
      std::vector<L> body;
      std::set<std::string> bound;
      auto random_term = [&](bool allow_wild) -> T {
        int k = pick(10);
        if (k == 0) return C(pick(domain));
        if (k == 1 && allow_wild) return W();
        return V(vars[pick(4)]);
      };
      for (int na = 1 + pick(3); na > 0; --na) {
        // Positive atom over a relation of level <= head's level (inputs included).
        std::vector<const RelInfo*> ok;
        for (const RelInfo& r : c.rels) {
          if (r.level <= head.level) ok.push_back(&r);
        }
        const RelInfo& r = *ok[pick(static_cast<int>(ok.size()))];
        std::vector<T> args;
        for (size_t k = 0; k < r.arity; ++k) {
          args.push_back(random_term(true));
          if (args.back().kind == Term::Kind::kVariable) bound.insert(args.back().var);
        }
        body.push_back(P(r.name, args));
      }
      if (bound.empty()) {
        body.push_back(P("node", {V("A")}));
        bound.insert("A");
      }
      std::vector<std::string> bv(bound.begin(), bound.end());
      auto bound_var = [&]() { return V(bv[pick(static_cast<int>(bv.size()))]); };
      if (pick(4) == 0) {  // a variable bound only by `=` (to a variable or a constant)
        T rhs = pick(2) == 0 ? C(pick(domain)) : bound_var();
        body.push_back(pick(2) == 0 ? Cmp(V("E"), CompareOp::kEq, rhs)
                                    : Cmp(rhs, CompareOp::kEq, V("E")));
        bv.push_back("E");
      }
      if (pick(2) == 0) {  // negation of a strictly lower level
        std::vector<const RelInfo*> ok;
        for (const RelInfo& r : c.rels) {
          if (r.level < head.level) ok.push_back(&r);
        }
        const RelInfo& r = *ok[pick(static_cast<int>(ok.size()))];
        std::vector<T> args;
        for (size_t k = 0; k < r.arity; ++k) {
          int m = pick(6);
          args.push_back(m == 0 ? C(pick(domain)) : (m == 1 ? W() : bound_var()));
        }
        body.push_back(N(r.name, args));
      }
      if (pick(3) == 0) {
        CompareOp ops[] = {CompareOp::kEq, CompareOp::kNe, CompareOp::kLt,
                           CompareOp::kLe, CompareOp::kGt, CompareOp::kGe};
        body.push_back(
            Cmp(bound_var(), ops[pick(6)], pick(3) == 0 ? C(pick(domain)) : bound_var()));
      }
      std::vector<T> head_args;
      for (size_t k = 0; k < head.arity; ++k) {
        head_args.push_back(pick(6) == 0 ? C(pick(domain)) : bound_var());
      }
      c.builder.Rule(absl::StrCat("r", rule_no++), head.name, head_args, body);
    }
  }
  return c;
}

// The oracle: per level, naive iteration where each rule tries every assignment of its
// variables over the active domain; the equivalence relation is closed (reflexive on mentioned
// values, symmetric, transitive) after every round.
std::map<std::string, std::set<Tuple>> Oracle(const RandomCase& c) {
  const Program& program = const_cast<ProgramBuilder&>(c.builder).program();
  std::map<std::string, std::set<Tuple>> db = c.input;
  std::set<Datum> active;
  for (const auto& [name, tuples] : c.input) {
    for (const Tuple& t : tuples) active.insert(t.begin(), t.end());
  }
  for (const Rule& rule : program.rules) {
    for (const Literal& l : rule.body) {
      for (const Term& t : l.atom.args) {
        if (t.kind == Term::Kind::kConstant) active.insert(t.value);
      }
      for (const Term* t : {&l.lhs, &l.rhs}) {
        if (t->kind == Term::Kind::kConstant) active.insert(t->value);
      }
    }
    for (const Term& t : rule.head.args) {
      if (t.kind == Term::Kind::kConstant) active.insert(t.value);
    }
  }
  std::vector<Datum> dom(active.begin(), active.end());
  auto close = [&](std::set<Tuple>& eq) {
    std::set<Datum> vals;
    for (const Tuple& t : eq) vals.insert(t.begin(), t.end());
    for (Datum v : vals) eq.insert({v, v});
    bool grew = true;
    while (grew) {
      grew = false;
      std::set<Tuple> add;
      for (const Tuple& a : eq) {
        add.insert({a[1], a[0]});
        for (const Tuple& b : eq) {
          if (a[1] == b[0]) add.insert({a[0], b[1]});
        }
      }
      for (const Tuple& t : add) grew |= eq.insert(t).second;
    }
  };
  int max_level = 0;
  for (const RelInfo& r : c.rels) max_level = std::max(max_level, r.level);
  for (int level = 0; level <= max_level; ++level) {
    bool changed = true;
    while (changed) {
      changed = false;
      for (const Rule& rule : program.rules) {
        const RelInfo* head = nullptr;
        for (const RelInfo& r : c.rels) {
          if (r.name == program.relations[rule.head.relation].name) head = &r;
        }
        if (head->level != level) continue;
        const size_t nv = rule.variable_names.size();
        std::vector<size_t> digit(nv, 0);
        std::vector<Datum> env(nv);
        auto val = [&](const Term& t) {
          return t.kind == Term::Kind::kConstant ? t.value : env[t.var];
        };
        auto holds_atom = [&](const Atom& a) {
          const auto& tuples = db[program.relations[a.relation].name];
          for (const Tuple& t : tuples) {
            bool m = true;
            for (size_t k = 0; k < a.args.size() && m; ++k) {
              if (a.args[k].kind != Term::Kind::kWildcard) m = t[k] == val(a.args[k]);
            }
            if (m) return true;
          }
          return false;
        };
        std::set<Tuple> derived;
        while (true) {
          for (size_t k = 0; k < nv; ++k) env[k] = dom[digit[k]];
          bool ok = true;
          for (const Literal& l : rule.body) {
            if (!ok) break;
            switch (l.kind) {
              case Literal::Kind::kPositive:
                ok = holds_atom(l.atom);
                break;
              case Literal::Kind::kNegated:
                ok = !holds_atom(l.atom);
                break;
              case Literal::Kind::kCompare: {
                Datum a = val(l.lhs), b = val(l.rhs);
                switch (l.op) {
                  case CompareOp::kEq:
                    ok = a == b;
                    break;
                  case CompareOp::kNe:
                    ok = a != b;
                    break;
                  case CompareOp::kLt:
                    ok = a < b;
                    break;
                  case CompareOp::kLe:
                    ok = a <= b;
                    break;
                  case CompareOp::kGt:
                    ok = a > b;
                    break;
                  case CompareOp::kGe:
                    ok = a >= b;
                    break;
                }
              }
            }
          }
          if (ok) {
            Tuple t;
            for (const Term& a : rule.head.args) t.push_back(val(a));
            derived.insert(t);
          }
          size_t k = 0;
          while (k < nv && ++digit[k] == dom.size()) digit[k++] = 0;
          if (k == nv) break;
        }
        auto& target = db[head->name];
        for (const Tuple& t : derived) changed |= target.insert(t).second;
        if (head->eq) {
          size_t before = target.size();
          close(target);
          changed |= target.size() != before;
        }
      }
    }
  }
  return db;
}

std::map<std::string, std::set<Tuple>> RunEngine(RandomCase& c, EvalOptions::Mode mode,
                                                 RunReport* report) {
  Program& program = c.builder.program();
  Database db(program);
  for (const auto& [name, tuples] : c.input) {
    for (const Tuple& t : tuples) db.AddFact(c.builder.id(name), t);
  }
  EvalOptions o;
  o.mode = mode;
  auto r = Evaluate(program, &db, o);
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) *report = *r;
  std::map<std::string, std::set<Tuple>> out;
  for (const RelInfo& rel : c.rels) {
    auto tuples = db.SortedTuples(c.builder.id(rel.name));
    out[rel.name] = std::set<Tuple>(tuples.begin(), tuples.end());
  }
  return out;
}

std::string Dump(const std::map<std::string, std::set<Tuple>>& db) {
  std::string s;
  for (const auto& [name, tuples] : db) {
    absl::StrAppend(&s, name, ":");
    for (const Tuple& t : tuples) {
      absl::StrAppend(&s, " (");
      for (Datum d : t) absl::StrAppend(&s, d, ",");
      absl::StrAppend(&s, ")");
    }
    absl::StrAppend(&s, "\n");
  }
  return s;
}

TEST(PropertyTest, SemiNaiveNaiveAndOracleAgreeOnRandomPrograms) {
  std::mt19937 rng(20261127);
  int recursive_strata = 0, eq_reads = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    RandomCase c = MakeCase(rng);
    RunReport semi_report, naive_report;
    auto semi = RunEngine(c, EvalOptions::Mode::kSemiNaive, &semi_report);
    auto naive = RunEngine(c, EvalOptions::Mode::kNaive, &naive_report);
    auto oracle = Oracle(c);
    for (const RelInfo& r : c.rels) oracle[r.name];  // relations with no facts print too
    ASSERT_EQ(Dump(semi), Dump(naive)) << "trial " << trial;
    ASSERT_EQ(Dump(semi), Dump(oracle)) << "trial " << trial;
    for (const auto& s : semi_report.strata) recursive_strata += s.recursive ? 1 : 0;
    for (const Rule& r : c.builder.program().rules) {
      for (const Literal& l : r.body) {
        eq_reads += l.kind == Literal::Kind::kPositive &&
                    c.builder.program().relations[l.atom.relation].name == "share";
      }
    }
  }
  // The generator must actually exercise recursion and reads of the equivalence.
  EXPECT_GT(recursive_strata, 300);
  EXPECT_GT(eq_reads, 300);
}

}  // namespace
}  // namespace qprep::engine
