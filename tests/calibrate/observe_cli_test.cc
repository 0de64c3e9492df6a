// `qprepc observe` through the real binary: PyTorch's qparams for small batches written here as
// .npy, per-channel lists, thread-count independence, sharding with --save-state /
// --merge-state, and exit codes and messages for bad files and command lines.
//
// Expected numbers come from PyTorch 1.13 (Debian python3-torch), e.g.
//   o = MinMaxObserver(); o(torch.tensor([-1.0, 2.5])); o(torch.tensor([0.5, 3.0]))
//   o.calculate_qparams()  ->  (0.01568627543747425, 64)
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/calibrate/cli_test_util.h"

namespace qprep::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class ObserveCliTest : public ::testing::Test {
 protected:
  ObserveCliTest() : dir_("observe_cli") {
    Npy(dir_ / "a.npy", {2}, {-1.0f, 2.5f});
    Npy(dir_ / "b.npy", {2}, {0.5f, 3.0f});
  }
  RunResult Run(const std::string& args) { return Qprepc("observe " + args, dir_.str()); }
  std::string P(const std::string& rel) { return Quote(dir_ / rel); }

  ScratchDir dir_;
};

// Verifies the printed JSON for MinMaxObserver variants equals PyTorch's qparams bit for bit.
TEST_F(ObserveCliTest, MinMaxMatchesPyTorch) {
  struct Case {
    std::string spec;
    float scale;
    int64_t zero_point;
  };
  for (const Case& c : std::vector<Case>{
           {"MinMaxObserver()", 0.01568627543747425f, 64},
           {"MinMaxObserver(dtype=qint8, qscheme=per_tensor_symmetric)", 0.0235294122248888f, 0},
           {"MinMaxObserver(reduce_range=True)", 0.031496062874794006f, 32}}) {
    RunResult r = Run("--observer " + Quote(c.spec) + " " + P("a.npy") + " " + P("b.npy"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out);
    EXPECT_EQ(j.size(), 4u) << r.out;
    ASSERT_EQ(j["scale"].size(), 1u);
    EXPECT_EQ(j["scale"][0].get<float>(), c.scale) << c.spec;
    EXPECT_EQ(j["zero_point"][0].get<int64_t>(), c.zero_point) << c.spec;
    EXPECT_EQ(j["min_val"][0].get<float>(), -1.0f);
    EXPECT_EQ(j["max_val"][0].get<float>(), 3.0f);
  }
}

// Verifies per-channel observers print one entry per channel (PyTorch's values).
TEST_F(ObserveCliTest, PerChannelLists) {
  Npy(dir_ / "w.npy", {2, 2}, {-1.0f, 2.5f, 0.25f, 0.5f});
  RunResult r =
      Run("--observer 'PerChannelMinMaxObserver(ch_axis=0, dtype=qint8, "
          "qscheme=per_channel_symmetric)' " +
          P("w.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["scale"].size(), 2u);
  EXPECT_EQ(j["scale"][0].get<float>(), 0.019607843831181526f);
  EXPECT_EQ(j["scale"][1].get<float>(), 0.003921568859368563f);
  EXPECT_EQ(j["zero_point"], json::parse("[0, 0]"));
  EXPECT_EQ(j["min_val"].size(), 2u);
}

// Verifies an equalization observer prints its per-column (dimension 1) min / max and no qparams:
// PyTorch's _InputEqualizationObserver has no calculate_qparams; get_input_minmax of two batches
// of a 2x3 input is the running column min / max.
TEST_F(ObserveCliTest, EqualizationObserverPrintsColumnMinMax) {
  Npy(dir_ / "x0.npy", {2, 3}, {-1.0f, 2.0f, 0.5f, 3.0f, -4.0f, 0.25f});
  Npy(dir_ / "x1.npy", {2, 3}, {0.0f, 5.0f, -0.5f, 1.0f, 1.0f, 1.0f});
  RunResult r = Run("--observer '_InputEqualizationObserver()' " + P("x0.npy") + " " + P("x1.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_FALSE(j.contains("scale"));
  EXPECT_EQ(j["min_val"], json::parse("[-1.0, -4.0, -0.5]"));
  EXPECT_EQ(j["max_val"], json::parse("[3.0, 5.0, 1.0]"));
}

// Verifies --threads does not change the output, for a tensor large enough to be split.
TEST_F(ObserveCliTest, ThreadsGiveTheSameResult) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  std::vector<float> big(1 << 20);
  for (float& x : big) x = dist(rng);
  Npy(dir_ / "big.npy", {16, 64, 1024}, big);
  for (const char* spec : {"MinMaxObserver()", "HistogramObserver()",
                           "PerChannelMinMaxObserver(ch_axis=1)", "PercentileObserver()"}) {
    RunResult one = Run(std::string("--observer '") + spec + "' " + P("big.npy"));
    RunResult two = Run(std::string("--observer '") + spec + "' --threads 2 " + P("big.npy"));
    ASSERT_EQ(one.exit_code, 0) << one.err;
    ASSERT_EQ(two.exit_code, 0) << two.err;
    EXPECT_EQ(one.out, two.out) << spec;
  }
}

// Verifies sharding: state of shard A merged into shard B's observer equals one pass over both.
TEST_F(ObserveCliTest, SaveAndMergeState) {
  for (const char* spec : {"MinMaxObserver()", "PerChannelMinMaxObserver(ch_axis=0)",
                           "EntropyObserver(bins=64, num_quantized_bins=8)"}) {
    SCOPED_TRACE(spec);
    Npy(dir_ / "m1.npy", {2, 3}, {1, -2, 3, 4, 5, -6});
    Npy(dir_ / "m2.npy", {2, 3}, {0.5f, 7, -1, 2, 9, 0});
    const std::string s = std::string("--observer '") + spec + "' ";
    RunResult both = Run(s + P("m1.npy") + " " + P("m2.npy"));
    RunResult a = Run(s + "--save-state " + P("a.state") + " " + P("m1.npy"));
    RunResult merged = Run(s + "--merge-state " + P("a.state") + " " + P("m2.npy"));
    RunResult only_states = Run(s + "--merge-state " + P("a.state"));
    ASSERT_EQ(both.exit_code, 0) << both.err;
    ASSERT_EQ(a.exit_code, 0) << a.err;
    ASSERT_EQ(merged.exit_code, 0) << merged.err;
    EXPECT_EQ(both.out, merged.out);
    EXPECT_EQ(only_states.exit_code, 0) << only_states.err;
    EXPECT_EQ(only_states.out, a.out);
  }
  // A state for another spec is refused.
  RunResult bad = Run("--observer 'MinMaxObserver(dtype=qint8)' --merge-state " + P("a.state"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("a.state"));
}

// Verifies bad .npy files are reported with the file name and exit status 1.
TEST_F(ObserveCliTest, BadFiles) {
  std::string good = observers::EncodeNpy({2}, std::vector<float>{1, 2});
  WriteBytes(dir_ / "trunc.npy", good.substr(0, good.size() - 3));
  std::string f8 = good;
  f8.replace(f8.find("<f4"), 3, "<f8");
  WriteBytes(dir_ / "f8.npy", f8);
  WriteBytes(dir_ / "text.npy", "not numpy at all");
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  WriteBytes(dir_ / "fortran.npy", fortran);
  struct Case {
    std::string file, message;
  };
  for (const Case& c : std::vector<Case>{{"trunc.npy", "truncated data"},
                                         {"f8.npy", "dtype '<f8' is not supported"},
                                         {"text.npy", "bad magic"},
                                         {"fortran.npy", "Fortran-order"},
                                         {"missing.npy", "missing.npy"}}) {
    RunResult r = Run("--observer 'MinMaxObserver()' " + P("a.npy") + " " + P(c.file));
    EXPECT_EQ(r.exit_code, 1) << c.file;
    EXPECT_THAT(r.err, HasSubstr(c.file));
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_EQ(r.out, "") << c.file;
  }
}

// Verifies spec errors exit 1 with PyTorch's message, and command-line errors exit 2 with usage.
TEST_F(ObserveCliTest, CommandLineErrors) {
  RunResult r =
      Run("--observer 'MinMaxObserver(dtype=qint8, qscheme=per_channel_affine)' " + P("a.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("qscheme"));
  r = Run("--observer 'NoSuchObserver()' " + P("a.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NoSuchObserver"));
  r = Run("--observer 'PlaceholderObserver()' " + P("a.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("marker"));
  r = Run(P("a.npy"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--observer SPEC is required"));
  r = Run("--observer 'MinMaxObserver()'");
  EXPECT_EQ(r.exit_code, 2);
  r = Run("--observer 'MinMaxObserver()' --threads 0 " + P("a.npy"));
  EXPECT_EQ(r.exit_code, 2);
  r = Run("--observer 'MinMaxObserver()' --bogus " + P("a.npy"));
  EXPECT_EQ(r.exit_code, 2);
  r = Run("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("usage: qprepc observe"));
}

}  // namespace
}  // namespace qprep::testing
