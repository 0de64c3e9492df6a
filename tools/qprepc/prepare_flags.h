// Command-line flags shared by `qprepc prepare` and `qprepc explain`: which model, which rules
// (bundled backend or a team's .qr files), QAT, and PrepareCustomConfig's essentials.
#ifndef QPREP_TOOLS_QPREPC_PREPARE_FLAGS_H_
#define QPREP_TOOLS_QPREPC_PREPARE_FLAGS_H_

#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "prepare/pipeline.h"

namespace qprep::cli {

struct PrepareFlags {
  std::string model;
  std::string backend = "fbgemm";
  bool backend_given = false;            // --backend was on the command line
  // --quantizer NAME|FILE.qr: the PT2E flow (prepare/pt2e.h) instead of --backend / --qconfig.
  std::string quantizer;
  std::string qconfig;                   // --qconfig FILE.qr
  std::string qconfig_mapping;           // --qconfig-mapping NAME
  std::vector<std::string> extra_rules;  // --rules FILE.qr (repeatable)
  std::vector<std::string> search_paths;
  bool qat = false;
  std::vector<int> input_quantized_idxs, output_quantized_idxs;
  // --standalone-module NAME[:IN[:OUT]]: PrepareCustomConfig.set_standalone_module_name(NAME, None,
  // ..., child config with input / output_quantized_indexes IN / OUT, None).
  struct Standalone {
    std::string name;
    std::vector<int> input_quantized_idxs, output_quantized_idxs;
  };
  std::vector<Standalone> standalone_modules;
  // --standalone-module-class TYPE[:IN[:OUT]]: set_standalone_module_class(TYPE, None, ..., child
  // config, None) (`name` holds the fully qualified type); a by-name entry wins over it.
  std::vector<Standalone> standalone_module_classes;
  // --global-qconfig NAME: the mapping is QConfigMapping().set_global(NAME) (`none` allowed):
  // how 1.13 prepares a standalone child whose entry has no mapping (NAME = the parent's qconfig
  // at the standalone node, which `qprepc explain PARENT.qg NODE` shows).
  std::string global_qconfig;
  // --custom-module TYPE=OBSERVED_TYPE: set_float_to_observed_mapping(TYPE, OBSERVED_TYPE).
  std::vector<std::pair<std::string, std::string>> custom_modules;
  // --equalization NAME|FILE.qr[:NAME]: prepare_fx's _equalization_config ("default": the bundled
  // default_equalization mapping, QConfigMapping().set_global(default_equalization_qconfig)).
  std::string equalization;
  std::vector<std::string> positional;  // after the model
  // Record why each fact holds (PrepareOptions::provenance). `qprepc explain` needs it; `qprepc
  // prepare --no-provenance` turns it off for batch runs that only want the plan.
  bool provenance = true;
};

extern const char kPrepareFlagsHelp[];

// Consumes the flags it knows; others (and positionals after the model) are left in `rest`.
// Returns false (message printed) on a malformed flag.
bool ParsePrepareFlags(const std::vector<std::string>& args, PrepareFlags* flags,
                       std::vector<std::string>* rest, const char* command);

// Reads the model and runs prepare; prints located errors and returns nullptr on failure.
struct PrepareRun {
  ir::Graph graph;
  std::unique_ptr<prepare::PrepareResult> result;
};
std::unique_ptr<PrepareRun> RunPrepare(const PrepareFlags& flags);

}  // namespace qprep::cli

#endif  // QPREP_TOOLS_QPREPC_PREPARE_FLAGS_H_
