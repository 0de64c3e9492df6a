// The .qg reader (ir/qg_reader.h). Splits the file into lines itself (so an error never skips
// more than its own line, and comments and nesting depth are handled before the grammar sees
// the line), parses each line with the X3 grammar (ir/qg/grammar.h) into an ast::Line, then
// checks it and appends to the Graph. References are resolved against nodes defined above;
// whether an unresolved one is "used before definition" or "unknown" is decided at the end,
// once every name is known.
#include "ir/qg_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "boost/spirit/home/x3.hpp"
#include "common/file_io.h"
#include "ir/qg/ast.h"
#include "ir/qg/config.h"
#include "ir/qg/grammar.h"

namespace qprep::ir {

namespace {

namespace x3 = boost::spirit::x3;
namespace ast = qg::ast;

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

bool ParseHex4(std::string_view s, size_t i, uint32_t* out) {
  if (i + 4 > s.size()) return false;
  uint32_t v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    char c = s[k];
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v |= static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
  }
  *out = v;
  return true;
}

// Debian's Abseil has its own string_view type, so absl::StrCat does not take
// std::string_view; messages are built with this instead.
void AppendPiece(std::string& out, std::string_view s) { out.append(s); }
template <typename T>
requires std::is_integral_v<T>
void AppendPiece(std::string& out, T v) { out += std::to_string(v); }
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (AppendPiece(out, args), ...);
  return out;
}

bool IsFloatText(std::string_view t) { return t.find_first_of(".eEin") != std::string_view::npos; }

// A node whose line had an error: its name is known (so references to it are not reported
// again), but it is not in the graph.
struct BrokenNode {
  size_t offset;
};

// A reference to a name not defined above it; resolved once the whole file is read.
struct PendingRef {
  std::string_view name;
  const char* begin;
  const char* end;
};

class Reader {
 public:
  Reader(std::shared_ptr<const SourceFile> file, DiagnosticSink* sink, const ReadOptions& options)
      : file_(std::move(file)),
        text_(file_->text()),
        base_(text_.data()),
        sink_(sink),
        options_(options) {}

  absl::StatusOr<Graph> Run();

 private:
  enum class Stage { kHeader, kGraph, kModules, kNodes };

  bool Stopped() const { return errors_ >= options_.max_errors; }
  void Error(const char* begin, const char* end, std::string message, const char* note_at = nullptr,
             std::string note = {});
  SourceRange Range(const char* begin, const char* end) const {
    return SourceRange{file_, static_cast<size_t>(begin - base_), static_cast<size_t>(end - base_)};
  }

  // Cuts the comment off [begin, end), checks bytes and nesting; returns the new end, or
  // nullptr after reporting an error.
  const char* PrepareLine(const char* begin, const char* end);
  void ParseLine(const char* begin, const char* end, bool last_unterminated);
  void OnHeader(const ast::HeaderLine& h);
  void OnGraph(const ast::GraphLine& g);
  void OnModule(const ast::ModuleLine& m);
  void OnNode(const ast::NodeLine& n, const char* line_begin);
  void ResolvePending();

  bool DecodeString(const ast::Token& t, std::string* out);
  // Converts a value; node references resolve against the graph built so far. Sets *broken
  // when a reference names a node whose own line had an error.
  bool ConvertValue(const ast::Value& v, bool allow_refs, Value* out, bool* broken);
  bool ConvertMeta(const ast::MetaType& m, Meta* out, int depth);
  bool ParseInt(const ast::Token& t, int64_t* out, const char* what);

  std::shared_ptr<const SourceFile> file_;
  const std::string& text_;
  const char* base_;
  DiagnosticSink* sink_;
  ReadOptions options_;
  size_t errors_ = 0;
  bool line_failed_ = false;  // an error was reported on the current line

  Stage stage_ = Stage::kHeader;
  Graph graph_;
  std::vector<size_t> node_offsets_;  // line start of each graph node, for "defined here" notes
  absl::flat_hash_map<std::string_view, BrokenNode> broken_;
  absl::flat_hash_map<std::string, const char*> module_lines_;
  std::vector<PendingRef> pending_;
};

