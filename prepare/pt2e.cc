// The PT2E prepare flow; see pt2e.h.
#include "prepare/pt2e.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "prepare/plan_builder.h"

namespace qprep::prepare {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point* last) {
  auto now = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(now - *last).count();
  *last = now;
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrepareResult>> PreparePt2e(const ir::Graph& graph,
                                                           rules::CompiledRules rules,
                                                           const PrepareOptions& options) {
  auto result = std::make_unique<PrepareResult>();
  PrepareResult& r = *result;
  r.rules = std::move(rules);
  // The quantizer's fusion backend (conv-bn folding), if it declares one.
  if (!options.backend.empty() || r.rules.backends.size() == 1) {
    const std::string name =
        options.backend.empty() ? r.rules.backends.begin()->first : options.backend;
    auto it = r.rules.backends.find(name);
    if (it == r.rules.backends.end()) {
      return absl::NotFoundError(absl::StrCat("no backend named '", name,
                                              "' in the quantizer's rule files"));
    }
    r.backend_name = name;
    // prepare_qat_pt2e does not fold BN: the quantizer annotates conv-bn itself.
    if (!options.qat) r.config.backend_config = it->second;
  } else if (r.rules.backends.size() > 1) {
    std::vector<std::string> names;
    for (const auto& [name, unused] : r.rules.backends) names.push_back(name);
    return absl::InvalidArgumentError(
        absl::StrCat("the quantizer's rule files declare several backends (",
                     absl::StrJoin(names, ", "), "): name the folding one"));
  }
  r.config.prepare_custom_config = options.custom;
  r.config.is_qat = false;  // fusion: eval folding only (see above)

  auto last = std::chrono::steady_clock::now();
  // _fuse_conv_bn_ folds into functional convs too (aten.conv2d on exported graphs).
  engine::FuseOptions fuse_options;
  fuse_options.allow_function_root_fold = true;
  ASSIGN_OR_RETURN(r.fusion, engine::Fuse(graph, r.config, fuse_options));
  r.config.is_qat = options.qat;  // config_flag(qat) for the quantizer's rules
  r.times.fuse = SecondsSince(&last);
  const ir::Graph& g = r.fusion.graph;
  // No qconfig mapping and no pattern matching in PT2E: every node has neither.
  r.qconfigs.per_node.assign(g.num_nodes(), engine::ResolvedQConfig{});
  r.matches.per_node.assign(g.num_nodes(), engine::NodeMatch{});

  r.db = std::make_unique<engine::Database>(r.rules.program, options.provenance);
  engine::StageResults stages{&r.fusion, &r.qconfigs, &r.matches};
  stages.named_observers = &r.rules.observers;
  ASSIGN_OR_RETURN(r.tables,
                   engine::LoadFacts(g, stages, r.config, r.rules.symbols.get(), r.db.get()));
  r.num_edges = r.tables.edges.size();
  r.times.load_facts = SecondsSince(&last);

  engine::Evaluator evaluator(r.rules.program, r.db.get(), options.eval);
  ASSIGN_OR_RETURN(r.report, evaluator.Run());
  r.times.evaluate = SecondsSince(&last);

  ASSIGN_OR_RETURN(r.plan, BuildPlan(r, graph));
  r.plan.backend = options.quantizer.empty() ? "pt2e" : options.quantizer;
  r.times.build_plan = SecondsSince(&last);
  return result;
}

}  // namespace qprep::prepare
