// Unit tests of the built-in prepare stages on small hand-written .qg graphs with hand-built
// configs: each test states the PyTorch rule it pins down.
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "engine/fusion.h"
#include "engine/matcher.h"
#include "engine/prepare_config.h"
#include "engine/qconfig_resolution.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/qg_reader.h"

namespace qprep::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConv[] = "torch.nn.modules.conv.Conv2d";
constexpr char kBn[] = "torch.nn.modules.batchnorm.BatchNorm2d";
constexpr char kRelu[] = "torch.nn.modules.activation.ReLU";
constexpr char kConvRelu[] = "torch.ao.nn.intrinsic.modules.fused.ConvReLU2d";
constexpr char kConvBnRelu[] = "torch.ao.nn.intrinsic.modules.fused.ConvBnReLU2d";

ir::Graph Read(const std::string& body, const std::string& modules = "") {
  std::string text = "qgraph 1\ngraph t\nmodule <root> : t.M\n" + modules + "\n" + body;
  absl::StatusOr<ir::Graph> g = ir::ReadQgString(text);
  QPREP_CHECK(g.ok());
  return *std::move(g);
}

const std::string kConvBnReluModules =
    "module conv : torch.nn.modules.conv.Conv2d\n"
    "module bn : torch.nn.modules.batchnorm.BatchNorm2d\n"
    "module relu : torch.nn.modules.activation.ReLU\n";

const std::string kConvBnReluBody =
    "%x = placeholder[x]() -> float32[1, 1, 4, 4]\n"
    "%conv = call_module[conv](%x) -> float32[1, 1, 4, 4] @conv\n"
    "%bn = call_module[bn](%conv) -> float32[1, 1, 4, 4] @bn\n"
    "%relu = call_module[relu](%bn) -> float32[1, 1, 4, 4] @relu\n"
    "%add = call_function[operator.add](%relu, 1.0) -> float32[1, 1, 4, 4]\n"
    "%output = output[output](%add)\n";

BackendPatternConfig Single(OpRef op) {
  BackendPatternConfig c;
  c.pattern = Pattern::Leaf(std::move(op));
  return c;
}

// The three fusion patterns of the native backends for Conv2d, in PyTorch's declaration order.
BackendConfig FusionBackend() {
  BackendConfig b;
  b.name = "test";
  BackendPatternConfig conv_relu;
  conv_relu.pattern = Pattern::Tuple(OpRef::Module(kRelu), {Pattern::Leaf(OpRef::Module(kConv))});
  conv_relu.fuser_method = {FuserMethod::Kind::kSequential, "ConvReLU2d", kConvRelu, kConvRelu};
  BackendPatternConfig conv_bn;
  conv_bn.pattern = Pattern::Tuple(OpRef::Module(kBn), {Pattern::Leaf(OpRef::Module(kConv))});
  conv_bn.fuser_method = {FuserMethod::Kind::kFoldBn, "fuse_conv_bn", "",
                          "torch.ao.nn.intrinsic.modules.fused.ConvBn2d"};
  BackendPatternConfig conv_bn_relu;
  conv_bn_relu.pattern =
      Pattern::Tuple(OpRef::Module(kRelu),
                     {Pattern::Tuple(OpRef::Module(kBn), {Pattern::Leaf(OpRef::Module(kConv))})});
  conv_bn_relu.fuser_method = {FuserMethod::Kind::kFoldBn, "fuse_conv_bn_relu", kConvRelu,
                               kConvBnRelu};
  b.configs = {conv_relu,
               conv_bn,
               conv_bn_relu,
               Single(OpRef::Module(kConv)),
               Single(OpRef::Module(kConvRelu)),
               Single(OpRef::Function("operator.add"))};
  return b;
}

// --- prepare_config -----------------------------------------------------------------------------

