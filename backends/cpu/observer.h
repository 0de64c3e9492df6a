// Observers with CPU kernels: the last stage of the pipeline, where the plan's observer
// instances meet real tensors and produce scale / zero point.
//
// Contract:
// - An Observer is built from an ObserverSpec (common/observer_spec.h) by MakeObserver; the spec
//   already holds PyTorch's defaults and the *effective* quant_min / quant_max.
// - Observe() takes one batch as a contiguous C-order float32 tensor and updates the statistics
//   exactly as PyTorch 1.13's `forward` does (the same float32 arithmetic, in the same order), so
//   CalculateQParams() returns the same float32 scale and zero point bit for bit. The one
//   deliberate difference: HistogramObserver bins with float bounds (PyTorch 2.x), not 1.13's
//   int()-truncated ones (see docs/observers.md).
// - State is a value: StateToJson() / LoadStateJson() round-trip it exactly (floats are stored
//   as their bit patterns, so ±inf and NaN survive), and Merge() folds in the state of another
//   observer with an equal spec. Merging shard states equals one pass over all batches exactly
//   for min/max and per-channel observers; docs/observers.md says what merge means for moving
//   averages and histograms and how far it may differ.
// - Fake-quant classes (FakeQuantize, FusedMovingAvgObsFakeQuantize, FixedQParamsFakeQuantize)
//   also implement Forward(): observe, refresh qparams, write the fake-quantized tensor.
// - Library code: never prints; user errors (bad shapes, wrong ch_axis, mismatched merge, bad
//   state) are absl::Status values.
#ifndef QPREP_BACKENDS_CPU_OBSERVER_H_
#define QPREP_BACKENDS_CPU_OBSERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/observer_spec.h"
#include "nlohmann/json_fwd.hpp"

namespace qprep::observers {

// Quantization parameters as PyTorch's calculate_qparams returns them: one entry per tensor
// (size 1) or one per channel.
struct QParams {
  std::vector<float> scale;
  // Integer zero points (every qscheme except per_channel_affine_float_qparams).
  std::vector<int64_t> zero_point;
  // Float zero points, filled instead of `zero_point` for per_channel_affine_float_qparams
  // (float_zero_point is then true).
  std::vector<float> zero_point_float;
  bool float_zero_point = false;
  Dtype dtype = Dtype::kQUInt8;
  QScheme qscheme = QScheme::kPerTensorAffine;
  int64_t quant_min = 0;
  int64_t quant_max = 255;
  int64_t ch_axis = -1;  // -1 for per-tensor
  // True when the observer saw no data and PyTorch's defaults (scale 1, zero point 0) came back.
  bool is_default = false;

  size_t size() const { return scale.size(); }
};

// Run-time options that do not change results.
struct ObserverOptions {
  // Threads used for one Observe() call on a large tensor. Results are identical for any count
  // (reductions are exact; histograms count integers).
  int num_threads = 1;
  // Tensors smaller than this many elements per thread run on one thread.
  int64_t min_elements_per_thread = int64_t{1} << 18;
};

// What kind of thing an observer is; markers collect nothing.
enum class ObserverKind : uint8_t {
  kStatistics,  // MinMax, MovingAverage*, PerChannel*, Histogram, calibrators
  kFixed,       // FixedQParamsObserver: qparams without statistics
  kMarker,      // PlaceholderObserver, NoopObserver, ReuseInputObserver: no qparams
  kFakeQuantize,
  kEqualization,  // _Input/_WeightEqualizationObserver: per-column min / max, no qparams
};

class Observer {
 public:
  virtual ~Observer() = default;
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  const ObserverSpec& spec() const { return spec_; }
  virtual ObserverKind kind() const = 0;

  // Feeds one batch: `data` holds prod(shape) floats, contiguous in C order. Empty tensors
  // (some dimension 0) are ignored, as in PyTorch. A rank-0 shape ({}) is one element.
  virtual absl::Status Observe(const float* data, const std::vector<int64_t>& shape) = 0;

  // PyTorch's calculate_qparams. Markers return FailedPrecondition (PyTorch raises).
  virtual absl::StatusOr<QParams> CalculateQParams() const = 0;

  // Running statistics: size 1 for per-tensor observers (+inf / -inf before any data), one per
  // channel for per-channel observers (empty before any data). Empty for markers.
  virtual std::vector<float> min_val() const { return {}; }
  virtual std::vector<float> max_val() const { return {}; }
  // True once some non-empty batch was observed.
  virtual bool initialized() const { return false; }

