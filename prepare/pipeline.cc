#include "prepare/pipeline.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "prepare/plan_builder.h"
#include "prepare/pt2e.h"

namespace qprep::prepare {
namespace {

class Stopwatch {
 public:
  double Lap() {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Picks `wanted` from a name -> value map, or the only entry when `wanted` is empty.
template <typename Map>
absl::StatusOr<std::string> Choose(const Map& map, const std::string& wanted,
                                   std::string_view what) {
  if (!wanted.empty()) {
    if (map.count(wanted)) return wanted;
    std::vector<std::string> names;
    for (const auto& [name, unused] : map) names.push_back(name);
    return absl::NotFoundError(absl::StrCat("no ", std::string(what), " named '", wanted,
                                            "' in the rule files (declared: ",
                                            names.empty() ? "none" : absl::StrJoin(names, ", "),
                                            ")"));
  }
  if (map.size() == 1) return map.begin()->first;
  if (map.empty()) return absl::NotFoundError(absl::StrCat("the rule files declare no ", std::string(what)));
  std::vector<std::string> names;
  for (const auto& [name, unused] : map) names.push_back(name);
  return absl::InvalidArgumentError(absl::StrCat("the rule files declare several ", std::string(what),
                                                 "s (", absl::StrJoin(names, ", "),
                                                 "): choose one"));
}

// The mapping named by PrepareOptions::equalization_mapping, or the only one declared in
// equalization_file; "" when neither is set.
absl::StatusOr<std::string> ChooseEqualization(const rules::CompiledRules& rules,
                                               const PrepareOptions& options) {
  if (!options.equalization_mapping.empty()) {
    return Choose(rules.qconfig_mappings, options.equalization_mapping,
                  "qconfig_mapping (equalization)");
  }
  if (options.equalization_file.empty()) return std::string();
  std::error_code ec;
  const std::filesystem::path want = std::filesystem::weakly_canonical(options.equalization_file, ec);
  std::vector<std::string> found;
  for (const auto& [name, m] : rules.qconfig_mappings) {
    if (m.where.file == nullptr) continue;
    if (std::filesystem::weakly_canonical(m.where.file->name(), ec) == want) found.push_back(name);
  }
  if (found.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.equalization_file, " declares ", found.size(),
        " qconfig_mappings; the equalization config needs exactly one (or name it: FILE.qr:NAME)"));
  }
  return found.front();
}

absl::StatusOr<std::unique_ptr<PrepareResult>> PrepareOwningRules(const ir::Graph& graph,
                                                                   rules::CompiledRules rules,
                                                                   const PrepareOptions& options);

}  // namespace

absl::StatusOr<std::unique_ptr<PrepareResult>> Prepare(const ir::Graph& graph,
                                                       const PrepareOptions& options,
                                                       DiagnosticSink* sink) {
  Stopwatch watch;
  rules::CompileOptions copts;
  copts.search_paths = options.search_paths;
  for (const engine::BuiltinRelation& b : engine::BuiltinRelations()) {
    copts.builtin_relations.push_back(b.decl);
  }
  copts.warn_unused = false;
  ASSIGN_OR_RETURN(rules::CompiledRules compiled,
                   rules::CompileFiles(options.rule_files, copts, sink));
  double compile_seconds = watch.Lap();
  // The result keeps the rules (explain reads them): move them in rather than copy (a copy of
  // the bundled rules was ~4% of a resnet50 run).
  ASSIGN_OR_RETURN(auto result, PrepareOwningRules(graph, std::move(compiled), options));
  result->times.compile_rules = compile_seconds;
  return result;
}

absl::StatusOr<std::unique_ptr<PrepareResult>> PrepareWithRules(const ir::Graph& graph,
                                                                 const rules::CompiledRules& rules,
                                                                 const PrepareOptions& options) {
  return PrepareOwningRules(graph, rules, options);
}

namespace {

absl::StatusOr<std::unique_ptr<PrepareResult>> PrepareOwningRules(const ir::Graph& graph,
                                                                   rules::CompiledRules rules,
                                                                   const PrepareOptions& options) {
  if (options.pt2e) return PreparePt2e(graph, std::move(rules), options);
  auto result = std::make_unique<PrepareResult>();
  PrepareResult& r = *result;
  r.rules = std::move(rules);
  ASSIGN_OR_RETURN(r.backend_name, Choose(r.rules.backends, options.backend, "backend"));
  ASSIGN_OR_RETURN(r.equalization_mapping_name, ChooseEqualization(r.rules, options));
  if (!options.global_qconfig.empty()) {
    // QConfigMapping().set_global(qconfig): a standalone module's own mapping when its config
    // entry has none (get_standalone_module_configs: the parent's qconfig at that node).
    engine::QConfigMapping m;
    if (options.global_qconfig == "none" || options.global_qconfig == "None") {
      m.global_qconfig = engine::QConfig::None();
    } else if (auto q = r.rules.qconfigs.find(options.global_qconfig);
               q != r.rules.qconfigs.end()) {
      m.global_qconfig = q->second;
    } else {
      return absl::NotFoundError(absl::StrCat("no qconfig named '", options.global_qconfig,
                                              "' in the rule files (for the global qconfig)"));
    }
    r.qconfig_mapping_name = absl::StrCat("set_global(", options.global_qconfig, ")");
    r.config.qconfig_mapping = std::move(m);
  } else {
    // The equalization mapping is not a candidate for the qconfig mapping.
    std::map<std::string, const engine::QConfigMapping*> candidates;
    for (const auto& [name, m] : r.rules.qconfig_mappings) {
      if (name != r.equalization_mapping_name) candidates[name] = &m;
    }
    ASSIGN_OR_RETURN(r.qconfig_mapping_name,
                     Choose(candidates, options.qconfig_mapping, "qconfig_mapping"));
    r.config.qconfig_mapping = r.rules.qconfig_mappings.at(r.qconfig_mapping_name);
  }
  r.config.backend_config = r.rules.backends.at(r.backend_name);
  r.config.prepare_custom_config = options.custom;
  r.config.is_qat = options.qat;

  Stopwatch watch;
  ASSIGN_OR_RETURN(r.fusion, engine::Fuse(graph, r.config));
  r.times.fuse = watch.Lap();
  const ir::Graph& g = r.fusion.graph;
  ASSIGN_OR_RETURN(r.qconfigs, engine::ResolveQConfigs(g, &r.fusion, r.config.qconfig_mapping));
  if (!r.equalization_mapping_name.empty()) {
    // generate_qconfig_map(model, ..., _equalization_config, ...) after update_qconfig_for_fusion.
    ASSIGN_OR_RETURN(r.equalization,
                     engine::ResolveQConfigs(
                         g, &r.fusion, r.rules.qconfig_mappings.at(r.equalization_mapping_name)));
  }
  r.times.resolve_qconfigs = watch.Lap();
  ASSIGN_OR_RETURN(r.matches, engine::FindMatches(g, r.config));
  r.times.match = watch.Lap();

  r.db = std::make_unique<engine::Database>(r.rules.program, options.provenance);
  engine::StageResults stages{&r.fusion, &r.qconfigs, &r.matches};
  if (r.equalization) stages.equalization = &*r.equalization;
  stages.groups = &r.rules.groups;
  ASSIGN_OR_RETURN(r.tables,
                   engine::LoadFacts(g, stages, r.config, r.rules.symbols.get(), r.db.get()));
  // Observation points (input_point / output_point facts): edges, then node outputs.
  r.num_edges = r.tables.edges.size();
  r.times.load_facts = watch.Lap();

  engine::Evaluator evaluator(r.rules.program, r.db.get(), options.eval);
  ASSIGN_OR_RETURN(r.report, evaluator.Run());
  r.times.evaluate = watch.Lap();

  ASSIGN_OR_RETURN(r.plan, BuildPlan(r, graph));
  r.plan.backend = r.backend_name;
  r.times.build_plan = watch.Lap();
  return result;
}

}  // namespace

}  // namespace qprep::prepare
