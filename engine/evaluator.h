// The fixpoint evaluator: runs a lowered Program (engine/program.h) over a Database
// (engine/database.h) holding its input facts, stratum by stratum (engine/stratify.h), until
// every derived relation is closed under the rules.
//
// Contract:
// - Input relations' facts (and any facts already in derived relations) are kept; derived facts
//   are added. Running twice is idempotent.
// - Semi-naive evaluation inside recursive strata (Soufflé's UnitTranslator scheme): every
//   relation has full / delta / new. Iteration 0 evaluates every rule over full; afterwards each
//   rule runs once per body atom on a relation of the stratum, that atom reading only delta
//   (the tuples that were new in the previous iteration). A derived tuple enters new only if it
//   is in neither full nor new. At the end of an iteration new is merged into full, becomes the
//   next delta, and is cleared; the stratum ends when every new is empty. Delta is a TupleId
//   range of the append-only full relation, so "swap" costs nothing. A non-recursive stratum
//   runs once and inserts straight into full (none of its rules reads its own heads).
// - Joins: each rule version is compiled once into a join plan. The delta atom goes first;
//   then atoms are chosen greedily by most bound columns (ties: smaller relation at compile
//   time, then body order), and each atom probes the index
//   on exactly its bound columns (created at compile time), so a join step along an edge or by
//   node id is O(1) per tuple. Negations and comparisons run as soon as their variables are
//   bound; `X = term` with X unbound binds X.
// - Equivalence relations: a head eq(a, b) unions a and b (buffered in new until the merge, like
//   any tuple). A body eq(x, Y) with x bound enumerates x's class; both bound is a Find;
//   neither bound enumerates all pairs. The delta of an equivalence relation is the set of
//   pairs that became equivalent in the last merge (A x B and B x A for each merge of classes A
//   and B, plus (v, v) for new values), so semi-naive stays exact.
// - Mode kNaive re-evaluates every rule over full until nothing changes; it exists so tests
//   can check that semi-naive reaches the same fixpoint.
// - Limits: iterations per stratum, total facts, wall time. Hitting one stops evaluation with
//   ResourceExhausted / DeadlineExceeded whose message names the stratum and the rule that
//   derived the most facts in the last iteration ("kept firing"). The report (with the stop
//   reason) is still available from Evaluator::report().
#ifndef QPREP_ENGINE_EVALUATOR_H_
#define QPREP_ENGINE_EVALUATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/database.h"
#include "engine/program.h"
#include "engine/stratify.h"

namespace qprep::engine {

struct EvalOptions {
  enum class Mode : uint8_t { kSemiNaive, kNaive };
  Mode mode = Mode::kSemiNaive;
  uint64_t max_iterations = 100'000'000;  // per stratum (a chain of n nodes needs n)
  uint64_t max_facts = 200'000'000;       // total stored facts, all relations
  double max_seconds = 0;                 // wall time for the whole run; 0 = no limit
};

enum class StopReason : uint8_t { kSaturated, kIterationLimit, kFactLimit, kTimeLimit };
std::string_view StopReasonName(StopReason r);

struct RunReport {
  struct StratumReport {
    std::vector<RelationId> relations;
    std::vector<int> rules;
    bool recursive = false;
    uint64_t iterations = 0;
    uint64_t facts_derived = 0;
    double seconds = 0;
  };
  struct RuleReport {
    uint64_t matches = 0;  // body matches that reached the head (before deduplication)
    uint64_t derived = 0;  // genuinely new facts
    double seconds = 0;
  };
  StopReason stop = StopReason::kSaturated;
  std::string stop_detail;  // for a limit: which stratum, which rule kept firing
  std::vector<StratumReport> strata;
  std::vector<RuleReport> rules;  // indexed like Program::rules
  std::vector<uint64_t> facts;    // indexed by RelationId: Database::Size after the run
  uint64_t total_iterations = 0;
  double seconds = 0;

  // Human-readable rendering for `qprepc --stats`.
  std::string ToText(const Program& program) const;
};

class Evaluator {
 public:
  // Program and database must outlive the evaluator. The database must have been built for
  // `program`.
  Evaluator(const Program& program, Database* db, EvalOptions options = {});
  ~Evaluator();

  // Runs to a fixpoint. On a limit, returns the error and report() says how far it got.
  absl::StatusOr<RunReport> Run();
  const RunReport& report() const { return report_; }

 private:
  struct Impl;
  const Program& program_;
  Database* db_;
  EvalOptions options_;
  RunReport report_;
};

// Convenience: Evaluator(program, db, options).Run().
absl::StatusOr<RunReport> Evaluate(const Program& program, Database* db,
                                   const EvalOptions& options = {});

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_EVALUATOR_H_
