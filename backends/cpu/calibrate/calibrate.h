// Calibration over a plan: the step after `qprepc prepare --plan`. Reads the plan's observer
// instances and insertion points (PLAN_FORMAT.md), feeds each instance the .npy batches recorded
// for its insertion points (a shared instance sees the batches of all its points), and reports
// scale / zero point per observer and per insertion. Observer state can be saved to a directory
// and merged from other runs, so calibration can be sharded across processes or machines.
//
// Data layout (docs/calibration.md): for an insertion named N observing value V, the batches are
// the `*.npy` files of DIR/N/ (sorted by file name), else the single file DIR/N.npy, else DIR/V/,
// else DIR/V.npy. Batch k of every insertion belongs to forward pass k: the driver feeds pass by
// pass, insertions in plan order within a pass, so a shared instance sees its batches in the order
// PyTorch's forward would call it.
//
// Library code: returns Status, never prints; progress goes to a callback.
#ifndef QPREP_BACKENDS_CPU_CALIBRATE_CALIBRATE_H_
#define QPREP_BACKENDS_CPU_CALIBRATE_CALIBRATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/cpu/observer.h"
#include "common/observer_spec.h"
#include "nlohmann/json.hpp"

namespace qprep::observers {

// What calibration needs from a plan.
struct PlanObserver {
  int64_t id = 0;
  ObserverSpec spec;
  // A PT2E derived instance (_DerivedObserverOrFakeQuantize, derived.h): the ids of the
  // instances its qparams are derived from ("derived_from" in the plan's args), else empty.
  std::vector<int64_t> derived_from;
};
struct PlanInsertion {
  std::string name;
  int64_t observer = 0;
  std::string value;
  std::vector<std::string> consumers;
  // The plan's insertion "kind": "equalization" for input-weight equalization observers, else
  // empty (ordinary activation / weight observers).
  std::string kind;
};
struct CalibrationPlan {
  std::string graph;
  std::string backend;
  std::vector<PlanObserver> observers;  // observers[i].id == i
  std::vector<PlanInsertion> insertions;
};

// Parses plan JSON (format "qprep.plan", version 1). Observer specs are rebuilt from `class` and
// the effective `args` (or from a canonical `spec` string when the entry has one).
absl::StatusOr<CalibrationPlan> ParsePlan(std::string_view json_text);

// Rebuilds a spec from a plan observer entry {"class": ..., "args": {...}[, "observer": {...}]}.
absl::StatusOr<ObserverSpec> SpecFromPlanEntry(const nlohmann::json& entry);

// A non-finite float as JSON: the number itself, or "inf" / "-inf" / "nan" (JSON has no such
// numbers).
nlohmann::json FloatToJson(float f);

// {"scale": [...], "zero_point": [...], "min_val": [...], "max_val": [...]}: what
// `qprepc observe` prints (PLAN_FORMAT.md).
nlohmann::json QParamsToJson(const Observer& observer, const QParams& qparams);

struct CalibrateOptions {
  int num_threads = 1;
  // Missing data for an observing insertion is an error unless this is set (the instance then
  // keeps PyTorch's defaults, scale 1 and zero point 0, if no other point feeds it).
  bool allow_missing = false;
};

// Reported after each pass (batch index) over the insertions.
struct CalibrateProgress {
  int64_t pass = 0;  // 1-based
  int64_t num_passes = 0;
  int64_t files_done = 0;  // over all passes so far
  int64_t bytes_done = 0;  // float data bytes fed so far
};

class Calibration {
 public:
  // Builds one observer per plan instance (registering the extra calibrators first).
  static absl::StatusOr<std::unique_ptr<Calibration>> Create(CalibrationPlan plan,
                                                             CalibrateOptions options);

  // The .npy files each insertion reads from `dir` (empty for insertions whose observer collects
  // nothing: markers and fixed-qparams). NotFound for a missing observing insertion unless
  // allow_missing.
  absl::StatusOr<std::vector<std::vector<std::string>>> FindBatches(const std::string& dir) const;

  // Feeds the batches of `dir`, pass by pass. With num_threads > 1 the observer instances of a
  // pass run on the worker pool, each in its own plan order; results do not depend on the count.
  absl::Status ObserveDir(const std::string& dir,
                          const std::function<void(const CalibrateProgress&)>& progress = {});

  // Writes DIR/manifest.json and DIR/observer_<id>.json (each Observer::SerializeState), each
  // atomically; creates DIR if needed.
  absl::Status SaveState(const std::string& dir) const;
  // Merges the states of a directory written by SaveState for the same plan (the manifest must
  // list the same specs).
  absl::Status MergeState(const std::string& dir);

  // The result: {"format": "qprep.qparams", "version": 1, "observers": [...],
  // "insertions": [...]} (docs/calibration.md), plus "equalization": [...] (one entry per node
  // with an input equalization observer: its weight partner and the equalization scale) when
  // the plan has equalization insertions.
  absl::StatusOr<nlohmann::json> Result() const;

  const CalibrationPlan& plan() const { return plan_; }
  const Observer& observer(int64_t id) const { return *observers_[id]; }

 private:
  absl::Status MergeStateImpl(const std::string& dir);  // MergeState without the JSON guard
  Calibration(CalibrationPlan plan, CalibrateOptions options)
      : plan_(std::move(plan)), options_(options) {}
  // Result()'s "equalization" array (empty without equalization insertions).
  absl::StatusOr<nlohmann::json> EqualizationResult() const;

  CalibrationPlan plan_;
  CalibrateOptions options_;
  std::vector<std::unique_ptr<Observer>> observers_;
  std::vector<int64_t> batches_;   // per observer: batches fed (including merged states' counts)
  std::vector<int64_t> elements_;  // per observer: elements fed
  std::vector<int64_t> insertion_files_;  // per insertion: files fed
};

}  // namespace qprep::observers

#endif  // QPREP_BACKENDS_CPU_CALIBRATE_CALIBRATE_H_
