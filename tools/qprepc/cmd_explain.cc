// `qprepc explain MODEL.qg [--backend ...] NODE`: why a node is (not) quantized, which qconfig
// level and pattern applied, why each input and the output is or is not observed, and which
// observer instance it shares — each answer with the chain of named rules and facts behind it.
#include <cstdio>
#include <string>
#include <vector>

#include "prepare/explain.h"
#include "tools/qprepc/command.h"
#include "tools/qprepc/prepare_flags.h"

namespace qprep::cli {
namespace {

std::string Usage() {
  return std::string(
             "usage: qprepc explain MODEL.qg [--backend NAME|FILE.qr | --quantizer NAME|FILE.qr]\n"
             "                      [options] NODE...\n"
             "\n"
             "Runs prepare as `qprepc prepare` does and explains NODE (a node name of the input\n"
             "graph): the qconfig level that applied, the pattern that matched, why each input and\n"
             "the output is or is not observed, and which observers it shares an instance with —\n"
             "each with the named rules (rules/prelude/prepare.qr) and facts that derived it.\n"
             "\n"
             "options:\n"
             "  --depth N                proof tree depth (default 3)\n") +
         kPrepareFlagsHelp + "\nexit status: 0 ok, 1 bad input or unknown node, 2 bad command line.\n";
}

int RunExplain(const std::vector<std::string>& args) {
  PrepareFlags flags;
  std::vector<std::string> rest;
  if (!ParsePrepareFlags(args, &flags, &rest, "explain")) return kExitUsage;
  prepare::ExplainOptions options;
  std::vector<std::string> nodes;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == "--depth" && i + 1 < rest.size()) {
      options.max_depth = std::atoi(rest[++i].c_str());
    } else if (!rest[i].empty() && rest[i][0] == '-') {
      std::fprintf(stderr, "qprepc explain: unknown argument '%s'\n", rest[i].c_str());
      return kExitUsage;
    } else {
      nodes.push_back(rest[i]);
    }
  }
  if (flags.model.empty() || nodes.empty()) {
    std::fputs("qprepc explain: need MODEL.qg and at least one NODE (see --help)\n", stderr);
    return kExitUsage;
  }
  auto run = RunPrepare(flags);
  if (!run) return kExitError;
  int status = kExitOk;
  for (const std::string& n : nodes) {
    auto text = prepare::ExplainNode(*run->result, run->graph, n, options);
    if (!text.ok()) {
      PrintError(text.status());
      status = kExitError;
      continue;
    }
    std::fputs(text->c_str(), stdout);
  }
  return status;
}

const std::string kUsageText = Usage();

}  // namespace

QPREPC_COMMAND(explain, "explain",
               "why a node is (not) observed / shares an observer: the rules and facts behind it",
               kUsageText, RunExplain);

}  // namespace qprep::cli
