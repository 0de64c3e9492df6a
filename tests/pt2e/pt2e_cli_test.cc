// `qprepc prepare / explain / check` with --quantizer, through the real binary: the XNNPACK
// quantizer end to end on examples/resnet18.qg (plan, prepared graph, DOT), the flags the PT2E
// flow refuses, unknown quantizers, and the checker's located diagnostics for a bad quantizer file
// (data/err_quantizer.expected; regenerate by running
//   qprepc check tests/pt2e/data/err_quantizer.qr 2>&1 | sed "s#$PWD/#<src>/#g"
// from the source root and reviewing the diff).
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/calibrate/cli_test_util.h"

namespace qprep::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

const std::string kSrc = QPREP_SOURCE_DIR;

class Pt2eCliTest : public ::testing::Test {
 protected:
  Pt2eCliTest() : dir_("pt2e_cli") {}
  RunResult Run(const std::string& args) { return Qprepc(args, dir_.str()); }
  ScratchDir dir_;
};

// Verifies prepare --quantizer writes the plan, the prepared graph and the DOT drawing.
TEST_F(Pt2eCliTest, XnnpackResnet18EndToEnd) {
  const std::string plan = dir_ / "plan.json", qg = dir_ / "prepared.qg", dot = dir_ / "g.dot";
  RunResult r = Run("prepare " + Quote(kSrc + "/examples/resnet18.qg") +
                    " --quantizer xnnpack --plan " + Quote(plan) + " -o " + Quote(qg) +
                    " --dot " + Quote(dot));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Counts derived in pt2e_test.cc (Pt2eXnnpackTest.Resnet18).
  EXPECT_THAT(r.out, HasSubstr("backend xnnpack: 33 observer nodes, 30 observer instances"));
  json j = json::parse(Slurp(plan));
  EXPECT_EQ(j["backend"], "xnnpack");
  EXPECT_EQ(j["insertions"].size(), 33u);
  const std::string prepared = Slurp(qg);
  EXPECT_THAT(prepared, HasSubstr("%activation_post_process_32 = call_module"));
  EXPECT_THAT(prepared, Not(HasSubstr("%activation_post_process_33 ")));
  EXPECT_THAT(Slurp(dot), HasSubstr("digraph"));
}

// Verifies the functional resnet18 (export_fx.py --functional) through the binary: the module
// graph's 30 activation instances plus one per-channel weight observer per conv / linear
// (counts derived in pt2e_test.cc, Pt2eXnnpackFunctionalTest.Resnet18).
TEST_F(Pt2eCliTest, XnnpackResnet18Functional) {
  RunResult r = Run("prepare " + Quote(kSrc + "/examples/resnet18.functional.qg") +
                    " --quantizer xnnpack");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("backend xnnpack: 54 observer nodes, 51 observer instances"));
  EXPECT_THAT(r.out, ContainsRegex("HistogramObserver +30\n"));
  EXPECT_THAT(r.out, ContainsRegex("PerChannelMinMaxObserver +21\n"));
}

// Verifies --quantizer with a quantizer file path, and explain on the PT2E flow.
TEST_F(Pt2eCliTest, QuantizerFileAndExplain) {
  RunResult r = Run("prepare " + Quote(kSrc + "/tests/pt2e/data/cat_chain.qg") + " --quantizer " +
                    Quote(kSrc + "/tests/pt2e/data/cat_chain.qr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("5 observer nodes, 1 observer instances"));
  r = Run("explain " + Quote(kSrc + "/examples/resnet18.qg") + " --quantizer xnnpack maxpool");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("quantized: yes"));
  EXPECT_THAT(r.out, HasSubstr("shares one instance with the output observer of relu"));
  EXPECT_THAT(r.out, HasSubstr("explicit_sharing"));
  EXPECT_THAT(r.out, HasSubstr("flow: PT2E"));
  EXPECT_THAT(r.out, HasSubstr("args[0] <- relu: reads through the producer's output observer"));
  EXPECT_THAT(r.out, HasSubstr("same_instance_as_producer_output"));
}

// Verifies the FX flow's configuration flags are refused with --quantizer (exit 2).
TEST_F(Pt2eCliTest, ConflictingFlags) {
  const std::string model = Quote(kSrc + "/examples/tiny.qg");
  for (const std::string& flag : {std::string("--backend fbgemm"),
                                  "--qconfig " + Quote(kSrc + "/backends/qconfig/default.qr"),
                                  std::string("--qconfig-mapping m"),
                                  std::string("--equalization default"),
                                  std::string("--global-qconfig default_qconfig")}) {
    RunResult r = Run("prepare " + model + " --quantizer xnnpack " + flag);
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_THAT(r.err, HasSubstr("--quantizer (the PT2E flow: a quantizer annotates the graph) "
                                 "cannot be combined with " +
                                 flag.substr(0, flag.find(' '))))
        << flag;
  }
  RunResult r = Run("explain " + model + " --backend x86 --quantizer xnnpack conv");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("qprepc explain: --quantizer"));
}

