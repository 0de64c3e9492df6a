// The Plan: qprep's answer for one prepare run, in the form of
// /work/shared/reference/PLAN_FORMAT.md (version 1). Last engine stage: built from the evaluated
// facts, written by `qprepc prepare --plan`, read back by tests and by `qprepc calibrate`.
//
// This file holds the data, the JSON writer and reader, and the comparison every parity test
// uses: "two plans place the same observers" exactly as PLAN_FORMAT.md defines it:
//   1. equal sets of insertion points (value, sorted consumers, kind);
//   2. at each point, equal observer class and equal values for every args key both name
//      (floats to a relative 1e-6; the inner observer of a fake-quant likewise);
//   3. the same partition of points by observer instance.
// The reader also accepts tools/torch_reference.py's output (format "qprep.torch_reference"),
// which has the same observers / insertions shape and no nodes.
#ifndef QPREP_ENGINE_PLAN_H_
#define QPREP_ENGINE_PLAN_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/observer_spec.h"
#include "nlohmann/json.hpp"

namespace qprep::engine {

struct PlanObserver {
  int id = 0;
  std::string class_name;                          // "class"
  nlohmann::json args = nlohmann::json::object();  // effective args, PyTorch's names
  // A fake-quant's inner observer ("observer": {"class": ..., "args": {...}}); null otherwise.
  std::optional<std::string> inner_class;
  nlohmann::json inner_args = nlohmann::json::object();
};

struct PlanInsertion {
  std::string name;                    // activation_post_process_<k>
  int observer = 0;                    // PlanObserver::id; equal ids share one instance
  std::string value;                   // input-graph name of the observed value's producer
  std::vector<std::string> consumers;  // input-graph names reading through it ("output" too)
  // "" for an ordinary observer (activation_post_process_<k>); "equalization" for an input-weight
  // equalization observer, which sits after the ordinary observer of the same point (value ->
  // activation_post_process -> equalization observer -> consumer). Part of the point's identity
  // in comparisons, so one point can hold one observer of each kind.
  std::string kind;
};

struct PlanNode {
  std::string name;
  std::string pattern;  // matched pattern (text), empty if none
  std::string qconfig;  // "<name> (<level>)", empty if none applies
  bool quantized = false;
  std::string reason;  // why it stayed fp32 (or how it is quantized)
};

struct Plan {
  std::string format = "qprep.plan";
  int version = 1;
  std::string graph;
  std::string backend;
  std::vector<PlanObserver> observers;
  std::vector<PlanInsertion> insertions;
  std::vector<PlanNode> nodes;
};

// An observer entry from a spec: class, effective args (dtype / qscheme as strings), and the
// inner observer of fake-quant classes.
PlanObserver PlanObserverFromSpec(int id, const ObserverSpec& spec);

nlohmann::json PlanToJson(const Plan& plan);
// Pretty-printed, 2-space indent, trailing newline: the same bytes as PlanToJson(plan).dump(2) +
// "\n", written without building the tree (it was a third of a whole prepare run).
std::string PlanToString(const Plan& plan);
// Errors: InvalidArgument naming the offending field (missing, wrong type, bad observer id).
absl::StatusOr<Plan> PlanFromJson(const nlohmann::json& j);
absl::StatusOr<Plan> ParsePlan(std::string_view text);
absl::StatusOr<Plan> ReadPlanFile(const std::string& path);

// The differences between two plans under PLAN_FORMAT.md's "same observers" relation, each one
// readable line ("missing insertion point conv1 -> [layer1.0.conv1]", "at x -> [conv1]: class
// MinMaxObserver != HistogramObserver", "sharing: ..."). Empty means the plans agree.
// `expected` is normally PyTorch's (the reference), `actual` qprep's.
std::vector<std::string> ComparePlans(const Plan& expected, const Plan& actual);

}  // namespace qprep::engine

#endif  // QPREP_ENGINE_PLAN_H_
