// Tests of the Plan (JSON round trip, reading tools/torch_reference.py output, the PLAN_FORMAT.md
// comparison) and of the built-in facts (relation table and LoadFacts on a small graph).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "engine/database.h"
#include "engine/facts.h"
#include "engine/fusion.h"
#include "engine/matcher.h"
#include "engine/plan.h"
#include "engine/qconfig_resolution.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/qg_reader.h"

namespace qprep::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// --- plan ---------------------------------------------------------------------------------------

Plan TwoPointPlan() {
  Plan p;
  p.graph = "g";
  p.backend = "fbgemm";
  PlanObserver o;
  o.id = 0;
  o.class_name = "HistogramObserver";
  o.args = {
      {"dtype", "quint8"}, {"quant_min", 0}, {"quant_max", 127}, {"eps", 1.1920928955078125e-07}};
  p.observers.push_back(o);
  o.id = 1;
  p.observers.push_back(o);
  p.insertions.push_back({"activation_post_process_0", 0, "x", {"conv"}, ""});
  p.insertions.push_back({"activation_post_process_1", 1, "conv", {"add", "pool"}, ""});
  p.nodes.push_back({"conv", "module:Conv2d", "default (global)", true, ""});
  return p;
}

TEST(Plan, JsonRoundTripKeepsEverything) {
  Plan p = TwoPointPlan();
  p.observers[1].inner_class = "MovingAverageMinMaxObserver";
  p.observers[1].inner_args = {{"averaging_constant", 0.01}};
  absl::StatusOr<Plan> back = ParsePlan(PlanToString(p));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(PlanToJson(*back), PlanToJson(p));
  EXPECT_THAT(ComparePlans(p, *back), IsEmpty());
}

// PlanToString streams the text without a JSON tree; it must stay byte-identical to the
// tree's pretty-print, which is what tests/parity and qprepc calibrate were written against.
TEST(Plan, StreamedTextIsTheTreesPrettyPrint) {
  Plan p = TwoPointPlan();
  p.graph = "quote\" backslash\\ tab\t nl\n ctl\x01\x1f del\x7f caf\xc3\xa9 /slash";
  p.observers[1].inner_class = "MovingAverageMinMaxObserver";
  p.observers[1].inner_args = {{"averaging_constant", 0.01}, {"reduce_range", false}};
  p.observers[0].args["nested"] = {{"list", {1, 2.5, "x", nullptr}}, {"empty", nlohmann::json::object()}};
  p.observers[0].args["none"] = nullptr;
  p.observers[0].args["big"] = 1e300;
  p.observers[0].args["neg"] = -3;
  p.observers[0].args["u64"] = uint64_t{18446744073709551615u};
  p.observers[0].args["flag"] = true;
  p.insertions.push_back({"activation_post_process_2", 1, "y", {}, ""});
  p.nodes.push_back({"relu", "", "", false, "no qconfig"});
  EXPECT_EQ(PlanToString(p), PlanToJson(p).dump(2) + "\n");
  Plan empty;
  EXPECT_EQ(PlanToString(empty), PlanToJson(empty).dump(2) + "\n");
  // A real plan-shaped file: PyTorch's reference for resnet18 (args as torch_reference.py wrote).
  absl::StatusOr<Plan> ref =
      ReadPlanFile(std::string(QPREP_SOURCE_DIR) + "/tests/parity/data/resnet18.fbgemm.ref.json");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(PlanToString(*ref), PlanToJson(*ref).dump(2) + "\n");
}

TEST(Plan, ReaderRejectsDanglingObserverIdsAndWrongFormat) {
  Plan p = TwoPointPlan();
  nlohmann::json j = PlanToJson(p);
  j["insertions"][0]["observer"] = 7;
  EXPECT_THAT(PlanFromJson(j).status().message(), HasSubstr("observer 7 is not in observers"));
  j = PlanToJson(p);
  j["format"] = "other";
  EXPECT_THAT(PlanFromJson(j).status().message(), HasSubstr("unknown format"));
  EXPECT_FALSE(ParsePlan("{").ok());
}

