// qprepc: the command-line driver. Dispatches to the subcommands registered in cmd_*.cc.
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "tools/qprepc/command.h"

namespace qprep::cli {

namespace {
std::vector<Command>& Registry() {
  static auto* commands = new std::vector<Command>();
  return *commands;
}
}  // namespace

bool RegisterCommand(const Command& c) {
  Registry().push_back(c);
  std::sort(Registry().begin(), Registry().end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
  return true;
}

const std::vector<Command>& Commands() { return Registry(); }

void PrintError(const absl::Status& s) {
  std::string msg(s.message());
  if (msg.empty()) msg = s.ToString();
  // Rendered diagnostics already carry "file:line:col: error:" and end with a newline.
  if (absl::StrContains(msg, ": error: ") || absl::StrContains(msg, ": warning: ")) {
    std::fputs(msg.c_str(), stderr);
    if (msg.back() != '\n') std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "qprepc: error: %s\n", msg.c_str());
  }
}

bool WantsHelp(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(),
                     [](const std::string& a) { return a == "-h" || a == "--help"; });
}

int DefaultObserverThreads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

std::optional<std::string> ParseModelArgs(const std::vector<std::string>& args,
                                          std::string_view command, std::string_view usage,
                                          const std::vector<ModelArgOption>& options) {
  const std::string cmd(command);
  const std::string help(usage);
  std::string path;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.empty() && a[0] == '-') {
      auto it = std::find_if(options.begin(), options.end(), [&](const ModelArgOption& o) {
        return a == o.name || (!o.alias.empty() && a == o.alias);
      });
      if (it == options.end()) {
        std::fprintf(stderr, "qprepc %s: unknown option '%s'\n%s", cmd.c_str(), a.c_str(),
                     help.c_str());
        return std::nullopt;
      }
      if (it->flag != nullptr) {
        *it->flag = true;
      } else if (i + 1 >= args.size()) {
        std::fprintf(stderr, "qprepc %s: %s needs a value\n%s", cmd.c_str(), a.c_str(),
                     help.c_str());
        return std::nullopt;
      } else {
        *it->value = args[++i];
      }
    } else if (path.empty()) {
      path = a;
    } else {
      std::fprintf(stderr, "qprepc %s: more than one model given\n%s", cmd.c_str(), help.c_str());
      return std::nullopt;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "qprepc %s: no model given\n%s", cmd.c_str(), help.c_str());
    return std::nullopt;
  }
  return path;
}

namespace {
void PrintTopHelp(std::FILE* out) {
  std::fputs(
      "qprepc: the qprep quantization prepare compiler.\n"
      "\n"
      "Decides where quantization observers go in a model's dataflow graph (as PyTorch's FX\n"
      "prepare_fx does), from backend and qconfig rules written in the qprep rule language,\n"
      "and runs the observers' CPU kernels to calibrate scales and zero points.\n"
      "\n"
      "usage: qprepc COMMAND [ARGS...]\n"
      "       qprepc COMMAND --help    help for one command\n"
      "\n"
      "commands:\n",
      out);
  for (const Command& c : Commands()) {
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::fputs("\nSee docs/ in the source tree (or share/doc/qprep) for the formats.\n", out);
}
}  // namespace

}  // namespace qprep::cli

int main(int argc, char** argv) {
  using namespace qprep::cli;
  if (argc < 2) {
    PrintTopHelp(stderr);
    return kExitUsage;
  }
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    PrintTopHelp(stdout);
    return kExitOk;
  }
  if (name == "--version") {
    std::puts("qprepc 0.1.0");
    return kExitOk;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const Command& c : Commands()) {
    if (c.name == name) {
      if (WantsHelp(args)) {
        std::fwrite(c.usage.data(), 1, c.usage.size(), stdout);
        return kExitOk;
      }
      return c.run(args);
    }
  }
  std::fprintf(stderr, "qprepc: error: unknown command '%s' (see qprepc --help)\n", name.c_str());
  return kExitUsage;
}
