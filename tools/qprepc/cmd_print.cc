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
  std::string path;
  std::string out_path;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o" || a == "--output") {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "qprepc print: %s needs a file name\n%s", a.c_str(), kUsage);
        return kExitUsage;
      }
      out_path = args[++i];
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "qprepc print: unknown option '%s'\n%s", a.c_str(), kUsage);
      return kExitUsage;
    } else if (path.empty()) {
      path = a;
    } else {
      std::fprintf(stderr, "qprepc print: more than one model given\n%s", kUsage);
      return kExitUsage;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "qprepc print: no model given\n%s", kUsage);
    return kExitUsage;
  }
  DiagnosticSink sink;
  absl::StatusOr<ir::Graph> graph = ir::ReadQgFile(path, &sink);
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
