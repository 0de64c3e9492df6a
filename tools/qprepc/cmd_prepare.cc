// `qprepc prepare MODEL.qg --backend NAME`: qprep's main job. Decides where observers go, which
// are shared instances, which outputs reuse their input's observer — as PyTorch's prepare_fx
// does — and writes the plan (PLAN_FORMAT), the prepared graph and a DOT drawing.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/file_io.h"
#include "ir/qg_printer.h"
#include "prepare/outputs.h"
#include "tools/qprepc/command.h"
#include "tools/qprepc/prepare_flags.h"

namespace qprep::cli {
namespace {

std::string Usage() {
  return std::string(
             "usage: qprepc prepare MODEL.qg [--backend NAME|FILE.qr] [options]\n"
             "       qprepc prepare MODEL.qg --quantizer NAME|FILE.qr [options]\n"
             "\n"
             "Runs quantization prepare on a .qg graph (tools/export_fx.py makes one from a\n"
             "PyTorch model): fusion, qconfig resolution, pattern matching, then the placement\n"
             "rules (rules/prelude/prepare.qr). Prints a one-screen summary.\n"
             "With --quantizer, the PT2E flow (prepare_pt2e): the quantizer's rules annotate\n"
             "edges and outputs with quantization specs and rules/prelude/pt2e.qr places and\n"
             "shares the observers (docs/backend-guide.md, \"Writing a PT2E quantizer\").\n"
             "\n"
             "outputs:\n"
             "  --plan PLAN.json         the plan (docs/plan-format.md)\n"
             "  -o PREPARED.qg           the input graph with activation_post_process_<k> nodes\n"
             "  --dot GRAPH.dot          Graphviz drawing: observers on edges, shared instances\n"
             "                           in one colour, fp32 nodes grey\n"
             "  --stats                  per-stage times and the rule engine's run report\n"
             "  -q, --quiet              no summary\n"
             "  --no-provenance          do not record why each fact holds: less time and memory\n"
             "                           for batch runs (the plan is the same; `qprepc explain`\n"
             "                           is the command that needs provenance)\n"
             "\n"
             "rules and configuration:\n") +
         kPrepareFlagsHelp +
         "\nOutputs are written atomically (temporary file, then rename): on an error nothing is "
         "written.\nexit status: 0 ok, 1 bad input or failed run, 2 bad command line.\n";
}

// Where a finished run is parked until the process exits (see the end of RunPrepareCommand).
PrepareRun* volatile g_prepare_run_kept_until_exit = nullptr;

int RunPrepareCommand(const std::vector<std::string>& args) {
  PrepareFlags flags;
  std::vector<std::string> rest;
  if (!ParsePrepareFlags(args, &flags, &rest, "prepare")) return kExitUsage;
  std::string plan_path, out_path, dot_path;
  bool stats = false, quiet = false;
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= rest.size()) return false;
      *out = rest[++i];
      return true;
    };
    if (a == "--plan" ? !value(&plan_path)
        : a == "-o"   ? !value(&out_path)
        : a == "--dot" ? !value(&dot_path)
                       : false) {
      std::fprintf(stderr, "qprepc prepare: %s needs a file name\n", a.c_str());
      return kExitUsage;
    }
    if (a == "--plan" || a == "-o" || a == "--dot") continue;
    if (a == "--stats") {
      stats = true;
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (a == "--no-provenance") {
      flags.provenance = false;
    } else {
      std::fprintf(stderr, "qprepc prepare: unknown argument '%s' (see qprepc prepare --help)\n",
                   a.c_str());
      return kExitUsage;
    }
  }
  if (flags.model.empty()) {
    std::fputs("qprepc prepare: no model given (see qprepc prepare --help)\n", stderr);
    return kExitUsage;
  }
  auto run = RunPrepare(flags);
  if (!run) return kExitError;
  const prepare::PrepareResult& r = *run->result;
  // Render every output first; write only when all of them rendered.
  std::vector<std::pair<std::string, std::string>> outputs;
  if (!plan_path.empty()) outputs.emplace_back(plan_path, engine::PlanToString(r.plan));
  if (!out_path.empty()) {
    auto prepared = prepare::BuildPreparedGraph(run->graph, r.plan);
    if (!prepared.ok()) {
      PrintError(prepared.status());
      return kExitError;
    }
    outputs.emplace_back(out_path, ir::PrintQg(*prepared));
  }
  if (!dot_path.empty()) outputs.emplace_back(dot_path, prepare::PlanToDot(run->graph, r.plan));
  for (const auto& [path, text] : outputs) {
    absl::Status s = WriteFileAtomically(path, text);
    if (!s.ok()) {
      PrintError(s);
      return kExitError;
    }
  }
  if (!quiet) {
    for (const std::string& w : prepare::PrepareWarnings(r)) {
      std::fprintf(stderr, "warning: %s\n", w.c_str());
    }
    std::fputs(prepare::PlanSummary(r.plan).c_str(), stdout);
  }
  if (stats) {
    const auto& t = r.times;
    std::fprintf(stdout,
                 "stages (ms): compile rules %.3f, fuse %.3f, qconfigs %.3f, match %.3f, "
                 "facts %.3f, evaluate %.3f, plan %.3f\n",
                 t.compile_rules * 1e3, t.fuse * 1e3, t.resolve_qconfigs * 1e3, t.match * 1e3,
                 t.load_facts * 1e3, t.evaluate * 1e3, t.build_plan * 1e3);
    std::fputs(r.report.ToText(r.rules.program).c_str(), stdout);
  }
  // The process ends right after this command: freeing the graphs, the fact database and its
  // provenance one allocation at a time was ~7% of a 400-block chain's run (callgrind), work the
  // OS does at once on exit. Kept reachable from a namespace-scope volatile pointer so
  // LeakSanitizer (and valgrind) see it as reachable: a function-local static that is written but
  // never read was optimized away, and the ASan build then reported the whole run as leaked.
  g_prepare_run_kept_until_exit = run.release();
  return kExitOk;
}

const std::string kUsageText = Usage();

}  // namespace

QPREPC_COMMAND(prepare, "prepare",
               "place observers on a .qg graph as PyTorch's prepare_fx does (plan, prepared graph, DOT)",
               kUsageText, RunPrepareCommand);

}  // namespace qprep::cli
