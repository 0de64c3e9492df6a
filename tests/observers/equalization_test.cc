// The input-weight equalization observers (backends/cpu/equalization.h) against PyTorch 1.13 bit
// for bit: per-column min / max of _InputEqualizationObserver / _WeightEqualizationObserver
// (2-D linear inputs, 3-/4-/5-D conv inputs, several batches, constant columns, negative-only
// columns, rank errors), calculate_equalization_scale for (input, weight) pairs (zero / NaN
// ranges replaced by 1, no data, mismatched columns) and calculate_scaled_minmax. The corpus
// tests/observers/data/equalization.json comes from real PyTorch runs; regenerate it with
// `/usr/bin/python3 tools/gen_equalization_goldens.py`. Also: state round trip, merge of shards
// equal to one pass, no qparams, spec errors.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/equalization.h"
#include "backends/cpu/observer.h"
#include "common/observer_spec.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace qprep::observers {
namespace {

using json = nlohmann::json;

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
std::vector<uint32_t> BitsOf(const std::vector<float>& v) {
  std::vector<uint32_t> out;
  for (float f : v) out.push_back(Bits(f));
  return out;
}

const json& Corpus() {
  static const json* c = [] {
    std::ifstream in(std::string(QPREP_SOURCE_DIR) + "/tests/observers/data/equalization.json");
    return new json(json::parse(in));
  }();
  return *c;
}

struct Batch {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
std::vector<Batch> BatchesOf(const json& c) {
  std::vector<Batch> out;
  for (const json& b : c["batches"]) {
    Batch x;
    x.shape = b["shape"].get<std::vector<int64_t>>();
    for (const json& u : b["data"]) x.data.push_back(FromBits(u.get<uint32_t>()));
    out.push_back(std::move(x));
  }
  return out;
}

// Builds the case's observer and feeds its batches; the status of the first failing Observe.
absl::Status RunCase(const json& c, int threads, std::unique_ptr<Observer>* out) {
  auto spec = ParseObserverSpec(c["spec"].get<std::string>());
  if (!spec.ok()) return spec.status();
  ObserverOptions opt;
  opt.num_threads = threads;
  opt.min_elements_per_thread = 1;  // exercise the threaded reduction on tiny inputs
  auto o = MakeObserver(*spec, opt);
  if (!o.ok()) return o.status();
  *out = *std::move(o);
  for (const Batch& b : BatchesOf(c)) {
    absl::Status s = (*out)->Observe(b.data.data(), b.shape);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

TEST(EqualizationGoldenTest, ObserverStatisticsMatchPyTorch) {
  int checked = 0;
  for (const json& c : Corpus()["observers"]) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(c["name"].get<std::string>() + " threads=" + std::to_string(threads));
      std::unique_ptr<Observer> o;
      absl::Status s = RunCase(c, threads, &o);
      if (c["expect"].contains("error")) {
        EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
        continue;
      }
      ASSERT_TRUE(s.ok()) << s;
      EXPECT_EQ(o->kind(), ObserverKind::kEqualization);
      EXPECT_EQ(BitsOf(o->min_val()), c["expect"]["min_val"].get<std::vector<uint32_t>>());
      EXPECT_EQ(BitsOf(o->max_val()), c["expect"]["max_val"].get<std::vector<uint32_t>>());
      EXPECT_EQ(o->initialized(), !c["batches"].empty());
    }
    ++checked;
  }
  EXPECT_EQ(checked, 48);
}

TEST(EqualizationGoldenTest, ScalesAndScaledMinMaxMatchPyTorch) {
  std::map<std::string, const json*> by_name;
  for (const json& c : Corpus()["observers"]) by_name[c["name"].get<std::string>()] = &c;
  int checked = 0;
  for (const json& c : Corpus()["scales"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    std::unique_ptr<Observer> x, w;
    ASSERT_TRUE(RunCase(*by_name.at(c["input"].get<std::string>()), 1, &x).ok());
    ASSERT_TRUE(RunCase(*by_name.at(c["weight"].get<std::string>()), 1, &w).ok());
    absl::StatusOr<EqualizationScale> s = CalculateEqualizationScale(*x, *w);
    const json& e = c["expect"];
    ++checked;
    if (e.contains("error")) {
      EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
      continue;
    }
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(BitsOf(s->scale), e["scale"].get<std::vector<uint32_t>>());
    EXPECT_EQ(s->is_default, e["default"].get<bool>());
    auto scaled = CalculateScaledMinMax(*x, *s);
    ASSERT_TRUE(scaled.ok()) << scaled.status();
    if (e.contains("scaled")) {
      EXPECT_FALSE(scaled->has_value());
    } else {
      ASSERT_TRUE(scaled->has_value());
      EXPECT_EQ(Bits((*scaled)->first), e["scaled_min_val"].get<uint32_t>());
      EXPECT_EQ(Bits((*scaled)->second), e["scaled_max_val"].get<uint32_t>());
    }
  }
  EXPECT_EQ(checked, 10);
}

std::unique_ptr<Observer> Make(const std::string& text) {
  auto spec = ParseObserverSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  auto o = MakeObserver(*spec);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *std::move(o) : nullptr;
}

TEST(EqualizationObserverTest, ColumnsOfConvInputsAreDimensionOne) {
  auto o = Make("_InputEqualizationObserver(dtype=quint8, qscheme=per_tensor_symmetric)");
  // Shape [2, 3, 2]: column c holds x[n, c, k] for every n, k.
  std::vector<float> x = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -11};
  ASSERT_TRUE(o->Observe(x.data(), {2, 3, 2}).ok());
  EXPECT_EQ(o->min_val(), (std::vector<float>{0, 2, -11}));
  EXPECT_EQ(o->max_val(), (std::vector<float>{7, 9, 10}));
}

TEST(EqualizationObserverTest, NoQParamsAndPerTensorInputOnly) {
  auto o = Make("_WeightEqualizationObserver()");
  EXPECT_EQ(o->CalculateQParams().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(
      ParseObserverSpec("_InputEqualizationObserver(qscheme=per_channel_affine)").ok());
  auto bad = CalculateEqualizationScale(*o, *o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EqualizationObserverTest, StateRoundTripAndMergeEqualOnePass) {
  const std::string spec = "_InputEqualizationObserver(dtype=quint8, qscheme=per_tensor_symmetric)";
  std::vector<float> a = {1, -2, 3, 4, 5, -6}, b = {-7, 8, 0.5f, 2, 2, 9};
  auto one = Make(spec), s1 = Make(spec), s2 = Make(spec);
  ASSERT_TRUE(one->Observe(a.data(), {2, 3}).ok());
  ASSERT_TRUE(one->Observe(b.data(), {2, 3}).ok());
  ASSERT_TRUE(s1->Observe(a.data(), {2, 3}).ok());
  ASSERT_TRUE(s2->Observe(b.data(), {2, 3}).ok());
  ASSERT_TRUE(s1->Merge(*s2).ok());
  EXPECT_EQ(BitsOf(s1->min_val()), BitsOf(one->min_val()));
  EXPECT_EQ(BitsOf(s1->max_val()), BitsOf(one->max_val()));
  auto loaded = LoadObserver(one->SerializeState());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->spec().class_name, "_InputEqualizationObserver");
  EXPECT_EQ(BitsOf((*loaded)->max_val()), BitsOf(one->max_val()));
  auto other = Make("_WeightEqualizationObserver()");
  EXPECT_FALSE(s1->Merge(*other).ok());
  EXPECT_FALSE(other->LoadState(one->SerializeState()).ok());
}

}  // namespace
}  // namespace qprep::observers
