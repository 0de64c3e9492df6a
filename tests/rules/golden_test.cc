// Golden diagnostics: every tests/rules/data/*.qr is compiled against the engine's built-in
// relations and its rendered diagnostics (errors, warnings, notes, carets) must equal
// data/<name>.expected byte for byte. Files named ok_*.qr must also compile without errors;
// err_*.qr must fail. Regenerate after an intended change with
//   QPREP_UPDATE_GOLDENS=1 ./build/bin/rules_test --gtest_filter='Golden*'
// and review the diff.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/file_io.h"
#include "engine/facts.h"
#include "gtest/gtest.h"
#include "rules/compiler.h"

namespace qprep::rules {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> GoldenInputs() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(QPREP_SOURCE_DIR) / "tests/rules/data")) {
    if (e.path().extension() == ".qr" && e.path().stem().string().rfind("inc_", 0) != 0) {
      names.push_back(e.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, DiagnosticsMatchExpected) {
  const std::string name = GetParam();
  // Relative path so the golden text does not depend on the checkout location.
  const std::string rel = "tests/rules/data/" + name + ".qr";
  fs::current_path(QPREP_SOURCE_DIR);
  CompileOptions options;
  for (const auto& b : engine::BuiltinRelations()) options.builtin_relations.push_back(b.decl);
  DiagnosticSink sink;
  absl::StatusOr<CompiledRules> out = CompileFiles({rel}, options, &sink);
  std::string rendered = sink.Render();
  const std::string expected_path = "tests/rules/data/" + name + ".expected";
  if (std::getenv("QPREP_UPDATE_GOLDENS") != nullptr) {
    ASSERT_TRUE(WriteFileAtomically(expected_path, rendered).ok());
  }
  absl::StatusOr<std::string> expected = ReadFile(expected_path);
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(rendered, *expected) << "diagnostics of " << rel << " changed";
  if (name.rfind("ok_", 0) == 0) {
    EXPECT_TRUE(out.ok()) << rendered;
  }
  if (name.rfind("err_", 0) == 0) {
    EXPECT_FALSE(out.ok());
    EXPECT_GT(sink.error_count(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, GoldenTest, ::testing::ValuesIn(GoldenInputs()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace qprep::rules
