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

using ::testing::HasSubstr;
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
  EXPECT_THAT(r.out, HasSubstr("backend xnnpack: 41 observer nodes, 38 observer instances"));
  json j = json::parse(Slurp(plan));
  EXPECT_EQ(j["backend"], "xnnpack");
  EXPECT_EQ(j["insertions"].size(), 41u);
  const std::string prepared = Slurp(qg);
  EXPECT_THAT(prepared, HasSubstr("%activation_post_process_40 = call_module"));
  EXPECT_THAT(Slurp(dot), HasSubstr("digraph"));
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
                                  std::string("--qconfig-mapping m")}) {
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
