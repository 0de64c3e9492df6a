// The benchmark's generated graphs are the exporter's graphs: the C++ generators
// (generated_graphs.h) must produce, byte for byte, what tools/export_fx.py writes for the same
// PyTorch models. Regenerate the committed exports with (one command each):
//   /usr/bin/python3 tools/export_fx.py --model tests/models/residual_chain.py:residual_chain_3
//       --input-shape 1,64 -o bench/prepare/data/residual_chain_3.qg
//   /usr/bin/python3 tools/export_fx.py --model tests/models/wide_branching.py:wide_branching_3x2
//       --input-shape 1,32 -o bench/prepare/data/wide_branching_3x2.qg
#include "bench/prepare/generated_graphs.h"

#include <string>

#include "common/file_io.h"
#include "gtest/gtest.h"
#include "ir/qg_reader.h"

namespace qprep::bench {
namespace {

std::string Data(const std::string& name) {
  auto text = ReadFile(std::string(QPREP_SOURCE_DIR) + "/bench/prepare/data/" + name);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

TEST(GeneratedGraphs, ResidualChainMatchesExport) {
  EXPECT_EQ(ResidualChainQg(3), Data("residual_chain_3.qg"));
}

TEST(GeneratedGraphs, WideBranchingMatchesExport) {
  EXPECT_EQ(WideBranchingQg(3, 2), Data("wide_branching_3x2.qg"));
}

TEST(GeneratedGraphs, NodeCountsAreWhatTheReaderSees) {
  for (size_t blocks : {1, 7, 200}) {
    auto g = ir::ReadQgString(ResidualChainQg(blocks));
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->num_nodes(), ResidualChainNodes(blocks));
  }
  for (auto [b, s] : {std::pair<size_t, size_t>{2, 1}, {16, 5}}) {
    auto g = ir::ReadQgString(WideBranchingQg(b, s));
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->num_nodes(), WideBranchingNodes(b, s));
  }
}

}  // namespace
}  // namespace qprep::bench
