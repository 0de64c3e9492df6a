// Input-weight equalization observers on the CPU: PyTorch 1.13's _InputEqualizationObserver and
// _WeightEqualizationObserver (torch/ao/quantization/fx/_equalize.py), the observers prepare_fx
// inserts for `_equalization_config`, and what convert computes from a pair of them.
//
// Contract:
// - MakeObserver (observer.h) builds these from their specs; each wraps a
//   PerChannelMinMaxObserver(ch_axis=1) exactly as PyTorch does (the input one with the per-tensor
//   qscheme mapped to its per-channel twin), so Observe() keeps the running min / max of every
//   column (dimension 1) of the input, or of the weight, bit for bit like PyTorch. Inputs of rank
//   > 2 (conv) reduce over every dimension but 1. Ranks outside [2, 5] are InvalidArgument
//   (PyTorch's ValueError).
// - Kind kEqualization: they have no calculate_qparams (PyTorch's nn.Module has none), so
//   CalculateQParams() is FailedPrecondition; min_val() / max_val() are get_input_minmax /
//   get_weight_col_minmax. State and Merge delegate to the wrapped observer (exact).
// - CalculateEqualizationScale is calculate_equalization_scale(input_obs, weight_obs) and
//   CalculateScaledMinMax is the input observer's calculate_scaled_minmax once that scale is set
//   (what convert writes into the activation observer before the equalized layer).
#ifndef QPREP_BACKENDS_CPU_EQUALIZATION_H_
#define QPREP_BACKENDS_CPU_EQUALIZATION_H_

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "backends/cpu/observer.h"

namespace qprep::observers {

// True for the two equalization observer class names.
bool IsEqualizationClass(const std::string& class_name);

// Builds _InputEqualizationObserver / _WeightEqualizationObserver (what MakeObserver calls).
absl::StatusOr<std::unique_ptr<Observer>> MakeEqualizationObserver(const ObserverSpec& spec,
                                                                   const ObserverOptions& options);

// An equalization scale: one float per column, or PyTorch's default torch.tensor(1) (one element
// 1, `is_default`) when either observer saw no data.
struct EqualizationScale {
  std::vector<float> scale;
  bool is_default = false;
};

// calculate_equalization_scale: sqrt((max_w - min_w) / (max_x - min_x)) per column, in float32,
// with 0, NaN and ±inf replaced by 1. InvalidArgument if an observer is not the right class, if
// the column counts differ (PyTorch's ValueError) or if some min > max or is NaN (PyTorch's
// assertion in check_min_max_valid).
absl::StatusOr<EqualizationScale> CalculateEqualizationScale(const Observer& input_obs,
                                                             const Observer& weight_obs);

// _InputEqualizationObserver.calculate_scaled_minmax after set_equalization_scale(scale):
// (min over columns of min_x * scale, max over columns of max_x * scale). nullopt where PyTorch
// returns (None, None): set_equalization_scale ignores a one-element scale equal to 1, so the
// observer still holds its initial scale. InvalidArgument if the scale does not match the
// columns.
absl::StatusOr<std::optional<std::pair<float, float>>> CalculateScaledMinMax(
    const Observer& input_obs, const EqualizationScale& scale);

}  // namespace qprep::observers

#endif  // QPREP_BACKENDS_CPU_EQUALIZATION_H_
