// The .qg reader: text (docs/qg-format.md) to ir::Graph. First stage of every qprepc command
// that takes a model.
//
// Contract: never crashes, hangs or recurses without bound on any input bytes. On bad input it
// returns InvalidArgument whose message is the rendered diagnostics, having added every error to
// `sink` (each `file:line:col: error: ...` with the source line and a caret). Errors are found
// line by line, so one run reports all of them (up to ReadOptions::max_errors).
#ifndef QPREP_IR_QG_READER_H_
#define QPREP_IR_QG_READER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/diagnostics.h"
#include "ir/graph.h"

namespace qprep::ir {

struct ReadOptions {
  // After this many errors the reader stops (a binary file would otherwise yield one per line).
  size_t max_errors = 100;
  // Deepest nesting of brackets in a line; deeper input is an error rather than deep recursion.
  size_t max_nesting = 128;
};

// Reads `file`. `sink` may be null; diagnostics then go only into the returned status.
absl::StatusOr<Graph> ReadQg(std::shared_ptr<const SourceFile> file, DiagnosticSink* sink,
                             const ReadOptions& options = {});
// Reads the file at `path` (an I/O failure is a plain status without a location).
absl::StatusOr<Graph> ReadQgFile(const std::string& path, DiagnosticSink* sink,
                                 const ReadOptions& options = {});
// Convenience for tests and tools: reads `text` named `name` in diagnostics.
absl::StatusOr<Graph> ReadQgString(std::string_view text, std::string name = "<string>");

// Decodes a JSON string literal (quotes included) into UTF-8. On failure returns false and sets
// `error_at` (byte offset into `literal`) and `error`. Shared with the rule language.
bool DecodeJsonString(std::string_view literal, std::string* out, size_t* error_at,
                      std::string* error);

}  // namespace qprep::ir

#endif  // QPREP_IR_QG_READER_H_
