// Tests for the Percentile / Entropy / MSE calibrators
// (backends/cpu/calibrate/calibrators_extra.h): every case of the committed golden file (an
// independent numpy implementation plus PyTorch's own calculate_qparams) matches bit for bit; the
// canonical histogram is independent of batch order and splitting, and merging shard states equals
// one pass exactly.
//
// Regenerate the goldens with:
//   /usr/bin/python3 tools/gen_calibrator_goldens.py > tests/calibrate/data/calibrator_goldens.json
#include "backends/cpu/calibrate/calibrators_extra.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

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

float ParseValue(const nlohmann::json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<float>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<float>::infinity();
    if (s == "-inf") return -std::numeric_limits<float>::infinity();
    ADD_FAILURE() << "bad value " << s;
    return 0;
  }
  return static_cast<float>(v.get<double>());
}

nlohmann::json LoadGoldens() {
  std::ifstream in(std::string(QPREP_SOURCE_DIR) + "/tests/calibrate/data/calibrator_goldens.json");
  EXPECT_TRUE(in.good());
  return nlohmann::json::parse(in);
}

std::vector<Batch> Batches(const nlohmann::json& c) {
  std::vector<Batch> out;
  for (const auto& b : c["batches"]) {
    Batch batch;
    batch.shape = b["shape"].get<std::vector<int64_t>>();
    for (const auto& v : b["data"]) batch.data.push_back(ParseValue(v));
    out.push_back(std::move(batch));
  }
  return out;
}

std::unique_ptr<Observer> Make(const std::string& text) {
  RegisterExtraCalibrators();
  auto spec = ParseObserverSpec(text);
  EXPECT_TRUE(spec.ok()) << text << ": " << spec.status();
  auto obs = MakeObserver(*spec);
  EXPECT_TRUE(obs.ok()) << text << ": " << obs.status();
  return std::move(*obs);
}

bool AbsMode(const ObserverSpec& spec) {
  return spec.class_name == "EntropyObserver" || spec.qscheme() == QScheme::kPerTensorSymmetric;
}

uint32_t Bits(float f) { return std::bit_cast<uint32_t>(f); }