TEST(PrepareConfig, PatternLengthAndTextFollowPyTorchNestedTuples) {
  Pattern p =
      Pattern::Tuple(OpRef::Module("R"),
                     {Pattern::Tuple(OpRef::Module("B"), {Pattern::Leaf(OpRef::Module("C"))})});
  EXPECT_EQ(p.Length(), 3);
  EXPECT_EQ(p.ToString(), "(module:R, (module:B, module:C))");
  EXPECT_EQ(Pattern::Leaf(OpRef::Method("relu")).Length(), 1);
}

TEST(PrepareConfig, AlternativesExpandInChoiceOrder) {
  Pattern p = Pattern::Tuple(OpRef::Function("torch.relu"),
                             {Pattern::Leaf(OpRef::Function("operator.add"))});
  p.alternatives = {OpRef::Method("relu")};
  p.args[0].alternatives = {OpRef::Function("torch.add")};
  std::vector<std::string> texts;
  for (const Pattern& e : ExpandAlternatives(p)) texts.push_back(e.ToString());
  EXPECT_THAT(texts, ElementsAre("(function:torch.relu, function:operator.add)",
                                 "(function:torch.relu, function:torch.add)",
                                 "(method:relu, function:operator.add)",
                                 "(method:relu, function:torch.add)"));
}

TEST(PrepareConfig, ObservationTypeNamesRoundTrip) {
  for (auto t :
       {ObservationType::kOutputUseDifferentObserverAsInput,
        ObservationType::kOutputShareObserverWithInput, ObservationType::kInputOutputNotObserved}) {
    EXPECT_EQ(ParseObservationType(ObservationTypeName(t)), t);
  }
  EXPECT_FALSE(ParseObservationType("share").has_value());
}

// --- matcher ------------------------------------------------------------------------------------

TEST(Matcher, SortsTuplePatternsFirstLongestFirstThenStable) {
  std::vector<std::string> texts;
  for (const PatternEntry& e : SortedPatterns(FusionBackend(), false)) {
    texts.push_back(e.pattern.ToString());
  }
  EXPECT_EQ(texts[0],
            "(module:" + std::string(kRelu) + ", (module:" + kBn + ", module:" + kConv + "))");
  EXPECT_EQ(texts[1],
            "(module:" + std::string(kRelu) + ", module:" + kConv + ")");  // declared first
  EXPECT_EQ(texts[2], "(module:" + std::string(kBn) + ", module:" + kConv + ")");
  EXPECT_EQ(texts[3], "module:" + std::string(kConv));  // singles keep declaration order
  EXPECT_EQ(texts[5], "function:operator.add");
}

TEST(Matcher, DuplicatePatternKeepsFirstPositionAndLastConfig) {
  BackendConfig b;
  b.configs = {Single(OpRef::Function("a")), Single(OpRef::Function("b")),
               Single(OpRef::Function("a"))};
  std::vector<PatternEntry> t = SortedPatterns(b, false);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].pattern.op.name, "a");
  EXPECT_EQ(t[0].config_index, 2);
}

TEST(Matcher, LongestPatternWinsAndEveryNodeRecordsRootAndLast) {
  ir::Graph g = Read(kConvBnReluBody, kConvBnReluModules);
  PrepareConfig config;
  config.backend_config = FusionBackend();
  absl::StatusOr<MatchResult> m = FindMatches(g, config);
  ASSERT_TRUE(m.ok()) << m.status();
  const ir::NodeId conv = *g.FindNode("conv"), bn = *g.FindNode("bn"), relu = *g.FindNode("relu");
  for (ir::NodeId n : {conv, bn, relu}) {
    EXPECT_EQ(m->per_node[n].kind, NodeMatch::Kind::kPattern);
    EXPECT_EQ(m->per_node[n].root, conv);
    EXPECT_EQ(m->per_node[n].last, relu);
    EXPECT_EQ(m->per_node[n].config_index, 2);  // conv-bn-relu
  }
  EXPECT_EQ(m->per_node[*g.FindNode("x")].kind, NodeMatch::Kind::kNone);
  EXPECT_EQ(m->per_node[*g.FindNode("add")].config_index, 5);
}

