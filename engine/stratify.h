// Stratification of a lowered Program (engine/program.h): the order in which the evaluator
// (engine/evaluator.h) computes relations, and the check that negation is stratifiable. The
// language front end (rules/) calls FindNegationCycle itself to report a located diagnostic
// naming the cycle; the evaluator calls Stratify and treats a cycle as a programmer error of
// the front end.
//
// Method: the predicate dependency graph has an edge head -> body relation for every body
// literal (positive or negated) of every rule; boost::strong_components finds its SCCs. Tarjan
// numbers an SCC only after every SCC it reaches, so ascending component number is a valid
// evaluation order (dependencies first). A program is stratifiable iff no negated edge lies
// inside one SCC. Each SCC that has rules is one Stratum; it is recursive if it has more than
// one relation or a relation that reads itself.
#ifndef QPREP_ENGINE_STRATIFY_H_
#define QPREP_ENGINE_STRATIFY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/program.h"

namespace qprep::engine {

struct Stratum {
  std::vector<RelationId> relations;  // relations defined here (heads of `rules`)
  std::vector<int> rules;             // indices into Program::rules, in program order
  bool recursive = false;
};

struct Strata {
  std::vector<Stratum> strata;  // in evaluation order
  // Stratum index per RelationId; -1 for relations no rule defines (inputs).
  std::vector<int> stratum_of;
};

// A cycle of the dependency graph through at least one negation, as data and as text.
// relations[i] depends on relations[(i + 1) % n] through rules[i]; negated[i] says whether that
// body literal is negated. literals[i] is the body literal's index in rules[i].body, so the
// front end can point a caret at it.
struct NegationCycle {
  std::vector<RelationId> relations;
  std::vector<int> rules;
  std::vector<int> literals;
  std::vector<bool> negated;
  // "a -> !b -> a": each arrow is "the relation on the left is defined using the one on the
  // right"; '!' marks a negated use.
  std::string text;
};

// nullopt if negation is stratifiable.
std::optional<NegationCycle> FindNegationCycle(const Program& program);

// FailedPrecondition naming the cycle (and its rules) if negation is not stratifiable.
absl::StatusOr<Strata> Stratify(const Program& program);

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_STRATIFY_H_
