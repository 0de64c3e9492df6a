// Verifies that every observer reproduces PyTorch's statistics and qparams bit for bit on the
// committed corpus (tests/observers/data, written by tools/gen_observer_goldens.py from real
// PyTorch 1.13 runs; regenerate with `/usr/bin/python3 tools/gen_observer_goldens.py`).
// Each case runs with 1 and with 2 threads (tiny thread grain) and must match both times.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "backends/cpu/observer.h"
#include "common/observer_spec.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace qprep::observers {
namespace {

using json = nlohmann::json;

struct Corpus {
  json cases;
  std::vector<float> data;
};

const Corpus& LoadCorpus() {
  static const Corpus* corpus = [] {
    auto* c = new Corpus;
    const std::string dir = std::string(QPREP_SOURCE_DIR) + "/tests/observers/data/";
    std::ifstream js(dir + "cases.json");
    c->cases = json::parse(js)["cases"];
    std::ifstream bin(dir + "inputs.f32", std::ios::binary);
    std::stringstream ss;
    ss << bin.rdbuf();
    const std::string bytes = ss.str();
    c->data.resize(bytes.size() / 4);
    std::memcpy(c->data.data(), bytes.data(), c->data.size() * 4);
    return c;
  }();
  return *corpus;
}

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

std::vector<uint32_t> BitsOf(const std::vector<float>& v) {
  std::vector<uint32_t> out;
  for (float f : v) out.push_back(Bits(f));
  return out;
}

// NaN payloads and signs differ between PyTorch's code paths; any NaN is the same statistic.
std::vector<uint32_t> NanAsOne(std::vector<uint32_t> v) {
  for (uint32_t& u : v) {
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0) u = 0x7fc00000u;
  }
  return v;
}

class GoldenTest : public ::testing::TestWithParam<int> {};

void RunCase(const json& c, int threads) {
  const Corpus& corpus = LoadCorpus();
  const std::string name = c["name"];
  SCOPED_TRACE(name + " threads=" + std::to_string(threads) +
               " spec=" + c["spec"].get<std::string>());
  auto spec = ParseObserverSpec(c["spec"].get<std::string>());
  ASSERT_TRUE(spec.ok()) << spec.status();
  ObserverOptions options;
  options.num_threads = threads;
  options.min_elements_per_thread = threads > 1 ? 8 : options.min_elements_per_thread;
  auto made = MakeObserver(*spec, options);
  ASSERT_TRUE(made.ok()) << made.status();
  Observer& o = **made;
  const json& expect = c["expect"];
  const bool fake_quant = o.kind() == ObserverKind::kFakeQuantize;
  std::vector<float> out;
  absl::Status observe_status;
  for (const json& b : c["batches"]) {
    const float* p = corpus.data.data() + b["offset"].get<size_t>();
    std::vector<int64_t> shape = b["shape"].get<std::vector<int64_t>>();
    if (fake_quant) {
      out.assign(b["count"].get<size_t>(), 0.0f);
      observe_status = o.Forward(p, shape, out.data());
    } else {
      observe_status = o.Observe(p, shape);
    }
    if (!observe_status.ok()) break;
  }
  if (expect.value("error", "") == "observe") {
    EXPECT_FALSE(observe_status.ok()) << "PyTorch raised: " << expect["message"];
    return;
  }
  ASSERT_TRUE(observe_status.ok()) << observe_status;
  if (expect.contains("min_val")) {
    EXPECT_EQ(NanAsOne(BitsOf(o.min_val())),
              NanAsOne(expect["min_val"].get<std::vector<uint32_t>>()));
    EXPECT_EQ(NanAsOne(BitsOf(o.max_val())),
              NanAsOne(expect["max_val"].get<std::vector<uint32_t>>()));
  }
  if (expect.contains("histogram")) {
    const json state = o.StateToJson();
    const json& got = fake_quant ? state["observer_state"]["histogram"] : state["histogram"];
    const auto want = expect["histogram"].get<std::vector<uint32_t>>();
    const auto have = got.get<std::vector<uint32_t>>();
    size_t mismatches = 0;
    for (size_t i = 0; i < want.size() && i < have.size(); ++i) mismatches += want[i] != have[i];
    EXPECT_EQ(mismatches, 0u) << "histogram bins differ";
  }
  auto q = o.CalculateQParams();
  if (expect.value("error", "") == "qparams") {
    EXPECT_FALSE(q.ok()) << "PyTorch raised: " << expect["message"];
    return;
  }
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(BitsOf(q->scale), expect["scale"].get<std::vector<uint32_t>>());
  if (expect.contains("zero_point_float")) {
    ASSERT_TRUE(q->float_zero_point);
    EXPECT_EQ(BitsOf(q->zero_point_float), expect["zero_point_float"].get<std::vector<uint32_t>>());
  } else {
    EXPECT_EQ(q->zero_point, expect["zero_point"].get<std::vector<int64_t>>());
  }
  if (expect.contains("fake_quant_scale")) {
    // The scale / zero point buffers the module applied in its last forward (for the fused
    // class these come from ATen's ChooseQuantizationParams, not calculate_qparams).
    const json state = o.StateToJson();
    EXPECT_EQ(state["scale"].get<std::vector<uint32_t>>(),
              expect["fake_quant_scale"].get<std::vector<uint32_t>>());
    if (expect.contains("fake_quant_zero_point")) {
      EXPECT_EQ(state["zero_point"].get<std::vector<int64_t>>(),
                expect["fake_quant_zero_point"].get<std::vector<int64_t>>());
    }
  }
  if (expect.contains("forward_output")) {
    const json& fo = expect["forward_output"];
    const float* want = corpus.data.data() + fo["offset"].get<size_t>();
    const size_t n = fo["count"].get<size_t>();
    ASSERT_EQ(out.size(), n);
    size_t mismatches = 0;
    size_t first = n;
    for (size_t i = 0; i < n; ++i) {
      if (Bits(out[i]) != Bits(want[i])) {
        if (first == n) first = i;
        ++mismatches;
      }
    }
    EXPECT_EQ(mismatches, 0u) << "fake-quant output differs; first at " << first << ": "
                              << (first < n ? out[first] : 0) << " vs "
                              << (first < n ? want[first] : 0);
  }
}

TEST(GoldenCorpus, IsLoadedAndCoversEveryClass) {
  const Corpus& corpus = LoadCorpus();
  ASSERT_GT(corpus.cases.size(), 400u);
  std::set<std::string> classes;
  for (const json& c : corpus.cases) {
    auto spec = ParseObserverSpec(c["spec"].get<std::string>());
    ASSERT_TRUE(spec.ok()) << c["spec"] << ": " << spec.status();
    classes.insert(spec->class_name);
  }
  for (const char* want :
       {"MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
        "MovingAveragePerChannelMinMaxObserver", "HistogramObserver", "FixedQParamsObserver",
        "FakeQuantize", "FusedMovingAvgObsFakeQuantize", "FixedQParamsFakeQuantize"}) {
    EXPECT_TRUE(classes.count(want)) << want;
  }
}

TEST_P(GoldenTest, MatchesPyTorchBitForBit) {
  const Corpus& corpus = LoadCorpus();
  const int threads = GetParam();
  for (const json& c : corpus.cases) RunCase(c, threads);
}

INSTANTIATE_TEST_SUITE_P(Threads, GoldenTest, ::testing::Values(1, 2));

}  // namespace
}  // namespace qprep::observers
