// `qprepc diff EXPECTED.json ACTUAL.json`: do two plans place the same observers? Compares as
// PLAN_FORMAT.md defines (insertion points, observer class and common args, sharing partition).
// Either file may be a qprep plan or tools/torch_reference.py's output.
#include <cstdio>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "tools/qprepc/command.h"

namespace qprep::cli {
namespace {

constexpr char kUsage[] =
    "usage: qprepc diff EXPECTED.json ACTUAL.json\n"
    "\n"
    "Compares two plans the way docs/plan-format.md defines \"the same placement\": equal sets\n"
    "of insertion points (value, consumers), equal observer class and arguments at each point\n"
    "(floats to a relative 1e-6), and the same grouping of points into shared instances.\n"
    "Either file may be a qprep plan or a PyTorch reference from tools/torch_reference.py.\n"
    "Prints each difference; exit 0 when the placements are the same, 1 otherwise.\n";

int RunDiff(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  auto expected = engine::ReadPlanFile(args[0]);
  if (!expected.ok()) {
    PrintError(expected.status());
    return kExitError;
  }
  auto actual = engine::ReadPlanFile(args[1]);
  if (!actual.ok()) {
    PrintError(actual.status());
    return kExitError;
  }
  std::vector<std::string> diffs = engine::ComparePlans(*expected, *actual);
  for (const std::string& d : diffs) std::printf("%s\n", d.c_str());
  std::printf("%s: %zu insertions expected, %zu actual, %zu differences\n",
              diffs.empty() ? "same placement" : "different placement",
              expected->insertions.size(), actual->insertions.size(), diffs.size());
  return diffs.empty() ? kExitOk : kExitError;
}

}  // namespace

QPREPC_COMMAND(diff, "diff", "compare two plans (qprep's or PyTorch's reference): same placement?",
               kUsage, RunDiff);

}  // namespace qprep::cli