TEST(Plan, ReadsTorchReferenceOutput) {
  absl::StatusOr<Plan> ref =
      ReadPlanFile(std::string(QPREP_SOURCE_DIR) + "/tests/parity/data/resnet18.fbgemm.ref.json");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->format, "qprep.torch_reference");
  EXPECT_GT(ref->insertions.size(), 20u);
  EXPECT_THAT(ComparePlans(*ref, *ref), IsEmpty());
}

TEST(Plan, ConsumerOrderAndObserverIdsDoNotMatter) {
  Plan a = TwoPointPlan();
  Plan b = TwoPointPlan();
  b.insertions[1].consumers = {"pool", "add"};
  std::swap(b.observers[0].id, b.observers[1].id);
  std::swap(b.insertions[0].observer, b.insertions[1].observer);
  EXPECT_THAT(ComparePlans(a, b), IsEmpty());
}

TEST(Plan, ReportsMissingAndExtraPoints) {
  Plan a = TwoPointPlan();
  Plan b = TwoPointPlan();
  b.insertions[1].consumers = {"add"};
  EXPECT_THAT(ComparePlans(a, b), ElementsAre("missing insertion point conv -> [add, pool]",
                                              "extra insertion point conv -> [add]"));
}

TEST(Plan, FloatsCompareToRelativeOneInAMillionOtherArgsExactly) {
  Plan a = TwoPointPlan();
  Plan b = TwoPointPlan();
  b.observers[0].args["eps"] = 1.1920928955078125e-07 * (1 + 5e-7);
  b.observers[0].args["bins"] = 2048;  // only one plan names it: ignored
  EXPECT_THAT(ComparePlans(a, b), IsEmpty());
  b.observers[0].args["eps"] = 1.1920928955078125e-07 * (1 + 5e-6);
  b.observers[1].args["quant_max"] = 255;
  std::vector<std::string> d = ComparePlans(a, b);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_THAT(d[0], HasSubstr("at conv -> [add, pool]: quant_max 127 != 255"));
  EXPECT_THAT(d[1], HasSubstr("at x -> [conv]: eps"));
  b = TwoPointPlan();
  b.observers[0].class_name = "MinMaxObserver";
  EXPECT_THAT(ComparePlans(a, b),
              ElementsAre("at x -> [conv]: class HistogramObserver != MinMaxObserver"));
}

TEST(Plan, ReportsADifferentSharingPartition) {
  Plan a = TwoPointPlan();
  Plan b = TwoPointPlan();
  b.insertions[1].observer = 0;  // both points share one instance
  std::vector<std::string> d = ComparePlans(a, b);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0],
            "sharing at conv -> [add, pool]: expected shared with {nothing}, actual shared "
            "with {x -> [conv]}");
}

// --- facts --------------------------------------------------------------------------------------

TEST(Facts, FloatKeyPreservesOrder) {
  std::vector<double> v = {-1e30, -2.5, -1e-300, 0.0, 1e-300, 1.1920928955078125e-07, 1.0, 3e8};
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    EXPECT_LT(FloatKey(v[i]), FloatKey(v[i + 1])) << v[i];
    EXPECT_EQ(FloatFromKey(FloatKey(v[i])), v[i]);
  }
  EXPECT_EQ(FloatKey(-0.0), FloatKey(0.0));
}

TEST(Facts, BuiltinRelationsHaveUniqueNamesDocsAndNamedColumns) {
  std::set<std::string> names;
  for (const BuiltinRelation& r : BuiltinRelations()) {
    EXPECT_TRUE(names.insert(r.decl.name).second) << r.decl.name;
    EXPECT_FALSE(r.doc.empty()) << r.decl.name;
    EXPECT_EQ(r.decl.columns.size(), r.decl.column_names.size()) << r.decl.name;
    EXPECT_EQ(r.decl.kind, RelationDecl::Kind::kInput);
  }
  EXPECT_TRUE(names.contains("match"));
  EXPECT_TRUE(names.contains("non_observable_arg"));
}

