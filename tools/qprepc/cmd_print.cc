// `qprepc print MODEL.qg [-o OUT.qg]`: reads a graph and writes it in canonical .qg form
// (docs/qg-format.md, "Canonical form"). Output is written atomically: on bad input nothing is
// written, so a failed run never leaves a truncated OUT.qg behind.
#include <cstdio>
#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "common/file_io.h"
#include "ir/qg_printer.h"
#include "ir/qg_reader.h"
#include "tools/qprepc/command.h"

namespace qprep::cli {
namespace {

constexpr char kUsage[] =
    "usage: qprepc print MODEL.qg [-o OUT.qg]\n"
    "\n"
    "Reads MODEL.qg and prints it in canonical .qg form: header, module table, one blank line,\n"
    "one line per node; comments and extra blanks dropped; floats in shortest round-trip form\n"
    "(as Python's repr); strings as ASCII JSON. Printing a printed file again gives the same\n"
    "bytes.\n"
    "\n"
    "  -o OUT.qg   write to OUT.qg (atomically) instead of standard output\n"
    "  -h, --help\n"
    "\n"
    "On malformed input every error is printed as file:line:col with the line and a caret,\n"
    "the exit code is 1, and no output file is written.\n";

int RunPrint(const std::vector<std::string>& args) {
  std::string out_path;
  std::optional<std::string> path =
      ParseModelArgs(args, "print", kUsage, {{"-o", "--output", &out_path, nullptr}});
  if (!path) return kExitUsage;
  DiagnosticSink sink;
  absl::StatusOr<ir::Graph> graph = ir::ReadQgFile(*path, &sink);
  if (!graph.ok()) {
    PrintError(graph.status());
    return kExitError;
  }
  std::string text = ir::PrintQg(*graph);
  if (out_path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  absl::Status written = WriteFileAtomically(out_path, text);
  if (!written.ok()) {
    PrintError(written);
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

QPREPC_COMMAND(print, "print", "print a graph in canonical .qg form", kUsage, RunPrint);

}  // namespace qprep::cli
