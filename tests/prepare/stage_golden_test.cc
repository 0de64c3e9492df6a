// Verifies the built-in stages (fusion, qconfig resolution, pattern matching) give PyTorch
// 1.13's own stage results on every case of tests/prepare/data/index.json: the torchvision set
// with fbgemm and qnnpack and the small models mirroring PyTorch's tests.
//
// Goldens come from real PyTorch runs; regenerate with
//   /usr/bin/python3 tools/gen_stage_goldens.py
// (which also re-dumps PyTorch's BackendConfigs to tests/prepare/data/backend.<name>.json; the
// configs used here are those dumps, so these tests do not depend on the rule files).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/fusion.h"
#include "engine/matcher.h"
#include "engine/qconfig_resolution.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/qg_reader.h"
#include "tests/prepare/config_json.h"

namespace qprep::engine {
namespace {

using json = nlohmann::json;
using testing::BackendConfigFromJson;
using testing::PrepareCustomConfigFromJson;
using testing::QConfigMappingFromJson;
using testing::ReadJsonFile;

const std::string kData = std::string(QPREP_SOURCE_DIR) + "/tests/prepare/data/";

std::vector<std::string> Cases() {
  absl::StatusOr<json> index = ReadJsonFile(kData + "index.json");
  if (!index.ok()) return {};
  return (*index)["cases"].get<std::vector<std::string>>();
}

std::string Describe(const std::vector<std::string>& diffs) {
  std::vector<std::string> head(diffs.begin(), diffs.begin() + std::min<size_t>(diffs.size(), 25));
  return absl::StrCat(diffs.size(), " differences:\n  ", absl::StrJoin(head, "\n  "));
}

class StageGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(StageGoldenTest, FusionQConfigsAndMatchesAgreeWithPyTorch) {
  absl::StatusOr<json> golden = ReadJsonFile(kData + GetParam() + ".stages.json");
  ASSERT_TRUE(golden.ok()) << golden.status();
  const json& g = *golden;
  absl::StatusOr<json> backend_json =
      ReadJsonFile(kData + "backend." + g["backend"].get<std::string>() + ".json");
  ASSERT_TRUE(backend_json.ok()) << backend_json.status();

  PrepareConfig config;
  absl::StatusOr<BackendConfig> backend = BackendConfigFromJson(*backend_json);
  ASSERT_TRUE(backend.ok()) << backend.status();
  config.backend_config = *std::move(backend);
  absl::StatusOr<QConfigMapping> mapping = QConfigMappingFromJson(g["qconfig_mapping"]);
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  config.qconfig_mapping = *std::move(mapping);
  config.prepare_custom_config = PrepareCustomConfigFromJson(g["prepare_custom_config"]);
  config.is_qat = g["qat"].get<bool>();

  absl::StatusOr<ir::Graph> graph =
      ir::ReadQgFile(std::string(QPREP_SOURCE_DIR) + "/" + g["qg"].get<std::string>(), nullptr);
  ASSERT_TRUE(graph.ok()) << graph.status();

  // --- fusion: the fused graph's nodes, types and absorbed members ---------------------------
  absl::StatusOr<FusionResult> fusion = Fuse(*graph, config);
  ASSERT_TRUE(fusion.ok()) << fusion.status();
  const ir::Graph& fg = fusion->graph;
  std::vector<std::string> diffs;
  const json& nodes = g["fusion"]["nodes"];
  if (nodes.size() != fg.num_nodes()) {
    diffs.push_back(
        absl::StrCat("fused graph has ", fg.num_nodes(), " nodes, PyTorch ", nodes.size()));
  }
  for (size_t i = 0; i < std::min<size_t>(nodes.size(), fg.num_nodes()); ++i) {
    const json& e = nodes[i];
    const ir::Node& n = fg.node(static_cast<ir::NodeId>(i));
    const std::string name = e["name"].get<std::string>();
    if (n.name != name) {
      diffs.push_back(absl::StrCat("fused node ", i, ": ", n.name, " != ", name));
      continue;
    }
    if (e.contains("module_type") &&
        ModuleTypeOf(fg, static_cast<ir::NodeId>(i)) != e["module_type"].get<std::string>()) {
      diffs.push_back(absl::StrCat(name, ": module type ",
                                   std::string(ModuleTypeOf(fg, static_cast<ir::NodeId>(i))),
                                   " != ", e["module_type"].get<std::string>()));
    }
    const int fi = fusion->fused_index[i];
    if (e.contains("last") != (fi >= 0)) {
      diffs.push_back(
          absl::StrCat(name, ": fused here ", fi >= 0, ", in PyTorch ", e.contains("last")));
    } else if (fi >= 0) {
      const FusedNode& f = fusion->fused[fi];
      if (f.last_name != e["last"].get<std::string>()) {
        diffs.push_back(
            absl::StrCat(name, ": last ", f.last_name, " != ", e["last"].get<std::string>()));
      }
      if (f.member_names != e["members"].get<std::vector<std::string>>()) {
        diffs.push_back(absl::StrCat(name, ": members [", absl::StrJoin(f.member_names, ","),
                                     "] != ", e["members"].dump()));
      }
    }
  }
  ASSERT_TRUE(diffs.empty()) << "fusion: " << Describe(diffs);