class FactsOnGraph : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ir::Graph> g = ir::ReadQgString(
        "qgraph 1\ngraph t\nmodule <root> : t.M\n"
        "module conv : torch.nn.modules.conv.Conv2d\n"
        "module relu : torch.nn.modules.activation.ReLU\n\n"
        "%x = placeholder[x]() -> float32[1, 3, 8, 8]\n"
        "%conv = call_module[conv](%x) -> float32[1, 8, 8, 8] @conv\n"
        "%relu = call_module[relu](%conv) -> float32[1, 8, 8, 8] @relu\n"
        "%add = call_function[operator.add](%relu, 1.0) -> float32[1, 8, 8, 8]\n"
        "%size = call_method[size](%add, 0) -> int\n"
        "%view = call_method[view](%add, %size, -1) -> float32[1, 512]\n"
        "%cat = call_function[torch.cat]([%view, %view], 1) -> float32[1, 1024]\n"
        "%output = output[output](%cat)\n");
    ASSERT_TRUE(g.ok()) << g.status();
    graph_ = *std::move(g);
    BackendPatternConfig conv_relu;
    conv_relu.pattern =
        Pattern::Tuple(OpRef::Module("torch.nn.modules.activation.ReLU"),
                       {Pattern::Leaf(OpRef::Module("torch.nn.modules.conv.Conv2d"))});
    conv_relu.fuser_method = {FuserMethod::Kind::kSequential, "ConvReLU2d", "t.ConvReLU2d",
                              "t.ConvReLU2d"};
    BackendPatternConfig fused;
    fused.pattern = Pattern::Leaf(OpRef::Module("t.ConvReLU2d"));
    DTypeConfig dc;
    dc.input_dtype.dtype = Dtype::kQUInt8;
    dc.output_dtype.dtype = Dtype::kQUInt8;
    dc.weight_dtype.dtype = Dtype::kQInt8;
    dc.weight_dtype.scale_min_lower_bound = 0.5;
    fused.dtype_configs = {dc};
    BackendPatternConfig add;
    add.pattern = Pattern::Leaf(OpRef::Function("operator.add"));
    add.num_tensor_args_to_observation_type = {{1, ObservationType::kOutputShareObserverWithInput}};
    config_.backend_config.configs = {conv_relu, fused, add};
    QConfig q;
    q.name = "default";
    absl::StatusOr<ObserverSpec> act = ParseObserverSpec("HistogramObserver(reduce_range=True)");
    ASSERT_TRUE(act.ok()) << act.status();
    q.activation = *act;
    config_.qconfig_mapping.global_qconfig = q;
    config_.prepare_custom_config.input_quantized_idxs = {0};

    absl::StatusOr<FusionResult> f = Fuse(graph_, config_);
    ASSERT_TRUE(f.ok()) << f.status();
    fusion_ = *std::move(f);
    absl::StatusOr<QConfigResolution> q2 =
        ResolveQConfigs(fusion_.graph, &fusion_, config_.qconfig_mapping);
    ASSERT_TRUE(q2.ok()) << q2.status();
    qconfigs_ = *std::move(q2);
    absl::StatusOr<MatchResult> m = FindMatches(fusion_.graph, config_);
    ASSERT_TRUE(m.ok());
    matches_ = *std::move(m);
    DeclareBuiltinRelations(&program_);
    db_ = std::make_unique<Database>(program_, /*provenance=*/false);
    absl::StatusOr<FactTables> t =
        LoadFacts(fusion_.graph, StageResults{&fusion_, &qconfigs_, &matches_}, config_, &symbols_,
                  db_.get());
    ASSERT_TRUE(t.ok()) << t.status();
    tables_ = *std::move(t);
  }

  Datum N(const char* name) { return *fusion_.graph.FindNode(name); }
  Datum S(const char* s) { return symbols_.Intern(s); }
  bool Has(const char* rel, std::initializer_list<Datum> t) {
    return db_->Contains(program_.Find(rel), t);
  }
  size_t Count(const char* rel) { return db_->Size(program_.Find(rel)); }

  ir::Graph graph_;
  PrepareConfig config_;
  FusionResult fusion_;
  QConfigResolution qconfigs_;
  MatchResult matches_;
  Program program_;
  SymbolTable symbols_;
  std::unique_ptr<Database> db_;
  FactTables tables_;
};

