// Verifies observer behaviour beyond the golden corpus: markers, empty tensors, thread-count
// independence on large tensors, shape errors, fake-quant toggles, and the Histogram search
// entry points.
#include "backends/cpu/observer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/histogram.h"
#include "backends/cpu/kernels.h"
#include "common/observer_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qprep::observers {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Observer> Make(const std::string& text, ObserverOptions options = {}) {
  auto spec = ParseObserverSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  auto o = MakeObserver(*spec, options);
  EXPECT_TRUE(o.ok()) << o.status();
  return std::move(*o);
}

std::vector<float> Normal(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.5f, 2.0f);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

TEST(Observer, MarkersCollectNothingAndHaveNoQParams) {
  for (const char* spec :
       {"PlaceholderObserver(dtype=float16)", "NoopObserver()", "ReuseInputObserver()"}) {
    auto o = Make(spec);
    EXPECT_EQ(o->kind(), ObserverKind::kMarker);
    std::vector<float> x = {1, 2, 3};
    EXPECT_TRUE(o->Observe(x.data(), {3}).ok());
    auto q = o->CalculateQParams();
    ASSERT_FALSE(q.ok());
    EXPECT_THAT(std::string(q.status().message()), HasSubstr("should not be called"));
  }
}

TEST(Observer, EmptyTensorsAreSkippedAndGiveDefaults) {
  for (const char* spec : {"MinMaxObserver()", "MovingAverageMinMaxObserver()",
                           "PerChannelMinMaxObserver()", "HistogramObserver()"}) {
    auto o = Make(spec);
    EXPECT_TRUE(o->Observe(nullptr, {0, 4}).ok()) << spec;
    EXPECT_FALSE(o->initialized()) << spec;
    auto q = o->CalculateQParams();
    ASSERT_TRUE(q.ok()) << spec;
    EXPECT_TRUE(q->is_default);
    EXPECT_EQ(q->scale, std::vector<float>{1.0f});
    EXPECT_EQ(q->zero_point, std::vector<int64_t>{0});
  }
}

TEST(Observer, ResultsDoNotDependOnTheThreadCount) {
  const std::vector<int64_t> shape = {8, 16, 24, 24};
  const auto x = Normal(8 * 16 * 24 * 24, 7);
  const auto y = Normal(8 * 16 * 24 * 24, 8);
  for (const char* spec :
       {"MinMaxObserver()", "PerChannelMinMaxObserver(ch_axis=0)",
        "PerChannelMinMaxObserver(ch_axis=1)", "PerChannelMinMaxObserver(ch_axis=3)",
        "MovingAveragePerChannelMinMaxObserver(ch_axis=1)", "HistogramObserver()", "FakeQuantize()",
        "FusedMovingAvgObsFakeQuantize(observer="
        "MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127, "
        "dtype=qint8, qscheme=per_channel_symmetric, ch_axis=0)"}) {
    SCOPED_TRACE(spec);
    std::string states[2];
    std::vector<float> outs[2];
    for (int t = 0; t < 2; ++t) {
      ObserverOptions options;
      options.num_threads = t + 1;
      options.min_elements_per_thread = 1000;
      auto o = Make(spec, options);
      if (o->kind() == ObserverKind::kFakeQuantize) {
        outs[t].resize(x.size());
        ASSERT_TRUE(o->Forward(x.data(), shape, outs[t].data()).ok());
        ASSERT_TRUE(o->Forward(y.data(), shape, outs[t].data()).ok());
      } else {
        ASSERT_TRUE(o->Observe(x.data(), shape).ok());
        ASSERT_TRUE(o->Observe(y.data(), shape).ok());
      }
      states[t] = o->SerializeState();
    }
    EXPECT_EQ(states[0], states[1]);
    EXPECT_EQ(outs[0], outs[1]);
  }
}

TEST(Observer, HugeTensorMinMaxIsExact) {
  // 2^24 + 3 elements: past float32's exact integer range, split across threads.
  const size_t n = (size_t{1} << 24) + 3;
  std::vector<float> x(n, 0.25f);
  x[12345] = -7.5f;
  x[n - 1] = 9.0f;
  ObserverOptions options;
  options.num_threads = 2;
  auto o = Make("MinMaxObserver()", options);
  ASSERT_TRUE(o->Observe(x.data(), {static_cast<int64_t>(n)}).ok());
  EXPECT_EQ(o->min_val()[0], -7.5f);
  EXPECT_EQ(o->max_val()[0], 9.0f);
}

