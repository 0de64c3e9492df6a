// The .qg reader and printer: round-trip and canonical-form goldens, diagnostic goldens (exact
// text, carets included), literal conversion, Python-repr floats, robustness on truncated input,
// and a scale check. Golden inputs are under tests/ir/data/; the diagnostic goldens were
// produced by `qprepc print NAME.qg` run in tests/ir/data/errors and checked by hand; the float
// goldens by tests/ir/gen_float_goldens.py (see there to regenerate).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/diagnostics.h"
#include "common/file_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/qg_printer.h"
#include "ir/qg_reader.h"
#include "tests/ir/synthetic_graph.h"

namespace qprep::ir {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const fs::path kData = fs::path(QPREP_SOURCE_DIR) / "tests/ir/data";

std::string Slurp(const fs::path& p) {
  absl::StatusOr<std::string> s = ReadFile(p.string());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : std::string();
}

std::vector<fs::path> FilesIn(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ext) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// print(read(x)) == x for every file the printer wrote.
TEST(QgRoundTrip, GoldenFilesAreFixedPoints) {
  std::vector<fs::path> files = FilesIn(kData / "roundtrip", ".qg");
  files.push_back(kData / "canonical/messy.out.qg");
  ASSERT_GE(files.size(), 2u);
  for (const fs::path& f : files) {
    std::string text = Slurp(f);
    absl::StatusOr<Graph> g = ReadQgString(text, f.filename().string());
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(PrintQg(*g), text) << f;
  }
}

// The example in docs/qg-format.md reads and is already in canonical form, so the spec's own
// example stays true.
TEST(QgRoundTrip, SpecExample) {
  const std::string doc = Slurp(fs::path(QPREP_SOURCE_DIR) / "docs/qg-format.md");
  const size_t start = doc.find("```\nqgraph 1\n");
  ASSERT_NE(start, std::string::npos);
  const size_t end = doc.find("```", start + 3);
  ASSERT_NE(end, std::string::npos);
  const std::string example = doc.substr(start + 4, end - start - 4);
  absl::StatusOr<Graph> g = ReadQgString(example, "qg-format.md");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(PrintQg(*g), example);
  EXPECT_EQ(g->num_nodes(), 8u);
}

// A hand-written file with comments, odd spacing and non-canonical literals prints as the
// golden canonical form.
TEST(QgRoundTrip, CanonicalForm) {
  absl::StatusOr<Graph> g = ReadQgString(Slurp(kData / "canonical/messy.in.qg"), "messy.in.qg");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(PrintQg(*g), Slurp(kData / "canonical/messy.out.qg"));
}

// Each errors/NAME.qg fails with exactly the diagnostics in errors/NAME.stderr.
TEST(QgDiagnostics, Goldens) {
  std::vector<fs::path> files = FilesIn(kData / "errors", ".qg");
  ASSERT_GE(files.size(), 5u);
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    DiagnosticSink sink;
    auto file = std::make_shared<const SourceFile>(f.filename().string(), Slurp(f));
    absl::StatusOr<Graph> g = ReadQg(file, &sink);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
    fs::path golden = f;
    golden.replace_extension(".stderr");
    EXPECT_EQ(sink.Render(), Slurp(golden));
    EXPECT_EQ(std::string(g.status().message()), sink.Render());
  }
}

Graph MustRead(const std::string& text) {
  absl::StatusOr<Graph> g = ReadQgString(text, "t.qg");
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *std::move(g) : Graph();
}

std::string OneNode(const std::string& args) {
  return "qgraph 1\ngraph t\n\n%x = placeholder[x]()\n%y = call_function[f](" + args + ")\n";
}

