// Input-weight equalization observers; see equalization.h for the contract and
// docs/observers.md ("Equalization observers") for the PyTorch source they follow.
#include "backends/cpu/equalization.h"

#include <cmath>
#include <string>

#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace qprep::observers {
namespace {

using json = nlohmann::json;

constexpr const char* kInputClass = "_InputEqualizationObserver";
constexpr const char* kWeightClass = "_WeightEqualizationObserver";

// qsheme_mapping_per_tensor_to_per_channel in _equalize.py; per-channel qschemes pass through
// (only the weight observer accepts them).
QScheme PerChannelTwin(QScheme q) {
  if (q == QScheme::kPerTensorAffine) return QScheme::kPerChannelAffine;
  if (q == QScheme::kPerTensorSymmetric) return QScheme::kPerChannelSymmetric;
  return q;
}

// The PerChannelMinMaxObserver(ch_axis=1, dtype, qscheme, quant_min, quant_max) both classes
// build in __init__.
absl::StatusOr<ObserverSpec> InnerSpec(const ObserverSpec& spec) {
  std::vector<std::pair<std::string, SpecValue>> args = {
      {"ch_axis", SpecValue{int64_t{1}}},
      {"dtype", SpecValue{std::string(DtypeName(spec.dtype()))}},
      {"qscheme", SpecValue{std::string(QSchemeName(PerChannelTwin(spec.qscheme())))}}};
  for (const char* k : {"quant_min", "quant_max"}) {
    auto it = spec.args.find(k);
    if (it != spec.args.end()) args.emplace_back(k, it->second);
  }
  return MakeObserverSpec("PerChannelMinMaxObserver", args);
}

class EqualizationObserver final : public Observer {
 public:
  EqualizationObserver(ObserverSpec spec, ObserverOptions o, std::unique_ptr<Observer> inner)
      : Observer(std::move(spec), o), inner_(std::move(inner)) {}
  ObserverKind kind() const override { return ObserverKind::kEqualization; }

  absl::Status Observe(const float* data, const std::vector<int64_t>& shape) override {
    // Both forwards check the rank first (before PerChannelMinMaxObserver skips empty tensors).
    if (shape.size() < 2 || shape.size() > 5) {
      return absl::InvalidArgumentError(
          "InputEqualizationObserver only supports Linear and Conv layers (rank 2 to 5, got " +
          std::to_string(shape.size()) + ")");
    }
    inner_->set_num_threads(options().num_threads);
    return inner_->Observe(data, shape);
  }
  absl::StatusOr<QParams> CalculateQParams() const override {
    return absl::FailedPreconditionError(
        spec().class_name +
        " has no qparams of its own: it yields per-column min / max and, paired with the other "
        "equalization observer of its node, an equalization scale");
  }
  std::vector<float> min_val() const override { return inner_->min_val(); }
  std::vector<float> max_val() const override { return inner_->max_val(); }
  bool initialized() const override { return inner_->initialized(); }

  json StateToJson() const override {
    json j = StateHeader();
    j["columns"] = inner_->StateToJson();
    return j;
  }
  absl::Status LoadStateJsonImpl(const json& state) override {
    RETURN_IF_ERROR(CheckStateHeader(state));
    if (!state.contains("columns") || !state["columns"].is_object()) {
      return absl::InvalidArgumentError("observer state: no 'columns' object");
    }
    return inner_->LoadStateJson(state["columns"]);
  }
  absl::Status Merge(const Observer& other) override {
    RETURN_IF_ERROR(CheckSameSpec(other));
    return inner_->Merge(*static_cast<const EqualizationObserver&>(other).inner_);
  }

 private:
  std::unique_ptr<Observer> inner_;  // the wrapped PerChannelMinMaxObserver(ch_axis=1)
};

// check_min_max_valid for per-channel statistics: false before data; PyTorch asserts
// torch.all(min_val <= max_val) otherwise (NaN fails it).
absl::StatusOr<bool> ColumnsValid(const Observer& o) {
  const std::vector<float> mn = o.min_val(), mx = o.max_val();
  if (mn.empty() || mx.empty()) return false;
  for (size_t c = 0; c < mn.size(); ++c) {
    if (!(mn[c] <= mx[c])) {
      return absl::InvalidArgumentError(o.spec().class_name + ": min " + std::to_string(mn[c]) +
                                        " should be less than max " + std::to_string(mx[c]) +
                                        " (column " + std::to_string(c) + ")");
    }
  }
  return true;
}

}  // namespace

