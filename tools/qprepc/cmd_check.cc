// `qprepc check FILE.qr...`: compiles rule files (with their includes) against the engine's
// built-in relations and prints every diagnostic, for rule authors. Nothing is evaluated.
// Exit 0: no errors (warnings allowed, unless --werror); 1: errors; 2: usage.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/facts.h"
#include "rules/compiler.h"
#include "tools/qprepc/command.h"

namespace qprep::cli {
namespace {

constexpr char kUsage[] =
    "usage: qprepc check [options] FILE.qr...\n"
    "\n"
    "Parses and checks rule files (backends, qconfig mappings, prelude rules) and prints\n"
    "located diagnostics: syntax errors, unknown names, wrong arity, type errors (observer\n"
    "arguments, dtypes, relation columns), duplicate or unreachable patterns, negation that\n"
    "is not stratifiable, unused declarations (warnings). Nothing is evaluated.\n"
    "\n"
    "options:\n"
    "  -I DIR            also look for included files in DIR (after the including file's\n"
    "                    directory; then $QPREP_RULES_PATH, then the bundled rules)\n"
    "  --werror          treat warnings as errors (exit 1)\n"
    "  --no-warn-unused  do not warn about unused declarations\n"
    "  --no-builtins     check without the engine's built-in relations (files must declare\n"
    "                    every `input relation` they use)\n"
    "  --list-builtins   print the built-in relations rules can read, and exit\n"
    "  --summary         print what the files declare (counts) on success\n"
    "\n"
    "exit status: 0 no errors, 1 errors, 2 bad command line.\n"
    "The language is described in docs/language.md.\n";

int RunCheck(const std::vector<std::string>& args) {
  if (WantsHelp(args)) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  rules::CompileOptions options;
  std::vector<std::string> files;
  bool werror = false, builtins = true, summary = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-I") {
      if (i + 1 == args.size()) {
        std::fputs("qprepc check: -I needs a directory\n", stderr);
        return kExitUsage;
      }
      options.search_paths.push_back(args[++i]);
    } else if (a.rfind("-I", 0) == 0 && a.size() > 2) {
      options.search_paths.push_back(a.substr(2));
    } else if (a == "--werror") {
      werror = true;
    } else if (a == "--no-warn-unused") {
      options.warn_unused = false;
    } else if (a == "--no-builtins") {
      builtins = false;
    } else if (a == "--summary") {
      summary = true;
    } else if (a == "--list-builtins") {
      for (const auto& b : engine::BuiltinRelations()) {
        std::string cols;
        for (size_t c = 0; c < b.decl.columns.size(); ++c) {
          static const char* kNames[] = {"int",      "symbol",  "node",   "edge",
                                         "observer", "qconfig", "pattern"};
          absl::StrAppend(&cols, c ? ", " : "",
                          c < b.decl.column_names.size() && !b.decl.column_names[c].empty()
                              ? absl::StrCat(b.decl.column_names[c], ": ")
                              : "",
                          kNames[static_cast<int>(b.decl.columns[c])]);
        }
        std::printf("%s(%s)\n    %s\n", b.decl.name.c_str(), cols.c_str(), b.doc.c_str());
      }
      return kExitOk;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "qprepc check: unknown option %s\n\n%s", a.c_str(), kUsage);
      return kExitUsage;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "qprepc check: no input files\n\n%s", kUsage);
    return kExitUsage;
  }
  if (const char* env = std::getenv("QPREP_RULES_PATH")) {
    for (auto p : absl::StrSplit(env, ':', absl::SkipEmpty())) {
      options.search_paths.emplace_back(p);
    }
  }
  options.search_paths.push_back(std::string(QPREP_SOURCE_DIR) + "/rules");
  options.search_paths.push_back(QPREP_SOURCE_DIR);
  if (builtins) {
    for (const auto& b : engine::BuiltinRelations()) options.builtin_relations.push_back(b.decl);
  }
  DiagnosticSink sink;
  absl::StatusOr<rules::CompiledRules> out = rules::CompileFiles(files, options, &sink);
  std::fputs(sink.Render().c_str(), stderr);
  size_t errors = sink.error_count(), warnings = sink.warning_count();
  if (errors > 0 || warnings > 0) {
    std::fprintf(stderr, "%zu error%s, %zu warning%s\n", errors, errors == 1 ? "" : "s", warnings,
                 warnings == 1 ? "" : "s");
  }
  if (!out.ok() && errors == 0) {
    PrintError(out.status());
    return kExitError;
  }
  if (errors > 0 || (werror && warnings > 0)) return kExitError;
  if (summary) {
    std::printf(
        "%zu files, %zu relations, %zu rules, %zu observers, %zu qconfigs, "
        "%zu qconfig mappings, %zu backends\n",
        out->files.size(), out->program.relations.size(), out->program.rules.size(),
        out->observers.size(), out->qconfigs.size(), out->qconfig_mappings.size(),
        out->backends.size());
    for (const auto& [name, b] : out->backends) {
      std::printf("backend %s: %zu pattern configs\n", name.c_str(), b.configs.size());
    }
  }
  return kExitOk;
}

}  // namespace

QPREPC_COMMAND(check, "check", "check rule files (.qr) and print diagnostics", kUsage, RunCheck);

}  // namespace qprep::cli
