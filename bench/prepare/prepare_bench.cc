// Prepare, end to end and per stage (issue 6): what `qprepc prepare MODEL.qg --plan P.json`
// costs, on the committed torchvision exports and on generated graphs of 1k to 1M nodes
// (generated_graphs.h: the exporter's residual chain and wide-branching models, larger).
//
// One iteration = read the .qg text (parse + build the IR) -> prepare (fusion, qconfig
// resolution, matching, facts, the prelude's fixpoint, plan) -> render the plan JSON. The rules
// are compiled once per process (BM_CompileRules measures that step on its own), as a
// long-running service or a batch run would; `qprepc prepare` pays it on every call (see
// bench/compare_torch.py, which times the real binary).
//
// Counters: nodes; us_per_node (wall time per iteration / nodes); per-stage milliseconds of the
// last iteration (read, fuse, qconfigs, match, facts, evaluate, plan, write); peak_rss_MB
// (getrusage: the process's peak so far, so run the 1M case alone for its own peak, as
// bench/run.sh does). Provenance is on, as in qprepc.
//
// Run: build/bench/prepare/prepare_bench [--benchmark_filter=chain] (bench/run.sh runs it all).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/prepare/generated_graphs.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/diagnostics.h"
#include "common/file_io.h"
#include "engine/plan.h"
#include "ir/qg_reader.h"
#include "prepare/pipeline.h"

namespace qprep::bench {
namespace {

const std::string kSrc = QPREP_SOURCE_DIR;

double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The bundled fbgemm rules with PyTorch's default qconfig mapping, exactly what
// `qprepc prepare --backend fbgemm` selects (tools/qprepc/bundled.cc).
prepare::PrepareOptions FbgemmOptions() {
  prepare::PrepareOptions o;
  o.rule_files = {kSrc + "/rules/prelude/prepare.qr", kSrc + "/backends/fbgemm.qr",
                  kSrc + "/backends/qconfig/default.qr"};
  o.search_paths = {kSrc + "/rules", kSrc + "/backends"};
  o.backend = "fbgemm";
  o.qconfig_mapping = "default_fbgemm";
  return o;
}

// Compiles the rules through the pipeline's own entry point (Prepare on the tiny example), so
// the compile options are the pipeline's, not a copy of them.
absl::StatusOr<std::unique_ptr<prepare::PrepareResult>> PrepareTiny() {
  DiagnosticSink sink;
  auto g = ir::ReadQgFile(kSrc + "/examples/tiny.qg", &sink);
  if (!g.ok()) return g.status();
  return prepare::Prepare(*g, FbgemmOptions(), &sink);
}

const rules::CompiledRules* Rules() {
  static const rules::CompiledRules* rules = []() -> const rules::CompiledRules* {
    auto r = PrepareTiny();
    if (!r.ok()) {
      std::fprintf(stderr, "prepare_bench: compiling the rules failed: %s\n",
                   r.status().ToString().c_str());
      return nullptr;
    }
    return new rules::CompiledRules((*r)->rules);
  }();
  return rules;
}

void BM_CompileRules(benchmark::State& state) {
  double compile = 0;
  for (auto _ : state) {
    auto r = PrepareTiny();
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    compile = (*r)->times.compile_rules;
  }
  state.counters["compile_ms"] = compile * 1e3;
}

// One end-to-end run on `file`; fills the stage counters from the last iteration.
void RunPrepare(benchmark::State& state, const std::shared_ptr<const SourceFile>& file) {
  const rules::CompiledRules* rules = Rules();
  if (rules == nullptr) {
    state.SkipWithError("rules did not compile");
    return;
  }
  const prepare::PrepareOptions options = FbgemmOptions();
  size_t nodes = 0, insertions = 0, plan_bytes = 0;
  double read_s = 0, write_s = 0;
  prepare::StageTimes t;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    DiagnosticSink sink;
    absl::StatusOr<ir::Graph> g = ir::ReadQg(file, &sink);
    if (!g.ok()) {
      state.SkipWithError(g.status().ToString().c_str());
      return;
    }
    auto t1 = std::chrono::steady_clock::now();
    auto r = prepare::PrepareWithRules(*g, *rules, options);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    auto t2 = std::chrono::steady_clock::now();
    std::string plan = engine::PlanToString((*r)->plan);
    auto t3 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(plan.data());
    nodes = g->num_nodes();
    insertions = (*r)->plan.insertions.size();
    plan_bytes = plan.size();
    read_s = Seconds(t0, t1);
    write_s = Seconds(t2, t3);
    t = (*r)->times;
    // Freeing the result (database with provenance, fused graph) is part of the run, as in qprepc.
  }
  auto ms = [](double s) { return benchmark::Counter(s * 1e3); };
  state.counters["nodes"] = static_cast<double>(nodes);
  state.counters["insertions"] = static_cast<double>(insertions);
  state.counters["plan_KB"] = static_cast<double>(plan_bytes) / 1024.0;
  state.counters["us_per_node"] =
      benchmark::Counter(static_cast<double>(nodes) * 1e-6,
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
  state.counters["read_ms"] = ms(read_s);
  state.counters["fuse_ms"] = ms(t.fuse);
  state.counters["qconfigs_ms"] = ms(t.resolve_qconfigs);
  state.counters["match_ms"] = ms(t.match);
  state.counters["facts_ms"] = ms(t.load_facts);
  state.counters["evaluate_ms"] = ms(t.evaluate);
  state.counters["plan_ms"] = ms(t.build_plan);
  state.counters["write_ms"] = ms(write_s);
  state.counters["peak_rss_MB"] = PeakRssMb();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file->text().size()));
}