TEST(Matcher, InnerNodeWithTwoUsersIsNotAbsorbed) {
  // conv feeds bn and the add: (BN, Conv) cannot take it; conv matches alone.
  ir::Graph g = Read(
      "%x = placeholder[x]()\n"
      "%conv = call_module[conv](%x) @conv\n"
      "%bn = call_module[bn](%conv) @bn\n"
      "%add = call_function[operator.add](%bn, %conv)\n"
      "%output = output[output](%add)\n",
      kConvBnReluModules);
  PrepareConfig config;
  config.backend_config = FusionBackend();
  absl::StatusOr<MatchResult> m = FindMatches(g, config);
  ASSERT_TRUE(m.ok());
  const ir::NodeId conv = *g.FindNode("conv");
  EXPECT_EQ(m->per_node[conv].last, conv);
  EXPECT_EQ(m->per_node[conv].config_index, 3);
  EXPECT_EQ(m->per_node[*g.FindNode("bn")].kind, NodeMatch::Kind::kNone);
}

TEST(Matcher, ArgCountMustEqualSubpatternCountAndMatchAllNodeMatchesAnything) {
  ir::Graph g = Read(
      "%x = placeholder[x]()\n"
      "%y = placeholder[y]()\n"
      "%add = call_function[operator.add](%x, %y)\n"
      "%relu = call_method[relu](%add)\n"
      "%output = output[output](%relu)\n");
  PrepareConfig config;
  BackendPatternConfig one_arg;  // (relu, (add, x)): add has 2 args -> no match
  one_arg.pattern = Pattern::Tuple(
      OpRef::Method("relu"),
      {Pattern::Tuple(OpRef::Function("operator.add"), {Pattern::Leaf(OpRef::Any())})});
  BackendPatternConfig two_args;  // (relu, (add, Any, Any))
  two_args.pattern =
      Pattern::Tuple(OpRef::Method("relu"),
                     {Pattern::Tuple(OpRef::Function("operator.add"),
                                     {Pattern::Leaf(OpRef::Any()), Pattern::Leaf(OpRef::Any())})});
  config.backend_config.configs = {one_arg, two_args};
  absl::StatusOr<MatchResult> m = FindMatches(g, config);
  ASSERT_TRUE(m.ok());
  const ir::NodeId relu = *g.FindNode("relu");
  EXPECT_EQ(m->per_node[relu].config_index, 1);
  // The default root getter follows the last element: the MatchAllNode on `y`.
  EXPECT_EQ(m->per_node[relu].root, *g.FindNode("y"));
  EXPECT_EQ(m->per_node[*g.FindNode("y")].last, relu);  // PyTorch records MatchAllNode nodes too
}

TEST(Matcher, ModulesMatchByExactTypeFunctionsByNameMethodsByName) {
  ir::Graph g = Read(
      "%x = placeholder[x]()\n"
      "%a = call_method[relu](%x)\n"
      "%b = call_function[torch.relu](%a)\n"
      "%c = call_module[relu](%b) @relu\n"
      "%output = output[output](%c)\n",
      "module relu : my.ReLU\n");
  PrepareConfig config;
  config.backend_config.configs = {Single(OpRef::Module(kRelu)), Single(OpRef::Function("relu")),
                                   Single(OpRef::Method("relu"))};
  absl::StatusOr<MatchResult> m = FindMatches(g, config);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->per_node[*g.FindNode("a")].config_index, 2);
  EXPECT_EQ(m->per_node[*g.FindNode("b")].kind, NodeMatch::Kind::kNone);  // torch.relu != relu
  EXPECT_EQ(m->per_node[*g.FindNode("c")].kind, NodeMatch::Kind::kNone);  // subclass type differs
}