TEST(Observer, DenormalsAndSingleElements) {
  auto o = Make("MinMaxObserver()");
  std::vector<float> x = {1e-40f, 2e-40f};
  ASSERT_TRUE(o->Observe(x.data(), {2}).ok());
  auto q = o->CalculateQParams();
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->scale[0], std::numeric_limits<float>::epsilon());  // clamped to eps
  EXPECT_EQ(q->zero_point[0], 0);
  auto s = Make("MinMaxObserver()");
  float one = 2.0f;
  ASSERT_TRUE(s->Observe(&one, {}).ok());  // rank-0 tensor: one element
  EXPECT_EQ(s->min_val()[0], 2.0f);
  EXPECT_EQ(s->CalculateQParams()->scale[0], 2.0f / 255.0f);
}

TEST(Observer, ShapeErrors) {
  std::vector<float> x(12, 1.0f);
  auto pc = Make("PerChannelMinMaxObserver(ch_axis=3)");
  EXPECT_THAT(std::string(pc->Observe(x.data(), {3, 4}).message()), HasSubstr("out of range"));
  auto pc1 = Make("PerChannelMinMaxObserver(ch_axis=0)");
  EXPECT_THAT(std::string(pc1->Observe(x.data(), {12}).message()), HasSubstr("rank >= 2"));
  auto pc2 = Make("PerChannelMinMaxObserver(ch_axis=1)");
  ASSERT_TRUE(pc2->Observe(x.data(), {3, 4}).ok());
  EXPECT_THAT(std::string(pc2->Observe(x.data(), {4, 3}).message()), HasSubstr("must match"));
  auto mm = Make("MinMaxObserver()");
  EXPECT_FALSE(mm->Observe(x.data(), {-1, 3}).ok());
  std::vector<float> out(12);
  EXPECT_EQ(mm->Forward(x.data(), {12}, out.data()).code(), absl::StatusCode::kUnimplemented);
}

TEST(Observer, NonFiniteInputs) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1.0f, inf, -2.0f};
  auto mm = Make("MinMaxObserver()");
  ASSERT_TRUE(mm->Observe(x.data(), {3}).ok());
  EXPECT_EQ(mm->CalculateQParams()->scale[0], inf);  // as PyTorch: scale inf, zero point 0
  std::vector<float> y = {1.0f, std::nanf(""), 3.0f};
  auto mn = Make("MinMaxObserver()");
  ASSERT_TRUE(mn->Observe(y.data(), {3}).ok());
  EXPECT_FALSE(mn->CalculateQParams().ok());  // PyTorch: AssertionError min nan ...
  auto h = Make("HistogramObserver()");
  EXPECT_FALSE(h->Observe(y.data(), {3}).ok());
  EXPECT_FALSE(h->initialized());  // the failed batch left no state
}

TEST(Observer, FakeQuantizeToggles) {
  auto fq = Make("FakeQuantize()");
  std::vector<float> x = {-1.0f, 0.3f, 2.0f, 5.0f};
  std::vector<float> out(4);
  ASSERT_TRUE(fq->Forward(x.data(), {4}, out.data()).ok());
  const auto q1 = *fq->CalculateQParams();
  fq->EnableFakeQuant(false);
  ASSERT_TRUE(fq->Forward(x.data(), {4}, out.data()).ok());
  EXPECT_EQ(out, x);  // identity while fake-quant is off
  fq->EnableFakeQuant(true);
  fq->EnableObserver(false);
  std::vector<float> big = {-100.0f, 100.0f, 0.0f, 1.0f};
  ASSERT_TRUE(fq->Forward(big.data(), {4}, out.data()).ok());
  EXPECT_EQ(fq->CalculateQParams()->scale, q1.scale);       // the observer did not move
  EXPECT_EQ(out[0], (0 - q1.zero_point[0]) * q1.scale[0]);  // clamped at quant_min
}

TEST(Observer, FakeQuantizeTensorMatchesTheFormula) {
  QParams q;
  q.scale = {0.5f};
  q.zero_point = {3};
  q.quant_min = 0;
  q.quant_max = 15;
  std::vector<float> x = {-10.0f, -1.25f, 0.25f, 0.75f, 100.0f, std::nanf("")};
  std::vector<float> out(x.size());
  ASSERT_TRUE(FakeQuantizeTensor(x.data(), {6}, q, out.data()).ok());
  // Round half to even: -1.25/0.5 = -2.5 -> -2, 0.25/0.5 = 0.5 -> 0, 0.75/0.5 = 1.5 -> 2;
  // NaN lands on quant_min (x86's int64 conversion of NaN, as in PyTorch).
  EXPECT_EQ(out, (std::vector<float>{-1.5f, -1.0f, 0.0f, 1.0f, 6.0f, -1.5f}));
}

