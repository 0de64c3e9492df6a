// The canonical .qg printer (ir/qg_printer.h).
#include "ir/qg_printer.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace qprep::ir {

namespace {

bool IsIdentStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Whether `s` reads back as a dotted name (identifiers or digit runs joined by '.').
bool IsDottedName(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  while (true) {
    if (i >= s.size()) return false;
    if (IsIdentStart(s[i])) {
      while (i < s.size() && IsIdentChar(s[i])) ++i;
    } else if (IsDigit(s[i])) {
      while (i < s.size() && IsDigit(s[i])) ++i;
      // A digit run directly followed by identifier characters would not re-read as one part.
      if (i < s.size() && IsIdentStart(s[i])) return false;
    } else {
      return false;
    }
    if (i == s.size()) return true;
    if (s[i] != '.') return false;
    ++i;
  }
}

bool IsBareGraphName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsIdentChar(c) && c != '.' && c != '-') return false;
  }
  return true;
}

// Reads one UTF-8 code point at s[i]; invalid bytes come back as themselves (U+0080..U+00FF)
// so printing never fails on strings built in memory.
uint32_t NextCodePoint(std::string_view s, size_t* i) {
  unsigned char c = static_cast<unsigned char>(s[*i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n <= 1 || *i + n > s.size()) {
    ++*i;
    return c;
  }
  uint32_t cp = c & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[*i + k]);
    if ((cc & 0xC0) != 0x80) {
      ++*i;
      return c;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  *i += n;
  return cp;
}

void AppendValue(const Graph& graph, const Value& v, std::string& out);

void AppendItems(const Graph& graph, const std::vector<Value>& items, std::string& out) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    AppendValue(graph, items[i], out);
  }
}

void AppendValue(const Graph& graph, const Value& v, std::string& out) {
  switch (v.kind) {
    case Value::Kind::kNone:
      out += "None";
      return;
    case Value::Kind::kBool:
      out += v.b ? "True" : "False";
      return;
    case Value::Kind::kInt:
      absl::StrAppend(&out, v.i);
      return;
    case Value::Kind::kFloat:
      out += FormatFloat(v.f);
      return;
    case Value::Kind::kString:
      out += QuoteString(v.text);
      return;
    case Value::Kind::kDtype:
      absl::StrAppend(&out, "torch.", v.text);
      return;
    case Value::Kind::kNode:
      if (v.node < graph.num_nodes()) {
        absl::StrAppend(&out, "%", graph.node(v.node).name);
      } else {
        absl::StrAppend(&out, "%<invalid node ", v.node, ">");
      }
      return;
    case Value::Kind::kList:
      out += "[";
      AppendItems(graph, v.items, out);
      out += "]";
      return;
    case Value::Kind::kTuple:
      out += "(";
      AppendItems(graph, v.items, out);
      if (v.items.size() == 1) out += ",";
      out += ")";
      return;
    case Value::Kind::kDict:
      out += "{";
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out += ", ";
        out += QuoteString(i < v.keys.size() ? v.keys[i] : std::string());
        out += ": ";
        AppendValue(graph, v.items[i], out);
      }
      out += "}";
      return;
    case Value::Kind::kSlice:
      out += "slice(";
      for (size_t i = 0; i < 3; ++i) {
        if (i > 0) out += ", ";
        if (i < v.items.size()) {
          AppendValue(graph, v.items[i], out);
        } else {
          out += "None";
        }
      }
      out += ")";
      return;
    case Value::Kind::kEllipsis:
      out += "...";
      return;
    case Value::Kind::kOpaque:
      absl::StrAppend(&out, "opaque(", QuoteString(v.text), ")");
      return;
  }
}

void AppendMeta(const Meta& m, std::string& out) {
  switch (m.kind) {
    case Meta::Kind::kUnknown:
      return;
    case Meta::Kind::kTensor:
      absl::StrAppend(&out, m.dtype, "[", absl::StrJoin(m.shape, ", "), "]");
      return;
    case Meta::Kind::kScalar:
      out += m.py_type;
      return;
    case Meta::Kind::kTuple:
      out += "(";
      for (size_t i = 0; i < m.items.size(); ++i) {
        if (i > 0) out += ", ";
        AppendMeta(m.items[i], out);
      }
      if (m.items.size() == 1) out += ",";
      out += ")";
      return;
  }
}

}  // namespace

