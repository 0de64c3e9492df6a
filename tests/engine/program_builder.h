// A small C++ builder for engine Programs (engine/program.h), used by the evaluator tests and
// benchmarks so they do not depend on the rule language front end (rules/). Variables are named
// per rule; constants are Datum values.
//
//   ProgramBuilder b;
//   b.Input("edge", 2);
//   b.Derived("reach", 2);
//   b.Rule("base", "reach", {V("X"), V("Y")}, {P("edge", {V("X"), V("Y")})});
//   b.Rule("step", "reach", {V("X"), V("Z")},
//          {P("reach", {V("X"), V("Y")}), P("edge", {V("Y"), V("Z")})});
#ifndef QPREP_TESTS_ENGINE_PROGRAM_BUILDER_H_
#define QPREP_TESTS_ENGINE_PROGRAM_BUILDER_H_

#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "engine/program.h"

namespace qprep::engine::testing {

struct T {
  Term::Kind kind = Term::Kind::kWildcard;
  std::string var;
  Datum value = 0;
};
inline T V(std::string name) { return {Term::Kind::kVariable, std::move(name), 0}; }
inline T C(Datum value) { return {Term::Kind::kConstant, "", value}; }
inline T W() { return {}; }

struct L {
  Literal::Kind kind = Literal::Kind::kPositive;
  std::string relation;
  std::vector<T> args;
  CompareOp op = CompareOp::kEq;
  T lhs, rhs;
};
inline L P(std::string rel, std::vector<T> args) {
  return {Literal::Kind::kPositive, std::move(rel), std::move(args), CompareOp::kEq, {}, {}};
}
inline L N(std::string rel, std::vector<T> args) {
  return {Literal::Kind::kNegated, std::move(rel), std::move(args), CompareOp::kEq, {}, {}};
}
inline L Cmp(T lhs, CompareOp op, T rhs) {
  return {Literal::Kind::kCompare, "", {}, op, std::move(lhs), std::move(rhs)};
}

class ProgramBuilder {
 public:
  RelationId Input(std::string name, size_t arity) {
    return Add(std::move(name), arity, RelationDecl::Kind::kInput);
  }
  RelationId Derived(std::string name, size_t arity) {
    return Add(std::move(name), arity, RelationDecl::Kind::kDerived);
  }
  RelationId Equivalence(std::string name) {
    return Add(std::move(name), 2, RelationDecl::Kind::kEquivalence);
  }

  // Adds `name: head(head_args) :- body.` and returns its index.
  int Rule(std::string name, const std::string& head, const std::vector<T>& head_args,
           const std::vector<L>& body) {
    engine::Rule rule;
    rule.name = std::move(name);
    rule.head = MakeAtom(head, head_args, &rule);
    for (const L& l : body) {
      Literal lit;
      lit.kind = l.kind;
      if (l.kind == Literal::Kind::kCompare) {
        lit.op = l.op;
        lit.lhs = MakeTerm(l.lhs, &rule);
        lit.rhs = MakeTerm(l.rhs, &rule);
      } else {
        lit.atom = MakeAtom(l.relation, l.args, &rule);
      }
      rule.body.push_back(std::move(lit));
    }
    program_.rules.push_back(std::move(rule));
    return static_cast<int>(program_.rules.size() - 1);
  }

  Program& program() { return program_; }
  RelationId id(const std::string& name) const {
    RelationId r = program_.Find(name);
    QPREP_CHECK(r != Program::kInvalid);
    return r;
  }

 private:
  RelationId Add(std::string name, size_t arity, RelationDecl::Kind kind) {
    RelationDecl d;
    d.name = std::move(name);
    d.kind = kind;
    d.columns.assign(arity, ColumnType::kInt);
    d.column_names.assign(arity, "");
    return program_.AddRelation(std::move(d));
  }
  Term MakeTerm(const T& t, engine::Rule* rule) {
    switch (t.kind) {
      case Term::Kind::kConstant:
        return Term::Const(t.value);
      case Term::Kind::kWildcard:
        return Term::Wild();
      case Term::Kind::kVariable:
        break;
    }
    auto& names = rule->variable_names;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == t.var) return Term::Var(static_cast<int32_t>(i));
    }
    names.push_back(t.var);
    return Term::Var(static_cast<int32_t>(names.size() - 1));
  }
  Atom MakeAtom(const std::string& rel, const std::vector<T>& args, engine::Rule* rule) {
    Atom a;
    a.relation = id(rel);
    QPREP_CHECK(program_.relations[a.relation].columns.size() == args.size());
    for (const T& t : args) a.args.push_back(MakeTerm(t, rule));
    return a;
  }

  Program program_;
};

}  // namespace qprep::engine::testing

#endif  // QPREP_TESTS_ENGINE_PROGRAM_BUILDER_H_
