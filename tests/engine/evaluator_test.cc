// Hand-written programs run through the evaluator (engine/evaluator.h), each checked against
// the expected fixpoint: recursion, negation, comparisons, wildcards, constants, equivalence
// closure, provenance, limits and the run report. Both evaluation modes are run where it is
// cheap, since they must agree.
#include "engine/evaluator.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "engine/database.h"
#include "engine/provenance.h"
#include "engine/stratify.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/program_builder.h"

namespace qprep::engine {
namespace {

using ::qprep::engine::testing::C;
using ::qprep::engine::testing::Cmp;
using ::qprep::engine::testing::N;
using ::qprep::engine::testing::P;
using ::qprep::engine::testing::ProgramBuilder;
using ::qprep::engine::testing::V;
using ::qprep::engine::testing::W;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Tuples = std::vector<std::vector<Datum>>;

const EvalOptions::Mode kModes[] = {EvalOptions::Mode::kSemiNaive, EvalOptions::Mode::kNaive};

EvalOptions Mode(EvalOptions::Mode m) {
  EvalOptions o;
  o.mode = m;
  return o;
}

// reach = transitive closure of edge.
ProgramBuilder TransitiveClosure() {
  ProgramBuilder b;
  b.Input("edge", 2);
  b.Derived("reach", 2);
  b.Rule("base", "reach", {V("X"), V("Y")}, {P("edge", {V("X"), V("Y")})});
  b.Rule("step", "reach", {V("X"), V("Z")},
         {P("reach", {V("X"), V("Y")}), P("edge", {V("Y"), V("Z")})});
  return b;
}

TEST(EvaluatorTest, TransitiveClosureOfChainWithCycle) {
  for (auto mode : kModes) {
    ProgramBuilder b = TransitiveClosure();
    Database db(b.program());
    // 1 -> 2 -> 3 -> 1 (cycle), 3 -> 4.
    for (auto [x, y] : {std::pair{1, 2}, {2, 3}, {3, 1}, {3, 4}}) db.AddFact("edge", {x, y});
    auto report = Evaluate(b.program(), &db, Mode(mode));
    ASSERT_TRUE(report.ok()) << report.status();
    Tuples expected;
    for (Datum x : {1, 2, 3}) {
      for (Datum y : {1, 2, 3, 4}) expected.push_back({x, y});
    }
    EXPECT_EQ(db.SortedTuples(b.id("reach")), expected);
    EXPECT_EQ(report->stop, StopReason::kSaturated);
    EXPECT_EQ(report->facts[b.id("reach")], 12u);
  }
}

TEST(EvaluatorTest, SemiNaiveIterationsFollowPathLength) {
  // On a chain of n edges, iteration k derives the paths of length k+1, so semi-naive needs
  // n iterations plus one that finds nothing, and derives every fact exactly once.
  ProgramBuilder b = TransitiveClosure();
  Database db(b.program());
  const int n = 20;
  for (int i = 0; i < n; ++i) db.AddFact("edge", {i, i + 1});
  auto report = Evaluate(b.program(), &db);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->strata.size(), 1u);
  EXPECT_TRUE(report->strata[0].recursive);
  EXPECT_EQ(report->strata[0].iterations, static_cast<uint64_t>(n + 1));
  EXPECT_EQ(db.Size(b.id("reach")), static_cast<size_t>(n * (n + 1) / 2));
  // Semi-naive: each (reach, edge) pair is joined once, so matches == derived facts.
  EXPECT_EQ(report->rules[1].matches, report->rules[1].derived);
}

TEST(EvaluatorTest, SameGeneration) {
  for (auto mode : kModes) {
    ProgramBuilder b;
    b.Input("parent", 2);  // parent(child, parent)
    b.Input("person", 1);
    b.Derived("sg", 2);
    b.Rule("refl", "sg", {V("X"), V("X")}, {P("person", {V("X")})});
    b.Rule("up", "sg", {V("X"), V("Y")},
           {P("parent", {V("X"), V("PX")}), P("sg", {V("PX"), V("PY")}),
            P("parent", {V("Y"), V("PY")})});
    Database db(b.program());
    // 1 is the root; 2,3 children of 1; 4 child of 2; 5 child of 3.
    for (Datum p : {1, 2, 3, 4, 5}) db.AddFact("person", {p});
    for (auto [c, p] : {std::pair{2, 1}, {3, 1}, {4, 2}, {5, 3}}) db.AddFact("parent", {c, p});
    ASSERT_TRUE(Evaluate(b.program(), &db, Mode(mode)).ok());
    Tuples expected = {{1, 1}, {2, 2}, {2, 3}, {3, 2}, {3, 3}, {4, 4}, {4, 5}, {5, 4}, {5, 5}};
    EXPECT_EQ(db.SortedTuples(b.id("sg")), expected);
  }
}

TEST(EvaluatorTest, StratifiedNegation) {
  for (auto mode : kModes) {
    ProgramBuilder b = TransitiveClosure();
    b.Input("node", 1);
    b.Derived("unreachable_from_1", 1);
    b.Rule("unreach", "unreachable_from_1", {V("X")},
           {P("node", {V("X")}), N("reach", {C(1), V("X")})});
    Database db(b.program());
    for (Datum n : {1, 2, 3, 4, 5}) db.AddFact("node", {n});
    for (auto [x, y] : {std::pair{1, 2}, {2, 3}, {4, 5}}) db.AddFact("edge", {x, y});
    auto report = Evaluate(b.program(), &db, Mode(mode));
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(db.SortedTuples(b.id("unreachable_from_1")), (Tuples{{1}, {4}, {5}}));
    // reach's stratum comes before the one that negates it.
    ASSERT_EQ(report->strata.size(), 2u);
    EXPECT_THAT(report->strata[0].relations, ElementsAre(b.id("reach")));
    EXPECT_THAT(report->strata[1].relations, ElementsAre(b.id("unreachable_from_1")));
    EXPECT_FALSE(report->strata[1].recursive);
  }
}

TEST(EvaluatorTest, ComparisonsAndBinding) {
  for (auto mode : kModes) {
    ProgramBuilder b;
    b.Input("val", 2);  // val(node, value)
    b.Derived("lt", 2);
    b.Derived("ne_ge", 2);
    b.Derived("is_three", 1);
    b.Derived("copy", 2);
    b.Rule("lt", "lt", {V("A"), V("B")},
           {P("val", {V("A"), V("X")}), P("val", {V("B"), V("Y")}),
            Cmp(V("X"), CompareOp::kLt, V("Y"))});
    b.Rule("ne_ge", "ne_ge", {V("A"), V("B")},
           {P("val", {V("A"), V("X")}), P("val", {V("B"), V("Y")}),
            Cmp(V("A"), CompareOp::kNe, V("B")), Cmp(V("X"), CompareOp::kGe, V("Y"))});
    b.Rule("three", "is_three", {V("A")},
           {P("val", {V("A"), V("X")}), Cmp(V("X"), CompareOp::kEq, C(3))});
    // `Y = X` binds Y (not in any atom), then copy uses it.
    b.Rule("copy", "copy", {V("A"), V("Y")},
           {P("val", {V("A"), V("X")}), Cmp(V("Y"), CompareOp::kEq, V("X")),
            Cmp(V("Y"), CompareOp::kLe, C(3))});
    Database db(b.program());
    for (auto [n, v] : {std::pair{1, 5}, {2, 3}, {3, 3}}) db.AddFact("val", {n, v});
    ASSERT_TRUE(Evaluate(b.program(), &db, Mode(mode)).ok());
    EXPECT_EQ(db.SortedTuples(b.id("lt")), (Tuples{{2, 1}, {3, 1}}));
    EXPECT_EQ(db.SortedTuples(b.id("ne_ge")), (Tuples{{1, 2}, {1, 3}, {2, 3}, {3, 2}}));
    EXPECT_EQ(db.SortedTuples(b.id("is_three")), (Tuples{{2}, {3}}));
    EXPECT_EQ(db.SortedTuples(b.id("copy")), (Tuples{{2, 3}, {3, 3}}));
  }
}

TEST(EvaluatorTest, WildcardsConstantsAndRepeatedVariables) {
  for (auto mode : kModes) {
    ProgramBuilder b;
    b.Input("node", 1);
    b.Input("edge", 3);  // edge(src, dst, arg_index)
    b.Derived("has_user", 1);
    b.Derived("sink", 1);
    b.Derived("first_arg_of", 2);
    b.Derived("self_loop", 1);
    b.Derived("tagged", 2);
    b.Rule("has_user", "has_user", {V("X")}, {P("edge", {V("X"), W(), W()})});
    b.Rule("sink", "sink", {V("X")}, {P("node", {V("X")}), N("edge", {V("X"), W(), W()})});
    b.Rule("arg0", "first_arg_of", {V("D"), V("S")}, {P("edge", {V("S"), V("D"), C(0)})});
    b.Rule("self", "self_loop", {V("X")}, {P("edge", {V("X"), V("X"), W()})});
    b.Rule("tag", "tagged", {V("X"), C(42)}, {P("sink", {V("X")})});
    Database db(b.program());
    for (Datum n : {1, 2, 3, 4}) db.AddFact("node", {n});
    db.AddFact("edge", {1, 2, 0});
    db.AddFact("edge", {3, 2, 1});
    db.AddFact("edge", {2, 2, 0});
    ASSERT_TRUE(Evaluate(b.program(), &db, Mode(mode)).ok());
    EXPECT_EQ(db.SortedTuples(b.id("has_user")), (Tuples{{1}, {2}, {3}}));
    EXPECT_EQ(db.SortedTuples(b.id("sink")), (Tuples{{4}}));
    EXPECT_EQ(db.SortedTuples(b.id("first_arg_of")), (Tuples{{2, 1}, {2, 2}}));
    EXPECT_EQ(db.SortedTuples(b.id("self_loop")), (Tuples{{2}}));
    EXPECT_EQ(db.SortedTuples(b.id("tagged")), (Tuples{{4, 42}}));
  }
}

TEST(EvaluatorTest, NullaryRelationsAndNegatedFlags) {
  ProgramBuilder b;
  b.Input("node", 1);
  b.Input("disabled", 0);
  b.Derived("any_node", 0);
  b.Derived("enabled_node", 1);
  b.Rule("any", "any_node", {}, {P("node", {W()})});
  b.Rule("enabled", "enabled_node", {V("X")}, {P("node", {V("X")}), N("disabled", {})});
  Database db(b.program());
  db.AddFact("node", {7});
  ASSERT_TRUE(Evaluate(b.program(), &db).ok());
  EXPECT_EQ(db.Size(b.id("any_node")), 1u);
  EXPECT_EQ(db.SortedTuples(b.id("enabled_node")), (Tuples{{7}}));

  Database db2(b.program());
  db2.AddFact("node", {7});
  db2.AddFact("disabled", {});
  ASSERT_TRUE(Evaluate(b.program(), &db2).ok());
  EXPECT_EQ(db2.Size(b.id("enabled_node")), 0u);
}

// share: nodes joined by a "passthrough" edge share an observer; observed_same: pairs of
// distinct observed nodes in one class (reads the equivalence with both arguments unbound).
TEST(EvaluatorTest, EquivalenceClosure) {
  for (auto mode : kModes) {
    ProgramBuilder b;
    b.Input("edge", 2);
    b.Input("passthrough", 1);
    b.Input("observed", 1);
    b.Equivalence("share");
    b.Derived("observed_same", 2);
    b.Derived("shares_with_1", 1);
    b.Rule("pass", "share", {V("A"), V("B")},
           {P("edge", {V("A"), V("B")}), P("passthrough", {V("B")})});
    b.Rule("same", "observed_same", {V("X"), V("Y")},
           {P("share", {V("X"), V("Y")}), P("observed", {V("X")}), P("observed", {V("Y")}),
            Cmp(V("X"), CompareOp::kNe, V("Y"))});
    b.Rule("with1", "shares_with_1", {V("Y")}, {P("share", {C(1), V("Y")})});
    Database db(b.program());
    // Chain 1 -> 2 -> 3 -> 4 where 2 and 3 pass through; 5 -> 6 with 6 passthrough.
    for (auto [x, y] : {std::pair{1, 2}, {2, 3}, {3, 4}, {5, 6}}) db.AddFact("edge", {x, y});
    for (Datum n : {2, 3, 6}) db.AddFact("passthrough", {n});
    for (Datum n : {1, 3, 6, 5}) db.AddFact("observed", {n});
    ASSERT_TRUE(Evaluate(b.program(), &db, Mode(mode)).ok());
    const UnionFind& uf = db.equivalence(b.id("share"));
    EXPECT_TRUE(uf.Same(1, 3));
    EXPECT_FALSE(uf.Same(1, 4));
    EXPECT_TRUE(db.Contains(b.id("share"), {6, 5}));  // symmetric
    EXPECT_EQ(uf.NontrivialClasses(), (std::vector<std::vector<Datum>>{{1, 2, 3}, {5, 6}}));
    // 3x3 + 2x2 ordered pairs.
    EXPECT_EQ(db.Size(b.id("share")), 13u);
    EXPECT_EQ(db.SortedTuples(b.id("observed_same")), (Tuples{{1, 3}, {3, 1}, {5, 6}, {6, 5}}));
    EXPECT_EQ(db.SortedTuples(b.id("shares_with_1")), (Tuples{{1}, {2}, {3}}));
  }
}

TEST(EvaluatorTest, RecursionThroughEquivalence) {
  // The equivalence feeds back into its own rule: classes propagate along `link` from any
  // member. Checks that the equivalence delta (pairs newly joined) drives semi-naive correctly.
  for (auto mode : kModes) {
    ProgramBuilder b;
    b.Input("seed", 2);
    b.Input("link", 2);
    b.Equivalence("eq");
    b.Derived("tagged", 1);
    b.Rule("seed", "eq", {V("A"), V("B")}, {P("seed", {V("A"), V("B")})});
    b.Rule("spread", "eq", {V("A"), V("C")},
           {P("eq", {V("A"), V("B")}), P("link", {V("B"), V("C")})});
    b.Rule("tag", "tagged", {V("X")}, {P("eq", {V("X"), C(100)})});
    Database db(b.program());
    db.AddFact("seed", {1, 2});
    db.AddFact("seed", {10, 11});
    db.AddFact("link", {2, 3});
    db.AddFact("link", {3, 10});
    db.AddFact("link", {11, 100});
    db.AddFact("link", {50, 51});  // not reachable from a class member
    ASSERT_TRUE(Evaluate(b.program(), &db, Mode(mode)).ok());
    const UnionFind& uf = db.equivalence(b.id("eq"));
    EXPECT_EQ(uf.NontrivialClasses(), (std::vector<std::vector<Datum>>{{1, 2, 10, 11, 3, 100}}));
    EXPECT_FALSE(uf.Contains(50));
    EXPECT_EQ(db.SortedTuples(b.id("tagged")), (Tuples{{1}, {2}, {3}, {10}, {11}, {100}}));
  }
}

TEST(EvaluatorTest, RerunIsIdempotent) {
  ProgramBuilder b = TransitiveClosure();
  Database db(b.program());
  for (int i = 0; i < 5; ++i) db.AddFact("edge", {i, i + 1});
  ASSERT_TRUE(Evaluate(b.program(), &db).ok());
  Tuples first = db.SortedTuples(b.id("reach"));
  auto again = Evaluate(b.program(), &db);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(db.SortedTuples(b.id("reach")), first);
  EXPECT_EQ(again->rules[0].derived + again->rules[1].derived, 0u);
}

TEST(EvaluatorTest, PreloadedDerivedFactsAreUsed) {
  // Facts a stage loads into a derived relation take part in the fixpoint.
  ProgramBuilder b = TransitiveClosure();
  Database db(b.program());
  db.AddFact("edge", {2, 3});
  db.AddFact("reach", {1, 2});
  ASSERT_TRUE(Evaluate(b.program(), &db).ok());
  EXPECT_TRUE(db.Contains(b.id("reach"), {1, 3}));
}

TEST(ProvenanceTest, ChainOfRules) {
  ProgramBuilder b = TransitiveClosure();
  Database db(b.program());
  for (auto [x, y] : {std::pair{1, 2}, {2, 3}, {1, 3}}) db.AddFact("edge", {x, y});
  ASSERT_TRUE(Evaluate(b.program(), &db).ok());
  auto why = Why(db, b.id("reach"), std::vector<Datum>{1, 3});
  ASSERT_TRUE(why.ok()) << why.status();
  ASSERT_EQ(why->size(), 1u);
  // First derivation: reach(1,3) from edge(1,3) in iteration 0 (not the longer path).
  EXPECT_EQ(b.program().rules[(*why)[0].rule].name, "base");
  EXPECT_THAT((*why)[0].premises, ElementsAre(Fact{b.id("edge"), {1, 3}}));

  Database db2(b.program());
  for (auto [x, y] : {std::pair{1, 2}, {2, 3}, {3, 4}}) db2.AddFact("edge", {x, y});
  ASSERT_TRUE(Evaluate(b.program(), &db2).ok());
  auto tree = ExplainTree(db2, nullptr, b.id("reach"), std::vector<Datum>{1, 4});
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ(*tree,
            "reach(1, 4)  <- step\n"
            "  reach(1, 3)  <- step\n"
            "    reach(1, 2)  <- base\n"
            "      edge(1, 2)  (input)\n"
            "    edge(2, 3)  (input)\n"
            "  edge(3, 4)  (input)\n");
  auto missing = Why(db2, b.id("reach"), std::vector<Datum>{4, 1});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(ProvenanceTest, EquivalenceChain) {
  ProgramBuilder b;
  b.Input("edge", 2);
  b.Equivalence("share");
  b.Rule("pass", "share", {V("A"), V("B")}, {P("edge", {V("A"), V("B")})});
  Database db(b.program());
  for (auto [x, y] : {std::pair{1, 2}, {2, 3}, {3, 4}}) db.AddFact("edge", {x, y});
  ASSERT_TRUE(Evaluate(b.program(), &db).ok());
  auto why = Why(db, b.id("share"), std::vector<Datum>{4, 1});
  ASSERT_TRUE(why.ok()) << why.status();
  ASSERT_EQ(why->size(), 3u);  // 4 - 3 - 2 - 1
  for (const ProofStep& s : *why) {
    EXPECT_EQ(b.program().rules[s.rule].name, "pass");
    ASSERT_EQ(s.premises.size(), 1u);
    EXPECT_EQ(s.premises[0].relation, b.id("edge"));
  }
  EXPECT_THAT((*why)[0].premises[0].tuple, ElementsAre(3, 4));
  auto refl = Why(db, b.id("share"), std::vector<Datum>{2, 2});
  ASSERT_TRUE(refl.ok());
  EXPECT_TRUE(refl->empty());
  auto tree = ExplainTree(db, nullptr, b.id("share"), std::vector<Datum>{1, 3});
  ASSERT_TRUE(tree.ok());
  EXPECT_EQ(*tree,
            "share(1, 3)  <- chain of 2 unions\n"
            "  share(1, 2)  <- pass\n"
            "    edge(1, 2)  (input)\n"
            "  share(2, 3)  <- pass\n"
            "    edge(2, 3)  (input)\n");
}

TEST(ProvenanceTest, DepthLimitAndSymbols) {
  ProgramBuilder b = TransitiveClosure();
  b.program().relations[b.id("edge")].columns = {ColumnType::kSymbol, ColumnType::kSymbol};
  b.program().relations[b.id("reach")].columns = {ColumnType::kSymbol, ColumnType::kSymbol};
  SymbolTable symbols;
  Datum conv = symbols.Intern("conv"), relu = symbols.Intern("relu"), add = symbols.Intern("add");
  Database db(b.program());
  db.AddFact("edge", {conv, relu});
  db.AddFact("edge", {relu, add});
  ASSERT_TRUE(Evaluate(b.program(), &db).ok());
  auto tree = ExplainTree(db, &symbols, b.id("reach"), std::vector<Datum>{conv, add},
                          /*max_depth=*/1);
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ(*tree,
            "reach(conv, add)  <- step\n"
            "  reach(conv, relu)  ...\n"
            "  edge(relu, add)  ...\n");
}

TEST(ProvenanceTest, DisabledProvenanceSaysSo) {
  ProgramBuilder b = TransitiveClosure();
  Database db(b.program(), /*provenance=*/false);
  db.AddFact("edge", {1, 2});
  ASSERT_TRUE(Evaluate(b.program(), &db).ok());
  EXPECT_TRUE(db.Contains(b.id("reach"), {1, 2}));
  EXPECT_EQ(Why(db, b.id("reach"), std::vector<Datum>{1, 2}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(db.premise_pool().empty());
}

TEST(LimitsTest, IterationLimitNamesTheRuleThatKeptFiring) {
  ProgramBuilder b = TransitiveClosure();
  Database db(b.program());
  for (int i = 0; i < 100; ++i) db.AddFact("edge", {i, i + 1});
  EvalOptions o;
  o.max_iterations = 10;
  Evaluator ev(b.program(), &db, o);
  auto result = ev.Run();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("iteration limit (10) reached in stratum 0 {reach} at iteration 10: "
                        "rule 'step' kept firing"));
  EXPECT_EQ(ev.report().stop, StopReason::kIterationLimit);
  EXPECT_EQ(ev.report().strata[0].iterations, 10u);
  EXPECT_THAT(ev.report().ToText(b.program()), HasSubstr("stop: iteration limit"));
}

TEST(LimitsTest, FactLimit) {
  ProgramBuilder b = TransitiveClosure();
  Database db(b.program());
  for (int i = 0; i < 100; ++i) db.AddFact("edge", {i, i + 1});
  EvalOptions o;
  o.max_facts = 1000;
  Evaluator ev(b.program(), &db, o);
  auto result = ev.Run();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("fact limit (1000)"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("rule 'step' kept firing"));
  EXPECT_EQ(ev.report().stop, StopReason::kFactLimit);
  EXPECT_LE(db.TotalFacts(), 1200u);  // stops within an iteration of the limit
}

TEST(LimitsTest, TimeLimit) {
  ProgramBuilder b = TransitiveClosure();
  Database db(b.program());
  for (int i = 0; i < 50; ++i) db.AddFact("edge", {i, i + 1});
  EvalOptions o;
  o.max_seconds = 1e-12;  // already exceeded at the first check
  Evaluator ev(b.program(), &db, o);
  auto result = ev.Run();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ev.report().stop, StopReason::kTimeLimit);
}

TEST(RunReportTest, TextRendering) {
  ProgramBuilder b = TransitiveClosure();
  b.Input("node", 1);
  b.Derived("isolated", 1);
  b.Rule("isolated", "isolated", {V("X")}, {P("node", {V("X")}), N("reach", {V("X"), W()})});
  Database db(b.program());
  db.AddFact("edge", {1, 2});
  db.AddFact("node", {1});
  db.AddFact("node", {3});
  auto report = Evaluate(b.program(), &db);
  ASSERT_TRUE(report.ok());
  std::string text = report->ToText(b.program());
  EXPECT_THAT(text, HasSubstr("stop: saturated"));
  EXPECT_THAT(text, HasSubstr("total: 2 strata"));
  EXPECT_THAT(text, HasSubstr("recursive {reach}: 2 rules, 2 iterations, 1 facts"));
  EXPECT_THAT(text, HasSubstr("{isolated}: 1 rules, 1 iterations, 1 facts"));
  EXPECT_EQ(report->rules[2].derived, 1u);
  EXPECT_EQ(report->facts[b.id("isolated")], 1u);
}

TEST(StratifyTest, NegationCycleIsNamedWithRulesAndLiterals) {
  ProgramBuilder b;
  b.Input("node", 1);
  b.Derived("a", 1);
  b.Derived("b", 1);
  b.Derived("c", 1);
  b.Rule("ra", "a", {V("X")}, {P("node", {V("X")}), N("b", {V("X")})});
  b.Rule("rb", "b", {V("X")}, {P("c", {V("X")})});
  b.Rule("rc", "c", {V("X")}, {P("a", {V("X")})});
  auto cycle = FindNegationCycle(b.program());
  ASSERT_TRUE(cycle.has_value());
  EXPECT_EQ(cycle->text, "a -> !b -> c -> a");
  EXPECT_THAT(cycle->relations, ElementsAre(b.id("a"), b.id("b"), b.id("c")));
  EXPECT_THAT(cycle->rules, ElementsAre(0, 1, 2));
  EXPECT_THAT(cycle->literals, ElementsAre(1, 0, 0));
  EXPECT_THAT(cycle->negated, ElementsAre(true, false, false));
  auto strata = Stratify(b.program());
  ASSERT_FALSE(strata.ok());
  EXPECT_EQ(strata.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(strata.status().message()),
              HasSubstr("a -> !b -> c -> a (rules ra, rb, rc)"));
  Database db(b.program());
  EXPECT_FALSE(Evaluate(b.program(), &db).ok());
}

TEST(StratifyTest, SelfNegation) {
  ProgramBuilder b;
  b.Input("node", 1);
  b.Derived("p", 1);
  b.Rule("rp", "p", {V("X")}, {P("node", {V("X")}), N("p", {V("X")})});
  auto cycle = FindNegationCycle(b.program());
  ASSERT_TRUE(cycle.has_value());
  EXPECT_EQ(cycle->text, "p -> !p");
}

TEST(StratifyTest, OrderIsDependenciesFirst) {
  ProgramBuilder b;
  b.Input("e", 2);
  b.Derived("d", 1);  // declared first, but depends on the others
  b.Derived("c", 1);
  b.Derived("r", 2);
  b.Rule("d", "d", {V("X")}, {P("c", {V("X")}), N("r", {V("X"), V("X")})});
  b.Rule("c", "c", {V("X")}, {P("r", {V("X"), W()})});
  b.Rule("r1", "r", {V("X"), V("Y")}, {P("e", {V("X"), V("Y")})});
  b.Rule("r2", "r", {V("X"), V("Y")}, {P("r", {V("X"), V("Z")}), P("r", {V("Z"), V("Y")})});
  auto strata = Stratify(b.program());
  ASSERT_TRUE(strata.ok()) << strata.status();
  ASSERT_EQ(strata->strata.size(), 3u);
  EXPECT_THAT(strata->strata[0].relations, ElementsAre(b.id("r")));
  EXPECT_TRUE(strata->strata[0].recursive);
  EXPECT_THAT(strata->strata[0].rules, ElementsAre(2, 3));
  EXPECT_THAT(strata->strata[1].relations, ElementsAre(b.id("c")));
  EXPECT_THAT(strata->strata[2].relations, ElementsAre(b.id("d")));
  EXPECT_EQ(strata->stratum_of[b.id("e")], -1);
}

TEST(DatabaseTest, IndexesFindExactlyTheMatchingTuples) {
  Relation r(3);
  for (Datum i = 0; i < 1000; ++i) r.Insert(std::vector<Datum>{i % 10, i, i % 7});
  EXPECT_EQ(r.Insert(std::vector<Datum>{3, 3, 3}), kNoTuple);  // duplicate of i == 3
  int index = r.EnsureIndex(0b101);
  for (Datum i = 1000; i < 1100; ++i) r.Insert(std::vector<Datum>{i % 10, i, i % 7});
  std::set<Datum> found;
  std::vector<Datum> key = {4, 2};
  r.ForEachMatch(index, key, [&](TupleId id) { found.insert(r.at(id, 1)); });
  std::set<Datum> expected;
  for (Datum i = 0; i < 1100; ++i) {
    if (i % 10 == 4 && i % 7 == 2) expected.insert(i);
  }
  EXPECT_EQ(found, expected);
  EXPECT_EQ(r.EnsureIndex(0b101), index);
}

TEST(DatabaseTest, DenseIdIndexFallsBackToHashingForSparseValues) {
  // Single-column indexes start as direct tables over dense ids; a negative or huge value must
  // switch to hashing without losing any tuple.
  Relation r(2);
  int by_first = r.EnsureIndex(0b01);
  for (Datum i = 0; i < 100; ++i) r.Insert(std::vector<Datum>{i, i * 2});
  r.Insert(std::vector<Datum>{-5, 1});
  r.Insert(std::vector<Datum>{Datum{1} << 40, 2});
  r.Insert(std::vector<Datum>{7, 3});
  auto lookup = [&](Datum k) {
    std::set<Datum> out;
    std::vector<Datum> key = {k};
    r.ForEachMatch(by_first, key, [&](TupleId id) { out.insert(r.at(id, 1)); });
    return out;
  };
  EXPECT_EQ(lookup(7), (std::set<Datum>{14, 3}));
  EXPECT_EQ(lookup(-5), (std::set<Datum>{1}));
  EXPECT_EQ(lookup(Datum{1} << 40), (std::set<Datum>{2}));
  EXPECT_EQ(lookup(1000), (std::set<Datum>{}));
  Relation unary(1);
  for (Datum v : {3, 1, 3, -1, 2}) unary.Insert(std::vector<Datum>{v});
  EXPECT_EQ(unary.size(), 4u);
  EXPECT_TRUE(unary.Contains(std::vector<Datum>{-1}));
  unary.Clear();
  EXPECT_FALSE(unary.Contains(std::vector<Datum>{3}));
  unary.Insert(std::vector<Datum>{3});
  EXPECT_TRUE(unary.Contains(std::vector<Datum>{3}));
}

TEST(DatabaseTest, WideRelationDedupSurvivesLongFirstColumnChains) {
  // The all-columns index of a 2-column relation is keyed by column 0 until a chain grows past
  // its limit; a constant first column (dtype(quint8, n)) must switch it to hashing and keep
  // exact set semantics throughout.
  Relation r(2);
  for (int round = 0; round < 2; ++round) {
    for (Datum n = 0; n < 200; ++n) {
      TupleId id = r.Insert(std::vector<Datum>{7, n});
      EXPECT_EQ(id == kNoTuple, round == 1) << n;
    }
  }
  for (Datum n = 0; n < 200; ++n) r.Insert(std::vector<Datum>{n, n});
  EXPECT_EQ(r.size(), 399u);  // (7, 7) was already there
  EXPECT_TRUE(r.Contains(std::vector<Datum>{7, 199}));
  EXPECT_TRUE(r.Contains(std::vector<Datum>{150, 150}));
  EXPECT_FALSE(r.Contains(std::vector<Datum>{150, 7}));
  EXPECT_EQ(r.Find(std::vector<Datum>{7, 3}), 3u);
}

TEST(UnionFindTest, ClassesPairsAndExplanations) {
  UnionFind uf;
  EXPECT_TRUE(uf.Union(1, 2, 10));
  EXPECT_TRUE(uf.Union(3, 4, 11));
  EXPECT_FALSE(uf.Union(2, 1, 12));
  EXPECT_TRUE(uf.Union(4, 2, 13));
  uf.Add(9);
  EXPECT_EQ(uf.class_count(), 2u);
  EXPECT_EQ(uf.PairCount(), 16u + 1u);
  std::set<Datum> members;
  uf.ForEachInClass(3, [&](Datum v) { members.insert(v); });
  EXPECT_EQ(members, (std::set<Datum>{1, 2, 3, 4}));
  auto steps = uf.Explain(1, 3);
  ASSERT_TRUE(steps.has_value());
  ASSERT_EQ(steps->size(), 3u);  // 1-2, 2-4, 4-3
  EXPECT_EQ((*steps)[0].justification, 10u);
  EXPECT_EQ((*steps)[1].justification, 13u);
  EXPECT_EQ((*steps)[2].justification, 11u);
  EXPECT_FALSE(uf.Explain(1, 9).has_value());
  EXPECT_TRUE(uf.Same(9, 9));
  EXPECT_FALSE(uf.Same(9, 8));
}

TEST(UnionFindTest, SparseAndDenseValuesMix) {
  // 200000 is beyond the direct table when first seen; later the table grows past it.
  UnionFind uf;
  uf.Union(-3, 200000);
  for (Datum i = 0; i < 300000; ++i) uf.Add(i);
  uf.Union(200000, 5);
  EXPECT_TRUE(uf.Same(-3, 5));
  EXPECT_EQ(uf.ClassSize(200000), 3u);
  EXPECT_EQ(uf.domain_size(), 300001u);
  EXPECT_FALSE(uf.Contains(300000));
}

}  // namespace
}  // namespace qprep::engine
