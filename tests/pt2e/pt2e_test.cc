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
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
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

// ---------------------------------------------------------------------------------------------
// Functional graphs (tools/export_fx.py --functional): torch.nn layers traced through, so convs
// and linears are F.conv2d / F.linear calls with get_attr weight (and bias) edges, as on PT2E's
// exported graphs. tests/pt2e/data/functional_models.py holds the small models
// (gen_functional.sh regenerates their .qg); examples/*.functional.qg come from gen_examples.sh.
// Every expectation below is derived by hand from XNNPACKQuantizer (xnnpack_quantizer_utils.py:
// the annotators in STATIC_OPS order, get_symmetric_quantization_config(is_per_channel=True):
// bias_quantization_spec None) and pt2e/prepare.py, as for the cases above.

const std::map<std::string, std::string> kPerChannel = {{"dtype", "int8"},
                                                        {"quant_min", "-127"},
                                                        {"quant_max", "127"},
                                                        {"qscheme", "per_channel_symmetric"},
                                                        {"ch_axis", "0"}};

// Verifies conv-bn folding on functional convs, the weight / bias edges, and conv_relu, conv,
// adaptive_avg_pool2d, flatten, linear_relu and linear on one graph.
TEST(Pt2eXnnpackFunctionalTest, ConvBnLinear) {
  CheckCase({"conv_bn_linear",
             "_fuse_conv_bn_ folds batch_norm into conv2d and batch_norm_1 into conv2d_1 (a bn "
             "whose args[0] is a conv; the folded node is the conv, named here by the batch "
             "norm's value as fused values are). linear_relu: (flatten,linear) act, (fc1_weight,"
             "linear) weight, (fc1_bias,linear) get_bias_qspec = None, relu_1's output act. "
             "linear: (relu_1,linear_1) act, (fc2_weight,linear_1) weight, output act. "
             "conv_relu: (x,conv2d) act, (conv1_weight,conv2d) weight, relu's output act. conv: "
             "(relu,conv2d_1) act, (conv2_weight,conv2d_1) weight, (conv2_bias) None, output "
             "act. adaptive_avg_pool2d (after conv): input annotated, so Shared(conv2d_1) in and "
             "Shared((conv2d_1,pool)) out; propagate_annotation: flatten shares the pool's "
             "output. Groups: each weight edge alone (a get_attr has no output spec, one user); "
             "relu's output with (relu,conv2d_1); conv2d_1's output through pool and flatten to "
             "(flatten,linear) (implicit, same int8 root); relu_1's output with (relu_1,"
             "linear_1). Insertion in graph order; edges of a group whose producer output is "
             "observed read through it",
             {{"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel},
              {"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel},
              {"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel},
              {"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel},
              {"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "x", {"conv2d"}},
              {"activation_post_process_1", 1, "conv1_weight", {"conv2d"}},
              {"activation_post_process_2", 2, "relu", {"conv2d_1"}},
              {"activation_post_process_3", 3, "conv2_weight", {"conv2d_1"}},
              {"activation_post_process_4", 4, "batch_norm_1", {"adaptive_avg_pool2d"}},
              {"activation_post_process_5", 4, "adaptive_avg_pool2d", {"flatten"}},
              {"activation_post_process_6", 4, "flatten", {"linear"}},
              {"activation_post_process_7", 5, "fc1_weight", {"linear"}},
              {"activation_post_process_8", 6, "relu_1", {"linear_1"}},
              {"activation_post_process_9", 7, "fc2_weight", {"linear_1"}},
              {"activation_post_process_10", 8, "linear_1", {"output"}}},
             "backends/pt2e/xnnpack.qr"});
}

// Verifies the fold itself: each batch norm whose input is a functional conv is absorbed into
// that conv, which keeps its arguments (input, weight edge, bias); under QAT nothing is folded
// (prepare_qat_pt2e leaves conv-bn to the conv_bn annotators).
TEST(Pt2eXnnpackFunctionalTest, ConvBnFoldKeepsTheConvCall) {
  ir::Graph graph;
  auto run = RunPt2e(kSrc + "/tests/pt2e/data/conv_bn_linear.qg",
                     kSrc + "/backends/pt2e/xnnpack.qr", &graph);
  ASSERT_TRUE(run.ok()) << run.status();
  const engine::FusionResult& f = (*run)->fusion;
  ASSERT_EQ(f.fused.size(), 2u);
  EXPECT_EQ(f.fused[0].member_names, (std::vector<std::string>{"conv2d", "batch_norm"}));
  EXPECT_EQ(f.fused[0].last_name, "batch_norm");
  EXPECT_EQ(f.fused[1].member_names, (std::vector<std::string>{"conv2d_1", "batch_norm_1"}));
  EXPECT_EQ(f.fused[0].fused_module_type, "torch.nn.functional.conv2d");
  const ir::Node& conv = f.graph.node(f.fused[1].fused);
  EXPECT_EQ(conv.name, "conv2d_1");
  EXPECT_EQ(conv.target, "torch.nn.functional.conv2d");
  ASSERT_GE(conv.args.size(), 3u);
  ASSERT_TRUE(conv.args[1].is_node());
  EXPECT_EQ(f.graph.node(conv.args[1].node).name, "conv2_weight");
  ASSERT_TRUE(conv.args[2].is_node());
  EXPECT_EQ(f.graph.node(conv.args[2].node).name, "conv2_bias");
  EXPECT_FALSE(f.graph.FindNode("batch_norm_1").has_value());

  ir::Graph train;
  auto qat = RunPt2e(kSrc + "/tests/pt2e/data/conv_bn_linear.train.qg",
                     kSrc + "/backends/pt2e/xnnpack.qr", &train, /*qat=*/true);
  ASSERT_TRUE(qat.ok()) << qat.status();
  EXPECT_TRUE((*qat)->fusion.fused.empty());
}

// Verifies XNNPACK's QAT configuration on a functional train-mode graph: conv_bn_relu and conv_bn
// match F.conv2d -> F.batch_norm (-> relu) unfolded, annotating the conv's input and weight edges
// and the relu's / batch norm's output, so the points and groups are the PTQ case's (the batch
// norm's output is batch_norm_1 in both) with FusedMovingAvgObsFakeQuantize instances.
TEST(Pt2eXnnpackFunctionalTest, ConvBnLinearQat) {
  ir::Graph graph;
  auto run = RunPt2e(kSrc + "/tests/pt2e/data/conv_bn_linear.train.qg",
                     kSrc + "/backends/pt2e/xnnpack.qr", &graph, /*qat=*/true);
  ASSERT_TRUE(run.ok()) << run.status();
  const engine::Plan& plan = (*run)->plan;
  const std::vector<std::string> want_values = {
      "x",       "conv1_weight", "relu",   "conv2_weight", "batch_norm_1", "adaptive_avg_pool2d",
      "flatten", "fc1_weight",   "relu_1", "fc2_weight",   "linear_1"};
  const std::vector<int> want_observers = {0, 1, 2, 3, 4, 4, 4, 5, 6, 7, 8};
  ASSERT_EQ(plan.insertions.size(), want_values.size());
  for (size_t i = 0; i < want_values.size(); ++i) {
    EXPECT_EQ(plan.insertions[i].value, want_values[i]) << i;
    EXPECT_EQ(plan.insertions[i].observer, want_observers[i]) << i;
  }
  ASSERT_EQ(plan.observers.size(), 9u);
  for (size_t o = 0; o < plan.observers.size(); ++o) {
    EXPECT_EQ(plan.observers[o].class_name, "FusedMovingAvgObsFakeQuantize") << o;
    EXPECT_EQ(plan.observers[o].inner_class.value_or(""),
              o % 2 == 1 ? "MovingAveragePerChannelMinMaxObserver" : "MovingAverageMinMaxObserver")
        << o;
  }
}

// Verifies max_pool2d and cat sharing on an inception-like functional block, and hardtanh
// (ReLU6) propagation joining a cat input's group.
TEST(Pt2eXnnpackFunctionalTest, CatPool) {
  CheckCase({"cat_pool",
             "conv_relu (folded conv_a): (x,conv2d) act, (conv_a_weight,conv2d) weight, relu's "
             "output act. conv (conv_b, no bn): (x,conv2d_1) act, (conv_b_weight,conv2d_1) "
             "weight, (conv_b_bias) None, output act. max_pool2d: relu's output annotated by an "
             "earlier annotator, so (relu,max_pool2d) and its output Shared(relu). cat: "
             "(max_pool2d,cat) act, (hardtanh,cat) and the output Shared((max_pool2d,cat)). "
             "propagate_annotation: hardtanh (ReLU6) shares conv2d_1's output on its input and "
             "output. Groups: (x,conv2d) and (x,conv2d_1) (other users of x); relu's output, the "
             "pool, (max_pool2d,cat) (implicit with the pool's output), cat's output and "
             "(hardtanh,cat), which joins hardtanh's output implicitly (its root is conv2d_1's "
             "int8 act spec), bringing conv2d_1's output and (conv2d_1,hardtanh): one group, "
             "first key relu's output. x's observer serves both convs (node reuse)",
             {{"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel},
              {"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel}},
             {{"activation_post_process_0", 0, "x", {"conv2d", "conv2d_1"}},
              {"activation_post_process_1", 1, "conv_a_weight", {"conv2d"}},
              {"activation_post_process_2", 2, "relu", {"max_pool2d"}},
              {"activation_post_process_3", 2, "max_pool2d", {"cat"}},
              {"activation_post_process_4", 3, "conv_b_weight", {"conv2d_1"}},
              {"activation_post_process_5", 2, "conv2d_1", {"hardtanh"}},
              {"activation_post_process_6", 2, "hardtanh", {"cat"}},
              {"activation_post_process_7", 2, "cat", {"output"}}},
             "backends/pt2e/xnnpack.qr"});
}

// Verifies which relus close an add_relu: find_sequential_partitions([torch.add, nn.ReLU]) with
// the functional equivalents, so operator.add / torch.add followed by nn.ReLU or F.relu, not
// torch.relu (its own source).
TEST(Pt2eXnnpackFunctionalTest, AddReluSources) {
  CheckCase({"add_relu",
             "add (x + y) -> relu (nn.ReLU): add_relu, (x,add) (y,add) act and relu's output. "
             "add_1 (relu + y) -> relu_1 (torch.relu, not in {nn.ReLU, F.relu, F.relu_}): the "
             "add annotator, (relu,add_1) (y,add_1) act and add_1's output; relu_1 unannotated. "
             "add_2 (torch.add) -> relu_2 (F.relu): add_relu, (relu_1,add_2) (relu,add_2) act, "
             "relu_2's output. Groups: (x,add); (y,add) with (y,add_1) (other users of y); "
             "relu's output with (relu,add_1) and (relu,add_2); add_1's output; (relu_1,add_2) "
             "(relu_1 has no output spec); relu_2's output",
             {{"HistogramObserver", kInt8},
              {"HistogramObserver", kInt8},
              {"HistogramObserver", kInt8},
              {"HistogramObserver", kInt8},
              {"HistogramObserver", kInt8},
              {"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "x", {"add"}},
              {"activation_post_process_1", 1, "y", {"add", "add_1"}},
              {"activation_post_process_2", 2, "relu", {"add_1", "add_2"}},
              {"activation_post_process_3", 3, "add_1", {"relu_1"}},
              {"activation_post_process_4", 4, "relu_1", {"add_2"}},
              {"activation_post_process_5", 5, "relu_2", {"output"}}},
             "backends/pt2e/xnnpack.qr"});
}

// Verifies _is_annotated(partition) over shared partition nodes: a conv module called twice is
// one weight get_attr (and one bias) read by two conv calls; a linear read by two relus.
TEST(Pt2eXnnpackFunctionalTest, TiedWeights) {
  CheckCase({"tied_weights",
             "linear_relu runs first, over relu nodes in graph order: (linear,relu_1) annotates "
             "(mean,linear) act, (fc_weight,linear) weight, (fc_bias) None, relu_1's output, and "
             "marks [relu_1, linear, fc_weight, fc_bias]; (linear,relu_2) is skipped (linear "
             "annotated), so relu_2 stays unannotated. conv_relu: (conv2d_1,relu) annotates "
             "(conv2d,conv2d_1) act, (conv_weight,conv2d_1) weight, relu's output, and marks "
             "conv_weight and conv_bias; the conv annotator then skips conv2d (its partition "
             "[conv2d, conv_weight, conv_bias] is annotated): no observer on x, none on conv2d's "
             "output. propagate_annotation: mean shares relu's output. add: (relu_1,add) "
             "(relu_2,add) act and its output. Groups: (conv2d,conv2d_1); the two weights; "
             "relu's output with mean and (mean,linear); relu_1's output with (relu_1,add); "
             "(relu_2,add) (relu_2 has no output spec); add's output",
             {{"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel},
              {"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel},
              {"HistogramObserver", kInt8},
              {"HistogramObserver", kInt8},
              {"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "conv2d", {"conv2d_1"}},
              {"activation_post_process_1", 1, "conv_weight", {"conv2d_1"}},
              {"activation_post_process_2", 2, "relu", {"mean"}},
              {"activation_post_process_3", 2, "mean", {"linear"}},
              {"activation_post_process_4", 3, "fc_weight", {"linear"}},
              {"activation_post_process_5", 4, "relu_1", {"add"}},
              {"activation_post_process_6", 5, "relu_2", {"add"}},
              {"activation_post_process_7", 6, "add", {"output"}}},
             "backends/pt2e/xnnpack.qr"});
}

// The activation insertions of a plan with instance ids renumbered by first use, and each one's
// number of consumers: the placement's shape, independent of node names.
std::vector<std::pair<int, size_t>> ActivationShape(const engine::Plan& plan) {
  std::map<int, int> renumber;
  std::vector<std::pair<int, size_t>> out;
  for (const auto& i : plan.insertions) {
    if (plan.observers[i.observer].class_name != "HistogramObserver") continue;
    auto [it, unused] = renumber.emplace(i.observer, static_cast<int>(renumber.size()));
    out.emplace_back(it->second, i.consumers.size());
  }
  return out;
}

// Checks a functional graph's plan: one per-channel weight observer on the weight edge of every
// conv / linear call (args[1], the conv's or linear's only consumer of that get_attr) and on no
// other get_attr (biases: bias_quantization_spec None; BatchNorm parameters: folded away); the
// activation placement has the shape of the module graph's plan (same annotators, same groups:
// the weight groups share with nothing, a get_attr having no output spec and one user).
void CheckFunctionalAgainstModuleGraph(const std::string& functional, const std::string& module,
                                       size_t activations, size_t weights) {
  ir::Graph fg, mg;
  auto frun = RunPt2e(kSrc + "/examples/" + functional, kSrc + "/backends/pt2e/xnnpack.qr", &fg);
  ASSERT_TRUE(frun.ok()) << frun.status();
  auto mrun = RunPt2e(kSrc + "/examples/" + module, kSrc + "/backends/pt2e/xnnpack.qr", &mg);
  ASSERT_TRUE(mrun.ok()) << mrun.status();
  const engine::Plan& plan = (*frun)->plan;

  std::map<std::string, std::string> weight_of;  // weight get_attr -> its conv / linear
  for (ir::NodeId id = 0; id < fg.num_nodes(); ++id) {
    const ir::Node& n = fg.node(id);
    if (n.kind != ir::NodeKind::kCallFunction) continue;
    if (n.target != "torch.nn.functional.conv2d" && n.target != "torch.nn.functional.linear") {
      continue;
    }
    ASSERT_TRUE(n.args.size() >= 2 && n.args[1].is_node()) << n.name;
    weight_of[fg.node(n.args[1].node).name] = n.name;
  }
  EXPECT_EQ(weight_of.size(), weights);

  std::map<std::string, int> class_count;
  for (const auto& o : plan.observers) ++class_count[o.class_name];
  EXPECT_EQ(class_count, (std::map<std::string, int>{
                             {"HistogramObserver", static_cast<int>(activations)},
                             {"PerChannelMinMaxObserver", static_cast<int>(weights)}}));
  std::map<std::string, int> seen;
  for (const auto& i : plan.insertions) {
    const engine::PlanObserver& o = plan.observers[i.observer];
    const std::optional<ir::NodeId> producer = fg.FindNode(i.value);
    ASSERT_TRUE(producer.has_value()) << i.value;
    const bool from_get_attr = fg.node(*producer).kind == ir::NodeKind::kGetAttr;
    if (o.class_name != "PerChannelMinMaxObserver") {
      EXPECT_FALSE(from_get_attr) << i.value << ": only weights are observed among get_attrs";
      continue;
    }
    EXPECT_EQ(o.args["qscheme"], "per_channel_symmetric") << i.value;
    EXPECT_EQ(o.args["ch_axis"], 0) << i.value;
    EXPECT_EQ(o.args["quant_min"], -127) << i.value;
    EXPECT_EQ(o.args["eps"], 0.000244140625) << i.value;
    auto it = weight_of.find(i.value);
    ASSERT_NE(it, weight_of.end()) << i.value << " is not a conv / linear weight";
    EXPECT_EQ(i.consumers, std::vector<std::string>{it->second}) << i.value;
    ++seen[i.value];
  }
  EXPECT_EQ(seen.size(), weight_of.size());
  for (const auto& [w, k] : seen) EXPECT_EQ(k, 1) << w << ": one observer per weight";
  EXPECT_EQ(ActivationShape(plan), ActivationShape((*mrun)->plan));
}

// Verifies resnet18 traced functionally end to end: BatchNorm folded into every F.conv2d, 21
// per-channel weight observers (20 convs, fc) beside the module graph's 30 activation instances
// (Pt2eXnnpackTest.Resnet18 derives them), and the same sharing at maxpool, the add_relus and
// the avgpool -> flatten tail.
TEST(Pt2eXnnpackFunctionalTest, Resnet18) {
  CheckFunctionalAgainstModuleGraph("resnet18.functional.qg", "resnet18.qg", 30, 21);
  ir::Graph graph;
  auto run = RunPt2e(kSrc + "/examples/resnet18.functional.qg",
                     kSrc + "/backends/pt2e/xnnpack.qr", &graph);
  ASSERT_TRUE(run.ok()) << run.status();
  const engine::Plan& plan = (*run)->plan;
  EXPECT_EQ(plan.insertions.size(), 54u);  // 33 activation + 21 weight
  EXPECT_EQ((*run)->fusion.fused.size(), 20u);  // every batch_norm follows a conv2d
  auto observer_at = [&](const std::string& value, std::vector<std::string> consumers) -> int {
    for (const auto& i : plan.insertions) {
      if (i.value == value && i.consumers == consumers) return i.observer;
    }
    ADD_FAILURE() << "no observer on " << value;
    return -1;
  };
  // conv_relu then max_pool2d sharing relu's output; the pool's users read one observer.
  const int relu = observer_at("relu", {"max_pool2d"});
  EXPECT_EQ(observer_at("max_pool2d", {"add", "conv2d_1"}), relu);
  // add_relu: the add's inputs and the relu's output; nothing on the add's output.
  observer_at("batch_norm_2", {"add"});
  observer_at("relu_2", {"add_1", "conv2d_3"});
  for (const auto& i : plan.insertions) EXPECT_EQ(i.value.rfind("add", 0), std::string::npos);
  // adaptive_avg_pool2d, then flatten (propagate_annotation): one instance from the last relu.
  const int tail = observer_at("relu_16", {"adaptive_avg_pool2d"});
  EXPECT_EQ(observer_at("adaptive_avg_pool2d", {"flatten"}), tail);
  EXPECT_EQ(observer_at("flatten", {"linear"}), tail);
  observer_at("linear", {"output"});
}

// Verifies mobilenet_v2 traced functionally: 52 folded convs and the classifier's linear get
// per-channel weight observers; the activations are the module graph's (ReLU6 is F.hardtanh,
// a sharing op either way; dropout stays unannotated).
TEST(Pt2eXnnpackFunctionalTest, MobilenetV2) {
  CheckFunctionalAgainstModuleGraph("mobilenet_v2.functional.qg", "mobilenet_v2.qg", 65, 53);
}

// Verifies the team quantizer of docs/backend-guide.md ("A team quantizer on a functional
// graph"): tests/pt2e/data/team_quantizer.qr on biased_conv_pool (functional_models.py).
TEST(Pt2eTeamQuantizerTest, DerivedBiasAndSharedPool) {
  const std::map<std::string, std::string> kBias = {
      {"dtype", "int32"}, {"derive_qparams_fn", "derive_bias_qparams"},
      {"qscheme", "per_channel_symmetric"}, {"ch_axis", "0"}};
  auto bias_from = [&](const std::string& sources) {
    auto args = kBias;
    args["derived_from"] = sources;
    return args;
  };
  CheckCase({"biased_conv_pool",
             "XNNPACK first: conv_relu on conv2d ((x,conv2d) act, (conv1_weight,conv2d) weight, "
             "relu's output act), conv on conv2d_1 ((avg_pool2d,conv2d_1) act, (conv2_weight,"
             "conv2d_1) weight, output act); avg_pool2d is no XNNPACK op and no sharing op. Then "
             "the team's annotators: each conv's bias edge a DerivedQuantizationSpec from its "
             "input and weight edges (keys after them in the input map); avg_pool2d's input "
             "Shared(relu) (relu's output annotated), output Shared((relu,avg_pool2d)). Groups: "
             "(x,conv2d); each weight; each bias alone (a derived spec never shares "
             "implicitly); relu's output with the pool's input and output and "
             "(avg_pool2d,conv2d_1) (implicit, same int8 root); conv2d_1's output. Instances in "
             "insertion order; the biases derive from instances 0, 1 and 3, 4",
             {{"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel},
              {"_DerivedObserverOrFakeQuantize", bias_from("[0,1]")},
              {"HistogramObserver", kInt8},
              {"PerChannelMinMaxObserver", kPerChannel},
              {"_DerivedObserverOrFakeQuantize", bias_from("[3,4]")},
              {"HistogramObserver", kInt8}},
             {{"activation_post_process_0", 0, "x", {"conv2d"}},
              {"activation_post_process_1", 1, "conv1_weight", {"conv2d"}},
              {"activation_post_process_2", 2, "conv1_bias", {"conv2d"}},
              {"activation_post_process_3", 3, "relu", {"avg_pool2d"}},
              {"activation_post_process_4", 3, "avg_pool2d", {"conv2d_1"}},
              {"activation_post_process_5", 4, "conv2_weight", {"conv2d_1"}},
              {"activation_post_process_6", 5, "conv2_bias", {"conv2d_1"}},
              {"activation_post_process_7", 6, "conv2d_1", {"output"}}},
             "tests/pt2e/data/team_quantizer.qr"});
}

// Verifies docs/backend-guide.md shows the team quantizer file as it is.
TEST(Pt2eTeamQuantizerTest, GuideQuotesTheFile) {
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  const std::string file = slurp(kSrc + "/tests/pt2e/data/team_quantizer.qr");
  ASSERT_FALSE(file.empty());
  EXPECT_NE(slurp(kSrc + "/docs/backend-guide.md").find("```\n" + file + "```\n"),
            std::string::npos)
      << "docs/backend-guide.md must quote tests/pt2e/data/team_quantizer.qr verbatim";
}

}  // namespace
}  // namespace qprep::prepare