// Literals convert to the right Value kinds and contents.
TEST(QgValues, Literals) {
  Graph g = MustRead(OneNode(
      "1, -7, 2.5, -inf, None, True, \"caf\\u00e9 \\ud83d\\ude00\", torch.qint8, ..., "
      "slice(1, None, -1), opaque(\"device(type='cpu')\"), {\"k\": [%x]}, (), (3,), k=False"));
  ASSERT_EQ(g.num_nodes(), 2u);
  const Node& y = g.node(1);
  ASSERT_EQ(y.args.size(), 14u);
  EXPECT_EQ(y.args[0], Value::Int(1));
  EXPECT_EQ(y.args[1], Value::Int(-7));
  EXPECT_EQ(y.args[2], Value::Float(2.5));
  EXPECT_EQ(y.args[3].kind, Value::Kind::kFloat);
  EXPECT_TRUE(std::isinf(y.args[3].f) && y.args[3].f < 0);
  EXPECT_EQ(y.args[4], Value::None());
  EXPECT_EQ(y.args[5], Value::Bool(true));
  EXPECT_EQ(y.args[6], Value::String("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_EQ(y.args[7], Value::Dtype("qint8"));
  EXPECT_EQ(y.args[8].kind, Value::Kind::kEllipsis);
  EXPECT_EQ(y.args[9].kind, Value::Kind::kSlice);
  EXPECT_THAT(y.args[9].items, ElementsAre(Value::Int(1), Value::None(), Value::Int(-1)));
  EXPECT_EQ(y.args[10].kind, Value::Kind::kOpaque);
  EXPECT_EQ(y.args[10].text, "device(type='cpu')");
  EXPECT_EQ(y.args[11].kind, Value::Kind::kDict);
  EXPECT_THAT(y.args[11].keys, ElementsAre("k"));
  EXPECT_EQ(y.args[11].items[0], Value::List({Value::Node(0)}));
  EXPECT_EQ(y.args[12], Value::Tuple({}));
  EXPECT_EQ(y.args[13], Value::Tuple({Value::Int(3)}));
  ASSERT_EQ(y.kwargs.size(), 1u);
  EXPECT_EQ(y.kwargs[0].first, "k");
  EXPECT_EQ(y.kwargs[0].second, Value::Bool(false));
  // Non-ASCII text prints back as ASCII escapes.
  EXPECT_EQ(QuoteString(y.args[6].text), "\"caf\\u00e9 \\ud83d\\ude00\"");
}

// Integers at the 64-bit limits read exactly; one past is an error.
TEST(QgValues, IntegerLimits) {
  Graph g = MustRead(OneNode("9223372036854775807, -9223372036854775808"));
  EXPECT_EQ(g.node(1).args[0].i, INT64_MAX);
  EXPECT_EQ(g.node(1).args[1].i, INT64_MIN);
  absl::StatusOr<Graph> bad = ReadQgString(OneNode("9223372036854775808"), "t.qg");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("t.qg:5:23: error: integer literal"));
}

// FormatFloat matches Python's repr on 2,458 doubles, and reading the repr back gives the same
// bits (shortest round-trip).
TEST(QgFloats, PythonReprGoldens) {
  std::istringstream in(Slurp(kData / "floats.txt"));
  std::string hex, repr;
  std::vector<std::pair<uint64_t, std::string>> cases;
  while (in >> hex >> repr) cases.emplace_back(std::stoull(hex, nullptr, 16), repr);
  ASSERT_GT(cases.size(), 2000u);
  std::string attrs;
  for (size_t i = 0; i < cases.size(); ++i) {
    double d;
    std::memcpy(&d, &cases[i].first, sizeof d);
    EXPECT_EQ(FormatFloat(d), cases[i].second) << "bits " << std::hex << cases[i].first;
    absl::StrAppend(&attrs, i == 0 ? "" : ", ", "v", i, "=", cases[i].second);
  }
  Graph g = MustRead("qgraph 1\ngraph f\nmodule <root> : m.M(" + attrs + ")\n");
  ASSERT_EQ(g.modules().size(), 1u);
  const auto& got = g.modules()[0].attrs;
  ASSERT_EQ(got.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_EQ(got[i].second.kind, Value::Kind::kFloat) << cases[i].second;
    uint64_t bits;
    std::memcpy(&bits, &got[i].second.f, sizeof bits);
    EXPECT_EQ(bits, cases[i].first) << cases[i].second;
  }
  EXPECT_EQ(FormatFloat(std::nan("")), "nan");
}

// Every prefix of a valid file either reads or fails with located errors; nothing crashes.
// A prefix that stops mid-line is always an error (truncated last line).
TEST(QgRobustness, EveryPrefix) {
  const std::string text = Slurp(kData / "roundtrip/features.qg");
  for (size_t n = 0; n < text.size(); ++n) {
    DiagnosticSink sink;
    absl::StatusOr<Graph> g =
        ReadQg(std::make_shared<const SourceFile>("p.qg", text.substr(0, n)), &sink);
    if (n == 0 || text[n - 1] != '\n') {
      EXPECT_FALSE(g.ok()) << "prefix " << n;
    }
    if (!g.ok()) {
      EXPECT_GT(sink.error_count(), 0u);
      EXPECT_THAT(sink.Render(), HasSubstr("p.qg:"));
    }
  }
}

// A file of junk lines stops after max_errors instead of reporting every line.
TEST(QgRobustness, ErrorLimit) {
  std::string text = "qgraph 1\ngraph j\n";
  for (int i = 0; i < 1000; ++i) text += "%x = \n";
  DiagnosticSink sink;
  absl::StatusOr<Graph> g = ReadQg(std::make_shared<const SourceFile>("j.qg", text), &sink);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(sink.error_count(), 100u);
  EXPECT_THAT(sink.Render(), HasSubstr("too many errors (100); stopping here"));
}

// Deep nesting is an error, not deep recursion; the limit itself is accepted.
TEST(QgRobustness, NestingLimit) {
  std::string ok = std::string(128, '[') + std::string(128, ']');
  EXPECT_TRUE(ReadQgString(OneNode(ok.substr(1, 254))).ok());
  std::string deep = std::string(100000, '(') + std::string(100000, ')');
  absl::StatusOr<Graph> g = ReadQgString(OneNode(deep), "d.qg");
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("nested deeper than 128"));
}

// A generated 20,000-node residual chain reads with every node and edge, and prints back to
// the same bytes.
TEST(QgScale, SyntheticGraphRoundTrips) {
  const std::string text = testing::SyntheticQg(20000);
  absl::StatusOr<Graph> g = ReadQgString(text, "synthetic.qg");
  ASSERT_TRUE(g.ok()) << g.status().message().substr(0, 2000);
  EXPECT_EQ(g->num_nodes(), 20000u);
  // Every node but the placeholder has one input; each residual add has a second.
  EXPECT_EQ(g->num_edges(), 20000u - 1 + (20000 - 1) / 7);  // adds at chain steps 5, 12, ...
  EXPECT_EQ(PrintQg(*g), text);
}

}  // namespace
}  // namespace qprep::ir
