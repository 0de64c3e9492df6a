// Parity with PyTorch's prepare_fx (issue 4): one test per case of tests/parity/data/index.json.
// Each case's graph is prepared in-process through prepare::Prepare with the case's backend, QAT
// flag, qconfig mapping and PrepareCustomConfig, and the plan is compared with the reference by
// engine::ComparePlans (PLAN_FORMAT.md's "same observers" relation). The differences are printed.
//
// Inputs, all committed (no PyTorch at test time):
//   tests/parity/data/index.json, *.qg, *.ref.json  PyTorch 1.13.1's answers. Regenerate with
//       /usr/bin/python3 tools/gen_goldens.py          (check only: tools/gen_goldens.py --check)
//   tests/parity/qconfig/<case id>.qr   the rule-file equivalent of the case's Python
//       QConfigMapping (absent: the backend's default mapping, as index.json says)
//   tests/parity/cases.json   per case: which mapping of that file, standalone / custom modules,
//       and `seed_reference` where the seed's 2.x semantics differ from 1.13 (index.json's
//       differs_from_seed; docs/parity.md): those cases are compared with the seed's placement,
//       and the test also checks that 1.13's golden is still different (so the recorded
//       difference cannot silently disappear or go stale).
// The same comparison from the command line: tools/gen_parity_report.py --qprepc build/bin/qprepc.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/diagnostics.h"
#include "engine/plan.h"
#include "gtest/gtest.h"
#include "ir/qg_reader.h"
#include "nlohmann/json.hpp"
#include "prepare/pipeline.h"

namespace qprep {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = QPREP_SOURCE_DIR;
const fs::path kParity = kRoot / "tests" / "parity";
const fs::path kData = kParity / "data";

nlohmann::json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

struct ParityCase {
  std::string id;
  nlohmann::json entry;  // index.json's case
  nlohmann::json extra;  // cases.json's case (or an empty object)
};

void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.id; }

