// The .qg reader's syntax tree for one line (docs/qg-format.md). Second step of reading a .qg
// file: the X3 grammar (grammar_def.h) fills these from one line's text, then ir/qg_reader.cc
// checks them and builds the ir::Graph.
//
// Every piece is a view into the line being parsed (the file text outlives the AST), so parsing
// a line allocates only for the argument vectors, and every piece carries the source range a
// diagnostic points at. Literals stay raw text here; converting them (integer range, float
// syntax, string escapes) happens in the reader, which can then say exactly what is wrong.
#ifndef QPREP_IR_QG_AST_H_
#define QPREP_IR_QG_AST_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace qprep::ir::qg::ast {

// A source range inside the line, as pointers into the file text. The role of
// x3::position_tagged in rexpr, without the position cache that would grow with the file.
struct Located {
  const char* begin = nullptr;
  const char* end = nullptr;
  std::string_view text() const {
    return begin == nullptr ? std::string_view() : std::string_view(begin, end - begin);
  }
};

// A token: identifier, dotted name, integer, or a string literal (raw, quotes included).
struct Token : Located {
  bool quoted = false;  // a JSON string literal rather than a bare name
};

// An argument value. `text` (via Located) is the raw source of the literal; for node references
// `name` is the referenced name without '%', for dtypes the short name without "torch.".
struct Value : Located {
  enum class Kind : uint8_t {
    kNone,
    kTrue,
    kFalse,
    kNumber,  // INT or FLOAT; raw text decides which
    kString,  // raw, quotes and escapes included
    kNodeRef,
    kDtype,
    kList,
    kTuple,
    kDict,
    kSlice,
    kEllipsis,
    kOpaque,  // `name` is the raw string literal inside opaque(...)
  };
  Kind kind = Kind::kNone;
  Token name;
  std::vector<Value> items;
  std::vector<Token> keys;  // dict keys (raw string literals), parallel to items
};

// `value` or `keyword=value`.
struct Arg : Located {
  Token keyword;  // empty (begin == nullptr) for a positional argument
  Value value;
};

// What follows `->`: tensor `dtype[shape]`, tuple `(m, ...)`, or a Python type name.
struct MetaType : Located {
  enum class Kind : uint8_t { kScalar, kTensor, kTuple };
  Kind kind = Kind::kScalar;
  Token name;               // dtype (tensor) or Python type name (scalar)
  std::vector<Token> dims;  // tensor shape, raw integers
  std::vector<MetaType> items;
};

struct HeaderLine {
  Token version;
};

struct GraphLine {
  Token name;
};

struct ModuleLine {
  Token path;  // "<root>" or a dotted name
  Token type;
  std::vector<Arg> attrs;
};

struct NodeLine {
  Token name;
  Token kind;
  Token target;
  std::vector<Arg> args;
  bool has_meta = false;
  MetaType meta;
  bool has_scope = false;
  Token scope;
};

// One parsed line: which of the four line forms it was, and its contents.
struct Line {
  enum class Kind : uint8_t { kNone, kHeader, kGraph, kModule, kNode };
  Kind kind = Kind::kNone;
  HeaderLine header;
  GraphLine graph;
  ModuleLine module;
  NodeLine node;
};

}  // namespace qprep::ir::qg::ast

#endif  // QPREP_IR_QG_AST_H_
