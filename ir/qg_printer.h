// The .qg printer: ir::Graph to canonical .qg text (docs/qg-format.md, "Canonical form").
// Last stage of `qprepc print` and of any command that writes a graph back.
//
// Contract: for every text T this printer produced, PrintQg(ReadQg(T)) == T byte for byte.
// Floats print as Python's repr does (shortest round-trip digits), strings as ASCII-only JSON.
#ifndef QPREP_IR_QG_PRINTER_H_
#define QPREP_IR_QG_PRINTER_H_

#include <string>
#include <string_view>

#include "ir/graph.h"

namespace qprep::ir {

std::string PrintQg(const Graph& graph);

// Python repr of a float: "1.0", "0.1", "1e-05", "1e+16", "inf", "-inf", "nan".
std::string FormatFloat(double v);
// JSON string literal with quotes, ASCII only (\uXXXX, surrogate pairs past the BMP).
std::string QuoteString(std::string_view s);
// One value in .qg syntax; node references print as %name from `graph`.
std::string FormatValue(const Graph& graph, const Value& v);
// A meta type in .qg syntax (after "-> "); empty for Meta::Kind::kUnknown.
std::string FormatMeta(const Meta& m);

}  // namespace qprep::ir

#endif  // QPREP_IR_QG_PRINTER_H_
