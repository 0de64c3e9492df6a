// The rule language's abstract syntax tree: what the X3 grammar (grammar_def.h) produces and
// what the checker (rules/compiler.cc) reads. Plain data. Every node a diagnostic may point at
// derives x3::position_tagged; the parser's ErrorHandler (error_handler.h) maps a tag back to
// a byte range of the SourceFile.
//
// The syntax is deliberately small: configuration declarations (observers, qconfigs, dtype
// configs, groups, mappings, backends) share one expression grammar (Expr) and one entry form
// (Item); the checker gives them meaning by context. Derivation rules have their own Datalog
// syntax (Atom, Literal, RuleDecl). docs/language.md is the user-facing reference.
#ifndef QPREP_RULES_GRAMMAR_AST_H_
#define QPREP_RULES_GRAMMAR_AST_H_

#include <boost/spirit/home/x3/support/ast/position_tagged.hpp>
#include <boost/spirit/home/x3/support/ast/variant.hpp>
#include <optional>
#include <string>
#include <vector>

namespace qprep::rules::ast {

namespace x3 = boost::spirit::x3;

// A possibly dotted name: `relu`, `torch.nn.modules.conv.Conv2d`, `X` (a rule variable).
struct Name : x3::position_tagged {
  std::string text;
};

// An integer or floating literal, kept as written; the checker converts by context.
struct Number : x3::position_tagged {
  std::string text;
};

// A double-quoted string with escapes resolved.
struct String : x3::position_tagged {
  std::string value;
};

// `_`: PyTorch's MatchAllNode in patterns, a don't-care in rules.
struct Wildcard : x3::position_tagged {};

struct Expr;
struct Block;

// `keyword = value` or a positional `value` inside a call.
struct Argument : x3::position_tagged {
  std::optional<Name> keyword;
  x3::forward_ast<Expr> value;
};

// `Class(args)` (an observer) or `op(sub-patterns)` (a pattern tree).
struct Call : x3::position_tagged {
  Name callee;
  std::vector<Argument> args;
};

// `key: value` inside braces.
struct Field : x3::position_tagged {
  Name key;
  x3::forward_ast<Expr> value;
};

// Containers that need a position derive from the vector itself: X3 fills a container
// attribute directly, which avoids single-member Fusion structs (fragile in X3).

// `{ key: value, ... }`.
struct Block : x3::position_tagged, std::vector<Field> {
  Block() = default;
  template <typename It>  // X3 builds containers from iterator ranges
  Block(It first, It last) : std::vector<Field>(first, last) {}
};

// `{ a, b, c }`: a set of ops (alternatives).
// Deliberately not a container: X3's container-substitution checks recurse forever through
// Expr; grammar_def.h appends items with an action.
struct SetExpr : x3::position_tagged {
  std::vector<Expr> items;
};

// `[ a, b ]`: an ordered list.
// Deliberately not a container: X3's container-substitution checks recurse forever through
// Expr; grammar_def.h appends items with an action.
struct ListExpr : x3::position_tagged {
  std::vector<Expr> items;
};

struct Primary : x3::variant<Number, String, Wildcard, Call, Name, Block, SetExpr, ListExpr> {
  using base_type::base_type;
  using base_type::operator=;
};

// `a | b | c`: alternatives at one pattern position.
struct Alternatives : x3::position_tagged, std::vector<Primary> {
  Alternatives() = default;
  template <typename It>  // X3 builds containers from iterator ranges
  Alternatives(It first, It last) : std::vector<Primary>(first, last) {}
};

// `a -> b -> c`: a chain of ops in execution order (c consumes b consumes a). A single
// element is just that value.
struct Expr : x3::position_tagged, std::vector<Alternatives> {
  Expr() = default;
  template <typename It>  // X3 builds containers from iterator ranges
  Expr(It first, It last) : std::vector<Alternatives>(first, last) {}
};

// One entry of a mapping or backend block:
//   global: default;                          (keyword, no keys, value)
//   object_type torch.nn.modules.conv.Conv2d: default;
//   pattern conv_ops -> relu_ops { fuse: ...; }  (keyword, keys, body)
struct ItemBody : x3::variant<x3::forward_ast<Expr>, Block> {
  using base_type::base_type;
  using base_type::operator=;
};
struct Item : x3::position_tagged {
  Name keyword;
  std::vector<Expr> keys;
  ItemBody body;
};

// include "path";
struct IncludeDecl : x3::position_tagged {
  Name keyword;
  String path;
};

// alias nn = torch.nn.modules;  (also spelled `using`)
struct AliasDecl : x3::position_tagged {
  Name name;
  Name target;
};

// group / observer / qconfig / dtype_config NAME = EXPR;
struct NamedDecl : x3::position_tagged {
  Name keyword;
  Name name;
  Expr value;
};

// qconfig_mapping / backend NAME [extends A, B] { items }
struct BlockDecl : x3::position_tagged {
  Name keyword;
  Name name;
  std::vector<Name> bases;
  std::vector<Item> items;
};

// A relation column: `node` (type only) or `consumer: node` (name: type).
struct Column : x3::position_tagged {
  Name first;
  std::optional<Name> type;
};

// [input] relation NAME(columns);  equivalence NAME(columns);
struct RelationDecl : x3::position_tagged {
  std::string qualifier;  // "relation", "input relation" or "equivalence" (as written, normalized)
  Name name;
  std::vector<Column> columns;
};

// A term of a rule: variable or symbol (Name, resolved by the checker), number, string, `_`.
struct Term : x3::variant<Number, String, Wildcard, Name> {
  using base_type::base_type;
  using base_type::operator=;
};

struct Atom : x3::position_tagged {
  Name relation;
  std::vector<Term> args;
};

struct Comparison : x3::position_tagged {
  Term lhs;
  std::string op;
  Term rhs;
};

struct LiteralBody : x3::variant<Atom, Comparison> {
  using base_type::base_type;
  using base_type::operator=;
};

struct Literal : x3::position_tagged {
  bool negated = false;
  LiteralBody body;
};

// NAME: head(...) :- body, ... .     (a fact: NAME: head(...).)
struct RuleDecl : x3::position_tagged {
  Name name;
  Atom head;
  std::vector<Literal> body;
};

struct Declaration
    : x3::variant<IncludeDecl, AliasDecl, NamedDecl, BlockDecl, RelationDecl, RuleDecl> {
  using base_type::base_type;
  using base_type::operator=;
};

}  // namespace qprep::rules::ast

#endif  // QPREP_RULES_GRAMMAR_AST_H_