  // --- qconfig resolution -----------------------------------------------------------------
  absl::StatusOr<QConfigResolution> qr = ResolveQConfigs(fg, &*fusion, config.qconfig_mapping);
  if (g.contains("error")) {
    ASSERT_FALSE(qr.ok()) << "PyTorch raised: " << g["error"].get<std::string>();
    EXPECT_THAT(std::string(qr.status().message()),
                ::testing::HasSubstr("we need to specify the same qconfigs"));
    return;
  }
  ASSERT_TRUE(qr.ok()) << qr.status();
  const json& qconfigs = g["qconfigs"];
  for (ir::NodeId id = 0; id < fg.num_nodes(); ++id) {
    const ir::Node& n = fg.node(id);
    if (n.kind == ir::NodeKind::kPlaceholder || n.kind == ir::NodeKind::kOutput) continue;
    const QConfig* q = qr->Effective(id);
    const std::string ours = q == nullptr ? "none" : q->name;
    if (!qconfigs.contains(n.name)) {
      diffs.push_back(absl::StrCat(n.name, ": no PyTorch qconfig entry"));
    } else if (qconfigs[n.name].get<std::string>() != ours) {
      diffs.push_back(absl::StrCat(
          n.name, ": qconfig ", ours, " (", std::string(QConfigLevelName(qr->per_node[id].level)),
          " ", qr->per_node[id].key, ") != ", qconfigs[n.name].get<std::string>()));
    }
  }
  EXPECT_TRUE(diffs.empty()) << "qconfigs: " << Describe(diffs);
  diffs.clear();

  // --- matching ---------------------------------------------------------------------------
  absl::StatusOr<MatchResult> mr = FindMatches(fg, config);
  ASSERT_TRUE(mr.ok()) << mr.status();
  const json& matches = g["matches"];
  for (ir::NodeId id = 0; id < fg.num_nodes(); ++id) {
    const ir::Node& n = fg.node(id);
    const NodeMatch& m = mr->per_node[id];
    if (!matches.contains(n.name)) {
      if (m.kind != NodeMatch::Kind::kNone) {
        diffs.push_back(absl::StrCat(n.name, ": matched here, not in PyTorch"));
      }
      continue;
    }
    const json& e = matches[n.name];
    const std::string kind = e["kind"].get<std::string>();
    const std::string ours_kind = m.kind == NodeMatch::Kind::kPattern            ? "pattern"
                                  : m.kind == NodeMatch::Kind::kStandaloneModule ? "standalone"
                                  : m.kind == NodeMatch::Kind::kCustomModule     ? "custom"
                                                                                 : "none";
    if (kind != ours_kind) {
      diffs.push_back(absl::StrCat(n.name, ": match kind ", ours_kind, " != ", kind));
      continue;
    }
    if (fg.node(m.root).name != e["root"].get<std::string>() ||
        fg.node(m.last).name != e["last"].get<std::string>()) {
      diffs.push_back(absl::StrCat(n.name, ": root/last ", fg.node(m.root).name, "/",
                                   fg.node(m.last).name, " != ", e["root"].get<std::string>(), "/",
                                   e["last"].get<std::string>()));
    }
    if (kind == "pattern") {
      const std::string ours = mr->patterns[m.pattern_index].pattern.ToString();
      if (ours != e["pattern"].get<std::string>()) {
        diffs.push_back(
            absl::StrCat(n.name, ": pattern ", ours, " != ", e["pattern"].get<std::string>()));
      }
    }
  }
  EXPECT_TRUE(diffs.empty()) << "matches: " << Describe(diffs);
}

INSTANTIATE_TEST_SUITE_P(PyTorch, StageGoldenTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string s = info.param;
                           for (char& c : s) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

TEST(StageGoldenIndex, ListsCases) { EXPECT_GE(Cases().size(), 40u); }

}  // namespace
}  // namespace qprep::engine