void Reader::Error(const char* begin, const char* end, std::string message, const char* note_at,
                   std::string note) {
  line_failed_ = true;
  if (Stopped()) return;
  ++errors_;
  Diagnostic d{Severity::kError, Range(begin, end), std::move(message), {}};
  if (note_at != nullptr) {
    d.notes.push_back(
        Diagnostic{Severity::kNote, Range(note_at, note_at + 1), std::move(note), {}});
  }
  if (Stopped()) {
    d.notes.push_back(Diagnostic{Severity::kNote,
                                 Range(begin, begin),
                                 Cat("too many errors (", options_.max_errors, "); stopping here"),
                                 {}});
  }
  sink_->Add(std::move(d));
}

const char* Reader::PrepareLine(const char* begin, const char* end) {
  bool in_string = false;
  size_t depth = 0;
  for (const char* p = begin; p < end; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (in_string) {
      if (c == '\\') {
        if (p + 1 < end) ++p;
      } else if (c == '"') {
        in_string = false;
      }
      continue;  // bytes inside strings are checked when the literal is decoded
    }
    if (c == '#') return p;
    if (c == '"') {
      in_string = true;
    } else if (c == '(' || c == '[' || c == '{') {
      if (++depth > options_.max_nesting) {
        Error(p, p + 1, Cat("brackets nested deeper than ", options_.max_nesting, " levels"));
        return nullptr;
      }
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth > 0) --depth;
    } else if ((c < 0x20 && c != '\t') || c >= 0x7F) {
      Error(
          p, p + 1,
          absl::StrFormat("unexpected byte 0x%02x outside a string (is this a .qg text file?)", c));
      return nullptr;
    }
  }
  return end;
}

void Reader::ParseLine(const char* begin, const char* end, bool last_unterminated) {
  line_failed_ = false;
  const char* content_end = PrepareLine(begin, end);
  if (content_end == nullptr) return;
  const char* first = begin;
  while (first < content_end && (*first == ' ' || *first == '\t')) ++first;
  const char* last = content_end;
  while (last > first && (last[-1] == ' ' || last[-1] == '\t')) --last;
  if (first == last) return;  // blank or comment-only

  qg::parser::ParseError perr;
  ast::Line line;
  const char* it = first;
  bool ok = false;
  ok = x3::phrase_parse(it, last, x3::with<qg::parser::error_handler_tag>(perr)[qg::line()],
                        x3::ascii::blank, line);
  if (!ok) {
    if (perr.failed) {
      std::string which = perr.which == "eoi" ? "end of line" : perr.which;
      const char* where = perr.where;
      std::string msg = Cat("expected ", which);
      if (where >= last) {
        absl::StrAppend(&msg, " before end of line");
        where = last;
      }
      Error(where, where + 1, std::move(msg));
    } else {
      Error(first, first + 1,
            "expected a node line ('%name = kind[target](args)'), a module line, or the header");
    }
    return;
  }

  // Lines must come in order: header, graph name, module table, nodes. A missing or wrong
  // header is reported once and then assumed, so the rest of the file is still checked.
  if (stage_ == Stage::kHeader && line.kind != ast::Line::Kind::kHeader) {
    Error(first, first + 1, "expected the header 'qgraph 1' as the first line");
    stage_ = Stage::kGraph;
  }
  if (stage_ == Stage::kGraph && line.kind != ast::Line::Kind::kGraph &&
      line.kind != ast::Line::Kind::kHeader) {
    Error(first, first + 1, "expected 'graph NAME' after the header");
    stage_ = Stage::kModules;
  }
  switch (line.kind) {
    case ast::Line::Kind::kHeader:
      if (stage_ != Stage::kHeader) {
        Error(first, last, "duplicate header");
      } else {
        OnHeader(line.header);
      }
      break;
    case ast::Line::Kind::kGraph:
      if (stage_ != Stage::kGraph) {
        Error(first, last, "duplicate graph line");
      } else {
        OnGraph(line.graph);
      }
      break;
    case ast::Line::Kind::kModule:
      if (stage_ == Stage::kNodes) {
        Error(first, first + 6, "module line after the first node line: modules come first");
      } else {
        OnModule(line.module);
      }
      break;
    case ast::Line::Kind::kNode:
      stage_ = Stage::kNodes;
      OnNode(line.node, first);
      break;
    case ast::Line::Kind::kNone:
      Error(first, first + 1, "unrecognized line");
      break;
  }
  if (last_unterminated && !line_failed_) {
    Error(end, end + 1, "missing newline at the end of the file (truncated?)");
  }
}

