// Helpers for the tests that run the real qprepc binary (observe_cli_test, calibrate_cli_test):
// a scratch directory, .npy writing, and running a command line capturing stdout, stderr and the
// exit status.
#ifndef QPREP_TESTS_CALIBRATE_CLI_TEST_UTIL_H_
#define QPREP_TESTS_CALIBRATE_CLI_TEST_UTIL_H_

#include <sys/wait.h>

#include <cstdio>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "backends/cpu/calibrate/npy.h"
#include "gtest/gtest.h"

namespace qprep::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

// A fresh directory under the test temp dir, removed on destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      // ctest runs each test in its own process, in parallel: the pid keeps their dirs apart.
      : path_(std::filesystem::path(::testing::TempDir()) /
              ("qprep_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& rel) const {
    std::filesystem::path p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    return p.string();
  }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

inline void Npy(const std::string& path, const std::vector<int64_t>& shape,
                const std::vector<float>& data) {
  ASSERT_TRUE(observers::WriteNpy(path, shape, data).ok()) << path;
}

// Runs qprepc with `args` (already shell-quoted where needed).
inline RunResult Qprepc(const std::string& args, const std::string& scratch) {
  const std::string qprepc = std::string(QPREP_BINARY_DIR) + "/bin/qprepc";
  const std::string out = scratch + "/.stdout", err = scratch + "/.stderr";
  const std::string cmd = Quote(qprepc) + " " + args + " >" + Quote(out) + " 2>" + Quote(err);
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

}  // namespace qprep::testing

#endif  // QPREP_TESTS_CALIBRATE_CLI_TEST_UTIL_H_
