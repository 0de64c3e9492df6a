// The rule language front end's public API: reads rule files (*.qr) and their includes, checks
// them, and lowers them for the engine. Sits between the parser (rules/parser.h) and the engine:
//   - derivation rules and relation declarations -> engine::Program (engine/program.h), strings
//     interned in an engine::SymbolTable shared with the fact loader;
//   - observers, qconfigs, dtype configs, groups, qconfig mappings and backends ->
//     engine::QConfig / engine::QConfigMapping / engine::BackendConfig (engine/prepare_config.h).
//
// Contract: every user error is a located Diagnostic in the caller's DiagnosticSink (several per
// run; syntax errors recover at the next declaration). Compilation fails (InvalidArgument whose
// message is the rendered diagnostics) iff there is an error; warnings (unused declarations,
// unreachable patterns, singleton variables) never fail it. A successful result is well formed
// in the sense of engine/program.h: the evaluator may run it without further checks.
#ifndef QPREP_RULES_COMPILER_H_
#define QPREP_RULES_COMPILER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/diagnostics.h"
#include "common/observer_spec.h"
#include "engine/prepare_config.h"
#include "engine/program.h"

namespace qprep::rules {

struct CompileOptions {
  // Where `include "x.qr"` looks after the including file's own directory, in order.
  std::vector<std::string> search_paths;
  // The relations the engine provides (Kind::kInput, typed columns), e.g.
  // engine::BuiltinRelations(). Rules may read them without declaring them. When empty, files
  // may declare `input relation`s freely (for tests of the language alone).
  std::vector<engine::RelationDecl> builtin_relations;
  // Interns rule constants. Null: the result owns a fresh table.
  std::shared_ptr<engine::SymbolTable> symbols;
  // Reads an included (or top-level) file; defaults to common/file_io.h's ReadFile.
  std::function<absl::StatusOr<std::string>(const std::string& path)> read_file;
  // Emit "declared but never used" warnings.
  bool warn_unused = true;
};

struct CompiledRules {
  engine::Program program;
  std::shared_ptr<engine::SymbolTable> symbols;
  // Named configuration declarations, by name.
  std::map<std::string, ObserverSpec> observers;
  std::map<std::string, engine::QConfig> qconfigs;
  std::map<std::string, engine::DTypeConfig> dtype_configs;
  std::map<std::string, std::vector<engine::OpRef>> groups;
  std::map<std::string, engine::QConfigMapping> qconfig_mappings;
  std::map<std::string, engine::BackendConfig> backends;
  // Every file read, in the order first read (top-level files and includes).
  std::vector<std::shared_ptr<const SourceFile>> files;
};

// Compiles the given files (each with its includes, every file read once) as one program.
absl::StatusOr<CompiledRules> CompileFiles(const std::vector<std::string>& paths,
                                           const CompileOptions& options, DiagnosticSink* sink);

// Same, for sources already in memory (tests, fuzzing). Includes are still resolved through
// options.read_file relative to each source's name.
absl::StatusOr<CompiledRules> CompileSources(
    const std::vector<std::shared_ptr<const SourceFile>>& sources, const CompileOptions& options,
    DiagnosticSink* sink);

}  // namespace qprep::rules

#endif  // QPREP_RULES_COMPILER_H_