bool IsEqualizationClass(const std::string& class_name) {
  return class_name == kInputClass || class_name == kWeightClass;
}

absl::StatusOr<std::unique_ptr<Observer>> MakeEqualizationObserver(
    const ObserverSpec& spec, const ObserverOptions& options) {
  if (!IsEqualizationClass(spec.class_name)) {
    return absl::InvalidArgumentError(spec.class_name + " is not an equalization observer");
  }
  ASSIGN_OR_RETURN(ObserverSpec inner_spec, InnerSpec(spec));
  ASSIGN_OR_RETURN(std::unique_ptr<Observer> inner, MakeObserver(inner_spec, options));
  return std::unique_ptr<Observer>(
      new EqualizationObserver(spec, options, std::move(inner)));
}

absl::StatusOr<EqualizationScale> CalculateEqualizationScale(const Observer& input_obs,
                                                             const Observer& weight_obs) {
  if (input_obs.spec().class_name != kInputClass) {
    return absl::InvalidArgumentError("equalization scale: the input observer is " +
                                      input_obs.spec().class_name);
  }
  if (weight_obs.spec().class_name != kWeightClass) {
    return absl::InvalidArgumentError("equalization scale: the weight observer is " +
                                      weight_obs.spec().class_name);
  }
  // PyTorch evaluates both checks (`and` short-circuits: the weight is not checked, and cannot
  // assert, once the input has no data).
  ASSIGN_OR_RETURN(bool input_ok, ColumnsValid(input_obs));
  bool weight_ok = false;
  if (input_ok) {
    ASSIGN_OR_RETURN(weight_ok, ColumnsValid(weight_obs));
  }
  if (!input_ok || !weight_ok) return EqualizationScale{{1.0f}, true};
  const std::vector<float> min_x = input_obs.min_val(), max_x = input_obs.max_val();
  const std::vector<float> min_w = weight_obs.min_val(), max_w = weight_obs.max_val();
  if (min_x.size() != min_w.size()) {
    return absl::InvalidArgumentError(
        "Input and Weight must have the same column dimension. Found [" +
        std::to_string(min_x.size()) + "] and [" + std::to_string(min_w.size()) +
        "] shapes instead.");
  }
  EqualizationScale out;
  out.scale.resize(min_x.size());
  for (size_t c = 0; c < min_x.size(); ++c) {
    // float32 throughout, as torch.sqrt((max_w - min_w) / (max_x - min_x)) on float tensors.
    const float w_range = max_w[c] - min_w[c];
    const float x_range = max_x[c] - min_x[c];
    float s = std::sqrt(w_range / x_range);
    // equalization_scale[== 0] = 1, then nan_to_num(nan=1, posinf=1, neginf=1).
    if (s == 0.0f || !std::isfinite(s)) s = 1.0f;
    out.scale[c] = s;
  }
  return out;
}

absl::StatusOr<std::optional<std::pair<float, float>>> CalculateScaledMinMax(
    const Observer& input_obs, const EqualizationScale& scale) {
  if (input_obs.spec().class_name != kInputClass) {
    return absl::InvalidArgumentError("scaled min / max: the observer is " +
                                      input_obs.spec().class_name);
  }
  // set_equalization_scale returns early on a one-element scale equal to 1, and
  // calculate_scaled_minmax then warns and returns (None, None).
  if (scale.scale.size() == 1 && scale.scale[0] == 1.0f) return std::nullopt;
  const std::vector<float> mn = input_obs.min_val(), mx = input_obs.max_val();
  if (mn.size() != scale.scale.size()) {
    return absl::InvalidArgumentError("scaled min / max: " + std::to_string(scale.scale.size()) +
                                      " scales for " + std::to_string(mn.size()) + " columns");
  }
  // torch.min / torch.max over the products; both propagate NaN.
  float lo = 0, hi = 0;
  for (size_t c = 0; c < mn.size(); ++c) {
    const float a = mn[c] * scale.scale[c];
    const float b = mx[c] * scale.scale[c];
    if (c == 0) {
      lo = a;
      hi = b;
      continue;
    }
    lo = (std::isnan(lo) || std::isnan(a)) ? NAN : (a < lo ? a : lo);
    hi = (std::isnan(hi) || std::isnan(b)) ? NAN : (b > hi ? b : hi);
  }
  return std::optional<std::pair<float, float>>(std::pair<float, float>{lo, hi});
}

}  // namespace qprep::observers
