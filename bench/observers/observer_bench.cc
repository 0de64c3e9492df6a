// Observer kernel benchmarks (issue 5 / 6): every observer kernel on a 32x64x56x56 activation and
// a 512x512x3x3 weight, each beside the plain read-bandwidth kernels (bandwidth.h) of the same
// run, with bytes_per_second counters. Names are "<Kernel>/<act|weight>"; compare_torch.py uses
// the same names for PyTorch's observers, and run_compare.sh joins the two.
//
//   build-*/bin/observer_bench --benchmark_format=json   (docs/benchmarks-observers.md)
//
// Single-threaded (ObserverOptions::num_threads = 1, like torch.set_num_threads(1)) except the
// "<Kernel>_2t/<shape>" rows. Single-thread times (and so bytes_per_second) are CPU time, not
// wall time: the machine is shared by several processes, and wall time measures their load more
// than these loops. The _2t rows are wall time (two threads' CPU time adds up), each compared
// with BandwidthSum_2t, the same read split over the same two threads.
// HistogramForward is the steady state (the batch stays inside the running range: one pass);
// HistogramForwardGrow the case where every batch widens the range (two passes).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/calibrate/calibrators_extra.h"
#include "backends/cpu/kernels.h"
#include "backends/cpu/observer.h"
#include "bench/observers/bandwidth.h"
#include "common/observer_spec.h"
#include "hwy/aligned_allocator.h"

namespace qprep::bench {
namespace {

namespace obs = ::qprep::observers;

struct Shape {
  const char* name;
  std::vector<int64_t> dims;
  size_t numel() const {
    size_t n = 1;
    for (int64_t d : dims) n *= static_cast<size_t>(d);
    return n;
  }
  // [outer, channels, inner] for a channel axis.
  void Split(int axis, size_t* outer, size_t* channels, size_t* inner) const {
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < axis; ++i) *outer *= dims[i];
    *channels = dims[axis];
    for (size_t i = axis + 1; i < dims.size(); ++i) *inner *= dims[i];
  }
};

const Shape kShapes[] = {{"act", {32, 64, 56, 56}}, {"weight", {512, 512, 3, 3}}};

// Normal data, generated once per shape (the same seed compare_torch.py cannot share, but the
// kernels' speed does not depend on the values).
const float* Data(const Shape& s) {
  static std::vector<hwy::AlignedFreeUniquePtr<float[]>> buffers;
  for (size_t i = 0; i < std::size(kShapes); ++i) {
    if (&kShapes[i] != &s) continue;
    if (buffers.size() < std::size(kShapes)) buffers.resize(std::size(kShapes));
    if (!buffers[i]) {
      buffers[i] = hwy::AllocateAligned<float>(s.numel());
      std::mt19937 rng(1234);
      std::normal_distribution<float> dist;
      for (size_t k = 0; k < s.numel(); ++k) buffers[i][k] = dist(rng);
    }
    return buffers[i].get();
  }
  return nullptr;
}

void SetBytes(benchmark::State& state, size_t bytes_per_iteration) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes_per_iteration));
}

std::unique_ptr<obs::Observer> MakeOrDie(const std::string& text) {
  obs::RegisterExtraCalibrators();
  auto spec = ParseObserverSpec(text);
  if (!spec.ok()) {
    std::fprintf(stderr, "bad spec %s: %s\n", text.c_str(), spec.status().ToString().c_str());
    std::abort();
  }
  auto o = obs::MakeObserver(*spec);
  if (!o.ok()) {
    std::fprintf(stderr, "cannot build %s: %s\n", text.c_str(), o.status().ToString().c_str());
    std::abort();
  }
  return std::move(*o);
}

// ---- the limit -------------------------------------------------------------------------------

void BM_BandwidthSum(benchmark::State& state, const Shape* s) {
  const float* p = Data(*s);
  for (auto _ : state) benchmark::DoNotOptimize(ReadBandwidthSum(p, s->numel()));
  SetBytes(state, s->numel() * sizeof(float));
  state.SetLabel(BandwidthTargetName());
}