TEST(Histogram, SearchOnAPointMassKeepsTheValue) {
  HistogramState h;
  h.bins = 16;
  h.histogram.assign(16, 0.0f);
  std::vector<float> x(10, 3.0f);
  ASSERT_TRUE(HistogramObserve(&h, x.data(), x.size(), 3.0f, 3.0f, {}).ok());
  EXPECT_EQ(h.min_val, 3.0f);
  EXPECT_EQ(h.histogram[8], 10.0f);  // histc widens [3, 3] to [2, 4]
  auto [lo, hi] = NonLinearParamSearch(h, 256);
  EXPECT_EQ(lo, 3.0f);
  EXPECT_EQ(hi, 3.0f);
}

// PyTorch's search stops at the first error increase, so one far outlier is kept (PyTorch 1.13
// with float bounds gives the same range, about [-8.56, 499.75], on this kind of data).
TEST(Histogram, SearchStopsAtTheFirstIncreaseLikePyTorch) {
  HistogramState h;
  h.histogram.assign(h.bins, 0.0f);
  auto x = Normal(20000, 3);
  x[0] = 500.0f;  // one far outlier
  float mn = *std::min_element(x.begin(), x.end()), mx = 500.0f;
  ASSERT_TRUE(HistogramObserve(&h, x.data(), x.size(), mn, mx, {}).ok());
  auto [lo, hi] = NonLinearParamSearch(h, 256);
  EXPECT_GT(hi, 400.0f);
  EXPECT_LE(hi, 500.0f);
  EXPECT_LE(lo, 0.0f);
}


// The speculative single pass (HistogramObserveBatch) against the two-pass definition
// (torch.aminmax, then HistogramObserve) on batch sequences that keep, touch, widen and shrink
// the running range, on NaN / inf batches, for 1 and 2 threads: the states must be bit-identical,
// and the pass counts must show which path ran.
HistogramState ReferenceStep(HistogramState h, const std::vector<float>& x, absl::Status* status) {
  float mn = std::numeric_limits<float>::infinity(), mx = -mn;
  kernels::reference::MinMax(x.data(), x.size(), &mn, &mx);
  *status = HistogramObserve(&h, x.data(), x.size(), mn, mx, {});
  return h;
}

// Bit-identical, except that a zero min / max may be either zero: which of +0 / -0 a vectorized
// min / max returns depends on the lanes (kernels.h, as torch.aminmax); the histogram cannot
// depend on it (histc over [+0, hi] and [-0, hi] bins alike).
bool SameStatistic(float a, float b) {
  return std::memcmp(&a, &b, 4) == 0 || (a == 0.0f && b == 0.0f);
}

void ExpectSameState(const HistogramState& a, const HistogramState& b, const std::string& what) {
  EXPECT_TRUE(SameStatistic(a.min_val, b.min_val)) << what << ": " << a.min_val << " vs "
                                                   << b.min_val;
  EXPECT_TRUE(SameStatistic(a.max_val, b.max_val)) << what << ": " << a.max_val << " vs "
                                                   << b.max_val;
  ASSERT_EQ(a.histogram.size(), b.histogram.size()) << what;
  EXPECT_EQ(std::memcmp(a.histogram.data(), b.histogram.data(), 4 * a.histogram.size()), 0)
      << what;
}