// Verifies the histogram, the chosen range and PyTorch's scale / zero point for every golden case.
TEST(CalibratorsExtraTest, MatchesGoldens) {
  nlohmann::json g = LoadGoldens();
  ASSERT_GE(g["cases"].size(), 10u);
  for (const auto& c : g["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::string text = c["spec"].get<std::string>();
    auto spec = ParseObserverSpec(text);
    ASSERT_TRUE(spec.ok()) << spec.status();
    std::vector<Batch> batches = Batches(c);

    Pow2Histogram h(std::get<int64_t>(spec->args.at("bins").v), AbsMode(*spec));
    for (const Batch& b : batches) h.Add(b.data);
    EXPECT_EQ(h.exp(), c["exp"].get<int>());
    EXPECT_EQ(h.lo(), c["lo"].get<int64_t>());
    EXPECT_EQ(h.counts(), c["counts"].get<std::vector<int64_t>>());
    EXPECT_EQ(h.total(), c["total"].get<int64_t>());
    EXPECT_EQ(h.nonfinite(), c["nonfinite"].get<int64_t>());

    std::unique_ptr<Observer> obs = Make(text);
    ASSERT_NE(obs, nullptr);
    for (const Batch& b : batches) ASSERT_TRUE(obs->Observe(b.data.data(), b.shape).ok());
    auto range = ChosenRange(*obs);
    ASSERT_TRUE(range.ok()) << range.status();
    EXPECT_EQ(Bits(range->first), Bits(static_cast<float>(c["min_val"].get<double>())))
        << range->first << " vs " << c["min_val"];
    EXPECT_EQ(Bits(range->second), Bits(static_cast<float>(c["max_val"].get<double>())))
        << range->second << " vs " << c["max_val"];
    auto qp = obs->CalculateQParams();
    ASSERT_TRUE(qp.ok()) << qp.status();
    ASSERT_EQ(qp->size(), 1u);
    EXPECT_EQ(Bits(qp->scale[0]), Bits(static_cast<float>(c["scale"].get<double>())))
        << qp->scale[0] << " vs " << c["scale"];
    ASSERT_EQ(qp->zero_point.size(), 1u);
    EXPECT_EQ(qp->zero_point[0], c["zero_point"].get<int64_t>());
  }
}

std::vector<float> RandomData(std::mt19937& rng, int n, float scale, float shift) {
  std::student_t_distribution<float> dist(3.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng) * scale + shift;
  return v;
}

// Verifies the histogram depends only on the values: reordering and re-splitting the batches, or
// merging two shards' histograms, gives identical state (both modes, spans from tiny to huge).
TEST(CalibratorsExtraTest, HistogramIsCanonicalAndMergesExactly) {
  std::mt19937 rng(42);
  for (bool abs : {false, true}) {
    for (float scale : {1e-30f, 1e-3f, 1.0f, 1e6f, 1e30f}) {
      std::vector<float> all;
      std::vector<std::vector<float>> batches;
      for (int b = 0; b < 6; ++b) {
        batches.push_back(RandomData(rng, 300 + 50 * b, scale * (1 + b), b == 3 ? 5 * scale : 0));
        all.insert(all.end(), batches.back().begin(), batches.back().end());
      }
      Pow2Histogram one(512, abs);
      one.Add(all);
      Pow2Histogram inc(512, abs);
      for (const auto& b : batches) inc.Add(b);
      Pow2Histogram rev(512, abs);
      for (auto it = batches.rbegin(); it != batches.rend(); ++it) rev.Add(*it);
      Pow2Histogram a(512, abs), b(512, abs);
      for (size_t i = 0; i < batches.size(); ++i) (i % 2 ? a : b).Add(batches[i]);
      ASSERT_TRUE(a.Merge(b).ok());
      Pow2Histogram empty(512, abs);
      ASSERT_TRUE(empty.Merge(a).ok());
      EXPECT_EQ(one.ToJson(), inc.ToJson()) << scale;
      EXPECT_EQ(one.ToJson(), rev.ToJson()) << scale;
      EXPECT_EQ(one.ToJson(), a.ToJson()) << scale;
      EXPECT_EQ(one.ToJson(), empty.ToJson()) << scale;
      EXPECT_LE(static_cast<int64_t>(one.counts().size()), 512);
      EXPECT_EQ(one.total(), static_cast<int64_t>(all.size()));
      // Canonical: one bin width smaller would not fit.
      EXPECT_GT(static_cast<int64_t>(one.counts().size()), 256 - 2) << scale;
    }
  }
}

// Verifies denormals, ±FLT_MAX, negative zero and all-equal values stay in range and round-trip.
TEST(CalibratorsExtraTest, ExtremeValues) {
  const float kMax = std::numeric_limits<float>::max();
  const float kDenorm = std::numeric_limits<float>::denorm_min();
  for (bool abs : {false, true}) {
    for (const std::vector<float>& v :
         std::vector<std::vector<float>>{{kDenorm, 2 * kDenorm, -kDenorm},
                                         {-kMax, kMax, 0.0f},
                                         {-0.0f, 0.0f},
                                         {7.0f, 7.0f, 7.0f},
                                         {-kMax, -kMax}}) {
      Pow2Histogram h(64, abs);
      h.Add(v);
      EXPECT_EQ(h.total(), static_cast<int64_t>(v.size()));
      Pow2Histogram back(64, abs);
      ASSERT_TRUE(back.FromJson(h.ToJson()).ok());
      EXPECT_EQ(back.ToJson(), h.ToJson());
    }
  }
}

// Verifies the observers' state round-trips through text and merging shard observers equals one
// observer over all batches (same qparams bit for bit), for all three classes.
TEST(CalibratorsExtraTest, ObserverStateAndMerge) {
  std::mt19937 rng(3);
  for (const char* text :
       {"PercentileObserver(percentile=99.9)", "EntropyObserver(bins=512, num_quantized_bins=64)",
        "MSEObserver(bins=256, num_candidates=50, dtype=qint8, "
        "qscheme=per_tensor_symmetric)"}) {
    SCOPED_TRACE(text);
    std::unique_ptr<Observer> one = Make(text), s1 = Make(text), s2 = Make(text);
    for (int b = 0; b < 4; ++b) {
      std::vector<float> v = RandomData(rng, 1000, 1.0f + b, 0.1f * b);
      ASSERT_TRUE(one->Observe(v.data(), {10, 100}).ok());
      ASSERT_TRUE((b < 2 ? s1 : s2)->Observe(v.data(), {10, 100}).ok());
    }
    std::unique_ptr<Observer> loaded = Make(text);
    ASSERT_TRUE(loaded->LoadState(s2->SerializeState()).ok());
    ASSERT_TRUE(s1->Merge(*loaded).ok());
    auto q1 = one->CalculateQParams(), q2 = s1->CalculateQParams();
    ASSERT_TRUE(q1.ok() && q2.ok());
    EXPECT_EQ(Bits(q1->scale[0]), Bits(q2->scale[0]));
    EXPECT_EQ(q1->zero_point, q2->zero_point);
    EXPECT_EQ(one->SerializeState(), s1->SerializeState());
    EXPECT_EQ(one->min_val(), s1->min_val());
    EXPECT_EQ(one->max_val(), s1->max_val());
  }
}

// Verifies an observer that saw no finite values returns PyTorch's defaults, and an empty tensor
// is ignored.
TEST(CalibratorsExtraTest, NoDataGivesDefaults) {
  std::unique_ptr<Observer> obs = Make("PercentileObserver()");
  std::vector<float> none;
  ASSERT_TRUE(obs->Observe(none.data(), {0, 4}).ok());
  EXPECT_FALSE(obs->initialized());
  auto qp = obs->CalculateQParams();
  ASSERT_TRUE(qp.ok());
  EXPECT_EQ(qp->scale[0], 1.0f);
  EXPECT_EQ(qp->zero_point[0], 0);
  EXPECT_FALSE(ChosenRange(*obs).ok());
}

// Verifies that the percentile cuts where it should: 1000 values 1..1000 at 99% give ~990.
TEST(CalibratorsExtraTest, PercentileCutsTheTail) {
  std::unique_ptr<Observer> obs =
      Make("PercentileObserver(percentile=99.0, bins=2048, qscheme=per_tensor_symmetric)");
  std::vector<float> v(1000);
  for (int i = 0; i < 1000; ++i) v[i] = static_cast<float>(i + 1);
  v[999] = 1e6f;  // an outlier the percentile must ignore
  ASSERT_TRUE(obs->Observe(v.data(), {1000}).ok());
  auto r = ChosenRange(*obs);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->second, 990.0f, 1e6f / 2048 + 1);
  EXPECT_LT(r->second, 1e6f / 2);
}

