// Benchmarks the fixpoint evaluator (engine/evaluator.h) on the shape of program the prelude
// runs: tensor-ness propagating along edges from the graph inputs (recursive, semi-naive),
// observation points by negation on a lower stratum, a sharing closure (union-find) along runs
// of pass-through ops, and a read of the sharing classes by bound member. Every output is
// linear in the graph size, so time per node should stay flat from 10k to 1M nodes.
//
// Run one size per process so peak RSS is that size's:
//   build-e/bin/engine_bench --benchmark_filter='BM_PreparePlacement/1000000/1$'
// Counters: ns_per_node / cpu_ns_per_node (evaluation only, wall and process CPU time; fact
// loading is excluded; on a shared machine CPU time is the stable one), facts, peak_rss_mb
// (getrusage ru_maxrss of the whole process, including the loaded graph).
#include <sys/resource.h>
#include <time.h>

#include <cstdint>
#include <random>

#include "benchmark/benchmark.h"
#include "common/status_macros.h"
#include "engine/database.h"
#include "engine/evaluator.h"
#include "tests/engine/program_builder.h"

namespace qprep::engine {
namespace {

using ::qprep::engine::testing::N;
using ::qprep::engine::testing::P;
using ::qprep::engine::testing::ProgramBuilder;
using ::qprep::engine::testing::V;

ProgramBuilder PlacementProgram() {
  ProgramBuilder b;
  b.Input("node", 1);
  b.Input("edge", 2);  // edge(producer, consumer)
  b.Input("graph_input", 1);
  b.Input("passthrough", 1);  // ops whose output reuses the input's observer (relu, maxpool)
  b.Derived("is_tensor", 1);
  b.Derived("observed", 1);
  b.Equivalence("share");
  b.Derived("observer_of", 2);  // observer_of(n, owner): n's output uses owner's observer
  b.Rule("tensor_input", "is_tensor", {V("N")}, {P("graph_input", {V("N")})});
  b.Rule("tensor_flow", "is_tensor", {V("M")},
         {P("is_tensor", {V("N")}), P("edge", {V("N"), V("M")})});
  b.Rule("observe", "observed", {V("N")}, {P("is_tensor", {V("N")}), N("passthrough", {V("N")})});
  b.Rule("share_with_input", "share", {V("A"), V("B")},
         {P("edge", {V("A"), V("B")}), P("passthrough", {V("B")}), P("is_tensor", {V("B")})});
  b.Rule("owner", "observer_of", {V("M"), V("N")},
         {P("observed", {V("N")}), P("share", {V("N"), V("M")})});
  return b;
}

// A residual-network-like DAG: a chain with skip connections every few nodes (the add's second
// input), runs of pass-through ops, one graph input per 10k nodes.
void LoadGraph(ProgramBuilder& b, Database* db, int64_t n) {
  std::mt19937_64 rng(42);
  RelationId node = b.id("node"), edge = b.id("edge"), input = b.id("graph_input"),
             pass = b.id("passthrough");
  for (int64_t i = 0; i < n; ++i) {
    db->AddFact(node, {i});
    if (i % 10000 == 0) db->AddFact(input, {i});
    if (i > 0) db->AddFact(edge, {i - 1, i});
    if (i >= 8 && rng() % 8 == 0) db->AddFact(edge, {i - 2 - static_cast<int64_t>(rng() % 6), i});
    if (i % 10 >= 6) db->AddFact(pass, {i});  // runs of 4 pass-through ops
  }
}

double CpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

int64_t PeakRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

void BM_PreparePlacement(benchmark::State& state) {
  const int64_t n = state.range(0);
  const bool provenance = state.range(1) != 0;
  ProgramBuilder b = PlacementProgram();
  size_t facts = 0;
  double eval_seconds = 0, cpu_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto db = std::make_unique<Database>(b.program(), provenance);
    LoadGraph(b, db.get(), n);
    state.ResumeTiming();
    double cpu0 = CpuSeconds();
    auto report = Evaluate(b.program(), db.get());
    cpu_seconds += CpuSeconds() - cpu0;
    QPREP_CHECK(report.ok());
    eval_seconds += report->seconds;
    facts = db->TotalFacts();
    benchmark::DoNotOptimize(facts);
    state.PauseTiming();
    db.reset();
    state.ResumeTiming();
  }
  state.counters["ns_per_node"] =
      eval_seconds * 1e9 / (static_cast<double>(n) * state.iterations());
  state.counters["facts"] = static_cast<double>(facts);
  state.counters["cpu_ns_per_node"] =
      cpu_seconds * 1e9 / (static_cast<double>(n) * state.iterations());
  state.counters["peak_rss_mb"] = static_cast<double>(PeakRssKb()) / 1024.0;
}
BENCHMARK(BM_PreparePlacement)
    ->ArgsProduct({{10'000, 100'000, 1'000'000}, {1, 0}})
    ->ArgNames({"nodes", "provenance"})
    ->Unit(benchmark::kMillisecond);

// The placement program cut to its first `rules` rules: the per-rule cost is the difference of
// consecutive prefixes (docs/benchmarks-engine.md reports it per rule and size).
void BM_PreparePlacementPrefix(benchmark::State& state) {
  const int64_t n = state.range(0);
  ProgramBuilder b = PlacementProgram();
  Program program = b.program();
  program.rules.resize(static_cast<size_t>(state.range(1)));
  double cpu_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto db = std::make_unique<Database>(program, /*provenance=*/true);
    LoadGraph(b, db.get(), n);
    state.ResumeTiming();
    double cpu0 = CpuSeconds();
    auto report = Evaluate(program, db.get());
    cpu_seconds += CpuSeconds() - cpu0;
    QPREP_CHECK(report.ok());
    state.PauseTiming();
    db.reset();
    state.ResumeTiming();
  }
  state.counters["cpu_ns_per_node"] =
      cpu_seconds * 1e9 / (static_cast<double>(n) * state.iterations());
}
BENCHMARK(BM_PreparePlacementPrefix)
    ->ArgsProduct({{10'000, 100'000, 1'000'000}, {2, 3, 4, 5}})
    ->ArgNames({"nodes", "rules"})
    ->Unit(benchmark::kMillisecond);

