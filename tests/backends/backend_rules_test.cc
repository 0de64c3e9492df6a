// Proves the bundled rule files equal PyTorch's configs: compiles backends/*.qr and
// backends/qconfig/*.qr with the real rule compiler (rules/compiler.h) and compares the lowered
// engine::BackendConfig / engine::QConfigMapping with PyTorch 1.13.1's own objects, dumped by
// tools/dump_backend_config.py into tests/backends/data/pytorch_backend_configs.json.
//
// Regenerate the golden after a PyTorch upgrade:
//   /usr/bin/python3 tools/dump_backend_config.py -o
//   tests/backends/data/pytorch_backend_configs.json
//
// Every difference is printed as one line ("<pattern>: <field>: rules have X, PyTorch has Y").
// The few differences the rule language cannot avoid yet are listed in kKnownDifferences with
// the reason; the test fails when a new difference appears *or* a listed one disappears, so the
// list stays exact.
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "common/diagnostics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rules/compiler.h"
#include "tests/backends/config_diff.h"

namespace qprep::backends {
namespace {

using nlohmann::json;
using testing::DiffBackendConfig;
using testing::DiffQConfigMapping;

const std::string kBackends = std::string(QPREP_SOURCE_DIR) + "/backends/";

const json& Golden() {
  static const json* j = [] {
    std::ifstream in(std::string(QPREP_SOURCE_DIR) +
                     "/tests/backends/data/pytorch_backend_configs.json");
    auto* parsed = new json(json::parse(in));
    return parsed;
  }();
  return *j;
}

struct Compiled {
  absl::StatusOr<rules::CompiledRules> rules;
  std::string diagnostics;
  size_t warnings = 0;
};

Compiled Compile(const std::vector<std::string>& files) {
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(kBackends + f);
  DiagnosticSink sink;
  rules::CompileOptions options;
  Compiled c{rules::CompileFiles(paths, options, &sink), sink.Render(), sink.warning_count()};
  return c;
}

// A difference the rule language cannot express yet (reported to the language owner).
struct KnownDifference {
  const char* contains;  // substring of the difference line
  const char* reason;
};

// PyTorch's _get_binary_op_configs also maps 0 tensor args to
// OUTPUT_USE_DIFFERENT_OBSERVER_AS_INPUT (its own comment: "not used right now"); the
// language's num_tensor_args block has only `one` and `two`.
const KnownDifference kBinaryZeroTensorArgs = {
    "num_tensor_args_to_observation_type: rules have {1:output_share_observer_with_input, "
    "2:output_use_different_observer_as_input}, PyTorch has "
    "{0:output_use_different_observer_as_input, 1:output_share_observer_with_input, "
    "2:output_use_different_observer_as_input}",
    "num_tensor_args has no `zero:` field (PyTorch: unused entry for 0 tensor args)"};

void ExpectOnlyKnown(const std::vector<std::string>& diffs,
                     const std::vector<KnownDifference>& known) {
  std::vector<std::string> unexpected;
  std::vector<int> hits(known.size(), 0);
  for (const std::string& d : diffs) {
    bool matched = false;
    for (size_t i = 0; i < known.size(); ++i) {
      if (absl::StrContains(d, known[i].contains)) {
        ++hits[i];
        matched = true;
        break;
      }
    }
    if (!matched) unexpected.push_back(d);
  }
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " difference(s) from PyTorch:\n  "
                                  << absl::StrJoin(unexpected, "\n  ");
  for (size_t i = 0; i < known.size(); ++i) {
    EXPECT_GT(hits[i], 0) << "known difference no longer occurs (remove it from the list): "
                          << known[i].reason;
  }
}

// ---------------------------------------------------------------------------------------------
// Backend configs

struct BackendCase {
  const char* file;
  const char* backend;  // backend declared in the file
  const char* pytorch;  // key in the golden's "backends"
  int pattern_count;    // PyTorch's number of patterns (a guard on the golden itself)
};

class BackendRulesTest : public ::testing::TestWithParam<BackendCase> {};

TEST_P(BackendRulesTest, EqualsPyTorchBackendConfig) {
  const BackendCase& c = GetParam();
  Compiled compiled = Compile({c.file});
  ASSERT_TRUE(compiled.rules.ok()) << compiled.diagnostics;
  auto it = compiled.rules->backends.find(c.backend);
  ASSERT_NE(it, compiled.rules->backends.end()) << c.file << " declares no backend " << c.backend;
  const json& want = Golden().at("backends").at(c.pytorch);
  ASSERT_EQ(static_cast<int>(want.at("configs").size()), c.pattern_count);
  std::vector<std::string> diffs = DiffBackendConfig(it->second, want);
  // The binary-op patterns (4 ops x (plain + 3 relu fusions)) carry the one known difference.
  int binary = 0;
  for (const auto& d : diffs) binary += absl::StrContains(d, kBinaryZeroTensorArgs.contains);
  EXPECT_EQ(binary, 16);
  ExpectOnlyKnown(diffs, {kBinaryZeroTensorArgs});
}

INSTANTIATE_TEST_SUITE_P(
    Bundled, BackendRulesTest,
    ::testing::Values(BackendCase{"native.qr", "native", "native", 185},
                      BackendCase{"fbgemm.qr", "fbgemm", "fbgemm", 183},
                      BackendCase{"x86.qr", "x86", "x86", 183},
                      BackendCase{"qnnpack.qr", "qnnpack", "qnnpack", 183},
                      // PyTorch 1.13 has no onednn BackendConfig: prepare_fx uses native's.
                      BackendCase{"onednn.qr", "onednn", "native", 185}),
    [](const ::testing::TestParamInfo<BackendCase>& info) {
      return std::string(info.param.backend);
    });

TEST(BackendRulesTest, OneDnnIsMissingFromPyTorch113) {
  // If a PyTorch upgrade brings get_onednn_backend_config, onednn.qr must follow it.
  const json& missing = Golden().at("missing_backends");
  EXPECT_THAT(missing, ::testing::Contains("onednn"));
}

// ---------------------------------------------------------------------------------------------
// QConfig mappings

struct MappingCase {
  const char* file;
  const char* mapping;
  const char* golden_section;  // "qconfig_mappings" or "qat_qconfig_mappings"
  const char* backend;
};

class QConfigRulesTest : public ::testing::TestWithParam<MappingCase> {};

TEST_P(QConfigRulesTest, EqualsPyTorchDefaultMapping) {
  const MappingCase& c = GetParam();
  Compiled compiled = Compile({c.file});
  ASSERT_TRUE(compiled.rules.ok()) << compiled.diagnostics;
  auto it = compiled.rules->qconfig_mappings.find(c.mapping);
  ASSERT_NE(it, compiled.rules->qconfig_mappings.end()) << c.file << " declares no " << c.mapping;
  const json& want = Golden().at(c.golden_section).at(c.backend);
  ASSERT_EQ(want.at("object_type").size(), 36u);
  ExpectOnlyKnown(DiffQConfigMapping(it->second, want), {});
}

INSTANTIATE_TEST_SUITE_P(
    Bundled, QConfigRulesTest,
    ::testing::Values(
        MappingCase{"qconfig/default.qr", "default_fbgemm", "qconfig_mappings", "fbgemm"},
        MappingCase{"qconfig/default.qr", "default_x86", "qconfig_mappings", "x86"},
        MappingCase{"qconfig/default.qr", "default_qnnpack", "qconfig_mappings", "qnnpack"},
        MappingCase{"qconfig/default.qr", "default_onednn", "qconfig_mappings", "onednn"},
        // PyTorch has no native default mapping; qprep's is fbgemm's (torch_reference.py too).
        MappingCase{"qconfig/default.qr", "default_native", "qconfig_mappings", "fbgemm"},
        MappingCase{"qconfig/default_qat.qr", "default_qat_fbgemm", "qat_qconfig_mappings",
                    "fbgemm"},
        MappingCase{"qconfig/default_qat.qr", "default_qat_x86", "qat_qconfig_mappings", "x86"},
        MappingCase{"qconfig/default_qat.qr", "default_qat_qnnpack", "qat_qconfig_mappings",
                    "qnnpack"},
        MappingCase{"qconfig/default_qat.qr", "default_qat_onednn", "qat_qconfig_mappings",
                    "onednn"},
        MappingCase{"qconfig/default_qat.qr", "default_qat_native", "qat_qconfig_mappings",
                    "fbgemm"}),
    [](const ::testing::TestParamInfo<MappingCase>& info) {
      return std::string(info.param.mapping);
    });

// ---------------------------------------------------------------------------------------------
// All bundled files in one program, as qprepc loads them; and the comparison itself can fail.

TEST(BundledRules, CompileTogetherWithoutErrors) {
  Compiled c = Compile({"native.qr", "fbgemm.qr", "x86.qr", "qnnpack.qr", "onednn.qr",
                        "qconfig/default.qr", "qconfig/default_qat.qr"});
  ASSERT_TRUE(c.rules.ok()) << c.diagnostics;
  // Together every alias, group, observer and dtype config is used: `qprepc check` is clean.
  EXPECT_EQ(c.warnings, 0u) << c.diagnostics;
  for (const char* b : {"native", "fbgemm", "x86", "qnnpack", "onednn"}) {
    EXPECT_TRUE(c.rules->backends.count(b)) << b;
  }
  // default_<backend> and default_qat_<backend> for every bundled backend (the names
  // tools/qprepc selects with --backend NAME [--qat]).
  for (const char* b : {"native", "fbgemm", "x86", "qnnpack", "onednn"}) {
    EXPECT_TRUE(c.rules->qconfig_mappings.count(std::string("default_") + b)) << b;
    EXPECT_TRUE(c.rules->qconfig_mappings.count(std::string("default_qat_") + b)) << b;
  }
  EXPECT_EQ(c.rules->qconfig_mappings.size(), 10u);
}

TEST(BundledRules, DiffReportsAChangedField) {
  // A team's variant of fbgemm that makes cat observe its output separately and adds an op:
  // the comparison must name exactly those two differences (besides the known one).
  const std::string path = kBackends + "mutant_for_test.qr";
  auto src = std::make_shared<SourceFile>(path, R"(include "common.qr";
backend mutant extends common {
  op torch.cat { observation: output_use_different_observer_as_input; dtypes: default_quint8; }
  op torch.nn.functional.silu { dtypes: default_quint8; }
}
)");
  DiagnosticSink sink;
  auto rules = rules::CompileSources({src}, rules::CompileOptions{}, &sink);
  ASSERT_TRUE(rules.ok()) << sink.Render();
  std::vector<std::string> diffs =
      DiffBackendConfig(rules->backends.at("mutant"), Golden().at("backends").at("fbgemm"));
  std::vector<std::string> other;
  for (const auto& d : diffs) {
    if (!absl::StrContains(d, kBinaryZeroTensorArgs.contains)) other.push_back(d);
  }
  EXPECT_THAT(other, ::testing::UnorderedElementsAre(
                         "function:torch.cat: observation_type: rules have "
                         "output_use_different_observer_as_input, PyTorch has "
                         "output_share_observer_with_input",
                         "function:torch.nn.functional.silu: in the rules, not in PyTorch"));
}

TEST(BundledRules, DiffReportsAWrongQConfig) {
  const std::string path = kBackends + "qconfig/mutant_for_test.qr";
  auto src = std::make_shared<SourceFile>(path, R"(include "default.qr";
qconfig_mapping mutant extends default_fbgemm {
  object_type "reshape": fbgemm_qconfig;
}
)");
  DiagnosticSink sink;
  auto rules = rules::CompileSources({src}, rules::CompileOptions{}, &sink);
  ASSERT_TRUE(rules.ok()) << sink.Render();
  std::vector<std::string> diffs = DiffQConfigMapping(rules->qconfig_mappings.at("mutant"),
                                                      Golden().at("qconfig_mappings").at("fbgemm"));
  ASSERT_EQ(diffs.size(), 2u) << absl::StrJoin(diffs, "\n");
  EXPECT_THAT(diffs[0], ::testing::StartsWith("object_type method:reshape: activation: rules "
                                              "have HistogramObserver("));
  EXPECT_THAT(diffs[1], ::testing::StartsWith("object_type method:reshape: weight: rules have "
                                              "PerChannelMinMaxObserver("));
}

// ---------------------------------------------------------------------------------------------
// The worked example of docs/backend-guide.md compiles and means what the guide says.

TEST(ExampleBackend, LowersAsTheGuideSays) {
  DiagnosticSink sink;
  auto r = rules::CompileFiles(
      {std::string(QPREP_SOURCE_DIR) + "/tests/backends/data/example_backend.qr"},
      rules::CompileOptions{}, &sink);
  ASSERT_TRUE(r.ok()) << sink.Render();
  EXPECT_EQ(sink.warning_count(), 0u) << sink.Render();
  const engine::BackendConfig& b = r->backends.at("mydsp");
  std::map<std::string, const engine::BackendPatternConfig*> by_pattern;
  for (const auto& c : b.configs) {
    for (const auto& p : engine::ExpandAlternatives(c.pattern)) by_pattern[p.ToString()] = &c;
  }
  // 1 conv + 2 conv-relu + 1 fused + 1 conv-bn + 1 linear + 7 shared + 2 add + 2 sigmoid
  EXPECT_EQ(by_pattern.size(), 17u);
  const auto* fused =
      by_pattern.at("(function:torch.nn.functional.relu, module:torch.nn.modules.conv.Conv2d)");
  EXPECT_EQ(fused->fuser_method.kind, engine::FuserMethod::Kind::kSequential);
  EXPECT_EQ(fused->fused_module, "torch.ao.nn.intrinsic.modules.fused.ConvReLU2d");
  ASSERT_EQ(fused->dtype_configs.size(), 1u);
  EXPECT_EQ(fused->dtype_configs[0].weight_dtype.quant_min_lower_bound, -127);
  const auto* view = by_pattern.at("method:view");
  EXPECT_EQ(view->observation_type, engine::ObservationType::kOutputShareObserverWithInput);
  const auto* add = by_pattern.at("function:operator.add");
  EXPECT_EQ(add->num_tensor_args_to_observation_type.at(1),
            engine::ObservationType::kOutputShareObserverWithInput);
  const auto* sigmoid = by_pattern.at("function:torch.sigmoid");
  ASSERT_TRUE(sigmoid->overwrite_output_observer.has_value());
  EXPECT_EQ(sigmoid->overwrite_output_observer->quant_max(), 127);
  EXPECT_EQ(by_pattern.at("function:torch.nn.functional.linear")->input_type_to_index.at("bias"),
            2);

  const engine::QConfigMapping& m = r->qconfig_mappings.at("mydsp_default");
  ASSERT_TRUE(m.global_qconfig.has_value());
  EXPECT_EQ(m.global_qconfig->activation->quant_max(), 127);
  EXPECT_EQ(m.object_type_qconfigs.size(), 3u);
  ASSERT_EQ(m.module_name_regex_qconfigs.size(), 1u);
  EXPECT_TRUE(m.module_name_regex_qconfigs[0].qconfig.is_none);
  ASSERT_EQ(m.module_name_qconfigs.size(), 1u);
  EXPECT_EQ(m.module_name_qconfigs[0].module_name, "features.0");
}

}  // namespace
}  // namespace qprep::backends