TEST(Matcher, StandaloneAndCustomModulesReplacePatternMatches) {
  ir::Graph g = Read(kConvBnReluBody, kConvBnReluModules);
  PrepareConfig config;
  config.backend_config = FusionBackend();
  config.prepare_custom_config.standalone_module_names.push_back({"conv", nullptr, nullptr});
  config.prepare_custom_config.float_to_observed_mapping.push_back({kRelu, "obs.ReLU"});
  absl::StatusOr<MatchResult> m = FindMatches(g, config);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->per_node[*g.FindNode("conv")].kind, NodeMatch::Kind::kStandaloneModule);
  EXPECT_EQ(m->per_node[*g.FindNode("relu")].kind, NodeMatch::Kind::kCustomModule);
  // bn keeps its record from the conv-bn-relu match, as in PyTorch.
  EXPECT_EQ(m->per_node[*g.FindNode("bn")].last, *g.FindNode("relu"));
}

TEST(Matcher, UnknownRootNodeGetterIsAnError) {
  ir::Graph g = Read(kConvBnReluBody, kConvBnReluModules);
  PrepareConfig config;
  config.backend_config = FusionBackend();
  config.backend_config.configs[0].root_node_getter = "mystery";
  absl::StatusOr<MatchResult> m = FindMatches(g, config);
  EXPECT_THAT(m.status().message(), HasSubstr("unknown root_node_getter 'mystery'"));
}

// --- fusion -------------------------------------------------------------------------------------

TEST(Fusion, ConvBnReluInEvalBecomesConvReluNamedAfterTheRoot) {
  ir::Graph g = Read(kConvBnReluBody, kConvBnReluModules);
  PrepareConfig config;
  config.backend_config = FusionBackend();
  absl::StatusOr<FusionResult> f = Fuse(g, config);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->graph.num_nodes(), 4u);  // x, conv(fused), add, output
  const ir::NodeId conv = *f->graph.FindNode("conv");
  EXPECT_EQ(ModuleTypeOf(f->graph, conv), kConvRelu);
  ASSERT_EQ(f->fused.size(), 1u);
  EXPECT_EQ(f->fused[0].last_name, "relu");
  EXPECT_THAT(f->fused[0].member_names, ElementsAre("conv", "bn", "relu"));
  EXPECT_THAT(f->fused[0].child_module_types, ElementsAre(kConv, kRelu));  // BN folded away
  EXPECT_TRUE(f->fused[0].is_fused_module);
  // The add now reads the fused node; the input graph's relu maps to it.
  const ir::NodeId add = *f->graph.FindNode("add");
  EXPECT_EQ(f->graph.node(add).args[0].node, conv);
  EXPECT_EQ(f->from_input[*g.FindNode("relu")], conv);
  EXPECT_EQ(f->to_input[conv], *g.FindNode("conv"));
  EXPECT_FALSE(f->graph.FindNode("bn").has_value());
}

TEST(Fusion, QatKeepsBatchNormInTheFusedType) {
  ir::Graph g = Read(kConvBnReluBody, kConvBnReluModules);
  PrepareConfig config;
  config.backend_config = FusionBackend();
  config.is_qat = true;
  absl::StatusOr<FusionResult> f = Fuse(g, config);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->fused[0].fused_module_type, kConvBnRelu);
  EXPECT_THAT(f->fused[0].child_module_types, ElementsAre(kConv, kBn, kRelu));
}

TEST(Fusion, ConvBnInEvalFoldsIntoAPlainConv) {
  ir::Graph g = Read(
      "%x = placeholder[x]()\n%conv = call_module[conv](%x) @conv\n"
      "%bn = call_module[bn](%conv) @bn\n%output = output[output](%bn)\n",
      kConvBnReluModules);
  PrepareConfig config;
  config.backend_config = FusionBackend();
  absl::StatusOr<FusionResult> f = Fuse(g, config);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->fused[0].fused_module_type, kConv);
  EXPECT_FALSE(f->fused[0].is_fused_module);  // not a _FusedModule: no qconfig update
}

TEST(Fusion, NonModuleRootIsAnError) {
  ir::Graph g = Read(
      "%x = placeholder[x]()\n%r = call_function[torch.nn.functional.relu](%x)\n"
      "%output = output[output](%r)\n");
  PrepareConfig config;
  BackendPatternConfig c = Single(OpRef::Function("torch.nn.functional.relu"));
  c.fuser_method = {FuserMethod::Kind::kSequential, "X", "X", "X"};
  config.backend_config.configs = {c};
  EXPECT_THAT(Fuse(g, config).status().message(), HasSubstr("not a call_module"));
}