void Reader::OnHeader(const ast::HeaderLine& h) {
  stage_ = Stage::kGraph;
  int64_t version = 0;
  if (!ParseInt(h.version, &version, "version")) return;
  if (version != 1) {
    Error(h.version.begin, h.version.end,
          Cat("unsupported .qg version ", version, " (this reader reads version 1)"));
  }
}

void Reader::OnGraph(const ast::GraphLine& g) {
  stage_ = Stage::kModules;
  std::string name;
  if (g.name.quoted) {
    if (!DecodeString(g.name, &name)) return;
  } else {
    name = std::string(g.name.text());
  }
  graph_.set_name(std::move(name));
}

void Reader::OnModule(const ast::ModuleLine& m) {
  Module module;
  std::string decoded;
  if (m.path.quoted && !DecodeString(m.path, &decoded)) return;
  std::string_view path = m.path.quoted ? std::string_view(decoded) : m.path.text();
  module.path = path == "<root>" && !m.path.quoted ? std::string() : std::string(path);
  module.type = std::string(m.type.text());
  auto [it, inserted] = module_lines_.emplace(module.path, m.path.begin);
  if (!inserted) {
    Error(m.path.begin, m.path.end, Cat("duplicate module '", path, "'"), it->second,
          "first declared here");
    return;
  }
  bool ok = true;
  for (const ast::Arg& a : m.attrs) {
    if (a.keyword.begin == nullptr) {
      Error(a.begin, a.end, "module attributes must be keyword arguments (name=value)");
      ok = false;
      continue;
    }
    std::string key(a.keyword.text());
    if (module.attr(key) != nullptr) {
      Error(a.keyword.begin, a.keyword.end, Cat("duplicate module attribute '", key, "'"));
      ok = false;
      continue;
    }
    Value v;
    bool broken = false;
    if (!ConvertValue(a.value, /*allow_refs=*/false, &v, &broken)) {
      ok = false;
      continue;
    }
    module.attrs.emplace_back(std::move(key), std::move(v));
  }
  if (ok) graph_.AddModule(std::move(module));
}