TEST_F(FactsOnGraph, GraphFacts) {
  EXPECT_TRUE(Has("node", {N("conv"), S("conv")}));
  EXPECT_TRUE(Has("op", {N("size"), S("call_method")}));
  EXPECT_TRUE(Has("module_type", {N("conv"), S("t.ConvReLU2d")}));
  EXPECT_TRUE(Has("tensor_dim", {N("conv"), 1, 8}));
  EXPECT_TRUE(Has("non_tensor_value", {N("size")}));
  EXPECT_TRUE(Has("graph_input", {N("x"), 0}));
  EXPECT_TRUE(Has("input_quantized", {N("x")}));
  EXPECT_TRUE(Has("num_users", {N("add"), 2}));
  // Edges: x->conv, conv->add, add->size, add->view, size->view, view->cat twice, cat->output.
  EXPECT_EQ(tables_.edges.size(), 8u);
  EXPECT_EQ(Count("edge"), 8u);
  EXPECT_EQ(Count("edge_elem"), 2u);  // the two list elements of cat's args[0]
}

TEST_F(FactsOnGraph, PyTorchTensorKnowledge) {
  // x.size(0) holds no tensors; add(relu, 1.0) has one tensor arg; view's size arg is an int.
  EXPECT_TRUE(Has("args_have_no_tensors", {N("size")}));
  EXPECT_FALSE(Has("args_have_no_tensors", {N("add")}));
  EXPECT_TRUE(Has("num_tensor_args", {N("add"), 1}));
  EXPECT_TRUE(Has("num_tensor_args", {N("view"), 1}));  // %size does not count
  const auto& e = tables_.edges;
  auto it = std::find_if(e.begin(), e.end(), [&](const FactTables::EdgeRef& r) {
    return r.producer == N("size") && r.consumer == N("view");
  });
  ASSERT_NE(it, e.end());
  EXPECT_TRUE(Has("non_observable_arg", {it - e.begin(), S("int")}));
  EXPECT_EQ(Count("non_observable_arg"), 1u);  // view's -1 and size's 0 are constants, not edges
}

TEST_F(FactsOnGraph, StageFacts) {
  EXPECT_TRUE(Has("value_name", {N("conv"), S("relu")}));  // fused: the value is relu's
  EXPECT_TRUE(Has("fused_member", {N("conv"), S("relu")}));
  EXPECT_TRUE(Has("match", {N("conv"), N("conv"), N("conv"), 1}));
  EXPECT_TRUE(Has("qconfig", {N("conv"), 0}));
  EXPECT_TRUE(Has("qconfig_name", {0, S("default")}));
  ASSERT_EQ(tables_.observers.size(), 1u);
  EXPECT_TRUE(Has("observer_quant_max", {0, 127}));
  EXPECT_TRUE(Has("observer_dtype", {0, S("quint8")}));
  EXPECT_TRUE(
      Has("num_tensor_args_observation_type", {2, 1, S("output_share_observer_with_input")}));
  EXPECT_TRUE(Has("dtype_config_weight", {0, S("qint8")}));
  EXPECT_TRUE(Has("dtype_constraint", {0, S("weight"), S("scale_min_lower_bound"), FloatKey(0.5)}));
  EXPECT_FALSE(Has("qconfig", {N("x"), 0}));  // placeholders get no qconfig facts
}

}  // namespace
}  // namespace qprep::engine

