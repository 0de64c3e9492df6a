// Boost.Fusion adaptations of the AST (ast.h) so X3 can fill the structs. Nothing else lives
// here, as in the rexpr example. Name, Number and String are filled by semantic actions in
// grammar_def.h (they are lexemes), so they are not adapted.
#ifndef QPREP_RULES_GRAMMAR_AST_ADAPTED_H_
#define QPREP_RULES_GRAMMAR_AST_ADAPTED_H_

#include <boost/fusion/include/adapt_struct.hpp>

#include "rules/grammar/ast.h"

BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::Argument, keyword, value)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::Call, callee, args)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::Field, key, value)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::Item, keyword, keys, body)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::IncludeDecl, keyword, path)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::AliasDecl, name, target)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::NamedDecl, keyword, name, value)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::BlockDecl, keyword, name, bases, items)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::Column, first, type)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::RelationDecl, qualifier, name, columns)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::Atom, relation, args)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::Comparison, lhs, op, rhs)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::Literal, negated, body)
BOOST_FUSION_ADAPT_STRUCT(qprep::rules::ast::RuleDecl, name, head, body)

#endif  // QPREP_RULES_GRAMMAR_AST_ADAPTED_H_