TEST(Histogram, SpeculativePassEqualsTwoPassesOnEveryKindOfBatch) {
  struct Batch {
    const char* what;
    std::vector<float> x;
    int passes;  // expected passes over the data (0: the batch is an error)
    bool held;
  };
  const float inf = std::numeric_limits<float>::infinity();
  auto base = Normal(300000, 11);  // > min_elements_per_thread below: both threads work
  const float bmin = *std::min_element(base.begin(), base.end());
  const float bmax = *std::max_element(base.begin(), base.end());
  auto inside = Normal(300000, 12);
  for (float& f : inside) f = std::clamp(f, bmin, bmax);
  inside[17] = bmin;  // touches both bounds: still inside
  inside[99] = bmax;
  auto shrunk = Normal(70000, 13);
  for (float& f : shrunk) f *= 0.1f;
  auto wider_hi = Normal(300000, 14);
  wider_hi[5] = bmax * 3.0f;
  auto wider_lo = Normal(300000, 15);
  wider_lo[6] = bmin - 0.001f;
  auto with_nan = inside;
  with_nan[1234] = std::nanf("");
  auto with_inf = inside;
  with_inf[4321] = inf;
  auto after = Normal(300000, 16);
  // Longer than the speculative pass's chunks (2^16 growing to 2^20): widened in the first chunk (the pass
  // stops binning there) or in the last one.
  auto long_early = Normal((size_t{1} << 21) + 12345, 17);
  long_early[10] = bmax * 5.0f;
  auto long_late = Normal((size_t{1} << 21) + 12345, 18);
  long_late.back() = bmin * 7.0f;
  auto long_inside = long_early;
  long_inside[10] = 0.0f;
  std::vector<Batch> batches = {
      {"first", base, 2, false},          {"inside", inside, 1, true},
      {"shrunk", shrunk, 1, true},        {"wider_hi", wider_hi, 2, false},
      {"inside again", inside, 1, true},  {"wider_lo", wider_lo, 2, false},
      {"nan", with_nan, 0, false},        {"inf", with_inf, 0, false},
      {"after errors", after, 1, true},   {"long, widened early", long_early, 2, false},
      {"long, inside", long_inside, 1, true}, {"long, widened late", long_late, 2, false},
      {"long, inside again", long_inside, 1, true},
  };
  for (int threads : {1, 2}) {
    ObserverOptions options;
    options.num_threads = threads;
    options.min_elements_per_thread = 1000;
    HistogramState got, want;
    got.histogram.assign(got.bins, 0.0f);
    want.histogram.assign(want.bins, 0.0f);
    for (const Batch& b : batches) {
      const std::string what = std::string(b.what) + ", threads " + std::to_string(threads);
      HistogramPassStats stats;
      absl::Status s = HistogramObserveBatch(&got, b.x.data(), b.x.size(), options, &stats);
      absl::Status ws;
      HistogramState next = ReferenceStep(want, b.x, &ws);
      EXPECT_EQ(s.ok(), ws.ok()) << what << ": " << s << " / " << ws;
      if (ws.ok()) want = next;
      ExpectSameState(got, want, what);
      if (b.passes > 0) {
        EXPECT_EQ(stats.passes, b.passes) << what;
        EXPECT_EQ(stats.speculation_held, b.held) << what;
      } else {
        EXPECT_FALSE(s.ok()) << what;
      }
    }
  }
}

// ReLU-like batches: the running minimum is a zero, so the speculative pass tracks min / max
// (a batch's -0 against the state's +0 changes the plan's bits); a widening batch and a batch
// with -0 entries in between. 1 and 2 threads, against the two-pass definition.
TEST(Histogram, SpeculativePassWithAZeroBound) {
  auto relu = [](std::vector<float> v) {
    for (float& f : v) f = f > 0.0f ? f : 0.0f;
    return v;
  };
  auto a = relu(Normal(400000, 21));
  auto b = relu(Normal(400000, 22));
  for (float& f : b) f = std::min(f, 3.0f);
  auto with_neg_zero = b;
  for (size_t i = 0; i < with_neg_zero.size(); i += 1000) with_neg_zero[i] = -0.0f;
  auto wider = relu(Normal(400000, 23));
  wider[77] = 40.0f;
  for (int threads : {1, 2}) {
    ObserverOptions options;
    options.num_threads = threads;
    options.min_elements_per_thread = 1000;
    HistogramState got, want;
    got.histogram.assign(got.bins, 0.0f);
    want.histogram.assign(want.bins, 0.0f);
    for (const auto* x : {&a, &b, &with_neg_zero, &b, &wider, &a}) {
      HistogramPassStats stats;
      ASSERT_TRUE(HistogramObserveBatch(&got, x->data(), x->size(), options, &stats).ok());
      absl::Status ws;
      want = ReferenceStep(want, *x, &ws);
      ASSERT_TRUE(ws.ok());
      ExpectSameState(got, want, "relu, threads " + std::to_string(threads));
    }
  }
}

// A range whose minimum is -0 and a batch whose minimum is +0: they compare equal, but the new
// state must hold the combined minimum the two-pass path computes (+0, from torch.min's order),
// not the state's own -0 the speculation planned with.
TEST(Histogram, SpeculationComparesPlansBitForBit) {
  HistogramState got, want;
  got.histogram.assign(got.bins, 0.0f);
  want.histogram.assign(want.bins, 0.0f);
  std::vector<float> first = {-0.0f, 1.0f, 2.0f, 0.5f};
  std::vector<float> second = {0.0f, 1.0f, 2.0f, 0.25f};
  for (const auto* x : {&first, &second, &first}) {
    HistogramPassStats stats;
    ASSERT_TRUE(HistogramObserveBatch(&got, x->data(), x->size(), {}, &stats).ok());
    absl::Status ws;
    want = ReferenceStep(want, *x, &ws);
    ASSERT_TRUE(ws.ok());
    ExpectSameState(got, want, "signed zero");
  }
}

}  // namespace
}  // namespace qprep::observers
