// `qprepc summary MODEL.qg [--json]`: reads a graph and prints its node counts by kind and op,
// edges and modules. The main job until `prepare` exists; the JSON form is the layout
// tools/export_fx.py writes next to each example, so the two can be diffed.
#include <cstdio>
#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "ir/qg_reader.h"
#include "ir/summary.h"
#include "tools/qprepc/command.h"

namespace qprep::cli {
namespace {

constexpr char kUsage[] =
    "usage: qprepc summary MODEL.qg [--json]\n"
    "\n"
    "Reads MODEL.qg (the .qg graph format, docs/qg-format.md) and prints what it holds:\n"
    "the graph's name, its node, edge and module counts, then nodes by kind (placeholder,\n"
    "call_module, ...) and by op (call_module nodes by module type, call_function nodes by\n"
    "function, call_method nodes by method name).\n"
    "\n"
    "  --json   print the summary as JSON, in the layout of examples/<name>.summary.json\n"
    "  -h, --help\n"
    "\n"
    "Edges count node references inside arguments, repeats included. On malformed input every\n"
    "error is printed as file:line:col with the line and a caret, and the exit code is 1.\n";

int RunSummary(const std::vector<std::string>& args) {
  bool json = false;
  std::optional<std::string> path =
      ParseModelArgs(args, "summary", kUsage, {{"--json", "", nullptr, &json}});
  if (!path) return kExitUsage;
  DiagnosticSink sink;
  absl::StatusOr<ir::Graph> graph = ir::ReadQgFile(*path, &sink);
  if (!graph.ok()) {
    PrintError(graph.status());
    return kExitError;
  }
  ir::Summary summary = ir::Summarize(*graph);
  std::string out = json ? ir::SummaryJson(summary) : ir::SummaryText(summary);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

QPREPC_COMMAND(summary, "summary", "print a graph's node counts by kind and op, edges, modules",
               kUsage, RunSummary);

}  // namespace qprep::cli