// Texts are made (or read) once per process and kept: the benchmark times prepare, not the
// generator.
std::shared_ptr<const SourceFile> Cached(const std::string& key,
                                         const std::function<std::string()>& make) {
  static auto* cache = new std::map<std::string, std::shared_ptr<const SourceFile>>();
  auto& slot = (*cache)[key];
  if (!slot) slot = std::make_shared<const SourceFile>(key, make());
  return slot;
}

void BM_PrepareFile(benchmark::State& state, const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    state.SkipWithError(text.status().ToString().c_str());
    return;
  }
  RunPrepare(state, Cached(path, [&] { return *text; }));
}

// Size targets are node counts; the graphs have whole blocks / stages, so the exact count is in
// the `nodes` counter.
void BM_PrepareChain(benchmark::State& state) {
  const size_t target = static_cast<size_t>(state.range(0));
  const size_t blocks = (target - 2) / 5;
  RunPrepare(state, Cached(absl::StrCat("chain", target), [&] { return ResidualChainQg(blocks); }));
}

constexpr size_t kBranches = 16;  // 53 nodes per stage
void BM_PrepareWide(benchmark::State& state) {
  const size_t target = static_cast<size_t>(state.range(0));
  const size_t stages = (target - 3) / (3 * kBranches + 5);
  RunPrepare(state,
             Cached(absl::StrCat("wide", target), [&] { return WideBranchingQg(kBranches, stages); }));
}

// Names carry a "/real_time" suffix (UseRealTime): filters match "Chain/1000/", not "$".
// Generated sizes; the committed torchvision exports (tools/export_fx.py); the residual chains
// of bench/compare_torch.py's comparison.
void RegisterAll() {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"tiny", kSrc + "/examples/tiny.qg"},
      {"resnet18", kSrc + "/examples/resnet18.qg"},
      {"mobilenet_v2", kSrc + "/examples/mobilenet_v2.qg"},
      {"resnet50", kSrc + "/tests/parity/data/resnet50.qg"},
      {"mobilenet_v3_large", kSrc + "/tests/parity/data/mobilenet_v3_large.qg"},
      {"googlenet", kSrc + "/tests/parity/data/googlenet.qg"},
      {"inception_v3", kSrc + "/tests/parity/data/inception_v3.qg"},
      {"densenet121", kSrc + "/tests/parity/data/densenet121.qg"},
  };
  benchmark::RegisterBenchmark("BM_CompileRules", BM_CompileRules)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  using Fn = void (*)(benchmark::State&);
  for (const auto& [name, fn] : {std::pair<const char*, Fn>{"BM_PrepareChain", BM_PrepareChain},
                                 std::pair<const char*, Fn>{"BM_PrepareWide", BM_PrepareWide}}) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    for (int n : {1000, 10000, 100000, 1000000}) b->Arg(n);
    b->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  for (const auto& [name, path] : files) {
    benchmark::RegisterBenchmark(("BM_PrepareFile/" + name).c_str(), BM_PrepareFile, path)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  for (int blocks : {50, 100, 200, 400}) {
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_PrepareChainBlocks/", blocks).c_str(),
        [blocks](benchmark::State& state) {
          RunPrepare(state, Cached(absl::StrCat("chain_blocks", blocks),
                                   [&] { return ResidualChainQg(blocks); }));
        })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace
}  // namespace qprep::bench

int main(int argc, char** argv) {
  qprep::bench::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