// --- qconfig resolution -------------------------------------------------------------------------

QConfig Named(const std::string& name) {
  QConfig q;
  q.name = name;
  ObserverSpec act;
  act.class_name = name;  // distinct specs, so qconfig_equals tells them apart
  q.activation = act;
  return q;
}

const std::string kLevelsModules =
    "module conv : torch.nn.modules.conv.Conv2d\n"
    "module sub : t.Sub\n"
    "module sub.conv : torch.nn.modules.conv.Conv2d\n"
    "module sub.inner : t.Inner\n"
    "module sub.inner.conv : torch.nn.modules.conv.Conv2d\n";
const std::string kLevelsBody =
    "%x = placeholder[x]()\n"
    "%conv = call_module[conv](%x) @conv\n"
    "%sub_conv = call_module[sub.conv](%conv) @sub.conv\n"
    "%add = call_function[operator.add](%sub_conv, 1.0) @sub\n"
    "%add_1 = call_function[operator.add](%add, 1.0) @sub\n"
    "%relu = call_method[relu](%add_1) @sub\n"
    "%inner_conv = call_module[sub.inner.conv](%relu) @sub.inner.conv\n"
    "%output = output[output](%inner_conv)\n";

std::string QName(const QConfigResolution& r, const ir::Graph& g, const char* node) {
  const QConfig* q = r.Effective(*g.FindNode(node));
  return q == nullptr ? "none" : q->name;
}

TEST(QConfigResolution, LaterLevelsWinInPyTorchOrder) {
  ir::Graph g = Read(kLevelsBody, kLevelsModules);
  QConfigMapping m;
  m.global_qconfig = Named("global");
  m.object_type_qconfigs.push_back({OpRef::Module(kConv), Named("object_type")});
  m.module_name_regex_qconfigs.push_back({"sub\\.", Named("regex")});
  m.module_name_regex_qconfigs.push_back({"sub", Named("regex_second")});  // never first
  m.module_name_qconfigs.push_back({"sub.inner", Named("module_name")});
  m.module_name_object_type_order_qconfigs.push_back(
      {"sub", OpRef::Function("operator.add"), 1, Named("order")});
  absl::StatusOr<QConfigResolution> r = ResolveQConfigs(g, nullptr, m);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(QName(*r, g, "conv"), "object_type");
  EXPECT_EQ(QName(*r, g, "sub_conv"), "regex");          // regex on the module path, first match
  EXPECT_EQ(QName(*r, g, "add"), "regex_second");        // scope path "sub": only "sub" matches
  EXPECT_EQ(QName(*r, g, "add_1"), "order");             // second operator.add call in scope sub
  EXPECT_EQ(QName(*r, g, "inner_conv"), "module_name");  // nearest parent path
  EXPECT_EQ(r->per_node[*g.FindNode("inner_conv")].level, QConfigLevel::kModuleName);
  EXPECT_EQ(r->per_node[*g.FindNode("inner_conv")].key, "sub.inner");
  EXPECT_EQ(r->per_node[*g.FindNode("x")].level, QConfigLevel::kNotApplicable);
}

TEST(QConfigResolution, EnclosingModuleTypeOverridesAFunctionsObjectType) {
  // PyTorch quirk: a call_function's qconfig is adjusted with its scope's *module type* as the
  // object_type key, so an entry for t.Sub beats the entry for operator.add.
  ir::Graph g = Read(kLevelsBody, kLevelsModules);
  QConfigMapping m;
  m.object_type_qconfigs.push_back({OpRef::Function("operator.add"), Named("add")});
  m.object_type_qconfigs.push_back({OpRef::Module("t.Sub"), Named("sub_type")});
  absl::StatusOr<QConfigResolution> r = ResolveQConfigs(g, nullptr, m);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(QName(*r, g, "add"), "sub_type");
  EXPECT_EQ(QName(*r, g, "relu"), "sub_type");  // methods too
  EXPECT_EQ(QName(*r, g, "conv"), "none");      // no global: None
  EXPECT_EQ(r->per_node[*g.FindNode("conv")].level, QConfigLevel::kUnset);
}

