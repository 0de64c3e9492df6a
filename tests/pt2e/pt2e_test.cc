// The PT2E flow (prepare/pt2e.h, rules/prelude/pt2e.qr) on small hand-written graphs whose
// annotations are written directly (tests/pt2e/data/*.qr), and on examples/ with the bundled
// XNNPACK quantizer (backends/pt2e/xnnpack.qr).
//
// No PyTorch 2.x is installed, so every expected placement below is derived by hand from
// torch/ao/quantization/pt2e/prepare.py (2.x): _get_edge_or_node_to_group_id (union-find over
// edges and outputs), _get_obs_or_fq_map (one instance per group, from its first key in graph
// order) and _maybe_insert_input_observer_for_arg_or_kwarg / _maybe_insert_output_observer_for_node
// (insertion in graph order; an input edge reads through the producer's output observer when it
// is the same instance, or reuses an observer node with that instance already on the producer).
// Each case's `derivation` says how. To re-derive after a semantics change, follow those steps
// again; the expectations are not generated.
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/qg_reader.h"
#include "prepare/pipeline.h"

namespace qprep::prepare {
namespace {

using ::testing::HasSubstr;

const std::string kSrc = QPREP_SOURCE_DIR;

struct ExpectedInsertion {
  std::string name;
  int observer;
  std::string value;
  std::vector<std::string> consumers;
};

struct Case {
  std::string name;
  std::string derivation;
  // Observer instances: class and the args that matter ("dtype", "derived_from", ...) as text.
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> observers;
  std::vector<ExpectedInsertion> insertions;
  std::string quantizer = "";  // default: data/<name>.qr
};

absl::StatusOr<std::unique_ptr<PrepareResult>> RunPt2e(const std::string& graph_path,
                                                       const std::string& quantizer,
                                                       ir::Graph* graph, bool qat = false) {
  DiagnosticSink sink;
  auto g = ir::ReadQgFile(graph_path, &sink);
  if (!g.ok()) return g.status();
  *graph = *std::move(g);
  PrepareOptions options;
  options.rule_files = {kSrc + "/rules/prelude/pt2e.qr", quantizer};
  options.search_paths = {kSrc + "/rules", kSrc + "/backends"};
  options.pt2e = true;
  options.quantizer = "test";
  options.qat = qat;
  DiagnosticSink rule_sink;
  return Prepare(*graph, options, &rule_sink);
}

std::string ArgText(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void CheckCase(const Case& c) {
  SCOPED_TRACE(c.name + ": " + c.derivation);
  ir::Graph graph;
  auto run = RunPt2e(kSrc + "/tests/pt2e/data/" + c.name + ".qg",
                     c.quantizer.empty() ? kSrc + "/tests/pt2e/data/" + c.name + ".qr"
                                         : kSrc + "/" + c.quantizer,
                     &graph);
  ASSERT_TRUE(run.ok()) << run.status();
  const engine::Plan& plan = (*run)->plan;
  ASSERT_EQ(plan.observers.size(), c.observers.size());
  for (size_t i = 0; i < c.observers.size(); ++i) {
    EXPECT_EQ(plan.observers[i].class_name, c.observers[i].first) << "observer " << i;
    for (const auto& [key, want] : c.observers[i].second) {
      ASSERT_TRUE(plan.observers[i].args.contains(key)) << "observer " << i << " arg " << key;
      EXPECT_EQ(ArgText(plan.observers[i].args[key]), want) << "observer " << i << " arg " << key;
    }
  }
  ASSERT_EQ(plan.insertions.size(), c.insertions.size());
  for (size_t i = 0; i < c.insertions.size(); ++i) {
    const engine::PlanInsertion& got = plan.insertions[i];
    const ExpectedInsertion& want = c.insertions[i];
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.observer, want.observer) << want.name;
    EXPECT_EQ(got.value, want.value) << want.name;
    EXPECT_EQ(got.consumers, want.consumers) << want.name;
  }
}

const std::map<std::string, std::string> kInt8 = {{"dtype", "int8"}, {"quant_min", "-128"},
                                                  {"quant_max", "127"}};
const std::map<std::string, std::string> kUInt8 = {{"dtype", "uint8"}, {"quant_min", "0"},
                                                   {"quant_max", "255"}};

// Verifies the docstring example of _get_edge_or_node_to_group_id: everything is one group.
TEST(Pt2eTest, DocstringCatChainIsOneGroup) {
  CheckCase({"cat_chain",
             "docstring of _get_edge_or_node_to_group_id: (op2,cat1), cat1 share (op1,cat1); "
             "(cat1,cat2), cat2 share (op3,cat2); (op1,cat1) joins op1's output and (cat1,cat2) "
             "cat1's output implicitly (same int8 spec), so all eight keys are one group; its "
             "instance comes from op1's output, the first key in graph order. Insertion: op1 and "
             "op2 outputs; (op1,cat1) and (op2,cat1) read through them (same instance); cat1's "
             "output; (op3,cat2) is observed on the edge (op3 has no output spec); (cat1,cat2) "
             "reads through cat1's observer; cat2's output",
             {{"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "op1", {"cat1"}},
              {"activation_post_process_1", 0, "op2", {"cat1"}},
              {"activation_post_process_2", 0, "cat1", {"cat2"}},
              {"activation_post_process_3", 0, "op3", {"cat2"}},
              {"activation_post_process_4", 0, "cat2", {"output"}}}});
}

// Verifies implicit sharing with a multi-user producer, the dtype mismatch, node reuse and
// allow_implicit_sharing=False.
TEST(Pt2eTest, ImplicitSharingMultiUser) {
  CheckCase({"multi_user",
             "a's output (int8) and (a,b) (int8) union implicitly, so b reads through a's "
             "observer; (a,c) and (a,d) are uint8: no union with a's output or (a,b) "
             "(_has_same_dtype is false), but with each other (other users of a), so c gets a new "
             "observer after a's and d reuses that node (the 'existing_obs' search over arg.users); "
             "e and f both have allow_implicit_sharing=False: (y,e) and (y,f) stay apart, two "
             "nodes on y; h has allow_implicit_sharing=False but g allows it, and processing "
             "(x,g) unions it with (x,h): one instance, one node",
             {{"HistogramObserver", kInt8},
              {"HistogramObserver", kUInt8},
              {"HistogramObserver", kInt8},
              {"HistogramObserver", kInt8},
              {"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "a", {"b", "c", "d"}},
              {"activation_post_process_1", 1, "a", {"c", "d"}},
              {"activation_post_process_2", 2, "y", {"e"}},
              {"activation_post_process_3", 3, "y", {"f"}},
              {"activation_post_process_4", 4, "x", {"g", "h"}}}});
}

// Verifies the group's instance comes from its first key when implicit sharing joins different
// observers of one dtype.
TEST(Pt2eTest, InstanceFromFirstKey) {
  CheckCase({"first_key",
             "(a,b) is MinMaxObserver int8, (a,c) HistogramObserver int8: other users of a with "
             "the same dtype and is_dynamic, so one group; _get_obs_or_fq_map iterates keys in "
             "graph order of their node, (a,b) (node b) before (a,c) (node c), so the instance is "
             "a MinMaxObserver; b inserts it after a, c reuses that node. d's output (Histogram) "
             "and (d,e) (MinMax) union implicitly; d's output is the first key, so a "
             "HistogramObserver, and (d,e) reads through it",
             {{"MinMaxObserver", kInt8}, {"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "a", {"b", "c"}},
              {"activation_post_process_1", 1, "d", {"e"}}}});
}

// Verifies a DerivedQuantizationSpec bias: its own instance, derived from the input and weight.
TEST(Pt2eTest, DerivedBias) {
  CheckCase({"derived_bias",
             "input, weight and bias edges of conv each their own group (get_attr and placeholder "
             "producers have no output spec; a DerivedQuantizationSpec has no is_dynamic, so it "
             "never shares implicitly); _create_obs_or_fq_from_qspec makes the bias a "
             "_DerivedObserverOrFakeQuantize over obs_or_fq_map[(x,conv)] and [(w,conv)], "
             "instances 0 and 1; conv's output is a fourth group",
             {{"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver",
               {{"dtype", "int8"}, {"qscheme", "per_channel_symmetric"}, {"ch_axis", "0"}}},
              {"_DerivedObserverOrFakeQuantize",
               {{"dtype", "int32"},
                {"derive_qparams_fn", "derive_bias_qparams"},
                {"derived_from", "[0,1]"},
                {"qscheme", "per_channel_symmetric"},
                {"ch_axis", "0"}}},
              {"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "x", {"conv"}},
              {"activation_post_process_1", 1, "w", {"conv"}},
              {"activation_post_process_2", 2, "b", {"conv"}},
              {"activation_post_process_3", 3, "conv", {"output"}}}});
}

// Verifies a FixedQParamsQuantizationSpec output does not share with its user's int8 edge.
TEST(Pt2eTest, FixedQParamsDoesNotShareImplicitly) {
  CheckCase({"fixed_qparams",
             "sig's output is a FixedQParamsQuantizationSpec (a FixedQParamsObserver); (sig,t) is "
             "int8: _has_same_is_dynamic needs is_dynamic on both specs and the fixed spec has "
             "none, so no union; t's input gets its own instance, inserted after sig's output "
             "observer",
             {{"HistogramObserver", kInt8},
              {"FixedQParamsObserver",
               {{"dtype", "int8"}, {"scale", "0.00390625"}, {"zero_point", "-128"}}},
              {"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "x", {"sig"}},
              {"activation_post_process_1", 1, "sig", {"t"}},
              {"activation_post_process_2", 2, "sig", {"t"}}}});
}

// Verifies _create_obs_or_fq_from_qspec under QAT: a FixedQParamsQuantizationSpec becomes
// FixedQParamsFakeQuantize(observer=FixedQParamsObserver(...)); the other specs keep their class.
TEST(Pt2eTest, FixedQParamsUnderQatIsFakeQuantize) {
  ir::Graph graph;
  auto run = RunPt2e(kSrc + "/tests/pt2e/data/fixed_qparams.qg",
                     kSrc + "/tests/pt2e/data/fixed_qparams.qr", &graph, /*qat=*/true);
  ASSERT_TRUE(run.ok()) << run.status();
  const engine::Plan& plan = (*run)->plan;
  ASSERT_EQ(plan.observers.size(), 3u);
  EXPECT_EQ(plan.observers[0].class_name, "HistogramObserver");
  EXPECT_EQ(plan.observers[1].class_name, "FixedQParamsFakeQuantize");
  ASSERT_TRUE(plan.observers[1].inner_class.has_value());
  EXPECT_EQ(*plan.observers[1].inner_class, "FixedQParamsObserver");
  EXPECT_EQ(plan.observers[1].inner_args["scale"], 0.00390625);
  EXPECT_EQ(plan.observers[1].inner_args["zero_point"], -128);
  EXPECT_EQ(plan.observers[1].args["dtype"], "int8");
  ASSERT_EQ(plan.insertions.size(), 3u);
  EXPECT_EQ(plan.insertions[1].value, "sig");
  EXPECT_EQ(plan.insertions[1].observer, 1);
}

// Verifies annotations PyTorch rejects fail the run, naming the node.
TEST(Pt2eTest, RejectedAnnotationsNameTheNode) {
  struct Bad {
    std::string file;
    std::string message;
  };
  for (const Bad& b : std::vector<Bad>{
           {"bad_shared_target", "node 'cat1': SharedQuantizationSpec refers to an edge or output "
                                 "without a quantization spec"},
           {"bad_shared_first", "node 'cat1': a SharedQuantizationSpec is its sharing group's "
                                "first key"},
           {"bad_derived", "node 'cat1': a DerivedQuantizationSpec"},
       }) {
    ir::Graph graph;
    auto run = RunPt2e(kSrc + "/tests/pt2e/data/cat_chain.qg",
                       kSrc + "/tests/pt2e/data/" + b.file + ".qr", &graph);
    ASSERT_FALSE(run.ok()) << b.file;
    EXPECT_THAT(std::string(run.status().message()), HasSubstr(b.message)) << b.file;
  }
}

const engine::PlanInsertion* FindInsertion(const engine::Plan& plan, const std::string& name) {
  for (const auto& i : plan.insertions) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

// Verifies the bundled XNNPACK quantizer on resnet18 where the derivation is short:
//   conv1 (BN folded) -> relu -> maxpool: conv_relu annotates (x, conv1) and relu's output;
//   max_pool2d runs after conv_relu, sees relu annotated and shares relu's output on its input
//   and output (one instance, the edge reads through relu's observer);
//   layer1_0_conv1's and add's edges from maxpool join maxpool's output implicitly (int8,
//   static), so maxpool's one observer feeds both;
//   add (operator.add, from `out += identity`) followed by the block's nn.ReLU is an add_relu:
//   find_sequential_partitions(gm, [torch.add, torch.nn.ReLU]) includes the functional
//   equivalents (graph_utils._EQUIVALENT_TYPES: operator.add / operator.iadd are torch.add's), so
//   add's two inputs get the activation spec and layer1_0_relu_1's output (not add's) is
//   observed; its two users' edges read through it;
//   avgpool runs before add_relu/add: its input is not annotated yet, so it gets the activation
//   spec and its output SharedQuantizationSpec((layer4_1_relu_1, avgpool)); add_relu then
//   annotates layer4_1_relu_1's output, which joins that edge implicitly: one instance from the
//   relu to flatten (propagate_annotation); fc's input joins flatten's output implicitly.
//   Count: x, relu (= maxpool), per block relu / bn2 / relu_1 (8 x 3), 3 downsample outputs, fc:
//   30 instances; 33 insertions (maxpool, avgpool and flatten outputs read the same instance).
TEST(Pt2eXnnpackTest, Resnet18) {
  ir::Graph graph;
  auto run = RunPt2e(kSrc + "/examples/resnet18.qg", kSrc + "/backends/pt2e/xnnpack.qr", &graph);
  ASSERT_TRUE(run.ok()) << run.status();
  const engine::Plan& plan = (*run)->plan;
  EXPECT_EQ(plan.insertions.size(), 33u);
  EXPECT_EQ(plan.observers.size(), 30u);
  for (const auto& o : plan.observers) {
    EXPECT_EQ(o.class_name, "HistogramObserver");
    EXPECT_EQ(o.args["dtype"], "int8");
    EXPECT_EQ(o.args["quant_min"], -128);
    EXPECT_EQ(o.args["eps"], 0.000244140625);
  }
  auto expect = [&](const std::string& name, const std::string& value,
                    std::vector<std::string> consumers) -> int {
    const engine::PlanInsertion* i = FindInsertion(plan, name);
    if (i == nullptr) {
      ADD_FAILURE() << "no " << name;
      return -1;
    }
    EXPECT_EQ(i->value, value) << name;
    EXPECT_EQ(i->consumers, consumers) << name;
    return i->observer;
  };
  expect("activation_post_process_0", "x", {"conv1"});
  int relu = expect("activation_post_process_1", "relu", {"maxpool"});
  int maxpool = expect("activation_post_process_2", "maxpool", {"add", "layer1_0_conv1"});
  EXPECT_EQ(relu, maxpool);
  expect("activation_post_process_4", "layer1_0_bn2", {"add"});
  expect("activation_post_process_5", "layer1_0_relu_1", {"add_1", "layer1_1_conv1"});
  int pool_in = expect("activation_post_process_29", "layer4_1_relu_1", {"avgpool"});
  int pool_out = expect("activation_post_process_30", "avgpool", {"flatten"});
  int flat = expect("activation_post_process_31", "flatten", {"fc"});
  EXPECT_EQ(pool_in, pool_out);
  EXPECT_EQ(pool_in, flat);
  expect("activation_post_process_32", "fc", {"output"});
  for (const auto& i : plan.insertions) EXPECT_NE(i.value, "add") << "add_relu: add's output";
  for (const auto& n : plan.nodes) {
    if (n.name == "layer1_0_relu_1" || n.name == "add") {
      EXPECT_TRUE(n.quantized) << n.name;  // add_relu
    }
    if (n.name == "bn1") {
      EXPECT_TRUE(n.quantized);  // folded into conv1
    }
  }
}

// Verifies the XNNPACK annotators on functional ops: weight and (None) bias edges, conv_relu,
// add_relu, cat's SharedQuantizationSpec and the fixed-qparams sigmoid.
TEST(Pt2eXnnpackTest, FunctionalOps) {
  CheckCase({"functional",
             "conv_relu annotates (x,conv) act, (w,conv) per-channel weight, (b,conv) None, r's "
             "output act; add_relu (torch.add then nn.ReLU) (r,add), (s,add) act and relu's output; "
             "cat (relu,cat) act, (r,cat) and its output SharedQuantizationSpec((relu,cat)); the "
             "sigmoid (r,s) act and a fixed output. Groups: r's output joins (r,s), (r,add) and "
             "(r,cat) implicitly, (r,cat) brings (relu,cat), which joins relu's output, and cat's "
             "output: one instance made at r's output (the first key). s's fixed output and (s,add) "
             "stay apart (no is_dynamic on a fixed spec). Insertion: x and w edges, r's output "
             "(users add, cat, s), s's output, (s,add) after it, relu's and cat's outputs",
             {{"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", {{"qscheme", "per_channel_symmetric"}, {"ch_axis", "0"}}},
              {"HistogramObserver", kInt8},
              {"FixedQParamsObserver", {{"scale", "0.00390625"}, {"zero_point", "-128"}}},
              {"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "x", {"conv"}},
              {"activation_post_process_1", 1, "w", {"conv"}},
              {"activation_post_process_2", 2, "r", {"add", "cat", "s"}},
              {"activation_post_process_3", 3, "s", {"add"}},
              {"activation_post_process_4", 4, "s", {"add"}},
              {"activation_post_process_5", 2, "relu", {"cat"}},
              {"activation_post_process_6", 2, "cat", {"output"}}},
             "backends/pt2e/xnnpack.qr"});
}

// Verifies XNNPACK's QAT configuration (--qat): BatchNorm is not folded and conv_bn_relu /
// conv_bn annotate conv -> bn (-> relu) the way PTQ's conv_relu / conv annotate the folded conv,
// so resnet18's insertion points and sharing are PTQ's, with fake-quant instances:
// FusedMovingAvgObsFakeQuantize over MovingAverageMinMaxObserver (activations).
TEST(Pt2eXnnpackTest, Resnet18QatSamePointsFakeQuantize) {
  ir::Graph graph;
  auto ptq = RunPt2e(kSrc + "/examples/resnet18.qg", kSrc + "/backends/pt2e/xnnpack.qr", &graph);
  ASSERT_TRUE(ptq.ok()) << ptq.status();
  ir::Graph graph_qat;
  auto qat = RunPt2e(kSrc + "/examples/resnet18.qg", kSrc + "/backends/pt2e/xnnpack.qr",
                     &graph_qat, /*qat=*/true);
  ASSERT_TRUE(qat.ok()) << qat.status();
  const engine::Plan& a = (*ptq)->plan;
  const engine::Plan& b = (*qat)->plan;
  ASSERT_EQ(a.insertions.size(), b.insertions.size());
  for (size_t i = 0; i < a.insertions.size(); ++i) {
    EXPECT_EQ(a.insertions[i].value, b.insertions[i].value) << i;
    EXPECT_EQ(a.insertions[i].consumers, b.insertions[i].consumers) << i;
    EXPECT_EQ(a.insertions[i].observer, b.insertions[i].observer) << i;
  }
  ASSERT_EQ(b.observers.size(), 30u);
  for (const auto& o : b.observers) {
    EXPECT_EQ(o.class_name, "FusedMovingAvgObsFakeQuantize");
    EXPECT_EQ(o.inner_class.value_or(""), "MovingAverageMinMaxObserver");
    EXPECT_EQ(o.inner_args["eps"], 0.000244140625);
    EXPECT_EQ(o.args["quant_min"], -128);
  }
}

// Verifies the QAT specs on functional ops: per-channel fake-quant weights and the fixed spec's
// FixedQParamsFakeQuantize form; points and sharing as in FunctionalOps.
TEST(Pt2eXnnpackTest, FunctionalOpsQat) {
  ir::Graph graph;
  auto run = RunPt2e(kSrc + "/tests/pt2e/data/functional.qg", kSrc + "/backends/pt2e/xnnpack.qr",
                     &graph, /*qat=*/true);
  ASSERT_TRUE(run.ok()) << run.status();
  const engine::Plan& plan = (*run)->plan;
  ASSERT_EQ(plan.observers.size(), 5u);
  EXPECT_EQ(plan.observers[1].class_name, "FusedMovingAvgObsFakeQuantize");
  EXPECT_EQ(plan.observers[1].inner_class.value_or(""), "MovingAveragePerChannelMinMaxObserver");
  EXPECT_EQ(plan.observers[1].args["qscheme"], "per_channel_symmetric");
  EXPECT_EQ(plan.observers[3].class_name, "FixedQParamsFakeQuantize");
  EXPECT_EQ(plan.observers[3].inner_args["scale"], 0.00390625);
  ASSERT_EQ(plan.insertions.size(), 7u);
  EXPECT_EQ(plan.insertions[1].value, "w");
  EXPECT_EQ(plan.insertions[3].value, "s");
  EXPECT_EQ(plan.insertions[3].observer, 3);
}

// Verifies the annotator order: tiny's max_pool2d follows `relu + 1.0`, annotated by the add
// annotator, which runs after max_pool2d's, so the pool stays unannotated and the view -> fc edge
// gets its own observer.
TEST(Pt2eXnnpackTest, TinyAnnotatorOrder) {
  ir::Graph graph;
  auto run = RunPt2e(kSrc + "/examples/tiny.qg", kSrc + "/backends/pt2e/xnnpack.qr", &graph);
  ASSERT_TRUE(run.ok()) << run.status();
  const engine::Plan& plan = (*run)->plan;
  std::vector<std::string> got;
  for (const auto& i : plan.insertions) {
    std::string c;
    for (const auto& s : i.consumers) c += " " + s;
    got.push_back(i.value + " ->" + c);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"x -> conv", "relu -> add", "add -> pool", "view -> fc",
                                           "fc -> output"}));
  for (const auto& n : plan.nodes) {
    if (n.name == "pool") {
      EXPECT_FALSE(n.quantized);
    }
  }
}

}  // namespace
}  // namespace qprep::prepare