void BM_BandwidthSumPrefetch(benchmark::State& state, const Shape* s) {
  const float* p = Data(*s);
  for (auto _ : state) benchmark::DoNotOptimize(ReadBandwidthSumPrefetch(p, s->numel()));
  SetBytes(state, s->numel() * sizeof(float));
}

// Wall-time rows (UseRealTime) for the two-thread comparison.
void BM_BandwidthSumThreaded(benchmark::State& state, const Shape* s, int threads) {
  const float* p = Data(*s);
  for (auto _ : state) benchmark::DoNotOptimize(ReadBandwidthSumThreaded(p, s->numel(), threads));
  SetBytes(state, s->numel() * sizeof(float));
}

void BM_BandwidthMinMax(benchmark::State& state, const Shape* s) {
  const float* p = Data(*s);
  float mn, mx;
  for (auto _ : state) {
    ReadBandwidthMinMax(p, s->numel(), &mn, &mx);
    benchmark::DoNotOptimize(mn);
    benchmark::DoNotOptimize(mx);
  }
  SetBytes(state, s->numel() * sizeof(float));
}

// ---- observers (what a user calls) ----------------------------------------------------------

// Observer::Observe on the same tensor every iteration (the steady state of calibration).
void BM_Observe(benchmark::State& state, const Shape* s, std::string spec, int threads = 1) {
  const float* p = Data(*s);
  std::unique_ptr<obs::Observer> o = MakeOrDie(spec);
  o->set_num_threads(threads);
  if (!o->Observe(p, s->dims).ok()) std::abort();
  for (auto _ : state) {
    benchmark::DoNotOptimize(o->Observe(p, s->dims).ok());
  }
  SetBytes(state, s->numel() * sizeof(float));
}

// HistogramObserver forward when every batch widens the range (the speculative pass fails and
// the batch is binned again): before each timed call the state is reset (untimed) to one that saw
// the same tensor scaled by 1/2, so the call widens both ends of the range.
void BM_HistogramGrow(benchmark::State& state, const Shape* s, int threads = 1) {
  const float* p = Data(*s);
  std::vector<float> half(p, p + s->numel());
  for (float& f : half) f *= 0.5f;
  std::unique_ptr<obs::Observer> o = MakeOrDie("HistogramObserver()");
  o->set_num_threads(threads);
  if (!o->Observe(half.data(), s->dims).ok()) std::abort();
  const std::string narrow = o->SerializeState();
  for (auto _ : state) {
    state.PauseTiming();
    if (!o->LoadState(narrow).ok()) std::abort();
    state.ResumeTiming();
    benchmark::DoNotOptimize(o->Observe(p, s->dims).ok());
  }
  SetBytes(state, s->numel() * sizeof(float));
}

void BM_CalculateQParams(benchmark::State& state, const Shape* s, std::string spec) {
  const float* p = Data(*s);
  std::unique_ptr<obs::Observer> o = MakeOrDie(spec);
  if (!o->Observe(p, s->dims).ok()) std::abort();
  for (auto _ : state) {
    auto qp = o->CalculateQParams();
    benchmark::DoNotOptimize(qp.ok());
  }
}

// Fake-quant forward of the per-tensor / per-channel kernels (reads and writes the tensor).
void BM_FakeQuantPerTensor(benchmark::State& state, const Shape* s) {
  const float* p = Data(*s);
  hwy::AlignedFreeUniquePtr<float[]> out = hwy::AllocateAligned<float>(s->numel());
  for (auto _ : state) {
    obs::kernels::FakeQuantizePerTensor(p, s->numel(), 0.02f, 128, 0, 255, out.get());
    benchmark::ClobberMemory();
  }
  SetBytes(state, s->numel() * sizeof(float));
}

void BM_FakeQuantPerChannel(benchmark::State& state, const Shape* s, int axis) {
  const float* p = Data(*s);
  size_t outer, channels, inner;
  s->Split(axis, &outer, &channels, &inner);
  std::vector<float> scale(channels, 0.02f);
  std::vector<int32_t> zp(channels, 0);
  hwy::AlignedFreeUniquePtr<float[]> out = hwy::AllocateAligned<float>(s->numel());
  for (auto _ : state) {
    obs::kernels::FakeQuantizePerChannel(p, outer, channels, inner, scale.data(), zp.data(), -128,
                                         127, out.get());
    benchmark::ClobberMemory();
  }
  SetBytes(state, s->numel() * sizeof(float));
}

