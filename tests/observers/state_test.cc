// Verifies observer state: serialize / load round trips exactly, merging shard states equals one
// pass (exactly for min/max and per-channel observers; within the documented bounds for moving
// averages and histograms), and bad states or mismatched specs are errors.
#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/histogram.h"
#include "backends/cpu/observer.h"
#include "common/observer_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace qprep::observers {
namespace {

using ::testing::HasSubstr;

struct Batch {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

std::vector<Batch> Batches(int count, std::vector<int64_t> shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Batch> out;
  for (int b = 0; b < count; ++b) {
    std::student_t_distribution<float> t(3.0f);
    Batch batch{shape, {}};
    size_t n = 1;
    for (int64_t d : shape) n *= d;
    batch.data.resize(n);
    for (float& f : batch.data) f = t(rng) * (1.0f + 0.5f * b) + 0.2f * b;
    out.push_back(std::move(batch));
  }
  return out;
}

std::unique_ptr<Observer> Make(const std::string& text) {
  auto spec = ParseObserverSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  auto o = MakeObserver(*spec);
  EXPECT_TRUE(o.ok()) << o.status();
  return std::move(*o);
}

std::unique_ptr<Observer> Feed(const std::string& spec, const std::vector<Batch>& batches,
                               size_t begin, size_t end) {
  auto o = Make(spec);
  for (size_t i = begin; i < end; ++i) {
    EXPECT_TRUE(o->Observe(batches[i].data.data(), batches[i].shape).ok());
  }
  return o;
}

// Shards [0, k) and [k, n) observed apart, serialized to text, loaded back, merged.
std::unique_ptr<Observer> MergedShards(const std::string& spec, const std::vector<Batch>& batches,
                                       size_t k) {
  auto a = Feed(spec, batches, 0, k);
  auto b = Feed(spec, batches, k, batches.size());
  auto a2 = LoadObserver(a->SerializeState());
  auto b2 = LoadObserver(b->SerializeState());
  EXPECT_TRUE(a2.ok()) << a2.status();
  EXPECT_TRUE(b2.ok()) << b2.status();
  EXPECT_TRUE((*a2)->Merge(**b2).ok());
  return std::move(*a2);
}

TEST(ObserverState, RoundTripIsExactForEveryClass) {
  const auto batches = Batches(3, {4, 6, 5}, 1);
  for (const char* spec :
       {"MinMaxObserver()", "MovingAverageMinMaxObserver()", "PerChannelMinMaxObserver(ch_axis=1)",
        "MovingAveragePerChannelMinMaxObserver(ch_axis=2)", "HistogramObserver()",
        "FixedQParamsObserver(scale=0.00390625, zero_point=0)", "PlaceholderObserver()",
        "NoopObserver()", "ReuseInputObserver()", "FakeQuantize()",
        "FusedMovingAvgObsFakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, "
        "quant_min=-128, quant_max=127, dtype=qint8, qscheme=per_channel_symmetric)"}) {
    SCOPED_TRACE(spec);
    auto o = Feed(spec, batches, 0, batches.size());
    const std::string text = o->SerializeState();
    auto back = LoadObserver(text);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ((*back)->SerializeState(), text);
    auto q1 = o->CalculateQParams();
    auto q2 = (*back)->CalculateQParams();
    ASSERT_EQ(q1.ok(), q2.ok());
    if (q1.ok()) {
      EXPECT_EQ(q1->scale, q2->scale);
      EXPECT_EQ(q1->zero_point, q2->zero_point);
    }
  }
}

TEST(ObserverState, MergeOfShardsEqualsOnePassExactly) {
  const auto batches = Batches(5, {3, 4, 7}, 2);
  for (const char* spec :
       {"MinMaxObserver()", "MinMaxObserver(dtype=qint8, qscheme=per_tensor_symmetric)",
        "PerChannelMinMaxObserver(ch_axis=0)", "PerChannelMinMaxObserver(ch_axis=-1)",
        "PerChannelMinMaxObserver(ch_axis=1, qscheme=per_channel_affine_float_qparams)"}) {
    SCOPED_TRACE(spec);
    auto one = Feed(spec, batches, 0, batches.size());
    for (size_t k = 0; k <= batches.size(); ++k) {
      auto merged = MergedShards(spec, batches, k);
      EXPECT_EQ(merged->min_val(), one->min_val()) << "k=" << k;
      EXPECT_EQ(merged->max_val(), one->max_val()) << "k=" << k;
      auto q1 = one->CalculateQParams();
      auto q2 = merged->CalculateQParams();
      ASSERT_TRUE(q1.ok() && q2.ok());
      EXPECT_EQ(q1->scale, q2->scale);
      EXPECT_EQ(q1->zero_point, q2->zero_point);
      EXPECT_EQ(q1->zero_point_float, q2->zero_point_float);
    }
  }
}

// Moving averages are order dependent; the merged state (batch-weighted mean of the shard
// averages) and the one-pass state both lie between the smallest and largest batch statistic.
TEST(ObserverState, MovingAverageMergeStaysWithinTheBatchStatistics) {
  const auto batches = Batches(6, {50}, 3);
  float lo_min = INFINITY, hi_min = -INFINITY, lo_max = INFINITY, hi_max = -INFINITY;
  for (const Batch& b : batches) {
    auto [mn, mx] = std::minmax_element(b.data.begin(), b.data.end());
    lo_min = std::min(lo_min, *mn);
    hi_min = std::max(hi_min, *mn);
    lo_max = std::min(lo_max, *mx);
    hi_max = std::max(hi_max, *mx);
  }
  for (size_t k = 1; k < batches.size(); ++k) {
    auto merged = MergedShards("MovingAverageMinMaxObserver(averaging_constant=0.3)", batches, k);
    EXPECT_GE(merged->min_val()[0], lo_min);
    EXPECT_LE(merged->min_val()[0], hi_min);
    EXPECT_GE(merged->max_val()[0], lo_max);
    EXPECT_LE(merged->max_val()[0], hi_max);
  }
}

// Histogram merge: the mass is conserved, and at every edge t of the merged grid the merged
// CDF lies between the data's CDF at t - w and at t + w, w the widest source bin (shards that
// each saw one batch hold exact histc counts).
TEST(ObserverState, HistogramMergeConservesMassWithinOneSourceBin) {
  const auto batches = Batches(2, {4000}, 4);
  auto a = Feed("HistogramObserver(bins=256)", batches, 0, 1);
  auto b = Feed("HistogramObserver(bins=256)", batches, 1, 2);
  const float wa = (a->max_val()[0] - a->min_val()[0]) / 256;
  const float wb = (b->max_val()[0] - b->min_val()[0]) / 256;
  ASSERT_TRUE(a->Merge(*b).ok());
  const nlohmann::json state = a->StateToJson();
  auto loaded = LoadObserver(state);
  ASSERT_TRUE(loaded.ok());
  std::vector<float> all;
  for (const Batch& bt : batches) all.insert(all.end(), bt.data.begin(), bt.data.end());
  std::sort(all.begin(), all.end());
  const float lo = a->min_val()[0], hi = a->max_val()[0];
  EXPECT_EQ(lo, all.front());
  EXPECT_GE(hi, all.back());
  std::vector<float> hist;
  for (const auto& bits : state["histogram"]) {
    uint32_t u = bits.get<uint32_t>();
    float f;
    std::memcpy(&f, &u, 4);
    hist.push_back(f);
  }
  double total = 0;
  for (float h : hist) total += h;
  EXPECT_NEAR(total, static_cast<double>(all.size()), 1e-3);
  const double w = std::max(wa, wb) * 1.0001;
  const double dw = (static_cast<double>(hi) - lo) / 256;
  double cdf = 0;
  for (int k = 0; k < 256; ++k) {
    cdf += hist[k];
    const double t = lo + (k + 1) * dw;
    const auto below = [&](double x) {
      return static_cast<double>(std::upper_bound(all.begin(), all.end(), x) - all.begin());
    };
    EXPECT_GE(cdf + 1e-3, below(t - w)) << "edge " << k;
    EXPECT_LE(cdf - 1e-3, below(t + w)) << "edge " << k;
  }
}

TEST(ObserverState, MergeWithEmptyIsIdentity) {
  const auto batches = Batches(2, {3, 9}, 5);
  for (const char* spec : {"MinMaxObserver()", "PerChannelMinMaxObserver()", "HistogramObserver()",
                           "MovingAverageMinMaxObserver()"}) {
    auto full = Feed(spec, batches, 0, 2);
    const std::string before = full->SerializeState();
    auto empty = Make(spec);
    ASSERT_TRUE(full->Merge(*empty).ok());
    EXPECT_EQ(full->SerializeState(), before) << spec;
    ASSERT_TRUE(empty->Merge(*full).ok());
    EXPECT_EQ(empty->min_val(), full->min_val()) << spec;
  }
}

TEST(ObserverState, MismatchedSpecsAndBadStatesAreErrors) {
  auto a = Make("MinMaxObserver()");
  auto b = Make("MinMaxObserver(reduce_range=true)");
  EXPECT_THAT(std::string(a->Merge(*b).message()), HasSubstr("different specs"));
  EXPECT_THAT(std::string(a->LoadState(b->SerializeState()).message()),
              HasSubstr("observer state is for"));
  EXPECT_FALSE(a->LoadState("{not json").ok());
  nlohmann::json st = a->StateToJson();
  st["version"] = 99;
  EXPECT_THAT(std::string(a->LoadStateJson(st).message()), HasSubstr("unsupported version"));
  st = a->StateToJson();
  st.erase("min_val");
  EXPECT_THAT(std::string(a->LoadStateJson(st).message()), HasSubstr("min_val"));
  auto h = Make("HistogramObserver()");
  nlohmann::json hs = h->StateToJson();
  hs["histogram"] = nlohmann::json::array({1u, 2u, 3u});
  EXPECT_THAT(std::string(h->LoadStateJson(hs).message()), HasSubstr("bins"));
  // Fields of the wrong JSON type are errors, not exceptions (state_fuzz found "format": 557669
  // aborting the process; the input is in tests/calibrate/fuzz/corpus/state/).
  for (const char* field : {"format", "spec", "min_val", "batches"}) {
    nlohmann::json bad = a->StateToJson();
    bad[field] = nlohmann::json::array({"x"});
    absl::Status s = a->LoadStateJson(bad);
    EXPECT_FALSE(s.ok()) << field;
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
  }
  // A floating-point number where an integer is read was undefined behaviour in the conversion
  // (state_fuzz); states hold no floating-point numbers at all.
  nlohmann::json huge = a->StateToJson();
  huge["batches"] = 5.55556e27;
  EXPECT_THAT(std::string(a->LoadStateJson(huge).message()), HasSubstr("floating-point"));
  // A histogram state must be one forward can leave: a NaN max_val (state_fuzz: merging it cast
  // a NaN to int64) or an infinite count is refused.
  std::vector<float> hx = {1.0f, 2.0f, 3.0f};
  ASSERT_TRUE(h->Observe(hx.data(), {3}).ok());
  hs = h->StateToJson();
  hs["max_val"] = 0x7fc00000u;  // NaN
  EXPECT_THAT(std::string(h->LoadStateJson(hs).message()), HasSubstr("min_val / max_val"));
  hs = h->StateToJson();
  hs["histogram"][0] = 0x7f800000u;  // +inf
  EXPECT_THAT(std::string(h->LoadStateJson(hs).message()), HasSubstr("counts must be finite"));
  hs = h->StateToJson();
  hs["histogram"] = nlohmann::json::array({"1", "2"});
  EXPECT_EQ(h->LoadStateJson(hs).code(), absl::StatusCode::kInvalidArgument);
  const std::string format_is_a_number = R"j({"spec": "MinMaxObserver()", "format": 7})j";
  EXPECT_EQ(LoadObserver(format_is_a_number).status().code(), absl::StatusCode::kInvalidArgument);
  auto pc = Make("PerChannelMinMaxObserver()");
  auto pc2 = Make("PerChannelMinMaxObserver()");
  std::vector<float> x(6, 1.0f), y(8, 2.0f);
  ASSERT_TRUE(pc->Observe(x.data(), {3, 2}).ok());
  ASSERT_TRUE(pc2->Observe(y.data(), {4, 2}).ok());
  EXPECT_THAT(std::string(pc->Merge(*pc2).message()), HasSubstr("channels"));
}

}  // namespace
}  // namespace qprep::observers
