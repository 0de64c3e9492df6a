// The prepare pipeline: qprep's main job, end to end, as a library call.
//
//   ir::Graph ─► fusion ─► qconfig resolution ─► pattern matching ─► facts ─┐
//   rule files (prelude + backend + qconfig mapping) ─► CompiledRules ──────┴► fixpoint ─► Plan
//
// The built-in stages are engine/fusion.h, qconfig_resolution.h, matcher.h; the placement policy
// is rules/prelude/prepare.qr; the plan is assembled from the relations the prelude derives
// (plan_builder.h). Everything the run computed stays in PrepareResult so `qprepc explain` can
// answer questions about it (provenance is on).
#ifndef QPREP_PREPARE_PIPELINE_H_
#define QPREP_PREPARE_PIPELINE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/diagnostics.h"
#include "engine/database.h"
#include "engine/evaluator.h"
#include "engine/facts.h"
#include "engine/fusion.h"
#include "engine/matcher.h"
#include "engine/plan.h"
#include "engine/prepare_config.h"
#include "engine/qconfig_resolution.h"
#include "ir/graph.h"
#include "rules/compiler.h"

namespace qprep::prepare {

struct PrepareOptions {
  // Rule files compiled as one program: the prelude, the backend, the qconfig mapping, and any
  // team files. Includes are resolved relative to each file, then through `search_paths`.
  std::vector<std::string> rule_files;
  std::vector<std::string> search_paths;
  // Which `backend NAME { ... }` and `qconfig_mapping NAME { ... }` to use. Empty: the only one
  // declared (an error if there are several).
  std::string backend;
  std::string qconfig_mapping;
  bool qat = false;
  // prepare_fx's _equalization_config: the `qconfig_mapping NAME { ... }` whose (equalization)
  // qconfigs are resolved per node like the qconfig mapping. Empty name and file: none. With an
  // empty name, `equalization_file` names a rule file (also in rule_files) declaring exactly one
  // qconfig_mapping, which is used.
  std::string equalization_mapping;
  std::string equalization_file;
  // When set, the qconfig mapping is QConfigMapping().set_global(<the qconfig of this name>, or
  // `none`) instead of a declared mapping: what 1.13 prepares a standalone module with when its
  // entry gives no mapping (the parent's qconfig at the standalone node).
  std::string global_qconfig;
  engine::PrepareCustomConfig custom;  // input/output_quantized_idxs etc. (flags)
  engine::EvalOptions eval;
  bool provenance = true;
  // The PT2E flow (prepare/pt2e.h: prepare_pt2e with a quantizer's annotation rules instead of a
  // backend config and qconfig mapping); `quantizer` names it in the plan's "backend" field.
  bool pt2e = false;
  std::string quantizer;
};

// Wall time per stage, for `qprepc prepare --stats` and the benchmark harness.
struct StageTimes {
  double compile_rules = 0, fuse = 0, resolve_qconfigs = 0, match = 0, load_facts = 0,
         evaluate = 0, build_plan = 0;
};

struct PrepareResult {
  rules::CompiledRules rules;
  engine::PrepareConfig config;
  std::string backend_name;
  std::string qconfig_mapping_name;
  engine::FusionResult fusion;
  engine::QConfigResolution qconfigs;
  // The equalization qconfig per node, when PrepareOptions asked for one (else empty).
  std::string equalization_mapping_name;
  std::optional<engine::QConfigResolution> equalization;
  engine::MatchResult matches;
  std::unique_ptr<engine::Database> db;
  engine::FactTables tables;
  engine::RunReport report;
  engine::Plan plan;
  StageTimes times;
  // Point numbering (see rules/prelude/prepare.qr): edge e is point e; the output of fused node
  // n is point num_edges + n.
  size_t num_edges = 0;
};

// Compiles the rules (diagnostics go to `sink`) and runs prepare on `graph`.
absl::StatusOr<std::unique_ptr<PrepareResult>> Prepare(const ir::Graph& graph,
                                                       const PrepareOptions& options,
                                                       DiagnosticSink* sink);

// The same with rules already compiled (benchmarks reuse one compilation). `rules` is copied.
absl::StatusOr<std::unique_ptr<PrepareResult>> PrepareWithRules(const ir::Graph& graph,
                                                                 const rules::CompiledRules& rules,
                                                                 const PrepareOptions& options);

}  // namespace qprep::prepare

#endif  // QPREP_PREPARE_PIPELINE_H_
