// `qprepc calibrate` on a plan with input-weight equalization, end to end against PyTorch 1.13:
// `qprepc prepare tests/parity/data/equalization_linear_chain.qg --backend fbgemm
// --equalization default --plan P.json`, then calibrate over the batches PyTorch's own prepared
// LinearChain fed to each observer (tests/calibrate/data/equalization_linear_chain/data/), and
// compare bit for bit with what PyTorch computed on those batches (expected.json): every
// equalization observer's per-column min / max, and for the F.linear (the one node whose weight
// equalization observer is in the graph) the equalization scale and the scaled min / max.
// Regenerate the data with `/usr/bin/python3 tools/gen_equalization_goldens.py`.
// Also: the nn.Linear nodes are reported without a scale, and sharded calibration
// (--save-state / --merge-state) gives the same statistics as one run.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/calibrate/cli_test_util.h"

namespace qprep::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

const std::string kSrc = QPREP_SOURCE_DIR;
const std::string kData = kSrc + "/tests/calibrate/data/equalization_linear_chain";

uint32_t Bits(const json& v) {
  const float f = v.get<float>();
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
std::vector<uint32_t> BitsOf(const json& a) {
  std::vector<uint32_t> out;
  for (const json& v : a) out.push_back(Bits(v));
  return out;
}

class EqualizationCliTest : public ::testing::Test {
 protected:
  EqualizationCliTest() : dir_("calibrate_equalization") {
    plan_ = dir_ / "P.json";
    RunResult r = Qprepc("prepare " + Quote(kSrc + "/tests/parity/data/equalization_linear_chain.qg") +
                             " --backend fbgemm --equalization default --plan " + Quote(plan_),
                         dir_.str());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    expected_ = json::parse(Slurp(kData + "/expected.json"));
  }

  json Calibrate(const std::string& args) {
    const std::string out = dir_ / "Q.json";
    RunResult r = Qprepc("calibrate " + Quote(plan_) + " " + args + " -o " + Quote(out) +
                             " --quiet",
                         dir_.str());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? json::parse(Slurp(out)) : json();
  }

  // Checks a QPARAMS result against PyTorch's numbers.
  void CheckAgainstPyTorch(const json& q) {
    ASSERT_TRUE(q.contains("equalization")) << q.dump();
    std::map<std::string, int64_t> observer_of;
    for (const json& i : q["insertions"]) observer_of[i["name"]] = i["observer"];
    int checked = 0;
    for (const auto& [name, e] : expected_["observers"].items()) {
      SCOPED_TRACE(name);
      const json& o = q["observers"][observer_of.at(name)];
      EXPECT_EQ(o["class"], e["class"]);
      EXPECT_EQ(o["kind"], "equalization");
      EXPECT_EQ(o["batches"], 3);
      EXPECT_EQ(BitsOf(o["min_val"]), e["min_val"].get<std::vector<uint32_t>>());
      EXPECT_EQ(BitsOf(o["max_val"]), e["max_val"].get<std::vector<uint32_t>>());
      ++checked;
    }
    EXPECT_EQ(checked, 4);
    const json& eqs = q["equalization"];
    ASSERT_EQ(eqs.size(), 3u);
    EXPECT_EQ(eqs[0]["node"], "fc1");
    EXPECT_EQ(eqs[1]["node"], "fc2");
    for (int k : {0, 1}) {
      EXPECT_TRUE(eqs[k]["scale"].is_null());
      EXPECT_TRUE(eqs[k]["weight_observer"].is_null());
      EXPECT_THAT(eqs[k]["note"].get<std::string>(), ::testing::HasSubstr("convert"));
    }
    const json& lin = eqs[2];
    const json& want = expected_["scales"]["linear"];
    EXPECT_EQ(lin["node"], "linear");
    EXPECT_EQ(lin["input_insertion"], want["input"]);
    EXPECT_EQ(lin["weight_insertion"], want["weight"]);
    EXPECT_EQ(lin["default"], false);
    EXPECT_EQ(BitsOf(lin["scale"]), want["scale"].get<std::vector<uint32_t>>());
    EXPECT_EQ(Bits(lin["scaled_min_val"]), want["scaled_min_val"].get<uint32_t>());
    EXPECT_EQ(Bits(lin["scaled_max_val"]), want["scaled_max_val"].get<uint32_t>());
    // The activation observer convert rescales: the HistogramObserver on the same value.
    EXPECT_EQ(q["observers"][lin["activation_observer"].get<int64_t>()]["class"],
              "HistogramObserver");
  }

  ScratchDir dir_;
  std::string plan_;
  json expected_;
};

TEST_F(EqualizationCliTest, MatchesPyTorch) { CheckAgainstPyTorch(Calibrate("--data " + Quote(kData + "/data"))); }

TEST_F(EqualizationCliTest, ShardedEqualsOneRun) {
  // Shard A: pass 0; shard B: passes 1 and 2 (every insertion directory split the same way).
  for (const auto& ins : fs::directory_iterator(kData + "/data")) {
    const std::string name = ins.path().filename().string();
    fs::copy_file(ins.path() / "batch_0.npy", dir_ / ("a/" + name + "/batch_0.npy"));
    for (const char* b : {"batch_1.npy", "batch_2.npy"}) {
      fs::copy_file(ins.path() / b, dir_ / ("b/" + name + "/" + b));
    }
  }
  RunResult r = Qprepc("calibrate " + Quote(plan_) + " --data " + Quote(dir_ / "a") +
                           " --save-state " + Quote(dir_ / "sa") + " --quiet -o " +
                           Quote(dir_ / "qa.json"),
                       dir_.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json merged = Calibrate("--data " + Quote(dir_ / "b") + " --merge-state " + Quote(dir_ / "sa"));
  CheckAgainstPyTorch(merged);
}

TEST_F(EqualizationCliTest, MismatchedColumnsIsAnError) {
  // Weight batches with 3 columns against 4 input columns: PyTorch's ValueError.
  for (const auto& ins : fs::directory_iterator(kData + "/data")) {
    const std::string name = ins.path().filename().string();
    for (const char* b : {"batch_0.npy", "batch_1.npy", "batch_2.npy"}) {
      if (name == "activation_post_process_3_equalization_process_0") {
        Npy(dir_ / ("d/" + name + "/" + b), {2, 3}, {1, 2, 3, 4, 5, 6});
      } else {
        fs::copy_file(ins.path() / b, dir_ / ("d/" + name + "/" + b));
      }
    }
  }
  RunResult r = Qprepc("calibrate " + Quote(plan_) + " --data " + Quote(dir_ / "d") + " --quiet",
                       dir_.str());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("same column dimension"));
}

}  // namespace
}  // namespace qprep::testing
