// Reader and printer throughput on generated residual-chain graphs (tests/ir/synthetic_graph.h)
// of 10k, 100k and 1M nodes: nodes per second, bytes per second, and memory. `graph_MB` is the
// heap held by the read graph (what the IR costs; glibc mallinfo2); `peak_rss_MB`
// is the process's peak so far (getrusage), which includes the input text.
// Run: build/bin/qg_reader_bench  (numbers recorded in docs/benchmarks-ir.md)
#include <malloc.h>
#include <sys/resource.h>

#include <map>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "common/diagnostics.h"
#include "ir/qg_printer.h"
#include "ir/qg_reader.h"
#include "tests/ir/synthetic_graph.h"

namespace {

const std::shared_ptr<const qprep::SourceFile>& Text(size_t nodes) {
  static auto* cache = new std::map<size_t, std::shared_ptr<const qprep::SourceFile>>();
  auto& slot = (*cache)[nodes];
  if (!slot) {
    slot = std::make_shared<const qprep::SourceFile>("synthetic.qg",
                                                     qprep::ir::testing::SyntheticQg(nodes));
  }
  return slot;
}

// Heap bytes in use (glibc): small-chunk arena plus mmap'd large blocks. Unlike the resident
// set it does not depend on whether freed memory was returned to the system.
double HeapInUseMb() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd) / 1048576.0;
}

double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void BM_ReadQg(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto& file = Text(n);
  double graph_mb = 0;
  for (auto _ : state) {
    const double before = HeapInUseMb();
    absl::StatusOr<qprep::ir::Graph> g = qprep::ir::ReadQg(file, nullptr);
    if (!g.ok() || g->num_nodes() != n) {
      state.SkipWithError("read failed");
      return;
    }
    graph_mb = HeapInUseMb() - before;
    benchmark::DoNotOptimize(g->num_edges());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * file->text().size()));
  state.counters["nodes_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["graph_MB"] = graph_mb;
  state.counters["text_MB"] = static_cast<double>(file->text().size()) / 1048576.0;
  state.counters["peak_rss_MB"] = PeakRssMb();
}

void BM_PrintQg(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  absl::StatusOr<qprep::ir::Graph> g = qprep::ir::ReadQg(Text(n), nullptr);
  if (!g.ok()) {
    state.SkipWithError("read failed");
    return;
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = qprep::ir::PrintQg(*g);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["nodes_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_rss_MB"] = PeakRssMb();
}

BENCHMARK(BM_ReadQg)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_PrintQg)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