// ---- raw kernels (to separate kernel speed from observer overhead) ---------------------------

void BM_KernelMinMax(benchmark::State& state, const Shape* s) {
  const float* p = Data(*s);
  for (auto _ : state) {
    float mn = INFINITY, mx = -INFINITY;
    obs::kernels::MinMax(p, s->numel(), &mn, &mx);
    benchmark::DoNotOptimize(mn);
    benchmark::DoNotOptimize(mx);
  }
  SetBytes(state, s->numel() * sizeof(float));
}

void BM_KernelPerChannel(benchmark::State& state, const Shape* s, int axis) {
  const float* p = Data(*s);
  size_t outer, channels, inner;
  s->Split(axis, &outer, &channels, &inner);
  std::vector<float> mins(channels), maxs(channels);
  for (auto _ : state) {
    std::fill(mins.begin(), mins.end(), INFINITY);
    std::fill(maxs.begin(), maxs.end(), -INFINITY);
    obs::kernels::PerChannelMinMax(p, outer, channels, inner, mins.data(), maxs.data());
    benchmark::DoNotOptimize(mins.data());
  }
  SetBytes(state, s->numel() * sizeof(float));
}

void BM_KernelHistogram(benchmark::State& state, const Shape* s) {
  const float* p = Data(*s);
  std::vector<uint32_t> counts(2048);
  for (auto _ : state) {
    obs::kernels::HistogramCounts(p, s->numel(), -6.0f, 6.0f, 2048, counts.data());
    benchmark::DoNotOptimize(counts.data());
  }
  SetBytes(state, s->numel() * sizeof(float));
}

// The floor of one counter increment per value (bandwidth.h, ReadAndIncrementBound): the read of
// the tensor plus HistogramCounts' increments at 128 slots of the tensor's own first values
// (2048 bins over its range), without the bin arithmetic. The histogram rows' second limit.
// With read = false ("HistogramIncrements"): the same increments without reading the tensor.
void BM_HistogramBound(benchmark::State& state, const Shape* s, bool read = true) {
  const float* p = Data(*s);
  float lo = p[0], hi = p[0];
  for (size_t i = 0; i < s->numel(); ++i) lo = std::min(lo, p[i]), hi = std::max(hi, p[i]);
  constexpr size_t kStride = 2048 + 2;
  std::vector<int32_t> slots(128);
  for (size_t k = 0; k < slots.size(); ++k) {
    const int64_t b = static_cast<int64_t>((p[k] - lo) / (hi - lo) * 2048.0f);
    slots[k] = static_cast<int32_t>(std::min<int64_t>(b, 2047));
  }
  std::vector<uint16_t> sub(8 * kStride);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        ReadAndIncrementBound(p, s->numel(), slots.data(), sub.data(), kStride, read));
    benchmark::DoNotOptimize(sub.data());
  }
  SetBytes(state, s->numel() * sizeof(float));
}

// The speculative pass's kernel: histc counts plus min / max in one pass.
void BM_KernelHistogramMinMax(benchmark::State& state, const Shape* s) {
  const float* p = Data(*s);
  std::vector<uint32_t> counts(2048);
  for (auto _ : state) {
    float mn = INFINITY, mx = -INFINITY;
    uint64_t outside = 0;
    obs::kernels::HistogramCountsMinMax(p, s->numel(), -6.0f, 6.0f, 2048, counts.data(), &mn, &mx,
                                        &outside);
    benchmark::DoNotOptimize(counts.data());
    benchmark::DoNotOptimize(mn);
  }
  SetBytes(state, s->numel() * sizeof(float));
}