// Verifies the entropy calibrator clips a long tail, MSE clips a lone outlier (less), and MSE
// keeps (nearly) the whole range of uniform data.
TEST(CalibratorsExtraTest, EntropyAndMseClipTails) {
  std::mt19937 rng(9);
  std::vector<float> heavy = RandomData(rng, 20000, 1.0f, 0.0f);
  heavy[0] = 200.0f;
  std::unique_ptr<Observer> ent =
      Make("EntropyObserver(dtype=qint8, qscheme=per_tensor_symmetric)");
  ASSERT_TRUE(ent->Observe(heavy.data(), {20000}).ok());
  auto re = ChosenRange(*ent);
  ASSERT_TRUE(re.ok());
  EXPECT_LT(re->second, 100.0f);
  EXPECT_GT(re->second, 1.0f);
  std::unique_ptr<Observer> mse = Make("MSEObserver(dtype=qint8, qscheme=per_tensor_symmetric)");
  ASSERT_TRUE(mse->Observe(heavy.data(), {20000}).ok());
  auto rm = ChosenRange(*mse);
  ASSERT_TRUE(rm.ok());
  // The squared error of one clipped outlier weighs against the rounding error of all 20000
  // values, so MSE clips much less than entropy does -- but it does clip.
  EXPECT_LT(rm->second, 199.0f);
  EXPECT_GT(rm->second, re->second);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> flat(20000);
  for (float& x : flat) x = u(rng);
  std::unique_ptr<Observer> mse2 = Make("MSEObserver(dtype=qint8, qscheme=per_tensor_symmetric)");
  ASSERT_TRUE(mse2->Observe(flat.data(), {20000}).ok());
  auto ru = ChosenRange(*mse2);
  ASSERT_TRUE(ru.ok());
  EXPECT_GT(ru->second, 0.9f);
}

// Verifies per-channel qschemes, mismatched merges and corrupt states are errors.
TEST(CalibratorsExtraTest, Errors) {
  RegisterExtraCalibrators();
  auto pc = ParseObserverSpec("PercentileObserver(qscheme=per_channel_affine)");
  if (pc.ok()) {
    EXPECT_FALSE(MakeObserver(*pc).ok());
  }
  std::unique_ptr<Observer> a = Make("PercentileObserver()"), b = Make("MSEObserver()");
  EXPECT_FALSE(a->Merge(*b).ok());
  std::vector<float> v = {1, 2, 3};
  ASSERT_TRUE(a->Observe(v.data(), {3}).ok());
  nlohmann::json state = a->StateToJson();
  state["histogram"]["counts"][0] = 99;
  std::unique_ptr<Observer> c = Make("PercentileObserver()");
  auto s = c->LoadStateJson(state);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("total"));
  state = a->StateToJson();
  state["histogram"]["exp"] = 3;
  EXPECT_FALSE(c->LoadStateJson(state).ok());
}

}  // namespace
}  // namespace qprep::observers
