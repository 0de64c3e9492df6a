// `qprepc print` and `qprepc summary` through the real binary: exit codes, located errors on
// stderr (the same golden text as the library test, tests/ir/data/errors/*.stderr), and no
// output file written (nor an existing one clobbered) when the input is bad.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;

const fs::path kSource = QPREP_SOURCE_DIR;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs qprepc with `args` in directory `cwd`, capturing stdout and stderr.
CliRun Qprepc(const std::string& args, const fs::path& cwd) {
  const fs::path tmp = fs::temp_directory_path() / ("qprep_cli_test_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  const std::string cmd = "cd '" + cwd.string() + "' && '" + std::string(QPREPC_PATH) + "' " +
                          args + " >'" + (tmp / "out").string() + "' 2>'" + (tmp / "err").string() +
                          "'";
  int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = Slurp(tmp / "out");
  r.err = Slurp(tmp / "err");
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_dir_ = fs::temp_directory_path() /
               ("qprep_cli_out_" + std::to_string(getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(out_dir_);
    fs::create_directories(out_dir_);
  }
  void TearDown() override { fs::remove_all(out_dir_); }
  fs::path out_dir_;
};

TEST_F(CliTest, SummaryOfExample) {
  CliRun r = Qprepc("summary examples/tiny.qg", kSource);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "graph tiny: 11 nodes, 11 edges, 6 modules");
  CliRun j = Qprepc("summary --json examples/resnet18.qg", kSource);
  EXPECT_EQ(j.code, 0) << j.err;
  EXPECT_EQ(j.out, Slurp(kSource / "examples/resnet18.summary.json"));
}

// -o writes exactly what stdout gets, and the output reads back to itself.
TEST_F(CliTest, PrintToFile) {
  const fs::path out = out_dir_ / "p.qg";
  CliRun r = Qprepc("print tests/ir/data/canonical/messy.in.qg -o '" + out.string() + "'", kSource);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Slurp(out), Slurp(kSource / "tests/ir/data/canonical/messy.out.qg"));
  CliRun again = Qprepc("print '" + out.string() + "'", kSource);
  EXPECT_EQ(again.code, 0);
  EXPECT_EQ(again.out, Slurp(out));
}

// Truncated lines, bad references, binary junk, ...: exit 1, the golden located errors on
// stderr, nothing on stdout, no output file, and an existing output left as it was.
TEST_F(CliTest, MalformedInputs) {
  const fs::path dir = kSource / "tests/ir/data/errors";
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".qg") inputs.push_back(e.path());
  }
  std::sort(inputs.begin(), inputs.end());
  ASSERT_GE(inputs.size(), 5u);
  for (const fs::path& in : inputs) {
    SCOPED_TRACE(in.filename().string());
    const fs::path out = out_dir_ / "new.qg";
    CliRun r = Qprepc("print " + in.filename().string() + " -o '" + out.string() + "'", dir);
    EXPECT_EQ(r.code, 1);
    fs::path golden = in;
    golden.replace_extension(".stderr");
    EXPECT_EQ(r.err, Slurp(golden));
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(fs::exists(out));

    const fs::path existing = out_dir_ / "existing.qg";
    { std::ofstream(existing) << "old\n"; }
    CliRun r2 = Qprepc("print " + in.filename().string() + " -o '" + existing.string() + "'", dir);
    EXPECT_EQ(r2.code, 1);
    EXPECT_EQ(Slurp(existing), "old\n");
    CliRun s = Qprepc("summary " + in.filename().string(), dir);
    EXPECT_EQ(s.code, 1);
    EXPECT_EQ(s.err, Slurp(golden));
  }
  // No stray temporaries left next to the outputs.
  EXPECT_EQ(std::distance(fs::directory_iterator(out_dir_), fs::directory_iterator()), 1);
}

TEST_F(CliTest, UsageAndIoErrors) {
  CliRun none = Qprepc("print", kSource);
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("usage: qprepc print"), std::string::npos);
  CliRun help = Qprepc("summary --help", kSource);
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: qprepc summary MODEL.qg [--json]"), std::string::npos);
  CliRun bad_opt = Qprepc("summary --frobnicate examples/tiny.qg", kSource);
  EXPECT_EQ(bad_opt.code, 2);
  CliRun missing = Qprepc("summary no/such/file.qg", kSource);
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err.rfind("qprepc: error:", 0), 0u) << missing.err;
}

}  // namespace
