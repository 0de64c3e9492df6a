// `qprepc prepare` through the real binary with this flags: --equalization (default,
// FILE.qr:NAME, refused with --qat), --standalone-module-class, --global-qconfig. Each plan is
// checked with `qprepc diff` against PyTorch 1.13's golden (tests/parity/data; regenerate with
// /usr/bin/python3 tools/gen_goldens.py --only equalization / --only standalone_).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSource = QPREP_SOURCE_DIR;
const fs::path kData = kSource / "tests" / "parity" / "data";
const fs::path kQconfig = kSource / "tests" / "parity" / "qconfig";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CliRun {
  int code = -1;
  std::string out, err;
};

class PrepareCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qprep_prepare_cli_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliRun Qprepc(const std::string& args) {
    // Appended piece by piece: GCC 12's -Wrestrict misfires on "'" + std::string(...).
    std::string cmd(1, '\'');
    cmd.append(QPREPC_PATH).append("' ").append(args);
    cmd.append(" >'").append((dir_ / "out").string()).append("' 2>'");
    cmd.append((dir_ / "err").string()).append("'");
    int status = std::system(cmd.c_str());
    CliRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = Slurp(dir_ / "out");
    r.err = Slurp(dir_ / "err");
    return r;
  }

  // The reference's placement of a standalone child, as a reference file of its own.
  fs::path ChildReference(const std::string& case_id, const std::string& path) {
    std::ifstream in(kData / (case_id + ".ref.json"));
    nlohmann::json ref = nlohmann::json::parse(in);
    nlohmann::json child = ref["standalone_modules"][path];
    child["format"] = ref["format"];
    child["version"] = ref["version"];
    fs::path out = dir_ / (case_id + "." + path + ".ref.json");
    std::ofstream(out) << child.dump();
    return out;
  }

  fs::path dir_;
};

TEST_F(PrepareCliTest, EqualizationDefaultMatchesPyTorch) {
  const fs::path plan = dir_ / "plan.json";
  CliRun r = Qprepc("prepare '" + (kData / "equalization_branch.qg").string() +
                    "' --equalization default --plan '" + plan.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  // PyTorch's warnings for the two branch nodes.
  EXPECT_THAT(r.err, HasSubstr("warning: Cannot equalize fc2 because it is part of a branch."));
  EXPECT_THAT(r.err, HasSubstr("warning: Cannot equalize fc3 because it is part of a branch."));
  CliRun d = Qprepc("diff '" + (kData / "equalization_branch.ref.json").string() + "' '" +
                    plan.string() + "'");
  EXPECT_EQ(d.code, 0) << d.out;
  // Without the flag the equalization points are missing.
  r = Qprepc("prepare '" + (kData / "equalization_branch.qg").string() + "' -q --plan '" +
             plan.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  d = Qprepc("diff '" + (kData / "equalization_branch.ref.json").string() + "' '" +
             plan.string() + "'");
  EXPECT_EQ(d.code, 1);
  EXPECT_THAT(d.out, HasSubstr("missing insertion point x -> [fc1] (equalization)"));
}

TEST_F(PrepareCliTest, EqualizationFromAFileMapping) {
  const fs::path plan = dir_ / "plan.json";
  CliRun r = Qprepc("prepare '" + (kData / "equalization_functional_linear.qg").string() +
                    "' -q --equalization '" + (kQconfig / "equalization.qr").string() +
                    ":equalization_levels' --plan '" + plan.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  CliRun d = Qprepc("diff '" + (kData / "equalization_functional_linear.ref.json").string() +
                    "' '" + plan.string() + "'");
  EXPECT_EQ(d.code, 0) << d.out;
}

TEST_F(PrepareCliTest, EqualizationIsRefusedWithQat) {
  CliRun r = Qprepc("prepare '" + (kData / "equalization_branch.qg").string() +
                    "' --qat --equalization default");
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("prepare_qat_fx (--qat) has none"));
}

TEST_F(PrepareCliTest, StandaloneByClassParentAndChild) {
  const fs::path plan = dir_ / "plan.json";
  const std::string qconfig = (kQconfig / "standalone_parent_qconfig.qr").string();
  // The parent: the by-class entry does not make sm2's input quantized (PyTorch swaps the child
  // for its observed module first), so the fp32 linear feeding it gets no observer.
  CliRun r = Qprepc("prepare '" + (kData / "standalone_configs.qg").string() + "' -q --qconfig '" +
                    qconfig + "' --standalone-module-class standalone_configs.Child:0: --plan '" +
                    plan.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  CliRun d = Qprepc("diff '" + (kData / "standalone_parent_qconfig.ref.json").string() + "' '" +
                    plan.string() + "'");
  EXPECT_EQ(d.code, 0) << d.out;
  // The child: QConfigMapping().set_global(<the parent's qconfig>) quantizes its linear, which
  // the parent's own mapping (object_type Linear: none) would not.
  const fs::path child_ref = ChildReference("standalone_parent_qconfig", "sm1");
  const std::string child = "prepare '" + (kData / "standalone_configs.sm1.qg").string() +
                            "' -q --qconfig '" + qconfig + "' --input-quantized-idxs 0 --plan '" +
                            plan.string() + "'";
  r = Qprepc(child + " --global-qconfig default_qconfig");
  ASSERT_EQ(r.code, 0) << r.err;
  d = Qprepc("diff '" + child_ref.string() + "' '" + plan.string() + "'");
  EXPECT_EQ(d.code, 0) << d.out;
  r = Qprepc(child);  // with the parent's mapping instead: linear stays fp32
  ASSERT_EQ(r.code, 0) << r.err;
  d = Qprepc("diff '" + child_ref.string() + "' '" + plan.string() + "'");
  EXPECT_EQ(d.code, 1);
  r = Qprepc(child + " --global-qconfig no_such_qconfig");
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("no qconfig named 'no_such_qconfig'"));
}

TEST_F(PrepareCliTest, BadStandaloneClassFlag) {
  CliRun r = Qprepc("prepare '" + (kData / "standalone_configs.qg").string() +
                    "' --standalone-module-class a:b:c:d");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--standalone-module-class takes NAME[:IN[:OUT]]"));
}

}  // namespace
