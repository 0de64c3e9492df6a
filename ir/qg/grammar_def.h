// Rule bodies of the .qg line grammar (docs/qg-format.md, "Grammar"). Included only by
// grammar.cc, which instantiates it once.
//
// Semantic actions fill the AST rather than fusion adaptation: every AST piece also records its
// source range, literals stay raw text for the reader to convert, and X3's automatic attribute
// collapsing of single-element structs is fragile in Boost 1.74. After the token that commits a
// construct (`%`, `[`, `module`, ...) the grammar uses expectation `>`, so an error points at the
// exact token that is wrong rather than at the start of the line.
#ifndef QPREP_IR_QG_GRAMMAR_DEF_H_
#define QPREP_IR_QG_GRAMMAR_DEF_H_

#include <utility>

#include "boost/spirit/home/x3.hpp"
#include "ir/qg/ast.h"
#include "ir/qg/error_handler.h"
#include "ir/qg/grammar.h"

namespace qprep::ir::qg::parser {

namespace x3 = boost::spirit::x3;
namespace ascii = boost::spirit::x3::ascii;

using x3::_attr;
using x3::_val;
using x3::lexeme;
using x3::lit;
using x3::raw;

// ---- Rule IDs -------------------------------------------------------------------------------

struct ident_class;
struct dotted_class;
struct string_class;
struct integer_class;
struct number_class;
struct value_class;
struct arg_class;
struct meta_class;
struct target_class;
struct module_path_class;
struct graph_name_class;
struct header_line_class;
struct graph_line_class;
struct module_line_class;
struct node_line_class;
struct line_class;

// ---- Rules ----------------------------------------------------------------------------------
// The names are what an error message says was expected ("expected value").

const x3::rule<ident_class, ast::Token> ident = "identifier";
const x3::rule<dotted_class, ast::Token> dotted_name = "dotted name";
const x3::rule<string_class, ast::Token> string_lit = "string";
const x3::rule<integer_class, ast::Token> integer = "integer";
const x3::rule<number_class, ast::Token> number = "number";
const x3::rule<value_class, ast::Value> value = "value";
const x3::rule<arg_class, ast::Arg> arg = "argument";
const x3::rule<meta_class, ast::MetaType> meta_type = "result type";
const x3::rule<target_class, ast::Token> target = "target";
const x3::rule<module_path_class, ast::Token> module_path = "module path";
const x3::rule<graph_name_class, ast::Token> graph_name = "graph name";
const x3::rule<header_line_class, ast::HeaderLine> header_line = "header";
const x3::rule<graph_line_class, ast::GraphLine> graph_line = "graph line";
const x3::rule<module_line_class, ast::ModuleLine> module_line = "module line";
const x3::rule<node_line_class, ast::NodeLine> node_line = "node line";
const line_type line = "line";

// ---- Semantic actions -----------------------------------------------------------------------

// raw[...] match -> the source range of the enclosing rule's ast::Located attribute. (X3's
// on_success annotation cannot do this here: in Boost 1.74 a rule whose body has semantic
// actions passes on_success an unused attribute.)
const auto set_range = [](auto& ctx) {
  auto range = _attr(ctx);
  _val(ctx).begin = range.begin();
  _val(ctx).end = range.end();
};
// raw[...] match -> ast::Token.
const auto to_token = [](auto& ctx) {
  auto range = _attr(ctx);
  _val(ctx).begin = range.begin();
  _val(ctx).end = range.end();
};
const auto to_quoted_token = [](auto& ctx) {
  auto range = _attr(ctx);
  _val(ctx).begin = range.begin();
  _val(ctx).end = range.end();
  _val(ctx).quoted = true;
};
const auto copy_token = [](auto& ctx) { _val(ctx) = _attr(ctx); };
const auto set_value_kind = [](ast::Value::Kind k) {
  return [k](auto& ctx) { _val(ctx).kind = k; };
};
const auto set_value_name = [](ast::Value::Kind k) {
  return [k](auto& ctx) {
    _val(ctx).kind = k;
    _val(ctx).name = _attr(ctx);
  };
};
const auto push_item = [](auto& ctx) { _val(ctx).items.push_back(std::move(_attr(ctx))); };
const auto push_key = [](auto& ctx) { _val(ctx).keys.push_back(_attr(ctx)); };
const auto set_keyword = [](auto& ctx) { _val(ctx).keyword = _attr(ctx); };
const auto set_arg_value = [](auto& ctx) { _val(ctx).value = std::move(_attr(ctx)); };
const auto set_meta_kind = [](ast::MetaType::Kind k) {
  return [k](auto& ctx) { _val(ctx).kind = k; };
};
const auto set_meta_name = [](auto& ctx) {
  _val(ctx).kind = ast::MetaType::Kind::kScalar;
  _val(ctx).name = _attr(ctx);
};
const auto push_dim = [](auto& ctx) { _val(ctx).dims.push_back(_attr(ctx)); };
const auto push_arg = [](auto& ctx) { _val(ctx).args.push_back(std::move(_attr(ctx))); };
const auto push_attr = [](auto& ctx) { _val(ctx).attrs.push_back(std::move(_attr(ctx))); };
// Assigns the parsed attribute to one member of the enclosing rule's attribute.
template <typename Member>
auto set_member(Member member) {
  return [member](auto& ctx) { _val(ctx).*member = std::move(_attr(ctx)); };
}
template <typename Member>
auto set_line(ast::Line::Kind k, Member member) {
  return [k, member](auto& ctx) {
    _val(ctx).kind = k;
    _val(ctx).*member = std::move(_attr(ctx));
  };
}
const auto set_has_meta = [](auto& ctx) {
  _val(ctx).has_meta = true;
  _val(ctx).meta = std::move(_attr(ctx));
};
const auto set_has_scope = [](auto& ctx) {
  _val(ctx).has_scope = true;
  _val(ctx).scope = _attr(ctx);
};

// A keyword: the word, not followed by an identifier character (`None` but not `Nonesuch`).
inline auto kw(const char* word) { return lexeme[lit(word) >> !(ascii::alnum | '_')]; }

// Grammar rules are laid out by hand, one alternative per line.
// clang-format off
// ---- Grammar --------------------------------------------------------------------------------

const auto ident_chars = lexeme[(ascii::alpha | '_') >> *(ascii::alnum | '_')];
const auto digits = lexeme[+ascii::digit];

const auto ident_def = raw[ident_chars][to_token];
const auto dotted_name_def = raw[lexeme[(ident_chars | digits) % '.']][to_token];
// JSON string syntax; escapes are only delimited here and are checked by the reader, which can
// then name the bad escape.
const auto string_lit_def =
    raw[lexeme['"' > *(('\\' > x3::char_) | ~x3::char_("\"\\")) > '"']][to_quoted_token];
const auto integer_def = raw[lexeme[-lit('-') >> +ascii::digit]][to_token];
const auto number_def =
    raw[lexeme[-lit('-') >>
               ((+ascii::digit >> -('.' >> *ascii::digit) >>
                 -(ascii::char_("eE") >> -ascii::char_("+-") >> +ascii::digit)) |
                kw("inf") | kw("nan"))]][to_token];

const auto value_def = raw[
    (lit('%') > ident)[set_value_name(ast::Value::Kind::kNodeRef)] |
    string_lit[set_value_kind(ast::Value::Kind::kString)] |
    number[set_value_kind(ast::Value::Kind::kNumber)] |
    (lit('[')[set_value_kind(ast::Value::Kind::kList)] > -(value[push_item] % ',') > -lit(',') >
     ']') |
    (lit('(')[set_value_kind(ast::Value::Kind::kTuple)] > -(value[push_item] % ',') >
     -lit(',') > ')') |
    (lit('{')[set_value_kind(ast::Value::Kind::kDict)] >
     -((string_lit[push_key] > ':' > value[push_item]) % ',') > -lit(',') > '}') |
    kw("None")[set_value_kind(ast::Value::Kind::kNone)] |
    kw("True")[set_value_kind(ast::Value::Kind::kTrue)] |
    kw("False")[set_value_kind(ast::Value::Kind::kFalse)] |
    lit("...")[set_value_kind(ast::Value::Kind::kEllipsis)] |
    ((kw("slice")[set_value_kind(ast::Value::Kind::kSlice)] >> '(') > value[push_item] > ',' >
     value[push_item] > ',' > value[push_item] > ')') |
    ((kw("opaque") >> '(') > string_lit[set_value_name(ast::Value::Kind::kOpaque)] > ')') |
    (lexeme[lit("torch.") >> ident])[set_value_name(ast::Value::Kind::kDtype)]][set_range];

const auto arg_def = raw[-((ident >> '=')[set_keyword]) >> value[set_arg_value]][set_range];

const auto meta_type_def = raw[
    (lit('(')[set_meta_kind(ast::MetaType::Kind::kTuple)] > -(meta_type[push_item] % ',') >
     -lit(',') > ')') |
    (ident[set_meta_name] >>
     -(lit('[')[set_meta_kind(ast::MetaType::Kind::kTensor)] > -(integer[push_dim] % ',') > ']'))][set_range];

const auto target_def = dotted_name[copy_token] | string_lit[copy_token];
// Paths that are not dotted names (torchvision's regnet has `block1-0`) are JSON strings.
const auto module_path_def =
    raw[lit("<root>")][to_token] | dotted_name[copy_token] | string_lit[copy_token];
const auto graph_name_def =
    raw[lexeme[+(ascii::alnum | ascii::char_("_.-"))]][to_token] | string_lit[copy_token];

const auto header_line_def = kw("qgraph") > integer[set_member(&ast::HeaderLine::version)] >
                             x3::eoi;
const auto graph_line_def = kw("graph") > graph_name[set_member(&ast::GraphLine::name)] > x3::eoi;
const auto module_line_def =
    kw("module") > module_path[set_member(&ast::ModuleLine::path)] > ':' >
    dotted_name[set_member(&ast::ModuleLine::type)] > -('(' > -(arg[push_attr] % ',') > ')') >
    x3::eoi;
const auto node_line_def =
    lit('%') > ident[set_member(&ast::NodeLine::name)] > '=' >
    ident[set_member(&ast::NodeLine::kind)] > '[' > target[set_member(&ast::NodeLine::target)] >
    ']' > '(' > -(arg[push_arg] % ',') > ')' > -(lit("->") > meta_type[set_has_meta]) >
    -(lit('@') > module_path[set_has_scope]) > x3::eoi;

const auto line_def =
    header_line[set_line(ast::Line::Kind::kHeader, &ast::Line::header)] |
    graph_line[set_line(ast::Line::Kind::kGraph, &ast::Line::graph)] |
    module_line[set_line(ast::Line::Kind::kModule, &ast::Line::module)] |
    node_line[set_line(ast::Line::Kind::kNode, &ast::Line::node)];

// clang-format on

BOOST_SPIRIT_DEFINE(ident, dotted_name, string_lit, integer, number, value, arg, meta_type, target,
                    module_path, graph_name, header_line, graph_line, module_line, node_line, line);

// ---- Annotation and error handling ----------------------------------------------------------

struct ident_class {};
struct dotted_class {};
struct string_class {};
struct integer_class {};
struct number_class {};
struct value_class {};
struct arg_class {};
struct meta_class {};
struct target_class {};
struct module_path_class {};
struct graph_name_class {};
struct header_line_class {};
struct graph_line_class {};
struct module_line_class {};
struct node_line_class {};
// Only the whole line handles errors: the reader recovers at the next line.
struct line_class : error_handler_base {};

}  // namespace qprep::ir::qg::parser

namespace qprep::ir::qg {
const parser::line_type& line() { return parser::line; }
}  // namespace qprep::ir::qg

#endif  // QPREP_IR_QG_GRAMMAR_DEF_H_