std::vector<ParityCase> LoadCases() {
  std::vector<ParityCase> cases;
  nlohmann::json index = ReadJson(kData / "index.json");
  nlohmann::json extras = ReadJson(kParity / "cases.json");
  if (!index.is_object() || !index.contains("cases")) return cases;
  for (const auto& e : index["cases"]) {
    ParityCase c;
    c.id = e.value("id", "");
    c.entry = e;
    c.extra = extras.is_object() && extras["cases"].contains(c.id) ? extras["cases"][c.id]
                                                                   : nlohmann::json::object();
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<int> Idxs(const nlohmann::json& j, const char* key) {
  std::vector<int> out;
  if (j.is_object() && j.contains(key)) {
    for (const auto& v : j[key]) out.push_back(v.get<int>());
  }
  return out;
}

// What `qprepc prepare` does with --backend / --qconfig / --qat / the PrepareCustomConfig flags
// (tools/qprepc/bundled.cc SelectRules and prepare_flags.cc RunPrepare), from the case's files.
prepare::PrepareOptions OptionsFor(const ParityCase& c) {
  prepare::PrepareOptions o;
  const std::string backend = c.entry.value("backend", "fbgemm");
  const bool qat = c.entry.value("qat", false);
  o.rule_files.push_back((kRoot / "rules" / "prelude" / "prepare.qr").string());
  o.rule_files.push_back((kRoot / "backends" / (backend + ".qr")).string());
  o.search_paths = {(kRoot / "rules").string(), (kRoot / "backends").string()};
  o.backend = backend;
  o.qat = qat;
  const fs::path qconfig = kParity / "qconfig" / (c.id + ".qr");
  if (fs::exists(qconfig)) {
    o.rule_files.push_back(qconfig.string());
    o.qconfig_mapping = c.extra.value("qconfig_mapping", "");
  } else {
    o.rule_files.push_back(
        (kRoot / "backends" / "qconfig" / (qat ? "default_qat.qr" : "default.qr")).string());
    o.qconfig_mapping = absl::StrCat(qat ? "default_qat_" : "default_", backend);
  }
  const nlohmann::json& pcc = c.entry["prepare_custom_config"];
  o.custom.input_quantized_idxs = Idxs(pcc, "input_quantized_idxs");
  o.custom.output_quantized_idxs = Idxs(pcc, "output_quantized_idxs");
  if (c.extra.contains("standalone_modules")) {
    for (const auto& sm : c.extra["standalone_modules"]) {
      auto child = std::make_shared<engine::PrepareConfig>();
      child->prepare_custom_config.input_quantized_idxs = Idxs(sm, "input_quantized_idxs");
      child->prepare_custom_config.output_quantized_idxs = Idxs(sm, "output_quantized_idxs");
      o.custom.standalone_module_names.push_back(
          {sm["name"].get<std::string>(), nullptr, std::move(child)});
    }
  }
  if (c.extra.contains("standalone_module_classes")) {
    for (const auto& sm : c.extra["standalone_module_classes"]) {
      auto child = std::make_shared<engine::PrepareConfig>();
      child->prepare_custom_config.input_quantized_idxs = Idxs(sm, "input_quantized_idxs");
      child->prepare_custom_config.output_quantized_idxs = Idxs(sm, "output_quantized_idxs");
      o.custom.standalone_module_classes.push_back(
          {sm["type"].get<std::string>(), nullptr, std::move(child)});
    }
  }
  if (c.extra.contains("custom_modules")) {
    for (const auto& [float_type, observed] : c.extra["custom_modules"].items()) {
      o.custom.float_to_observed_mapping.emplace_back(float_type, observed.get<std::string>());
    }
  }
  // prepare_fx's _equalization_config, as `qprepc prepare --equalization default|FILE.qr:NAME`.
  if (c.extra.contains("equalization")) {
    const std::string eq = c.extra["equalization"].get<std::string>();
    if (eq == "default") {
      o.rule_files.push_back((kRoot / "backends" / "qconfig" / "equalization.qr").string());
      o.equalization_mapping = "default_equalization";
    } else {
      const size_t colon = eq.find(".qr:");
      o.rule_files.push_back((kParity / eq.substr(0, colon + 3)).string());
      o.equalization_mapping = eq.substr(colon + 4);
    }
  }
  return o;
}

struct PrepareRun {
  absl::Status status;
  engine::Plan plan;
  std::string diagnostics;
  std::unique_ptr<prepare::PrepareResult> result;
};

PrepareRun PrepareGraph(const fs::path& qg, const prepare::PrepareOptions& options) {
  PrepareRun run;
  DiagnosticSink graph_sink;
  auto graph = ir::ReadQgFile(qg.string(), &graph_sink);
  if (!graph.ok()) {
    run.status = graph.status();
    return run;
  }
  DiagnosticSink sink;
  auto result = prepare::Prepare(*graph, options, &sink);
  run.diagnostics = sink.Render();
  if (!result.ok()) {
    run.status = result.status();
    return run;
  }
  run.plan = (*result)->plan;
  run.result = *std::move(result);
  return run;
}

std::string Lines(const std::vector<std::string>& diffs) {
  return absl::StrCat("  ", absl::StrJoin(diffs, "\n  "));
}

class ParityTest : public testing::TestWithParam<ParityCase> {};

TEST_P(ParityTest, SamePlacementAsReference) {
  const ParityCase& c = GetParam();
  const nlohmann::json golden = ReadJson(kData / c.entry["reference"].get<std::string>());
  ASSERT_TRUE(golden.is_object()) << "cannot read " << c.entry["reference"];
  const bool follows_seed = c.extra.contains("seed_reference");
  // index.json marks where 1.13 is not the target; then cases.json must give the seed's answer.
  ASSERT_EQ(follows_seed, c.entry.contains("differs_from_seed"))
      << c.id << ": index.json differs_from_seed and cases.json seed_reference disagree";
  const nlohmann::json expected =
      follows_seed ? ReadJson(kParity / c.extra["seed_reference"].get<std::string>()) : golden;
  ASSERT_TRUE(expected.is_object());

  prepare::PrepareOptions options = OptionsFor(c);
  PrepareRun run = PrepareGraph(kData / c.entry["qg"].get<std::string>(), options);

  if (expected.contains("error")) {
    // PyTorch raised: qprep must refuse with a diagnostic, not produce a plan.
    EXPECT_FALSE(run.status.ok()) << c.id << ": PyTorch raises "
                                  << expected["error"].get<std::string>().substr(0, 200)
                                  << "\nbut qprep produced a plan";
    return;
  }
  ASSERT_TRUE(run.status.ok()) << c.id << ": " << run.status.message() << "\n" << run.diagnostics;
  auto want = engine::PlanFromJson(expected);
  ASSERT_TRUE(want.ok()) << want.status();
  std::vector<std::string> diffs = engine::ComparePlans(*want, run.plan);
  EXPECT_TRUE(diffs.empty()) << c.id << " differs from "
                             << (follows_seed ? "the seed's placement" : "PyTorch 1.13") << ":\n"
                             << Lines(diffs);

  if (c.entry.contains("equalization_config")) {
    // Equalization observers chain after ordinary ones and are named after the node they read
    // (<name>_equalization_process_<k>): check every observer node's name at its point. (The
    // reference lists nodes in prepared-graph order, the plan in insertion order: PyTorch puts
    // an equalization observer right after the node it reads, but inserts it after all of the
    // consumer's input observers.)
    auto named = [](const engine::Plan& p) {
      std::set<std::string> out;
      for (const auto& i : p.insertions) {
        std::vector<std::string> cs = i.consumers;
        std::sort(cs.begin(), cs.end());
        out.insert(absl::StrCat(i.name, ": ", i.value, " -> [", absl::StrJoin(cs, ", "), "] ",
                                i.kind));
      }
      return out;
    };
    EXPECT_EQ(named(*want), named(run.plan)) << c.id << ": observer node names differ";
    EXPECT_TRUE(std::any_of(want->insertions.begin(), want->insertions.end(),
                            [](const engine::PlanInsertion& i) { return !i.kind.empty(); }))
        << c.id << ": the reference has no equalization observer";
  }

  if (follows_seed) {
    // The recorded 1.13 difference is real: qprep's plan is not 1.13's answer.
    if (golden.contains("error")) {
      EXPECT_TRUE(run.status.ok());
    } else {
      auto old = engine::PlanFromJson(golden);
      ASSERT_TRUE(old.ok()) << old.status();
      EXPECT_FALSE(engine::ComparePlans(*old, run.plan).empty())
          << c.id << ": matches 1.13's golden; drop seed_reference / differs_from_seed";
    }
  }

  // A standalone child is prepared separately, as 1.13's get_standalone_module_configs says: the
  // entry by name, else by class (the module's type); its own quantized indexes; its own mapping
  // or else QConfigMapping().set_global(<the parent's qconfig at the node>) (not the parent's
  // mapping); its own backend or else the parent's. The reference lists each child's placement
  // under standalone_modules (by module path).
  if (golden.contains("standalone_modules")) {
    ASSERT_NE(run.result, nullptr);
    DiagnosticSink graph_sink;
    auto parent_graph = ir::ReadQgFile((kData / c.entry["qg"].get<std::string>()).string(),
                                       &graph_sink);
    ASSERT_TRUE(parent_graph.ok()) << parent_graph.status();
    for (const auto& [path, child_ref_in] : golden["standalone_modules"].items()) {
      std::string type;
      for (const ir::Module& m : parent_graph->modules()) {
        if (m.path == path) type = m.type;
      }
      nlohmann::json entry;
      for (const char* key : {"standalone_module_classes", "standalone_modules"}) {
        for (const auto& sm : c.extra.value(key, nlohmann::json::array())) {
          if (sm.value("name", "") == path || sm.value("type", "") == type) entry = sm;
        }
      }
      ASSERT_TRUE(entry.is_object()) << c.id << ": cases.json has no entry for standalone " << path;
      ASSERT_TRUE(c.entry.contains("standalone_qg") && c.entry["standalone_qg"].contains(path));
      prepare::PrepareOptions child = options;
      child.custom = {};
      child.custom.input_quantized_idxs = Idxs(entry, "input_quantized_idxs");
      child.custom.output_quantized_idxs = Idxs(entry, "output_quantized_idxs");
      // 1.13 passes no equalization config to a standalone child.
      child.equalization_mapping.clear();
      child.equalization_file.clear();
      if (entry.contains("backend")) {
        const std::string backend = entry["backend"].get<std::string>();
        child.rule_files[1] = (kRoot / "backends" / (backend + ".qr")).string();
        child.backend = backend;
      }
      if (entry.contains("qconfig_mapping")) {
        child.qconfig_mapping = entry["qconfig_mapping"].get<std::string>();
      } else {
        const prepare::PrepareResult& parent = *run.result;
        std::string qconfig = "none";
        for (ir::NodeId i = 0; i < parent.fusion.graph.num_nodes(); ++i) {
          const ir::Node& n = parent.fusion.graph.node(i);
          if (n.kind != ir::NodeKind::kCallModule || n.target != path) continue;
          if (const engine::QConfig* q = parent.qconfigs.Effective(i)) qconfig = q->name;
        }
        child.global_qconfig = qconfig;
      }
      PrepareRun child_run =
          PrepareGraph(kData / c.entry["standalone_qg"][path].get<std::string>(), child);
      ASSERT_TRUE(child_run.status.ok()) << child_run.status.message() << child_run.diagnostics;
      nlohmann::json child_ref = child_ref_in;
      child_ref["format"] = golden["format"];  // the nested placement has no header of its own
      child_ref["version"] = golden["version"];
      auto child_want = engine::PlanFromJson(child_ref);
      ASSERT_TRUE(child_want.ok()) << child_want.status();
      std::vector<std::string> child_diffs = engine::ComparePlans(*child_want, child_run.plan);
      EXPECT_TRUE(child_diffs.empty()) << c.id << ", standalone module " << path << ":\n"
                                       << Lines(child_diffs);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, ParityTest, testing::ValuesIn(LoadCases()),
                         [](const testing::TestParamInfo<ParityCase>& info) {
                           std::string name = info.param.id;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

// The case list itself: a missing or unreadable index.json must fail, not pass with zero tests.
TEST(ParityIndex, HasTheIssueCases) {
  std::vector<ParityCase> cases = LoadCases();
  EXPECT_GE(cases.size(), 60u);
  std::vector<std::string> ids;
  for (const auto& c : cases) ids.push_back(c.id);
  for (const char* id : {"resnet18.fbgemm", "resnet50.qnnpack", "mobilenet_v2.qat.fbgemm",
                         "inception_v3.fbgemm", "densenet121.qnnpack", "standalone_float_interface",
                         "custom_module_class", "qconfig_object_type_order"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  }
}

}  // namespace
}  // namespace qprep
