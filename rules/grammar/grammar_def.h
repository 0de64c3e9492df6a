// The rule language's grammar (see docs/language.md for the language, ast.h for the tree).
// Included only by grammar.cc, which instantiates it once.
//
// Conventions: after a keyword has committed the parse to one kind of declaration, `>`
// (expectation) is used so that an error points at the exact token that is wrong; `>>` is used
// where the grammar must still be able to back off (e.g. `name (` call vs plain name).
#ifndef QPREP_RULES_GRAMMAR_GRAMMAR_DEF_H_
#define QPREP_RULES_GRAMMAR_GRAMMAR_DEF_H_

#include <boost/spirit/home/x3.hpp>
#include <string>

#include "rules/grammar/ast.h"
#include "rules/grammar/ast_adapted.h"
#include "rules/grammar/error_handler.h"
#include "rules/grammar/grammar.h"

namespace qprep::rules::parser {

namespace x3 = boost::spirit::x3;
// ASCII classes (table lookups) rather than the standard encoding's, which call the C library's
// isalnum per character; the same sets, as the program runs in the "C" locale (bytes >= 0x80
// are in neither).
using x3::ascii::alnum;
using x3::ascii::alpha;
using x3::ascii::digit;
using x3::char_;
using x3::lexeme;
using x3::lit;
using x3::raw;

// A keyword: the word not followed by an identifier character.
inline auto Kw(const char* word) { return lexeme[lit(word) >> !(alnum | '_')]; }

// ---- rule IDs ----
struct NameClass : AnnotatePosition {};
struct NumberClass : AnnotatePosition {};
struct StringClass : AnnotatePosition {};
struct WildcardClass : AnnotatePosition {};
struct ArgumentClass : AnnotatePosition {};
struct CallClass : AnnotatePosition {};
struct FieldClass : AnnotatePosition {};
struct BlockClass : AnnotatePosition {};
struct SetClass : AnnotatePosition {};
struct ListClass : AnnotatePosition {};
struct IncludeKeywordClass : AnnotatePosition {};
struct PrimaryClass {};
struct AlternativesClass : AnnotatePosition {};
struct ExprClass : AnnotatePosition {};
struct ItemClass : AnnotatePosition {};
struct IncludeClass : AnnotatePosition {};
struct AliasClass : AnnotatePosition {};
struct NamedDeclClass : AnnotatePosition {};
struct BlockDeclClass : AnnotatePosition {};
struct ColumnClass : AnnotatePosition {};
struct RelationClass : AnnotatePosition {};
struct TermClass {};
struct AtomClass : AnnotatePosition {};
struct ComparisonClass : AnnotatePosition {};
struct LiteralClass : AnnotatePosition {};
struct RuleClass : AnnotatePosition {};
struct DeclKeywordClass : AnnotatePosition {};
struct BlockKeywordClass : AnnotatePosition {};
struct DeclarationClass : AnnotatePosition, ReportExpectationFailure {};

const x3::rule<NameClass, ast::Name> name = "a name";
const x3::rule<NumberClass, ast::Number> number = "a number";
const x3::rule<StringClass, ast::String> string = "a quoted string";
const x3::rule<WildcardClass, ast::Wildcard> wildcard = "'_'";
const x3::rule<ArgumentClass, ast::Argument> argument = "an argument";
const x3::rule<CallClass, ast::Call> call = "a call";
const x3::rule<FieldClass, ast::Field> field = "a field";
const x3::rule<BlockClass, ast::Block> block = "a block";
const x3::rule<SetClass, ast::SetExpr> set = "a set";
const x3::rule<ListClass, ast::ListExpr> list = "a list";
const x3::rule<IncludeKeywordClass, ast::Name> include_keyword = "include";
const x3::rule<PrimaryClass, ast::Primary> primary = "a value";
const x3::rule<AlternativesClass, ast::Alternatives> alternatives = "a value";
const x3::rule<ExprClass, ast::Expr> expr = "a value";
const x3::rule<ItemClass, ast::Item> item = "an entry";
const x3::rule<IncludeClass, ast::IncludeDecl> include_decl = "include";
const x3::rule<AliasClass, ast::AliasDecl> alias_decl = "alias";
const x3::rule<DeclKeywordClass, ast::Name> decl_keyword = "a declaration keyword";
const x3::rule<NamedDeclClass, ast::NamedDecl> named_decl = "a declaration";
const x3::rule<BlockKeywordClass, ast::Name> block_keyword = "qconfig_mapping or backend";
const x3::rule<BlockDeclClass, ast::BlockDecl> block_decl = "a block declaration";
const x3::rule<ColumnClass, ast::Column> column = "a column";
const x3::rule<RelationClass, ast::RelationDecl> relation_decl = "a relation declaration";
const x3::rule<TermClass, ast::Term> term = "a term";
const x3::rule<AtomClass, ast::Atom> atom = "an atom";
const x3::rule<ComparisonClass, ast::Comparison> comparison = "a comparison";
const x3::rule<LiteralClass, ast::Literal> literal = "a literal";
const x3::rule<RuleClass, ast::RuleDecl> rule_decl = "a rule";
const declaration_type declaration = "a declaration";

// ---- lexemes (filled by actions: they are single strings, not sequences) ----
inline const auto kIdent = lexeme[(alpha | char_('_')) >> *(alnum | char_('_'))];
inline const auto kSetText = [](auto& ctx) {
  const auto& r = x3::_attr(ctx);
  x3::_val(ctx).text.assign(r.begin(), r.end());
  // Tagged here as well as by on_success: a Name parsed as a direct member of a Fusion
  // sequence otherwise comes out untagged with Boost 1.74.
  x3::get<ErrorHandlerTag>(ctx).Tag(x3::_val(ctx), r.begin(), r.end());
};
inline const auto kAppendChar = [](auto& ctx) { x3::_val(ctx).value.push_back(x3::_attr(ctx)); };

const auto name_def = raw[lexeme[kIdent >> *('.' >> kIdent)]][kSetText];
const auto number_def =
    raw[lexeme[-lit('-') >> +digit >> -('.' >> +digit) >>
               -(char_("eE") >> -char_("+-") >> +digit) >> !(alpha | '_')]][kSetText];
// Python's rules: \" \\ \n \t are escapes; any other backslash is kept (so regexes read
// as they do in a Python string: "layer1\..*").
inline const auto kAppendEscape = [](auto& ctx) {
  char c = x3::_attr(ctx);
  std::string& v = x3::_val(ctx).value;
  switch (c) {
    case '"':
    case '\\':
      v.push_back(c);
      break;
    case 'n':
      v.push_back('\n');
      break;
    case 't':
      v.push_back('\t');
      break;
    default:
      v.push_back('\\');
      v.push_back(c);
  }
};
inline const auto kTagWhole = [](auto& ctx) {
  const auto& r = x3::_attr(ctx);
  x3::get<ErrorHandlerTag>(ctx).Tag(x3::_val(ctx), r.begin(), r.end());
};
const auto string_def = raw[lexeme['"' > *((lit('\\') >> char_[kAppendEscape]) |
                                           (char_ - '"' - x3::eol)[kAppendChar]) > '"']][kTagWhole];
const auto wildcard_def = lexeme[lit('_') >> !(alnum | '_')];

// ---- expressions (configuration values, observers, patterns) ----
// The keyword is set by an action after a lookahead has confirmed `name =`: with plain
// attribute propagation X3 1.74 leaves a backtracked optional keyword filled in.
inline const auto kSetKeyword = [](auto& ctx) { x3::_val(ctx).keyword = x3::_attr(ctx); };
inline const auto kSetValue = [](auto& ctx) { x3::_val(ctx).value = x3::_attr(ctx); };
const auto argument_def =
    -(&(name >> '=' >> !lit('=')) >> name[kSetKeyword] >> '=') >> expr[kSetValue];
const auto call_def = name >> '(' > -(argument % ',') > ')';
const auto field_sep = lit(',') | lit(';');
const auto field_def = name >> ':' > expr;
const auto fields = x3::rule<class FieldsClass, std::vector<ast::Field>>{"`name: value`"} =
    field % field_sep;
const auto block_def = lit('{') >> &(name >> ':') > fields > -field_sep > '}';
// Sets and lists hold whole expressions, which are themselves containers; X3 would splice
// them, so elements are appended by an action instead of by attribute propagation.
inline const auto kPushBack = [](auto& ctx) { x3::_val(ctx).items.push_back(x3::_attr(ctx)); };
const auto set_def = lit('{') >> -(expr[kPushBack] % ',') >> -lit(',') > '}';
const auto list_def = lit('[') > -(expr[kPushBack] % ',') > -lit(',') > ']';
const auto primary_def = number | string | wildcard | call | name | block | set | list;
const auto alternatives_def = primary % '|';
const auto expr_def = alternatives % "->";

// ---- configuration declarations ----
const auto item_body = x3::rule<class ItemBodyClass, ast::ItemBody>{"`: value;` or `{ ... }`"} =
    (lit(':') > expr > ';') | (block >> -lit(';'));
const auto item_def = name >> -(expr % ',') > item_body;
const auto include_keyword_def = raw[Kw("include")][kSetText];
const auto include_decl_def = include_keyword > string > ';';
const auto alias_decl_def = (Kw("alias") | Kw("using")) > name > '=' > name > ';';
const auto decl_keyword_def =
    raw[Kw("group") | Kw("observer") | Kw("qconfig") | Kw("dtype_config")][kSetText];
const auto named_decl_def = decl_keyword > name > '=' > expr > ';';
const auto base_names = x3::rule<class BaseNamesClass, std::vector<ast::Name>>{"a name"} =
    name % ',';
const auto block_keyword_def = raw[Kw("qconfig_mapping") | Kw("backend")][kSetText];
const auto block_decl_def = block_keyword > name > -(Kw("extends") > base_names) > '{' > *item >
                            '}' > -lit(';');

// ---- derivation rules ----
const auto column_def = name >> -(':' > name);
const auto relation_qualifier =
    (Kw("input") >> Kw("relation") >> x3::attr(std::string("input relation"))) |
    (Kw("relation") >> x3::attr(std::string("relation"))) |
    (Kw("equivalence") >> -Kw("relation") >> x3::attr(std::string("equivalence")));
const auto relation_decl_def = relation_qualifier > name > '(' > -(column % ',') > ')' > ';';
const auto term_def = number | string | wildcard | name;
const auto atom_def = name >> '(' > -(term % ',') > ')';
const auto compare_op = x3::string("!=") | x3::string("<=") | x3::string(">=") | x3::string("=") |
                        x3::string("<") | x3::string(">");
const auto comparison_def = term >> compare_op > term;
const auto literal_def = x3::matches[lit('!') | Kw("not")] >> (atom | comparison);
const auto rule_body = x3::rule<class RuleBodyClass, std::vector<ast::Literal>>{"a literal"} =
    literal % ',';
const auto rule_decl_def = name >> ':' > atom > -(":-" > rule_body) > '.';

const auto declaration_def =
    include_decl | alias_decl | named_decl | block_decl | relation_decl | rule_decl;

BOOST_SPIRIT_DEFINE(name, number, string, wildcard, argument, call, field, block, set, list,
                    include_keyword, primary, alternatives, expr, item, include_decl, alias_decl,
                    decl_keyword, named_decl, block_keyword, block_decl, column, relation_decl,
                    term, atom, comparison, literal, rule_decl, declaration)

}  // namespace qprep::rules::parser

#endif  // QPREP_RULES_GRAMMAR_GRAMMAR_DEF_H_
