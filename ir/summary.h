// A graph's summary: node counts by kind and by op, edges, modules. What `qprepc summary`
// prints (the main job until `prepare` exists) and what tools/export_fx.py writes next to each
// example as <name>.summary.json, so the two can be compared.
#ifndef QPREP_IR_SUMMARY_H_
#define QPREP_IR_SUMMARY_H_

#include <cstddef>
#include <map>
#include <string>

#include "ir/graph.h"

namespace qprep::ir {

struct Summary {
  std::string graph;
  size_t nodes = 0;
  size_t edges = 0;    // node references inside args / kwargs, repeats counted
  size_t modules = 0;  // module table entries, root included
  // Kinds with at least one node, keyed by FX's spelling ("call_module").
  std::map<std::string, size_t> by_kind;
  // call_module: the module's type; call_function: the target; call_method: the method name;
  // others: the kind.
  std::map<std::string, size_t> by_op;
};

Summary Summarize(const Graph& graph);
// The op key of one node, as in Summary::by_op.
std::string OpKey(const Graph& graph, NodeId id);
// Human-readable text: totals, then kinds and ops by descending count (ties by name).
std::string SummaryText(const Summary& s);
// JSON in the exporter's layout: {"graph", "nodes", "edges", "modules", "by_kind", "by_op"},
// keys sorted, two-space indent, trailing newline.
std::string SummaryJson(const Summary& s);

}  // namespace qprep::ir

#endif  // QPREP_IR_SUMMARY_H_