std::string FormatFloat(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  // Shortest round-trip digits in scientific form, then laid out as Python's repr does:
  // positional when -4 <= exponent < 16, else d[.ddd]e+XX with at least two exponent digits.
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  if (ec != std::errc()) return "nan";  // cannot happen for a 64-byte buffer
  std::string_view sci(buf, ptr - buf);
  size_t e_pos = sci.find('e');
  std::string_view mant = sci.substr(0, e_pos);
  int exp = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  std::string sign;
  if (!mant.empty() && mant[0] == '-') {
    sign = "-";
    mant.remove_prefix(1);
  }
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits.push_back(c);
  }
  std::string out = sign;
  if (exp < -4 || exp >= 16) {
    out += digits[0];
    if (digits.size() > 1) absl::StrAppend(&out, ".", digits.substr(1));
    absl::StrAppend(&out, absl::StrFormat("e%c%02d", exp < 0 ? '-' : '+', std::abs(exp)));
  } else if (exp < 0) {
    absl::StrAppend(&out, "0.", std::string(static_cast<size_t>(-exp - 1), '0'), digits);
  } else {
    size_t int_len = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      absl::StrAppend(&out, digits, std::string(int_len - digits.size(), '0'), ".0");
    } else {
      absl::StrAppend(&out, digits.substr(0, int_len), ".", digits.substr(int_len));
    }
  }
  return out;
}

std::string QuoteString(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = NextCodePoint(s, &i);
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) {
          absl::StrAppend(&out, absl::StrFormat("\\u%04x", cp));
        } else if (cp >= 0x10000) {
          uint32_t u = cp - 0x10000;
          absl::StrAppend(
              &out, absl::StrFormat("\\u%04x\\u%04x", 0xD800 + (u >> 10), 0xDC00 + (u & 0x3FF)));
        } else {
          out.push_back(static_cast<char>(cp));
        }
    }
  }
  out += "\"";
  return out;
}

std::string FormatValue(const Graph& graph, const Value& v) {
  std::string out;
  AppendValue(graph, v, out);
  return out;
}

std::string FormatMeta(const Meta& m) {
  std::string out;
  AppendMeta(m, out);
  return out;
}

std::string PrintQg(const Graph& graph) {
  std::string out = "qgraph 1\ngraph ";
  out += IsBareGraphName(graph.name()) ? graph.name() : QuoteString(graph.name());
  out += "\n";
  for (const Module& m : graph.modules()) {
    absl::StrAppend(&out, "module ",
                    m.path.empty()             ? "<root>"
                    : IsDottedName(m.path) ? m.path
                                               : QuoteString(m.path),
                    " : ", m.type);
    if (!m.attrs.empty()) {
      out += "(";
      for (size_t i = 0; i < m.attrs.size(); ++i) {
        if (i > 0) out += ", ";
        absl::StrAppend(&out, m.attrs[i].first, "=");
        AppendValue(graph, m.attrs[i].second, out);
      }
      out += ")";
    }
    out += "\n";
  }
  if (graph.num_nodes() > 0) out += "\n";
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    const Node& n = graph.node(id);
    absl::StrAppend(&out, "%", n.name, " = ");
    out.append(NodeKindName(n.kind));
    absl::StrAppend(&out, "[", IsDottedName(n.target) ? n.target : QuoteString(n.target), "](");
    AppendItems(graph, n.args, out);
    for (size_t i = 0; i < n.kwargs.size(); ++i) {
      if (i > 0 || !n.args.empty()) out += ", ";
      absl::StrAppend(&out, n.kwargs[i].first, "=");
      AppendValue(graph, n.kwargs[i].second, out);
    }
    out += ")";
    if (n.meta.kind != Meta::Kind::kUnknown) {
      out += " -> ";
      AppendMeta(n.meta, out);
    }
    if (!n.scope_path.empty()) {
      absl::StrAppend(&out, " @",
                      IsDottedName(n.scope_path) ? n.scope_path : QuoteString(n.scope_path));
    }
    out += "\n";
  }
  return out;
}

}  // namespace qprep::ir