// Plain transitive reachability from every 1000th node along the chain+skip graph, without
// sharing: isolates the join (probe of edge by producer id) cost.
void BM_Reachability(benchmark::State& state) {
  const int64_t n = state.range(0);
  ProgramBuilder b;
  b.Input("edge", 2);
  b.Input("root", 1);
  b.Derived("reach", 1);
  b.Rule("root", "reach", {V("N")}, {P("root", {V("N")})});
  b.Rule("step", "reach", {V("M")}, {P("reach", {V("N")}), P("edge", {V("N"), V("M")})});
  double eval_seconds = 0, cpu_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto db = std::make_unique<Database>(b.program(), /*provenance=*/false);
    for (int64_t i = 1; i < n; ++i) db->AddFact("edge", {i - 1, i});
    db->AddFact("root", {0});
    state.ResumeTiming();
    double cpu0 = CpuSeconds();
    auto report = Evaluate(b.program(), db.get());
    cpu_seconds += CpuSeconds() - cpu0;
    QPREP_CHECK(report.ok());
    QPREP_CHECK(db->Size(b.id("reach")) == static_cast<size_t>(n));
    eval_seconds += report->seconds;
    state.PauseTiming();
    db.reset();
    state.ResumeTiming();
  }
  state.counters["ns_per_node"] =
      eval_seconds * 1e9 / (static_cast<double>(n) * state.iterations());
  state.counters["cpu_ns_per_node"] =
      cpu_seconds * 1e9 / (static_cast<double>(n) * state.iterations());
  state.counters["peak_rss_mb"] = static_cast<double>(PeakRssKb()) / 1024.0;
}
BENCHMARK(BM_Reachability)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->ArgNames({"nodes"})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace qprep::engine

BENCHMARK_MAIN();
