// Input-weight equalization (prepare_fx's _equalization_config) beyond the parity goldens: the
// plan's `kind` field (JSON round trip, comparison), the chain in the prepared graph and DOT,
// the equalization observer specs, the `input_activation` qconfig field, and the rules' answers
// on the committed tests/parity/data graphs (goldens: tools/gen_goldens.py --only equalization).
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "common/observer_spec.h"
#include "engine/facts.h"
#include "engine/plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/qg_reader.h"
#include "prepare/outputs.h"
#include "prepare/pipeline.h"
#include "rules/compiler.h"

namespace qprep {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const fs::path kRoot = QPREP_SOURCE_DIR;
const fs::path kData = kRoot / "tests" / "parity" / "data";

prepare::PrepareOptions Options(bool equalization) {
  prepare::PrepareOptions o;
  o.rule_files = {(kRoot / "rules" / "prelude" / "prepare.qr").string(),
                  (kRoot / "backends" / "fbgemm.qr").string(),
                  (kRoot / "backends" / "qconfig" / "default.qr").string()};
  o.search_paths = {(kRoot / "rules").string(), (kRoot / "backends").string()};
  o.backend = "fbgemm";
  o.qconfig_mapping = "default_fbgemm";
  if (equalization) {
    o.rule_files.push_back((kRoot / "backends" / "qconfig" / "equalization.qr").string());
    o.equalization_mapping = "default_equalization";
  }
  return o;
}

struct PreparedRun {
  ir::Graph graph;
  std::unique_ptr<prepare::PrepareResult> result;
};

PreparedRun PrepareFile(const std::string& qg, const prepare::PrepareOptions& options) {
  DiagnosticSink sink;
  auto graph = ir::ReadQgFile((kData / qg).string(), &sink);
  EXPECT_TRUE(graph.ok()) << graph.status();
  PreparedRun run{*std::move(graph), nullptr};
  DiagnosticSink rule_sink;
  auto result = prepare::Prepare(run.graph, options, &rule_sink);
  EXPECT_TRUE(result.ok()) << result.status() << rule_sink.Render();
  if (result.ok()) run.result = *std::move(result);
  return run;
}

std::vector<std::string> Names(const engine::Plan& p, bool equalization) {
  std::vector<std::string> out;
  for (const auto& i : p.insertions) {
    if (i.kind.empty() != equalization) out.push_back(i.name);
  }
  return out;
}

TEST(Equalization, LinearChainPlan) {
  PreparedRun run = PrepareFile("equalization_linear_chain.qg", Options(true));
  ASSERT_NE(run.result, nullptr);
  const engine::Plan& plan = run.result->plan;
  // fc1 (LinearReLU), fc2, F.linear's input and weight; the bias is left alone.
  EXPECT_EQ(Names(plan, true),
            (std::vector<std::string>{"activation_post_process_0_equalization_process_0",
                                      "activation_post_process_1_equalization_process_0",
                                      "activation_post_process_2_equalization_process_0",
                                      "activation_post_process_3_equalization_process_0"}));
  // Ordinary observers keep PyTorch's numbering (equalization observers do not count).
  EXPECT_EQ(Names(plan, false).back(), "activation_post_process_4");
  // PyTorch's insertion order: F.linear's input observers (x, weight) before its equalization
  // observers, which come before its output observer.
  std::vector<std::string> order;
  for (const auto& i : plan.insertions) order.push_back(i.name);
  auto at = [&](const std::string& n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
  EXPECT_LT(at("activation_post_process_3"), at("activation_post_process_2_equalization_process_0"));
  EXPECT_LT(at("activation_post_process_3_equalization_process_0"), at("activation_post_process_4"));
  // Classes: the weight gets the weight observer, each is its own instance.
  for (const auto& i : plan.insertions) {
    if (i.kind.empty()) continue;
    const std::string& cls = plan.observers.at(i.observer).class_name;
    EXPECT_EQ(cls, i.value == "w" ? "_WeightEqualizationObserver" : "_InputEqualizationObserver")
        << i.name;
    EXPECT_EQ(std::count_if(plan.insertions.begin(), plan.insertions.end(),
                            [&](const engine::PlanInsertion& j) { return j.observer == i.observer; }),
              1);
  }
}

TEST(Equalization, WithoutTheFlagNothingChanges) {
  PreparedRun with = PrepareFile("equalization_linear_chain.qg", Options(true));
  PreparedRun without = PrepareFile("equalization_linear_chain.qg", Options(false));
  ASSERT_NE(with.result, nullptr);
  ASSERT_NE(without.result, nullptr);
  EXPECT_THAT(Names(without.result->plan, true), IsEmpty());
  EXPECT_EQ(Names(with.result->plan, false), Names(without.result->plan, false));
  // The plans differ exactly by the four equalization points.
  std::vector<std::string> diffs = engine::ComparePlans(with.result->plan, without.result->plan);
  EXPECT_EQ(diffs.size(), 4u);
  for (const auto& d : diffs) EXPECT_THAT(d, HasSubstr("(equalization)"));
}

TEST(Equalization, BranchIsSkippedAndExplained) {
  PreparedRun run = PrepareFile("equalization_branch.qg", Options(true));
  ASSERT_NE(run.result, nullptr);
  std::vector<std::string> consumers;
  for (const auto& i : run.result->plan.insertions) {
    if (!i.kind.empty()) consumers.push_back(i.consumers.at(0));
  }
  EXPECT_EQ(consumers, (std::vector<std::string>{"fc1", "fc4"}));
  const auto& program = run.result->rules.program;
  engine::RelationId skipped = program.Find("equalization_skipped_branch");
  ASSERT_NE(skipped, engine::Program::kInvalid);
  EXPECT_EQ(run.result->db->relation(skipped).size(), 2u);  // fc2 and fc3
  // PyTorch's warnings, which `qprepc prepare` prints.
  EXPECT_EQ(prepare::PrepareWarnings(*run.result),
            (std::vector<std::string>{"Cannot equalize fc2 because it is part of a branch.",
                                      "Cannot equalize fc3 because it is part of a branch."}));
  PreparedRun plain = PrepareFile("equalization_branch.qg", Options(false));
  ASSERT_NE(plain.result, nullptr);
  EXPECT_THAT(prepare::PrepareWarnings(*plain.result), IsEmpty());
}

TEST(Equalization, PreparedGraphAndDotChainTheObservers) {
  PreparedRun run = PrepareFile("equalization_linear_chain.qg", Options(true));
  ASSERT_NE(run.result, nullptr);
  auto prepared = prepare::BuildPreparedGraph(run.graph, run.result->plan);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  auto arg_of = [&](const std::string& name) -> std::string {
    for (ir::NodeId i = 0; i < prepared->num_nodes(); ++i) {
      const ir::Node& n = prepared->node(i);
      if (n.name == name) return prepared->node(n.args.at(0).node).name;
    }
    return "<missing " + name + ">";
  };
  // x -> activation_post_process_0 -> activation_post_process_0_equalization_process_0 -> fc1
  EXPECT_EQ(arg_of("activation_post_process_0"), "x");
  EXPECT_EQ(arg_of("activation_post_process_0_equalization_process_0"), "activation_post_process_0");
  EXPECT_EQ(arg_of("fc1"), "activation_post_process_0_equalization_process_0");
  EXPECT_EQ(arg_of("activation_post_process_3_equalization_process_0"), "activation_post_process_3");

  std::string dot = prepare::PlanToDot(run.graph, run.result->plan);
  EXPECT_THAT(dot, HasSubstr("\"activation_post_process_0\" -> "
                             "\"activation_post_process_0_equalization_process_0\";"));
  EXPECT_THAT(dot, HasSubstr("\"activation_post_process_0_equalization_process_0\" -> \"fc1\";"));
  EXPECT_THAT(dot, ::testing::Not(HasSubstr("\"activation_post_process_0\" -> \"fc1\";")));
}

TEST(Equalization, QuantizedInputIsReadDirectly) {
  prepare::PrepareOptions o = Options(true);
  o.custom.input_quantized_idxs = {0};
  PreparedRun run = PrepareFile("equalization_quantized_input.qg", o);
  ASSERT_NE(run.result, nullptr);
  EXPECT_EQ(Names(run.result->plan, true).front(), "x_equalization_process_0");
}

TEST(Equalization, PlanKindRoundTripsAndIsPartOfThePoint) {
  engine::Plan p;
  p.graph = "g";
  engine::PlanObserver o;
  o.class_name = "MinMaxObserver";
  p.observers.push_back(o);
  o.id = 1;
  o.class_name = "_InputEqualizationObserver";
  p.observers.push_back(o);
  p.insertions.push_back({"activation_post_process_0", 0, "x", {"fc"}, ""});
  p.insertions.push_back(
      {"activation_post_process_0_equalization_process_0", 1, "x", {"fc"}, "equalization"});
  std::string text = engine::PlanToString(p);
  EXPECT_THAT(text, HasSubstr("\"kind\": \"equalization\""));
  EXPECT_EQ(text, engine::PlanToJson(p).dump(2) + "\n");
  auto back = engine::ParsePlan(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->insertions[0].kind, "");
  EXPECT_EQ(back->insertions[1].kind, "equalization");
  EXPECT_THAT(engine::ComparePlans(p, *back), IsEmpty());
  // Two observers at one point are not "observed more than once" when their kinds differ; the
  // equalization one missing is a difference.
  engine::Plan one = p;
  one.insertions.pop_back();
  std::vector<std::string> diffs = engine::ComparePlans(p, one);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_THAT(diffs[0], HasSubstr("missing insertion point x -> [fc] (equalization)"));
}

TEST(Equalization, ObserverSpecs) {
  auto in = ParseObserverSpec("_InputEqualizationObserver");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->ToString(), "_InputEqualizationObserver(dtype=quint8, qscheme=per_tensor_affine)");
  auto wt = ParseObserverSpec("_WeightEqualizationObserver(qscheme=per_channel_symmetric)");
  ASSERT_TRUE(wt.ok()) << wt.status();
  EXPECT_EQ(wt->ToString(),
            "_WeightEqualizationObserver(dtype=qint8, qscheme=per_channel_symmetric)");
  // _InputEqualizationObserver.__init__: TypeError("Input qscheme must be per-tensor").
  auto bad = ParseObserverSpec("_InputEqualizationObserver(qscheme=per_channel_affine)");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("Input qscheme must be per-tensor"));
}

