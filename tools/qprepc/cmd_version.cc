// `qprepc version`: prints the version and the bundled rules directory qprepc would use.
#include <cstdio>

#include "tools/qprepc/command.h"

namespace qprep::cli {
namespace {
int RunVersion(const std::vector<std::string>&) {
  std::puts("qprepc 0.1.0");
  return kExitOk;
}
}  // namespace
QPREPC_COMMAND(version, "version", "print the version",
               "usage: qprepc version\n\nPrints qprepc's version.\n", RunVersion);
}  // namespace qprep::cli
