// Provenance queries over a Database the evaluator filled: "why does this fact hold?" — the rule
// that first derived it and its premise facts, recursively. Used by `qprepc explain` and by
// tests. The evaluator records one Derivation per stored tuple (engine/database.h) and one
// justification per union (engine/sharing.h) as it goes; this file only reads them.
//
// Contract:
// - Why() of an input fact says so; of a derived fact gives the rule and premises of its first
//   derivation (earliest iteration, so the proof tree is well founded: premises were derived
//   strictly earlier).
// - For an equivalence fact eq(a, b), Why() gives the chain of unions linking a to b, each with
//   its own rule and premises.
// - NotFound if the fact does not hold; FailedPrecondition if provenance was disabled.
#ifndef QPREP_ENGINE_PROVENANCE_H_
#define QPREP_ENGINE_PROVENANCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/database.h"
#include "engine/program.h"

namespace qprep::engine {

struct Fact {
  RelationId relation = 0;
  std::vector<Datum> tuple;
  bool operator==(const Fact&) const = default;
};

// One step of a proof: `conclusion` was derived by `rule` from `premises`.
struct ProofStep {
  Fact conclusion;
  bool input = false;          // an input fact (no rule)
  int rule = -1;               // index into Program::rules
  std::vector<Fact> premises;  // positive body literals, in body order
};

// The derivation of `fact`. For a tuple relation: one step. For an equivalence relation: one
// step per union on the chain from tuple[0] to tuple[1] (empty vector for a reflexive pair).
absl::StatusOr<std::vector<ProofStep>> Why(const Database& db, RelationId relation,
                                           absl::Span<const Datum> tuple);

// Renders a fact as `name(v1, v2)`, symbols through `symbols` if given.
std::string FormatFact(const Program& program, const SymbolTable* symbols, const Fact& fact);

// The full proof tree of `fact`, indented, down to input facts or `max_depth`:
//   reach(1, 3)  <- rule step
//     reach(1, 2)  <- rule base
//       edge(1, 2)  (input)
//     edge(2, 3)  (input)
absl::StatusOr<std::string> ExplainTree(const Database& db, const SymbolTable* symbols,
                                        RelationId relation, absl::Span<const Datum> tuple,
                                        int max_depth = 32);

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_PROVENANCE_H_