namespace qprep::engine {
namespace {

// A 200k-node chain of functions: the tensor-ness analysis (PyTorch recurses through args) must
// not recurse that deep, and every stage must handle it.
TEST(FactsScale, LongFunctionChainLoadsWithoutDeepRecursion) {
  ir::Graph g("chain");
  ir::Node x;
  x.name = "x";
  x.kind = ir::NodeKind::kPlaceholder;
  x.target = "x";
  ir::NodeId prev = *g.AddNode(x);
  constexpr int kLength = 200000;
  for (int i = 0; i < kLength; ++i) {
    ir::Node n;
    n.name = "add_" + std::to_string(i);
    n.kind = ir::NodeKind::kCallFunction;
    n.target = "operator.add";
    n.args = {ir::Value::Node(prev), ir::Value::Int(1)};
    prev = *g.AddNode(std::move(n));
  }
  PrepareConfig config;
  config.backend_config.configs.push_back({});
  config.backend_config.configs[0].pattern = Pattern::Leaf(OpRef::Function("operator.add"));
  absl::StatusOr<FusionResult> f = Fuse(g, config);
  ASSERT_TRUE(f.ok());
  absl::StatusOr<QConfigResolution> q = ResolveQConfigs(f->graph, &*f, config.qconfig_mapping);
  ASSERT_TRUE(q.ok());
  absl::StatusOr<MatchResult> m = FindMatches(f->graph, config);
  ASSERT_TRUE(m.ok());
  Program program;
  DeclareBuiltinRelations(&program);
  SymbolTable symbols;
  Database db(program, /*provenance=*/false);
  absl::StatusOr<FactTables> t =
      LoadFacts(f->graph, StageResults{&*f, &*q, &*m}, config, &symbols, &db);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(db.Size(program.Find("num_tensor_args")), static_cast<size_t>(kLength));
  EXPECT_EQ(db.Size(program.Find("args_have_no_tensors")), 0u);  // x is a placeholder
  EXPECT_EQ(db.Size(program.Find("match")), static_cast<size_t>(kLength));
}

}  // namespace
}  // namespace qprep::engine

namespace qprep::engine {
namespace {

// node_arg_is_weight looks functions up by node.target in backend_config.configs: only a config
// whose pattern is exactly that function counts, and the last one wins.
TEST(Facts, FunctionConfigsAreTheSingleFunctionPatterns) {
  absl::StatusOr<ir::Graph> g = ir::ReadQgString(
      "qgraph 1\ngraph t\nmodule <root> : t.M\n\n%x = placeholder[x]()\n%output = "
      "output[output](%x)\n");
  ASSERT_TRUE(g.ok());
  PrepareConfig config;
  BackendPatternConfig linear;
  linear.pattern = Pattern::Leaf(OpRef::Function("torch.nn.functional.linear"));
  linear.input_type_to_index = {{"weight", 1}, {"bias", 2}};
  BackendPatternConfig linear_again = linear;
  linear_again.input_type_to_index = {{"weight", 1}};
  BackendPatternConfig relu_linear;  // a tuple pattern: not configs[F.linear]
  relu_linear.pattern =
      Pattern::Tuple(OpRef::Function("torch.relu"),
                     {Pattern::Leaf(OpRef::Function("torch.nn.functional.conv2d"))});
  relu_linear.input_type_to_index = {{"weight", 1}};
  config.backend_config.configs = {linear, relu_linear, linear_again};
  absl::StatusOr<FusionResult> f = Fuse(*g, config);
  absl::StatusOr<QConfigResolution> q = ResolveQConfigs(f->graph, &*f, config.qconfig_mapping);
  absl::StatusOr<MatchResult> m = FindMatches(f->graph, config);
  Program program;
  DeclareBuiltinRelations(&program);
  SymbolTable symbols;
  Database db(program, false);
  ASSERT_TRUE(LoadFacts(f->graph, StageResults{&*f, &*q, &*m}, config, &symbols, &db).ok());
  const Datum lin = symbols.Intern("torch.nn.functional.linear");
  EXPECT_TRUE(db.Contains(program.Find("function_config"), {lin}));
  EXPECT_FALSE(
      db.Contains(program.Find("function_config"), {symbols.Intern("torch.nn.functional.conv2d")}));
  EXPECT_TRUE(
      db.Contains(program.Find("function_input_type_index"), {lin, symbols.Intern("weight"), 1}));
  EXPECT_FALSE(db.Contains(program.Find("function_input_type_index"),  // last config wins
                           {lin, symbols.Intern("bias"), 2}));
}

}  // namespace
}  // namespace qprep::engine
