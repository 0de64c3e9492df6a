// The plan reader of the calibration driver (backends/cpu/calibrate/calibrate.h): an observer
// entry written the way engine/plan.cc writes it (every effective arg, a fake-quant's inner
// observer as {"class", "args"}) or the way tools/torch_reference.py writes it (no
// has_customized_qrange) rebuilds exactly the spec it came from.
#include "backends/cpu/calibrate/calibrate.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "common/observer_spec.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace qprep::observers {
namespace {

using json = nlohmann::json;

// engine/plan.cc's SpecArgsToJson, restated.
json ArgsToJson(const ObserverSpec& spec, bool with_customized) {
  json args = json::object();
  for (const auto& [k, v] : spec.args) {
    if (k == "observer") continue;
    if (!with_customized && k == "has_customized_qrange") continue;
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            args[k] = nullptr;
          } else {
            args[k] = x;
          }
        },
        v.v);
  }
  return args;
}

json Entry(const ObserverSpec& spec, bool with_customized) {
  json e = {{"id", 0}, {"class", spec.class_name}, {"args", ArgsToJson(spec, with_customized)}};
  if (spec.observer) {
    e["observer"] = {{"class", spec.observer->class_name},
                     {"args", ArgsToJson(*spec.observer, with_customized)}};
  }
  return e;
}

std::string StripCustomized(std::string s) {
  for (const char* flag : {"has_customized_qrange=true, ", "has_customized_qrange=false, "}) {
    for (size_t p; (p = s.find(flag)) != std::string::npos;) s.erase(p, std::strlen(flag));
  }
  return s;
}

// Verifies spec -> plan entry -> spec is the identity, with and without has_customized_qrange.
TEST(CalibratePlanTest, SpecRoundTripsThroughPlanEntries) {
  const std::vector<std::string> specs = {
      "MinMaxObserver()",
      "MinMaxObserver(reduce_range=True)",
      "MinMaxObserver(dtype=quint8, qscheme=per_tensor_symmetric)",
      "MinMaxObserver(dtype=qint8, quant_min=-64, quant_max=63)",
      "MinMaxObserver(dtype=quint8, qscheme=per_tensor_symmetric, quant_min=0, quant_max=127)",
      "HistogramObserver(dtype=quint8, reduce_range=True)",
      "PerChannelMinMaxObserver(ch_axis=1, dtype=qint8, qscheme=per_channel_symmetric)",
      "MovingAveragePerChannelMinMaxObserver(averaging_constant=0.1, ch_axis=0)",
      "PercentileObserver(percentile=99.9, bins=512)",
      "EntropyObserver(dtype=qint8, qscheme=per_tensor_symmetric)",
      "MSEObserver(num_candidates=64)",
      "FixedQParamsObserver(scale=0.0078125, zero_point=128)",
      "PlaceholderObserver(dtype=float16)",
      "FakeQuantize()",
      "FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, "
      "dtype=quint8, qscheme=per_tensor_affine, reduce_range=True)",
      "FusedMovingAvgObsFakeQuantize(observer=MovingAveragePerChannelMinMaxObserver, "
      "quant_min=-128, quant_max=127, dtype=qint8, qscheme=per_channel_symmetric, ch_axis=0)",
  };
  for (const std::string& text : specs) {
    SCOPED_TRACE(text);
    auto spec = ParseObserverSpec(text);
    ASSERT_TRUE(spec.ok()) << spec.status();
    for (bool with_customized : {true, false}) {
      auto back = SpecFromPlanEntry(Entry(*spec, with_customized));
      ASSERT_TRUE(back.ok()) << back.status() << "\n" << Entry(*spec, with_customized).dump();
      if (with_customized) {
        EXPECT_EQ(back->ToString(), spec->ToString());
      } else {
        // Without the flag, a custom range equal to the dtype's default range reads back as not
        // customized (it only changes quint8 symmetric zero points: docs/calibration.md).
        EXPECT_EQ(StripCustomized(back->ToString()), StripCustomized(spec->ToString()));
      }
    }
  }
}

// Verifies a canonical "spec" string in an entry is used as is.
TEST(CalibratePlanTest, CanonicalSpecField) {
  auto spec = ParseObserverSpec("HistogramObserver(bins=1024)");
  ASSERT_TRUE(spec.ok());
  auto back = SpecFromPlanEntry(json{{"id", 0}, {"class", "ignored"}, {"spec", spec->ToString()}});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToString(), spec->ToString());
}

// Plan fields of the wrong JSON type are InvalidArgument, never an uncaught exception.
TEST(CalibratePlanTest, WronglyTypedFieldsAreErrors) {
  for (const char* text :
       {R"({"format": 1, "version": 1})", R"({"format": "qprep.plan", "version": 1,
            "observers": [{"id": "zero", "class": "MinMaxObserver"}], "insertions": []})",
        R"({"format": "qprep.plan", "version": 1, "observers": 3, "insertions": []})"}) {
    auto plan = ParsePlan(text);
    EXPECT_FALSE(plan.ok()) << text;
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  // A floating-point id only names the entry in messages (it was converted to int: undefined
  // behaviour when out of range).
  EXPECT_TRUE(SpecFromPlanEntry(json{{"id", 1e30}, {"class", "MinMaxObserver"}}).ok());
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The parity fixture (PyTorch's plan and batches) calibrated with 1, 2 and 3 threads: the observer
// instances of a pass run on the worker pool, and the result must not depend on it.
TEST(CalibrationTest, ThreadCountDoesNotChangeTheResult) {
  const std::string dir = std::string(QPREP_SOURCE_DIR) + "/tests/calibrate/data/parity";
  std::vector<std::string> results;
  for (int threads : {1, 2, 3}) {
    auto plan = ParsePlan(ReadText(dir + "/plan.json"));
    ASSERT_TRUE(plan.ok()) << plan.status();
    CalibrateOptions options;
    options.num_threads = threads;
    auto c = Calibration::Create(*plan, options);
    ASSERT_TRUE(c.ok()) << c.status();
    int64_t passes_seen = 0;
    ASSERT_TRUE((*c)->ObserveDir(dir + "/batches",
                                 [&](const CalibrateProgress& p) { passes_seen = p.pass; })
                    .ok());
    EXPECT_EQ(passes_seen, 3);
    auto result = (*c)->Result();
    ASSERT_TRUE(result.ok()) << result.status();
    results.push_back(result->dump());
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

// A bad batch stops calibration with its path, whatever the thread count.
TEST(CalibrationTest, ABadBatchIsReportedWithItsPath) {
  namespace fs = std::filesystem;
  const std::string src = std::string(QPREP_SOURCE_DIR) + "/tests/calibrate/data/parity";
  const fs::path tmp =
      fs::temp_directory_path() / ("qprep_calibrate_bad_batch_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  fs::copy(src + "/batches", tmp / "batches", fs::copy_options::recursive);
  const fs::path bad = tmp / "batches" / "activation_post_process_3" / "0001.npy";
  std::ofstream(bad, std::ios::trunc) << "not an npy file";
  for (int threads : {1, 2}) {
    auto plan = ParsePlan(ReadText(src + "/plan.json"));
    ASSERT_TRUE(plan.ok());
    CalibrateOptions options;
    options.num_threads = threads;
    auto c = Calibration::Create(*plan, options);
    ASSERT_TRUE(c.ok());
    absl::Status s = (*c)->ObserveDir((tmp / "batches").string());
    EXPECT_FALSE(s.ok()) << threads;
    EXPECT_NE(std::string(s.message()).find(bad.string()), std::string::npos) << s;
  }
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace qprep::observers
