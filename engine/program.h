// A lowered Datalog program: what the rule language (rules/) compiles derivation rules into and
// what the fixpoint evaluator (engine/evaluator.h) runs. This is the contract between the two:
// the language checks names, arity, types and stratifiability and reports located
// diagnostics; the evaluator may assume a Program is well formed (it CHECKs, it does not
// diagnose).
//
// Values are 64-bit integers. Node ids, edge ids and integers are themselves; strings (module
// types, function names, dtype names, rule-level symbols) are interned in a SymbolTable shared
// by the front end, the fact extractor and the printer, so equal strings are equal values.
#ifndef QPREP_ENGINE_PROGRAM_H_
#define QPREP_ENGINE_PROGRAM_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/diagnostics.h"

namespace qprep::engine {

using Datum = int64_t;
using RelationId = uint32_t;

// Interns strings as Datum values. Symbol values are >= kSymbolBase so they never collide with
// small integers or node ids in debugging output (columns are typed, so this is not needed for
// correctness).
class SymbolTable {
 public:
  static constexpr Datum kSymbolBase = Datum{1} << 40;
  Datum Intern(std::string_view s);
  // kSymbolBase + index; CHECK-fails for a value that is not a symbol of this table.
  std::string_view Name(Datum symbol) const;
  bool IsSymbol(Datum d) const;
  size_t size() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  absl::flat_hash_map<std::string, Datum> index_;
};

// Column types, for printing facts and for the front end's type checks.
enum class ColumnType : uint8_t { kInt, kSymbol, kNode, kEdge, kObserver, kQConfig, kPattern };

struct RelationDecl {
  enum class Kind : uint8_t {
    kInput,        // facts supplied before evaluation (graph facts, built-in stage outputs)
    kDerived,      // defined by rules
    kEquivalence,  // binary, defined by rules, closed under reflexivity/symmetry/transitivity;
                   // stored as a union-find (see engine/sharing.h)
  };
  std::string name;
  Kind kind = Kind::kDerived;
  std::vector<ColumnType> columns;
  std::vector<std::string> column_names;  // may be empty strings
  SourceRange where;                      // declaration, for diagnostics at run time
};

struct Term {
  enum class Kind : uint8_t { kVariable, kConstant, kWildcard };
  Kind kind = Kind::kWildcard;
  int32_t var = -1;  // kVariable: index into Rule::variable_names
  Datum value = 0;   // kConstant
  static Term Var(int32_t v) { return {Kind::kVariable, v, 0}; }
  static Term Const(Datum d) { return {Kind::kConstant, -1, d}; }
  static Term Wild() { return {}; }
};

enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

struct Atom {
  RelationId relation = 0;
  std::vector<Term> args;
};

struct Literal {
  enum class Kind : uint8_t { kPositive, kNegated, kCompare };
  Kind kind = Kind::kPositive;
  Atom atom;  // kPositive / kNegated
  CompareOp op = CompareOp::kEq;  // kCompare: lhs op rhs
  Term lhs, rhs;
  SourceRange where;
};

// head :- body. Range restriction holds: every head variable, every variable of a negated
// literal and of a comparison appears in some positive body atom (or is bound by an `=`
// comparison with a bound term). Wildcards never occur in heads.
struct Rule {
  std::string name;  // unique within a Program; shown in provenance and run reports
  Atom head;
  std::vector<Literal> body;
  std::vector<std::string> variable_names;
  SourceRange where;
};

struct Program {
  std::vector<RelationDecl> relations;
  std::vector<Rule> rules;
  absl::flat_hash_map<std::string, RelationId> relation_index;
  // Adds a relation and indexes it; returns its id. CHECK-fails on a duplicate name.
  RelationId AddRelation(RelationDecl decl);
  // kInvalid if unknown.
  static constexpr RelationId kInvalid = static_cast<RelationId>(-1);
  RelationId Find(std::string_view name) const;
};

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_PROGRAM_H_
