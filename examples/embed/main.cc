// Embeds qprep: reads a .qg graph and prints its summary and how many nodes it has.
#include <cstdio>

#include "ir/qg_reader.h"
#include "ir/summary.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: embed MODEL.qg\n");
    return 2;
  }
  qprep::DiagnosticSink sink;
  auto graph = qprep::ir::ReadQgFile(argv[1], &sink);
  if (!graph.ok()) {
    std::fputs(std::string(graph.status().message()).c_str(), stderr);
    return 1;
  }
  std::printf("%s: %zu nodes, %zu edges\n", graph->name().c_str(), graph->num_nodes(),
              graph->num_edges());
  return 0;
}