void Reader::OnNode(const ast::NodeLine& n, const char* line_begin) {
  Node node;
  std::string_view name = n.name.text();
  const bool had_error_before = line_failed_;
  line_failed_ = false;
  bool broken = false;  // refers to a node that is itself in error: skip without more noise

  bool duplicate = false;
  if (std::optional<NodeId> prev = graph_.FindNode(name)) {
    Error(line_begin, n.name.end, Cat("duplicate node name '%", name, "'"),
          base_ + node_offsets_[*prev], "first defined here");
    duplicate = true;
  } else if (auto b = broken_.find(name); b != broken_.end()) {
    Error(line_begin, n.name.end, Cat("duplicate node name '%", name, "'"),
          base_ + b->second.offset, "first defined here");
    duplicate = true;
  }
  node.name = std::string(name);

  std::optional<NodeKind> kind = ParseNodeKind(n.kind.text());
  if (!kind) {
    Error(n.kind.begin, n.kind.end,
          Cat("unknown node kind '", n.kind.text(),
              "' (expected placeholder, get_attr, call_module, call_function, "
              "call_method or output)"));
  } else {
    node.kind = *kind;
  }

  if (n.target.quoted) {
    DecodeString(n.target, &node.target);
  } else {
    node.target = std::string(n.target.text());
  }

  bool seen_kwarg = false;
  for (const ast::Arg& a : n.args) {
    Value v;
    bool ok = ConvertValue(a.value, /*allow_refs=*/true, &v, &broken);
    if (a.keyword.begin == nullptr) {
      if (seen_kwarg) {
        Error(a.begin, a.end, "positional argument after keyword argument");
        continue;
      }
      if (ok) node.args.push_back(std::move(v));
    } else {
      seen_kwarg = true;
      std::string key(a.keyword.text());
      bool dup = false;
      for (const auto& kv : node.kwargs) dup = dup || kv.first == key;
      if (dup) {
        Error(a.keyword.begin, a.keyword.end, Cat("duplicate keyword argument '", key, "'"));
        continue;
      }
      if (ok) node.kwargs.emplace_back(std::move(key), std::move(v));
    }
  }

  if (n.has_meta) ConvertMeta(n.meta, &node.meta, 0);

  std::string decoded_scope;
  if (n.has_scope && n.scope.quoted) DecodeString(n.scope, &decoded_scope);
  std::string_view scope = !n.has_scope       ? std::string_view()
                           : n.scope.quoted   ? std::string_view(decoded_scope)
                           : n.scope.text() == "<root>" ? std::string_view()
                                                        : n.scope.text();
  if (const Module* m = graph_.FindModule(scope)) {
    node.scope_path = m->path;
    node.scope_type = m->type;
  } else if (n.has_scope) {
    Error(n.scope.begin, n.scope.end, Cat("scope '@", n.scope.text(), "' names no module line"));
  }
  if (node.kind == NodeKind::kCallModule && kind && graph_.FindModule(node.target) == nullptr &&
      !node.target.empty()) {
    Error(n.target.begin, n.target.end,
          Cat("call_module target '", node.target, "' names no module line"));
  }

  const bool failed = line_failed_ || broken;
  line_failed_ = line_failed_ || had_error_before;
  if (duplicate) return;
  if (failed) {
    broken_.emplace(name, BrokenNode{static_cast<size_t>(line_begin - base_)});
    return;
  }
  absl::StatusOr<NodeId> id = graph_.AddNode(std::move(node));
  if (!id.ok()) {
    // References were resolved above, so this is a reader bug; still report it located.
    Error(n.name.begin, n.name.end, std::string(id.status().message()));
    broken_.emplace(name, BrokenNode{static_cast<size_t>(line_begin - base_)});
    return;
  }
  node_offsets_.push_back(static_cast<size_t>(line_begin - base_));
}

bool Reader::DecodeString(const ast::Token& t, std::string* out) {
  size_t at = 0;
  std::string msg;
  if (DecodeJsonString(t.text(), out, &at, &msg)) return true;
  Error(t.begin + at, t.begin + at + 1, std::move(msg));
  return false;
}

bool Reader::ParseInt(const ast::Token& t, int64_t* out, const char* what) {
  std::string_view s = t.text();
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (ec == std::errc() && ptr == s.data() + s.size()) return true;
  Error(t.begin, t.end,
        ec == std::errc::result_out_of_range ? Cat(what, " ", s, " does not fit in 64 bits")
                                             : Cat("malformed ", what, " '", s, "'"));
  return false;
}