  // State (statistics only; the spec travels alongside as text). Format:
  //   {"format": "qprep-observer-state", "version": 1, "spec": "<canonical spec>",
  //    "class": "...", ...class-specific fields, floats as uint32 bit patterns}
  virtual nlohmann::json StateToJson() const = 0;
  // Replaces the statistics with a state written by StateToJson of an observer with an equal
  // spec; InvalidArgument on another spec, format, version or malformed field (a field of the
  // wrong JSON type included: states are user input).
  absl::Status LoadStateJson(const nlohmann::json& state);
  // Folds in another observer's statistics (equal spec required, else InvalidArgument).
  virtual absl::Status Merge(const Observer& other) = 0;

  // Text forms of the two above (compact JSON).
  std::string SerializeState() const;
  absl::Status LoadState(std::string_view text);

  // Fake-quant forward: observe `in` (if the observer is enabled), refresh scale / zero point,
  // then write the fake-quantized tensor to `out` (may alias `in`) if fake-quant is enabled,
  // else copy. Unimplemented for classes that are not fake-quant.
  virtual absl::Status Forward(const float* in, const std::vector<int64_t>& shape, float* out);
  // PyTorch's enable_observer / enable_fake_quant toggles (fake-quant classes only).
  virtual void EnableObserver(bool /*on*/) {}
  virtual void EnableFakeQuant(bool /*on*/) {}

  const ObserverOptions& options() const { return options_; }
  void set_num_threads(int n) { options_.num_threads = n < 1 ? 1 : n; }

 protected:
  Observer(ObserverSpec spec, ObserverOptions options)
      : spec_(std::move(spec)), options_(options) {}
  // LoadStateJson without the guard: may throw nlohmann::json::exception on a field of the wrong
  // type, which LoadStateJson turns into InvalidArgument.
  virtual absl::Status LoadStateJsonImpl(const nlohmann::json& state) = 0;
  // Common checks for Merge / LoadStateJson.
  absl::Status CheckSameSpec(const Observer& other) const;
  absl::Status CheckStateHeader(const nlohmann::json& state) const;
  nlohmann::json StateHeader() const;

 private:
  ObserverSpec spec_;
  ObserverOptions options_;
};

// Builds the observer a spec describes. Unimplemented for a class without a CPU implementation
// (InvalidArgument names it).
absl::StatusOr<std::unique_ptr<Observer>> MakeObserver(const ObserverSpec& spec,
                                                       const ObserverOptions& options = {});

// Builds an observer from a serialized state (its "spec" field) and loads the state into it.
absl::StatusOr<std::unique_ptr<Observer>> LoadObserver(const nlohmann::json& state,
                                                       const ObserverOptions& options = {});
absl::StatusOr<std::unique_ptr<Observer>> LoadObserver(std::string_view text,
                                                       const ObserverOptions& options = {});
// Text overloads that win over the json one (json converts implicitly from strings).
absl::StatusOr<std::unique_ptr<Observer>> LoadObserver(const std::string& text,
                                                       const ObserverOptions& options = {});
absl::StatusOr<std::unique_ptr<Observer>> LoadObserver(const char* text,
                                                       const ObserverOptions& options = {});

// Extension point for observer classes implemented outside observer.cc (the calibrators in
// calibrators_extra.cc): MakeObserver consults registered factories by class name first.
using ObserverFactory = std::function<absl::StatusOr<std::unique_ptr<Observer>>(
    const ObserverSpec&, const ObserverOptions&)>;
bool RegisterObserverFactory(std::string_view class_name, ObserverFactory factory);

// PyTorch's `_calculate_qparams(min_val, max_val)` for one or many channels, on float32 min /
// max vectors, given the observer's spec (dtype, qscheme, effective quant range, eps, whether
// the range is customized). Exposed for calibrators that choose their own range. No data
// (empty, or +inf / -inf per tensor) and invalid ranges (min > max, NaN) give PyTorch's defaults
// (scale 1, zero point 0, is_default); observers' CalculateQParams reports the latter as errors.
QParams CalculateQParamsFromMinMax(const ObserverSpec& spec, const std::vector<float>& min_val,
                                   const std::vector<float>& max_val);

// PyTorch's fake_quantize_per_tensor_affine / fake_quantize_per_channel_affine (float32, round
// half to even), on a contiguous C-order tensor. `qparams` per tensor (size 1) or per channel of
// `ch_axis`.
absl::Status FakeQuantizeTensor(const float* in, const std::vector<int64_t>& shape,
                                const QParams& qparams, float* out);

}  // namespace qprep::observers

#endif  // QPREP_BACKENDS_CPU_OBSERVER_H_