TEST(QConfigResolution, EmptyModuleNameNeverMatchesAndNoneIsRecordedWithItsLevel) {
  ir::Graph g = Read(kLevelsBody, kLevelsModules);
  QConfigMapping m;
  m.global_qconfig = Named("global");
  m.module_name_qconfigs.push_back({"", Named("root")});
  m.module_name_qconfigs.push_back({"sub", QConfig::None()});
  absl::StatusOr<QConfigResolution> r = ResolveQConfigs(g, nullptr, m);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(QName(*r, g, "conv"), "global");
  EXPECT_EQ(QName(*r, g, "sub_conv"), "none");
  const ResolvedQConfig& rq = r->per_node[*g.FindNode("sub_conv")];
  EXPECT_EQ(rq.level, QConfigLevel::kModuleName);
  ASSERT_GE(rq.qconfig, 0);
  EXPECT_TRUE(r->qconfigs[rq.qconfig].is_none);
}

TEST(QConfigResolution, FusedModuleTakesFirstChildsObjectTypeAndMismatchIsAnError) {
  ir::Graph g = Read(kConvBnReluBody, kConvBnReluModules);
  PrepareConfig config;
  config.backend_config = FusionBackend();
  absl::StatusOr<FusionResult> f = Fuse(g, config);
  ASSERT_TRUE(f.ok());
  QConfigMapping same;
  same.object_type_qconfigs.push_back({OpRef::Module(kConv), Named("q")});
  same.object_type_qconfigs.push_back({OpRef::Module(kRelu), Named("q")});
  absl::StatusOr<QConfigResolution> r = ResolveQConfigs(f->graph, &*f, same);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(QName(*r, f->graph, "conv"), "q");

  QConfigMapping differ;
  differ.object_type_qconfigs.push_back({OpRef::Module(kConv), Named("q")});
  absl::StatusOr<QConfigResolution> bad = ResolveQConfigs(f->graph, &*f, differ);
  EXPECT_THAT(bad.status().message(), HasSubstr("offending type: " + std::string(kRelu)));
}

TEST(QConfigResolution, InvalidRegexIsAnError) {
  ir::Graph g = Read(kLevelsBody, kLevelsModules);
  QConfigMapping m;
  m.module_name_regex_qconfigs.push_back({"(", Named("r")});
  EXPECT_THAT(ResolveQConfigs(g, nullptr, m).status().message(), HasSubstr("not a valid regex"));
}

}  // namespace
}  // namespace qprep::engine

namespace qprep::engine {
namespace {

// Errors about configuration entries that came from a rule file are located diagnostics.
TEST(QConfigResolution, FusedMismatchPointsAtTheDeclarations) {
  ir::Graph g = Read(kConvBnReluBody, kConvBnReluModules);
  PrepareConfig config;
  config.backend_config = FusionBackend();
  absl::StatusOr<FusionResult> f = Fuse(g, config);
  ASSERT_TRUE(f.ok());
  auto file =
      std::make_shared<SourceFile>("m.qr", "object_type Conv2d: a;\nobject_type ReLU: b;\n");
  QConfigMapping m;
  OpRef conv = OpRef::Module(kConv);
  conv.where = {file, 12, 18};
  OpRef relu = OpRef::Module(kRelu);
  relu.where = {file, 35, 39};
  m.object_type_qconfigs.push_back({conv, Named("a")});
  m.object_type_qconfigs.push_back({relu, Named("b")});
  absl::Status s = ResolveQConfigs(f->graph, &*f, m).status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("m.qr:2:13: error: During fusion, we need to specify the same qconfigs"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("m.qr:1:13: note: the other child's"));
}

}  // namespace
}  // namespace qprep::engine
