// Located diagnostics shared by every front end (the .qg reader, the rule language) and by
// stages that report on user input. Library code collects Diagnostics into a DiagnosticSink and
// returns a Status; only qprepc prints. The rendered form is
//   file:line:col: error: message
//   <the source line>
//       ^~~~
// followed by any notes ("note: declared here") in the same form.
#ifndef QPREP_COMMON_DIAGNOSTICS_H_
#define QPREP_COMMON_DIAGNOSTICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace qprep {

// The text of one input file, kept alive for as long as diagnostics may point into it.
class SourceFile {
 public:
  SourceFile(std::string name, std::string text);
  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  // 1-based line and column of a byte offset (clamped to the text).
  struct LineCol {
    uint32_t line;
    uint32_t col;
  };
  LineCol Locate(size_t offset) const;
  // The line containing `offset`, without its newline.
  std::string_view LineAt(size_t offset) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<size_t> line_starts_;
};

// A half-open byte range in one SourceFile.
struct SourceRange {
  std::shared_ptr<const SourceFile> file;  // null: no location (e.g. a command-line value)
  size_t begin = 0;
  size_t end = 0;
};

enum class Severity { kError, kWarning, kNote };

struct Diagnostic {
  Severity severity = Severity::kError;
  SourceRange range;
  std::string message;
  std::vector<Diagnostic> notes;  // each usually kNote, e.g. "declared here"
};

// Renders one diagnostic (and its notes) in the file:line:col form with source line and caret.
std::string RenderDiagnostic(const Diagnostic& d);

// Collects diagnostics from a front end or stage. Keeps them in insertion order; Render()
// sorts by file and position so output is stable.
class DiagnosticSink {
 public:
  void Add(Diagnostic d);
  void Error(const SourceRange& at, std::string message);
  void Warning(const SourceRange& at, std::string message);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  size_t error_count() const { return errors_; }
  size_t warning_count() const { return warnings_; }
  bool has_errors() const { return errors_ > 0; }
  // All diagnostics, sorted by (file, begin), rendered and concatenated.
  std::string Render() const;
  // OK if there are no errors; else InvalidArgument whose message is Render() (so a caller
  // that only sees the Status can still print every located error).
  absl::Status ToStatus() const;

 private:
  std::vector<Diagnostic> diagnostics_;
  size_t errors_ = 0;
  size_t warnings_ = 0;
};

}  // namespace qprep

#endif  // QPREP_COMMON_DIAGNOSTICS_H_
