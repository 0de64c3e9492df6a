// Observer specs: an observer class with PyTorch's name and *effective* arguments, e.g.
//   HistogramObserver(dtype=quint8, reduce_range=true)
// becomes {class: "HistogramObserver", args: {dtype: quint8, qscheme: per_tensor_affine,
// quant_min: 0, quant_max: 127, reduce_range: true, bins: 2048, upsample_rate: 128, eps: ...}}.
//
// This is the one vocabulary shared by the rule language (which parses observer expressions
// in qconfigs and validates them here), the plan writer (which prints `args`), and the
// observer kernels in backends/cpu (which are constructed from a spec). PyTorch's defaults
// are applied for omitted arguments; unknown classes or arguments, wrong types and invalid
// ranges are errors (InvalidArgument naming the class and argument, so a front end can place
// the error on the offending token).
#ifndef QPREP_COMMON_OBSERVER_SPEC_H_
#define QPREP_COMMON_OBSERVER_SPEC_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace qprep {

// torch dtypes that quantization talks about, by PyTorch's short names ("quint8", "qint8",
// "qint32", "float16", "float32", ...).
enum class Dtype : uint8_t { kQUInt8, kQInt8, kQInt32, kQUInt4x2, kFloat16, kFloat32, kInt8, kUInt8, kInt32 };
std::string_view DtypeName(Dtype d);
std::optional<Dtype> ParseDtype(std::string_view name);  // accepts "quint8" and "torch.quint8"
bool IsQuantizedDtype(Dtype d);  // quint8, qint8, qint32, quint4x2 (and int8/uint8/int32 as 2.x)

enum class QScheme : uint8_t {
  kPerTensorAffine,
  kPerTensorSymmetric,
  kPerChannelAffine,
  kPerChannelSymmetric,
  kPerChannelAffineFloatQParams,
};
std::string_view QSchemeName(QScheme q);  // "per_tensor_affine", ...
std::optional<QScheme> ParseQScheme(std::string_view name);  // also "torch.per_tensor_affine"

// A literal argument as written in a spec.
struct SpecValue {
  std::variant<std::monostate /*None*/, bool, int64_t, double, std::string /*identifier*/> v;
  bool operator==(const SpecValue&) const = default;
};

// An observer instance's class and effective arguments.
struct ObserverSpec {
  std::string class_name;
  // Effective arguments with PyTorch's names, sorted by name: dtype and qscheme as their short
  // names (strings); quant_min / quant_max after reduce_range; ints, floats, bools.
  std::map<std::string, SpecValue> args;
  // For fake-quant classes (FakeQuantize, FusedMovingAvgObsFakeQuantize, ...): the inner
  // observer (its class and args). Null otherwise.
  std::shared_ptr<const ObserverSpec> observer;

  bool operator==(const ObserverSpec& o) const;
  // Canonical text: Class(arg=value, ...) with every effective argument, sorted; equal specs
  // print equally, so this is also a hash key.
  std::string ToString() const;
  // Typed accessors for the common arguments (CHECK-fail if absent: callers use them only on
  // specs built by MakeObserverSpec).
  Dtype dtype() const;
  QScheme qscheme() const;
  int64_t quant_min() const;
  int64_t quant_max() const;
};

// Builds a spec from a class name and the arguments as written (name, value), applying PyTorch's
// defaults, validating names, types and ranges. For fake-quant classes an `observer=` argument
// names the inner class (e.g. observer=MovingAverageMinMaxObserver) and the remaining keyword
// arguments go to it, as PyTorch's `with_args` does.
absl::StatusOr<ObserverSpec> MakeObserverSpec(
    std::string_view class_name, const std::vector<std::pair<std::string, SpecValue>>& args);

// Parses the textual form `Class(name=value, ...)` (what `qprepc observe --observer` takes)
// and calls MakeObserverSpec. Values: true/false/True/False, None, integers, floats,
// identifiers (quint8, torch.per_channel_symmetric, ...).
absl::StatusOr<ObserverSpec> ParseObserverSpec(std::string_view text);

// The known observer classes (for diagnostics: "did you mean ...").
const std::vector<std::string_view>& KnownObserverClasses();

}  // namespace qprep

#endif  // QPREP_COMMON_OBSERVER_SPEC_H_