void RegisterAll() {
  for (const Shape& s : kShapes) {
    const std::string n = std::string("/") + s.name;
    auto reg = [&](const std::string& name, auto fn) {
      benchmark::RegisterBenchmark((name + n).c_str(), fn)->Unit(benchmark::kMillisecond);
    };
    const Shape* sp = &s;
    reg("BandwidthSum", [sp](benchmark::State& st) { BM_BandwidthSum(st, sp); });
    reg("BandwidthMinMax", [sp](benchmark::State& st) { BM_BandwidthMinMax(st, sp); });
    reg("BandwidthSumPrefetch", [sp](benchmark::State& st) { BM_BandwidthSumPrefetch(st, sp); });
    reg("MinMax", [sp](benchmark::State& st) { BM_Observe(st, sp, "MinMaxObserver()"); });
    reg("MovingAverageMinMax",
        [sp](benchmark::State& st) { BM_Observe(st, sp, "MovingAverageMinMaxObserver()"); });
    reg("PerChannel_ch0", [sp](benchmark::State& st) {
      BM_Observe(st, sp,
                 "PerChannelMinMaxObserver(ch_axis=0, dtype=qint8, qscheme=per_channel_symmetric)");
    });
    reg("PerChannel_ch1", [sp](benchmark::State& st) {
      BM_Observe(st, sp,
                 "PerChannelMinMaxObserver(ch_axis=1, dtype=qint8, qscheme=per_channel_symmetric)");
    });
    reg("HistogramForward",
        [sp](benchmark::State& st) { BM_Observe(st, sp, "HistogramObserver()"); });
    reg("HistogramForwardGrow", [sp](benchmark::State& st) { BM_HistogramGrow(st, sp); });
    reg("HistogramQParams",
        [sp](benchmark::State& st) { BM_CalculateQParams(st, sp, "HistogramObserver()"); });
    reg("FakeQuantPerTensor", [sp](benchmark::State& st) { BM_FakeQuantPerTensor(st, sp); });
    reg("FakeQuantPerChannel_ch0",
        [sp](benchmark::State& st) { BM_FakeQuantPerChannel(st, sp, 0); });
    reg("FakeQuantPerChannel_ch1",
        [sp](benchmark::State& st) { BM_FakeQuantPerChannel(st, sp, 1); });
    reg("PercentileForward",
        [sp](benchmark::State& st) { BM_Observe(st, sp, "PercentileObserver()"); });
    reg("EntropyQParams",
        [sp](benchmark::State& st) { BM_CalculateQParams(st, sp, "EntropyObserver()"); });
    reg("MSEQParams", [sp](benchmark::State& st) { BM_CalculateQParams(st, sp, "MSEObserver()"); });
    reg("KernelMinMax", [sp](benchmark::State& st) { BM_KernelMinMax(st, sp); });
    reg("KernelPerChannel_ch0", [sp](benchmark::State& st) { BM_KernelPerChannel(st, sp, 0); });
    reg("KernelPerChannel_ch1", [sp](benchmark::State& st) { BM_KernelPerChannel(st, sp, 1); });
    reg("KernelHistogram", [sp](benchmark::State& st) { BM_KernelHistogram(st, sp); });
    reg("KernelHistogramMinMax", [sp](benchmark::State& st) { BM_KernelHistogramMinMax(st, sp); });
    reg("HistogramBound", [sp](benchmark::State& st) { BM_HistogramBound(st, sp); });
    reg("HistogramIncrements", [sp](benchmark::State& st) { BM_HistogramBound(st, sp, false); });
    // Two threads, wall time: each against the two-thread bandwidth row (report.py).
    auto reg2 = [&](const std::string& name, auto fn) {
      benchmark::RegisterBenchmark((name + "_2t" + n).c_str(), fn)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    };
    reg2("BandwidthSum", [sp](benchmark::State& st) { BM_BandwidthSumThreaded(st, sp, 2); });
    reg2("MinMax", [sp](benchmark::State& st) { BM_Observe(st, sp, "MinMaxObserver()", 2); });
    reg2("HistogramForward",
         [sp](benchmark::State& st) { BM_Observe(st, sp, "HistogramObserver()", 2); });
    reg2("HistogramForwardGrow", [sp](benchmark::State& st) { BM_HistogramGrow(st, sp, 2); });
  }
}

}  // namespace
}  // namespace qprep::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  qprep::bench::RegisterAll();
  benchmark::AddCustomContext("observer_kernels_target",
                              qprep::observers::kernels::ChosenTargetName());
  benchmark::AddCustomContext("bandwidth_target", qprep::bench::BandwidthTargetName());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
