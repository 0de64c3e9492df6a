// The built-in relations: what the graph and the built-in stages (fusion.h,
// qconfig_resolution.h, matcher.h) tell the rules. Sits between those stages and the fixpoint
// evaluator: the rule checker (rules/) predeclares BuiltinRelations() as input relations,
// docs/language.md lists them, and LoadFacts fills a Database with them before evaluation.
//
// Facts are about the graph the rules run on: the *fused* graph (node ids are its dense ids; a
// fused node has its root's name, and value_name gives the input-graph name of its value, the
// pattern's last node, which is how plans name values). Edge ids are dense too: consumers in
// graph order, each consumer's references in argument order (args, then kwargs).
//
// Knowledge PyTorch keeps in Python code rather than in its backend config is declared here as
// data, with the PyTorch name it mirrors: NON_OBSERVABLE_ARG_DICT (non_observable_arg),
// NON_QUANTIZABLE_WEIGHT_OPS (non_quantizable_weight_op), all_node_args_have_no_tensors
// (args_have_no_tensors) and QuantizeHandler.num_tensor_args (num_tensor_args). The last two are
// computed here because they recurse through negation ("no argument is a tensor"), which a
// stratified program cannot say.
//
// Floats (observer eps, fixed scales, scale constraints) appear as FloatKey values: int64 keys
// whose order is the doubles' order, so rules can compare them.
#ifndef QPREP_ENGINE_FACTS_H_
#define QPREP_ENGINE_FACTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/observer_spec.h"
#include "engine/database.h"
#include "engine/fusion.h"
#include "engine/matcher.h"
#include "engine/prepare_config.h"
#include "engine/program.h"
#include "engine/qconfig_resolution.h"
#include "ir/graph.h"

namespace qprep::engine {

// A built-in relation with a one-line description (for the checker's "did you mean", for
// docs/language.md, and for `qprepc check --builtins`).
struct BuiltinRelation {
  RelationDecl decl;  // kind kInput; columns typed and named
  std::string doc;
};

// Every built-in relation, in a stable documented order.
const std::vector<BuiltinRelation>& BuiltinRelations();

// Adds every built-in relation to `program` as an input relation (skipping names it already
// has). For front ends and tests.
void DeclareBuiltinRelations(Program* program);

// Order-preserving int64 key of a double (total order; -0.0 == 0.0; NaN above +inf).
Datum FloatKey(double d);
double FloatFromKey(Datum key);

// The built-in stages' results for one graph. `fusion` may be null (the graph was not fused: the
// graph is the input graph); `qconfigs` and `matches` are required.
struct StageResults {
  const FusionResult* fusion = nullptr;
  const QConfigResolution* qconfigs = nullptr;
  const MatchResult* matches = nullptr;
  // Optional: the equalization qconfig per node (prepare_fx's _equalization_config, resolved by
  // ResolveQConfigs like the qconfig mapping) -> equalization_* facts; null: no equalization.
  const QConfigResolution* equalization = nullptr;
  // Optional: the rule files' groups (CompiledRules::groups) -> group_op facts.
  const std::map<std::string, std::vector<OpRef>>* groups = nullptr;
  // Optional: the rule files' named observers (CompiledRules::observers) -> observer_name facts,
  // so rules reach a declared observer by name (the PT2E quantizers' QuantizationSpecs).
  const std::map<std::string, ObserverSpec>* named_observers = nullptr;
};

// What the ids in observer / qconfig / pattern / dtype-config / edge columns stand for.
struct FactTables {
  std::vector<ObserverSpec> observers;  // kObserver column value -> spec (dedup by ToString)
  // kQConfig values are QConfigResolution::qconfigs indices; kPattern values are
  // BackendConfig::configs indices.
  struct DTypeConfigRef {
    int config_index;  // BackendConfig::configs
    int dtype_config;  // index within its dtype_configs
  };
  std::vector<DTypeConfigRef> dtype_configs;  // dtype-config id (an int column) -> where
  struct EdgeRef {
    ir::NodeId producer;
    ir::NodeId consumer;
    ir::ArgPath path;
  };
  std::vector<EdgeRef> edges;  // kEdge column value -> edge
};

// Fills the built-in relations of `db` (those its program declares; others are skipped, so a
// program pays only for what it uses). Symbols are interned in `symbols`. Errors: a config
// inconsistent with the stage results (e.g. a pattern index out of range) is InvalidArgument.
absl::StatusOr<FactTables> LoadFacts(const ir::Graph& graph, const StageResults& stages,
                                     const PrepareConfig& config, SymbolTable* symbols,
                                     Database* db);

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_FACTS_H_
