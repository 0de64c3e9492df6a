// qprepc's subcommands. Each lives in its own cmd_<name>.cc beside main.cc and registers itself
// with QPREPC_COMMAND; main.cc dispatches on argv[1]. Commands are the only code in qprep that
// prints or chooses an exit code: library calls return absl::Status, and a command turns a
// failed Status into a message on stderr and exit code 1 (2 for usage errors).
#ifndef QPREP_TOOLS_QPREPC_COMMAND_H_
#define QPREP_TOOLS_QPREPC_COMMAND_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace qprep::cli {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // bad input, failed run
inline constexpr int kExitUsage = 2;  // bad command line

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `qprepc --help`
  std::string_view usage;    // full help for `qprepc NAME --help`
  // args: everything after the subcommand name.
  int (*run)(const std::vector<std::string>& args);
};

// Registers a command at static-initialization time (cmd_*.cc are linked into the executable
// directly, so the registrations are never dropped).
bool RegisterCommand(const Command& c);
const std::vector<Command>& Commands();

// Prints a failed status the way every command does: the message as is if it already holds
// rendered diagnostics (file:line:col: ...), else "qprepc: error: <message>".
void PrintError(const absl::Status& s);
// True if args contains -h or --help.
bool WantsHelp(const std::vector<std::string>& args);
// The default of `--threads` for the observer commands: the CPUs this process may run on, as
// PyTorch's default intra-op thread count (torch.get_num_threads()); at least 1. Results do not
// depend on it.
int DefaultObserverThreads();

// Argument parsing for commands that read exactly one MODEL.qg among simple options. An option
// either takes a value (`value` set: `-o OUT`) or is a switch (`flag` set: `--json`); `alias` is an
// optional second spelling. Prints the usage error (naming the command) and returns nullopt on an
// unknown option, a missing value, no model or a second model; else returns the model path.
struct ModelArgOption {
  std::string_view name;
  std::string_view alias;
  std::string* value = nullptr;
  bool* flag = nullptr;
};
std::optional<std::string> ParseModelArgs(const std::vector<std::string>& args,
                                          std::string_view command, std::string_view usage,
                                          const std::vector<ModelArgOption>& options);

}  // namespace qprep::cli

#define QPREPC_COMMAND(ident, ...) \
  static const bool qprepc_registered_##ident = ::qprep::cli::RegisterCommand({__VA_ARGS__})

#endif  // QPREP_TOOLS_QPREPC_COMMAND_H_
