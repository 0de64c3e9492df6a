// PT2E derived observers in calibration; see derived.h.
#include "backends/cpu/calibrate/derived.h"

#include <mutex>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace qprep::observers {
namespace {

constexpr std::string_view kKnownFunctions = "derive_bias_qparams";

const SpecValue* Arg(const ObserverSpec& s, const std::string& name) {
  auto it = s.args.find(name);
  if (it == s.args.end() || std::holds_alternative<std::monostate>(it->second.v)) return nullptr;
  return &it->second;
}

std::string FunctionName(const ObserverSpec& s) {
  const SpecValue* v = Arg(s, "derive_qparams_fn");
  const std::string* name = v ? std::get_if<std::string>(&v->v) : nullptr;
  return name ? *name : std::string();
}

// Collects nothing: the driver derives its qparams from the source instances.
class DerivedObserver final : public Observer {
 public:
  DerivedObserver(ObserverSpec spec, ObserverOptions options)
      : Observer(std::move(spec), options) {}
  ObserverKind kind() const override { return ObserverKind::kMarker; }
  absl::Status Observe(const float*, const std::vector<int64_t>&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<QParams> CalculateQParams() const override {
    return absl::FailedPreconditionError(
        "a derived observer's qparams come from its derived_from instances");
  }
  nlohmann::json StateToJson() const override { return StateHeader(); }
  absl::Status LoadStateJsonImpl(const nlohmann::json& state) override {
    return CheckStateHeader(state);
  }
  absl::Status Merge(const Observer& other) override { return CheckSameSpec(other); }
};

}  // namespace

void RegisterDerivedObserver() {
  static std::once_flag once;
  std::call_once(once, [] {
    RegisterObserverFactory(
        kDerivedObserverClass,
        [](const ObserverSpec& spec,
           const ObserverOptions& options) -> absl::StatusOr<std::unique_ptr<Observer>> {
          RETURN_IF_ERROR(CheckDeriveFunction(spec));
          return std::unique_ptr<Observer>(new DerivedObserver(spec, options));
        });
  });
}

absl::Status CheckDeriveFunction(const ObserverSpec& derived) {
  const std::string fn = FunctionName(derived);
  if (fn == "derive_bias_qparams") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("derive_qparams_fn '", fn, "' is not one qprep computes (known: ",
                   std::string(kKnownFunctions), ")"));
}

absl::StatusOr<QParams> DeriveQParams(const ObserverSpec& derived,
                                      const std::vector<QParams>& sources) {
  RETURN_IF_ERROR(CheckDeriveFunction(derived));
  if (sources.empty()) return absl::InvalidArgumentError("a derived observer needs sources");
  // derive_bias_qparams: the elementwise product of the scales, broadcasting length-1 lists.
  std::vector<float> scale = {1.0f};
  int64_t ch_axis = -1;
  for (const QParams& s : sources) {
    if (s.scale.empty()) return absl::InvalidArgumentError("a source has no scale");
    if (s.ch_axis >= 0) ch_axis = s.ch_axis;
    if (scale.size() == 1 && s.scale.size() > 1) scale.assign(s.scale.size(), scale[0]);
    if (s.scale.size() != 1 && s.scale.size() != scale.size()) {
      return absl::InvalidArgumentError(absl::StrCat("sources have ", scale.size(), " and ",
                                                     s.scale.size(), " channels"));
    }
    for (size_t i = 0; i < scale.size(); ++i) {
      scale[i] *= s.scale.size() == 1 ? s.scale[0] : s.scale[i];  // float32, as torch
    }
  }
  QParams out;
  out.scale = std::move(scale);
  out.zero_point.assign(out.scale.size(), 0);
  const SpecValue* dtype = Arg(derived, "dtype");
  const std::string* dtype_name = dtype ? std::get_if<std::string>(&dtype->v) : nullptr;
  if (dtype_name != nullptr) {
    if (auto d = ParseDtype(*dtype_name)) out.dtype = *d;
  }
  const SpecValue* qscheme = Arg(derived, "qscheme");
  const std::string* qscheme_name = qscheme ? std::get_if<std::string>(&qscheme->v) : nullptr;
  const bool per_channel = out.scale.size() > 1;
  out.qscheme = per_channel ? QScheme::kPerChannelSymmetric : QScheme::kPerTensorSymmetric;
  if (qscheme_name != nullptr) {
    if (auto q = ParseQScheme(*qscheme_name)) out.qscheme = *q;
  }
  const SpecValue* axis = Arg(derived, "ch_axis");
  if (axis != nullptr && std::holds_alternative<int64_t>(axis->v)) {
    ch_axis = std::get<int64_t>(axis->v);
  }
  out.ch_axis = per_channel ? (ch_axis >= 0 ? ch_axis : 0) : -1;
  // The range: the spec's, else the dtype's (torch.iinfo).
  switch (out.dtype) {
    case Dtype::kQInt8:
    case Dtype::kInt8:
      out.quant_min = -128, out.quant_max = 127;
      break;
    case Dtype::kQUInt8:
    case Dtype::kUInt8:
      out.quant_min = 0, out.quant_max = 255;
      break;
    default:
      out.quant_min = -(int64_t{1} << 31), out.quant_max = (int64_t{1} << 31) - 1;
      break;
  }
  if (const SpecValue* v = Arg(derived, "quant_min"); v && std::holds_alternative<int64_t>(v->v)) {
    out.quant_min = std::get<int64_t>(v->v);
  }
  if (const SpecValue* v = Arg(derived, "quant_max"); v && std::holds_alternative<int64_t>(v->v)) {
    out.quant_max = std::get<int64_t>(v->v);
  }
  out.is_default = false;
  for (const QParams& s : sources) out.is_default = out.is_default || s.is_default;
  return out;
}

}  // namespace qprep::observers
