// Every bundled example (examples/*.qg, written by tools/export_fx.py) reads, prints
// canonically (print is a fixed point), and has exactly the counts the exporter recorded in
// examples/<name>.summary.json (regenerate both with tools/gen_examples.sh).
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "common/file_io.h"
#include "gtest/gtest.h"
#include "ir/qg_printer.h"
#include "ir/qg_reader.h"
#include "ir/summary.h"
#include "nlohmann/json.hpp"

namespace qprep::ir {
namespace {

namespace fs = std::filesystem;

TEST(Examples, CountsMatchExporterSummaries) {
  const fs::path dir = fs::path(QPREP_SOURCE_DIR) / "examples";
  std::vector<fs::path> models;
  if (fs::is_directory(dir)) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".qg") models.push_back(e.path());
    }
  }
  std::sort(models.begin(), models.end());
  // The exporter's examples are committed (resnet18, mobilenet_v2, tiny): an empty directory
  // means they were lost, not that there is nothing to check.
  ASSERT_FALSE(models.empty()) << "no examples/*.qg";
  for (const fs::path& model : models) {
    SCOPED_TRACE(model.string());
    absl::StatusOr<Graph> g = ReadQgFile(model.string(), nullptr);
    ASSERT_TRUE(g.ok()) << g.status();
    const std::string printed = PrintQg(*g);
    absl::StatusOr<Graph> again = ReadQgString(printed, "printed.qg");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(PrintQg(*again), printed);

    fs::path summary_path = model;
    summary_path.replace_extension(".summary.json");
    absl::StatusOr<std::string> expected_text = ReadFile(summary_path.string());
    ASSERT_TRUE(expected_text.ok())
        << "every example needs its exporter summary: " << expected_text.status();
    nlohmann::json expected = nlohmann::json::parse(*expected_text);
    nlohmann::json got = nlohmann::json::parse(SummaryJson(Summarize(*g)));
    EXPECT_EQ(got, expected) << "got:\n" << got.dump(2) << "\nexpected:\n" << expected.dump(2);
    EXPECT_EQ(got["nodes"].get<size_t>(), g->num_nodes());
  }
}

// The text form lists totals and every op.
TEST(Examples, SummaryText) {
  absl::StatusOr<Graph> g =
      ReadQgFile((fs::path(QPREP_SOURCE_DIR) / "examples/tiny.qg").string(), nullptr);
  ASSERT_TRUE(g.ok()) << g.status();
  const std::string text = SummaryText(Summarize(*g));
  EXPECT_EQ(text.substr(0, text.find('\n')), "graph tiny: 11 nodes, 11 edges, 6 modules");
  EXPECT_NE(text.find("torch.nn.modules.conv.Conv2d"), std::string::npos);
  EXPECT_NE(text.find("call_module"), std::string::npos);
}

}  // namespace
}  // namespace qprep::ir