bool Reader::ConvertValue(const ast::Value& v, bool allow_refs, Value* out, bool* broken) {
  using K = ast::Value::Kind;
  switch (v.kind) {
    case K::kNone:
      *out = Value::None();
      return true;
    case K::kTrue:
    case K::kFalse:
      *out = Value::Bool(v.kind == K::kTrue);
      return true;
    case K::kEllipsis:
      out->kind = Value::Kind::kEllipsis;
      return true;
    case K::kNumber: {
      std::string_view s = v.text();
      if (!IsFloatText(s)) {
        int64_t i = 0;
        ast::Token t;
        t.begin = v.begin;
        t.end = v.end;
        if (!ParseInt(t, &i, "integer literal")) return false;
        *out = Value::Int(i);
        return true;
      }
      bool neg = !s.empty() && s[0] == '-';
      std::string_view body = neg ? s.substr(1) : s;
      double d;
      if (body == "inf") {
        d = std::numeric_limits<double>::infinity();
      } else if (body == "nan") {
        d = std::numeric_limits<double>::quiet_NaN();
      } else {
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec == std::errc::result_out_of_range) {
          Error(v.begin, v.end, Cat("float literal ", s, " is out of range"));
          return false;
        }
        if (ec != std::errc() || ptr != s.data() + s.size()) {
          Error(v.begin, v.end, Cat("malformed float literal '", s, "'"));
          return false;
        }
        *out = Value::Float(d);
        return true;
      }
      *out = Value::Float(neg ? -d : d);
      return true;
    }
    case K::kString: {
      std::string s;
      ast::Token t;
      t.begin = v.begin;
      t.end = v.end;
      if (!DecodeString(t, &s)) return false;
      *out = Value::String(std::move(s));
      return true;
    }
    case K::kOpaque: {
      std::string s;
      if (!DecodeString(v.name, &s)) return false;
      out->kind = Value::Kind::kOpaque;
      out->text = std::move(s);
      return true;
    }
    case K::kDtype:
      *out = Value::Dtype(std::string(v.name.text()));
      return true;
    case K::kNodeRef: {
      if (!allow_refs) {
        Error(v.begin, v.end, "node reference in a module attribute");
        return false;
      }
      std::string_view name = v.name.text();
      if (std::optional<NodeId> id = graph_.FindNode(name)) {
        *out = Value::Node(*id);
        return true;
      }
      if (broken_.contains(name)) {
        *broken = true;
        return false;
      }
      pending_.push_back(PendingRef{name, v.begin, v.end});
      line_failed_ = true;
      return false;
    }
    case K::kList:
    case K::kTuple:
    case K::kDict:
    case K::kSlice: {
      out->kind = v.kind == K::kList    ? Value::Kind::kList
                  : v.kind == K::kTuple ? Value::Kind::kTuple
                  : v.kind == K::kDict  ? Value::Kind::kDict
                                        : Value::Kind::kSlice;
      bool ok = true;
      out->items.reserve(v.items.size());
      for (const ast::Value& item : v.items) {
        Value iv;
        ok = ConvertValue(item, allow_refs, &iv, broken) && ok;
        out->items.push_back(std::move(iv));
      }
      for (const ast::Token& key : v.keys) {
        std::string k;
        ok = DecodeString(key, &k) && ok;
        out->keys.push_back(std::move(k));
      }
      return ok;
    }
  }
  return false;
}

bool Reader::ConvertMeta(const ast::MetaType& m, Meta* out, int depth) {
  switch (m.kind) {
    case ast::MetaType::Kind::kScalar:
      out->kind = Meta::Kind::kScalar;
      out->py_type = std::string(m.name.text());
      return true;
    case ast::MetaType::Kind::kTensor: {
      out->kind = Meta::Kind::kTensor;
      out->dtype = std::string(m.name.text());
      bool ok = true;
      out->shape.reserve(m.dims.size());
      for (const ast::Token& d : m.dims) {
        int64_t v = 0;
        ok = ParseInt(d, &v, "dimension") && ok;
        out->shape.push_back(v);
      }
      return ok;
    }
    case ast::MetaType::Kind::kTuple: {
      out->kind = Meta::Kind::kTuple;
      bool ok = true;
      for (const ast::MetaType& item : m.items) {
        Meta im;
        ok = ConvertMeta(item, &im, depth + 1) && ok;
        out->items.push_back(std::move(im));
      }
      return ok;
    }
  }
  return false;
}

void Reader::ResolvePending() {
  for (const PendingRef& r : pending_) {
    if (std::optional<NodeId> id = graph_.FindNode(r.name)) {
      Error(r.begin, r.end, Cat("'%", r.name, "' is used before its definition"),
            base_ + node_offsets_[*id], "defined here");
    } else if (auto b = broken_.find(r.name); b != broken_.end()) {
      Error(r.begin, r.end, Cat("'%", r.name, "' is used before its definition"),
            base_ + b->second.offset, "defined here");
    } else {
      Error(r.begin, r.end, Cat("unknown node reference '%", r.name, "'"));
    }
  }
}

