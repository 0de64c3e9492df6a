// Lowering tests: what compiled rule files turn into (engine::Program relations and rules,
// engine::QConfigMapping / BackendConfig / QConfig), beyond the golden diagnostics.
#include <memory>
#include <string>

#include "engine/facts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rules/compiler.h"

namespace qprep::rules {
namespace {

using ::testing::HasSubstr;

struct Result {
  absl::StatusOr<CompiledRules> out;
  std::string diagnostics;
};

Result Compile(const std::string& text, bool builtins = true) {
  CompileOptions options;
  if (builtins) {
    for (const auto& b : engine::BuiltinRelations()) options.builtin_relations.push_back(b.decl);
  }
  options.read_file = [](const std::string& p) -> absl::StatusOr<std::string> {
    return absl::NotFoundError(p);
  };
  DiagnosticSink sink;
  auto file = std::make_shared<SourceFile>("t.qr", text);
  Result r{CompileSources({file}, options, &sink), sink.Render()};
  return r;
}

TEST(Compiler, EmptyFileCompiles) {
  Result r = Compile("");
  ASSERT_TRUE(r.out.ok()) << r.diagnostics;
  EXPECT_TRUE(r.out->program.rules.empty());
  // The built-in relations are predeclared so the fact loader can fill them by name.
  EXPECT_NE(r.out->program.Find("edge"), engine::Program::kInvalid);
}

}  // namespace
}  // namespace qprep::rules
