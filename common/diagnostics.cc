#include "common/diagnostics.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace qprep {

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

SourceFile::LineCol SourceFile::Locate(size_t offset) const {
  offset = std::min(offset, text_.size());
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts_.begin());  // 1-based
  size_t col = offset - line_starts_[line - 1] + 1;
  return {static_cast<uint32_t>(line), static_cast<uint32_t>(col)};
}

std::string_view SourceFile::LineAt(size_t offset) const {
  offset = std::min(offset, text_.size());
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t start = *(it - 1);
  size_t end = text_.find('\n', start);
  if (end == std::string::npos) end = text_.size();
  std::string_view line(text_.data() + start, end - start);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

namespace {

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kNote:
      return "note";
  }
  return "error";
}

// Replaces control characters and non-ASCII bytes (binary junk) so the echoed line cannot
// corrupt a terminal; the caret line stays aligned because each byte stays one column.
std::string Printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back((u < 0x20 && c != '\t') || u >= 0x7f ? '?' : c);
  }
  return out;
}

void RenderOne(const Diagnostic& d, std::string& out) {
  if (d.range.file == nullptr) {
    absl::StrAppend(&out, "qprepc: ", SeverityName(d.severity), ": ", d.message, "\n");
    return;
  }
  const SourceFile& f = *d.range.file;
  SourceFile::LineCol lc = f.Locate(d.range.begin);
  absl::StrAppend(&out, f.name(), ":", lc.line, ":", lc.col, ": ", SeverityName(d.severity),
                  ": ", d.message, "\n");
  std::string_view line = f.LineAt(d.range.begin);
  absl::StrAppend(&out, Printable(line), "\n");
  std::string caret;
  for (size_t i = 0; i + 1 < lc.col && i < line.size(); ++i) {
    caret.push_back(line[i] == '\t' ? '\t' : ' ');
  }
  caret.push_back('^');
  size_t len = d.range.end > d.range.begin ? d.range.end - d.range.begin : 1;
  size_t room = line.size() >= lc.col ? line.size() - (lc.col - 1) : 1;
  len = std::min(len, std::max<size_t>(room, 1));
  for (size_t i = 1; i < len; ++i) caret.push_back('~');
  absl::StrAppend(&out, caret, "\n");
}

}  // namespace

std::string RenderDiagnostic(const Diagnostic& d) {
  std::string out;
  RenderOne(d, out);
  for (const Diagnostic& n : d.notes) RenderOne(n, out);
  return out;
}

void DiagnosticSink::Add(Diagnostic d) {
  if (d.severity == Severity::kError) ++errors_;
  if (d.severity == Severity::kWarning) ++warnings_;
  diagnostics_.push_back(std::move(d));
}

void DiagnosticSink::Error(const SourceRange& at, std::string message) {
  Add(Diagnostic{Severity::kError, at, std::move(message), {}});
}

void DiagnosticSink::Warning(const SourceRange& at, std::string message) {
  Add(Diagnostic{Severity::kWarning, at, std::move(message), {}});
}

std::string DiagnosticSink::Render() const {
  std::vector<const Diagnostic*> sorted;
  sorted.reserve(diagnostics_.size());
  for (const Diagnostic& d : diagnostics_) sorted.push_back(&d);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic* a, const Diagnostic* b) {
    const std::string empty;
    const std::string& fa = a->range.file ? a->range.file->name() : empty;
    const std::string& fb = b->range.file ? b->range.file->name() : empty;
    return std::tie(fa, a->range.begin) < std::tie(fb, b->range.begin);
  });
  std::string out;
  for (const Diagnostic* d : sorted) out += RenderDiagnostic(*d);
  return out;
}

absl::Status DiagnosticSink::ToStatus() const {
  if (!has_errors()) return absl::OkStatus();
  return absl::InvalidArgumentError(Render());
}

}  // namespace qprep