absl::StatusOr<rules::CompiledRules> CompileText(const std::string& text, DiagnosticSink* sink) {
  rules::CompileOptions options;
  for (const auto& b : engine::BuiltinRelations()) options.builtin_relations.push_back(b.decl);
  options.read_file = [text](const std::string&) -> absl::StatusOr<std::string> { return text; };
  return rules::CompileFiles({"eq.qr"}, options, sink);
}

TEST(Equalization, InputActivationField) {
  DiagnosticSink sink;
  auto ok = CompileText(
      "qconfig eq = { input_activation: _InputEqualizationObserver, weight: "
      "_WeightEqualizationObserver };\nqconfig_mapping m { global: eq; }\n",
      &sink);
  ASSERT_TRUE(ok.ok()) << sink.Render();
  const engine::QConfig& q = ok->qconfigs.at("eq");
  ASSERT_TRUE(q.activation.has_value());
  EXPECT_EQ(q.activation->class_name, "_InputEqualizationObserver");

  DiagnosticSink both_sink;
  auto both = CompileText(
      "qconfig eq = { activation: MinMaxObserver, input_activation: _InputEqualizationObserver };\n",
      &both_sink);
  EXPECT_FALSE(both.ok());
  EXPECT_THAT(both_sink.Render(), HasSubstr("`input_activation` and `activation`"));
}

}  // namespace
}  // namespace qprep