absl::StatusOr<Graph> Reader::Run() {
  if (text_.empty()) {
    Error(base_, base_, "empty file: expected the header 'qgraph 1'");
  }
  const char* p = base_;
  const char* end = base_ + text_.size();
  // Node lines are nearly all lines: size the graph once instead of growing it repeatedly.
  graph_.Reserve(static_cast<size_t>(std::count(text_.begin(), text_.end(), '\n')) + 1);
  while (p < end && !Stopped()) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const bool unterminated = nl == nullptr;
    const char* line_end = unterminated ? end : nl;
    const char* content_end = line_end;
    if (content_end > p && content_end[-1] == '\r') --content_end;
    ParseLine(p, content_end, unterminated);
    p = unterminated ? end : nl + 1;
  }
  if (!Stopped()) {
    if (stage_ == Stage::kHeader && !text_.empty()) {
      Error(base_, base_ + 1, "expected the header 'qgraph 1' as the first line");
    } else if (stage_ == Stage::kGraph) {
      Error(end, end, "expected 'graph NAME' after the header");
    }
  }
  ResolvePending();
  if (errors_ > 0) {
    return absl::InvalidArgumentError(sink_->Render());
  }
  return std::move(graph_);
}

}  // namespace

bool DecodeJsonString(std::string_view literal, std::string* out, size_t* error_at,
                      std::string* error) {
  out->clear();
  if (literal.size() < 2 || literal.front() != '"' || literal.back() != '"') {
    *error_at = 0;
    *error = "malformed string literal";
    return false;
  }
  const size_t end = literal.size() - 1;
  for (size_t i = 1; i < end;) {
    unsigned char c = static_cast<unsigned char>(literal[i]);
    if (c == '\\') {
      if (i + 1 >= end) {
        *error_at = i;
        *error = "unterminated escape in string";
        return false;
      }
      char e = literal[i + 1];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!ParseHex4(literal.substr(0, end), i + 2, &cp)) {
            *error_at = i;
            *error = "malformed \\u escape in string (expected 4 hex digits)";
            return false;
          }
          size_t len = 6;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (i + 7 < end && literal[i + 6] == '\\' && literal[i + 7] == 'u' &&
                ParseHex4(literal.substr(0, end), i + 8, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              len = 12;
            } else {
              *error_at = i;
              *error = "unpaired UTF-16 surrogate in \\u escape";
              return false;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            *error_at = i;
            *error = "unpaired UTF-16 surrogate in \\u escape";
            return false;
          }
          AppendUtf8(cp, out);
          i += len;
          continue;
        }
        default:
          *error_at = i;
          *error = Cat("unknown escape '\\", std::string_view(&literal[i + 1], 1), "' in string");
          return false;
      }
      i += 2;
    } else if (c < 0x20) {
      *error_at = i;
      *error = "control character in string (write it as a \\u escape)";
      return false;
    } else if (c >= 0x80) {
      size_t n = Utf8SequenceLength(literal.substr(0, end), i);
      if (n == 0) {
        *error_at = i;
        *error = "invalid UTF-8 in string";
        return false;
      }
      out->append(literal.substr(i, n));
      i += n;
    } else {
      out->push_back(static_cast<char>(c));
      ++i;
    }
  }
  return true;
}

absl::StatusOr<Graph> ReadQg(std::shared_ptr<const SourceFile> file, DiagnosticSink* sink,
                             const ReadOptions& options) {
  DiagnosticSink local;
  Reader reader(std::move(file), sink != nullptr ? sink : &local, options);
  return reader.Run();
}

absl::StatusOr<Graph> ReadQgFile(const std::string& path, DiagnosticSink* sink,
                                 const ReadOptions& options) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ReadQg(std::make_shared<const SourceFile>(path, *std::move(text)), sink, options);
}

absl::StatusOr<Graph> ReadQgString(std::string_view text, std::string name) {
  return ReadQg(std::make_shared<const SourceFile>(std::move(name), std::string(text)), nullptr);
}

}  // namespace qprep::ir