// Verifies unknown quantizers, and the help text.
TEST_F(Pt2eCliTest, UnknownQuantizerAndHelp) {
  RunResult r = Run("prepare " + Quote(kSrc + "/examples/tiny.qg") + " --quantizer nosuch");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown quantizer 'nosuch' (bundled: xnnpack; or a .qr file)"));
  r = Run("prepare --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("--quantizer NAME|FILE.qr"));
}

// Verifies qprepc calibrate on a PT2E plan with a derived bias: the derived instance gets
// scale = input scale x weight scale per channel (float32), zero point 0, kind "derived"; an
// unknown derive_qparams_fn is refused.
TEST_F(Pt2eCliTest, CalibrateDerivedBias) {
  const std::string plan = dir_ / "plan.json";
  RunResult r = Run("prepare " + Quote(kSrc + "/tests/pt2e/data/derived_bias.qg") +
                    " --quantizer " + Quote(kSrc + "/tests/pt2e/data/derived_bias.qr") +
                    " -q --plan " + Quote(plan));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<float> x(3 * 8 * 8), w(4 * 3 * 3 * 3), y(4 * 6 * 6);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) * 0.25f - 2.0f;
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 7) % 11) * 0.1f - 0.4f;
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(i % 5) - 1.5f;
  Npy(dir_ / "data/x.npy", {1, 3, 8, 8}, x);
  Npy(dir_ / "data/w.npy", {4, 3, 3, 3}, w);
  Npy(dir_ / "data/conv.npy", {1, 4, 6, 6}, y);
  const std::string out = dir_ / "q.json";
  r = Run("calibrate " + Quote(plan) + " --data " + Quote(dir_ / "data") + " -o " + Quote(out) +
          " --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json q = json::parse(Slurp(out));
  const json& act = q["observers"][0];
  const json& weight = q["observers"][1];
  const json& bias = q["observers"][2];
  EXPECT_EQ(bias["kind"], "derived");
  EXPECT_EQ(bias["derived_from"], json::array({0, 1}));
  EXPECT_EQ(bias["dtype"], "int32");
  ASSERT_EQ(bias["scale"].size(), 4u);
  ASSERT_EQ(weight["scale"].size(), 4u);
  for (size_t c = 0; c < 4; ++c) {
    const float want = act["scale"][0].get<float>() * weight["scale"][c].get<float>();
    EXPECT_EQ(bias["scale"][c].get<float>(), want) << c;
    EXPECT_EQ(bias["zero_point"][c], 0) << c;
  }
  // Only PyTorch runs arbitrary derive functions: an unknown name is an error.
  std::string text = Slurp(plan);
  text.replace(text.find("derive_bias_qparams"), 19, "mystery_fn");
  WriteBytes(plan, text);
  r = Run("calibrate " + Quote(plan) + " --data " + Quote(dir_ / "data") + " -o " + Quote(out));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("derive_qparams_fn 'mystery_fn' is not one qprep computes"));
}

// Verifies the checker's diagnostics for a bad quantizer file, located, against the golden.
TEST_F(Pt2eCliTest, CheckerDiagnostics) {
  RunResult r = Run("check tests/pt2e/data/err_quantizer.qr");
  EXPECT_EQ(r.exit_code, 1);
  std::string got = r.err + r.out;
  for (size_t at; (at = got.find(kSrc + "/")) != std::string::npos;) {
    got.replace(at, kSrc.size() + 1, "<src>/");
  }
  EXPECT_EQ(got, Slurp(kSrc + "/tests/pt2e/data/err_quantizer.expected"));
}

}  // namespace
}  // namespace qprep::testing
