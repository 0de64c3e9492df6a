// Calibrators beyond PyTorch: PercentileObserver, EntropyObserver (KL, TensorRT's algorithm) and
// MSEObserver, as docs/calibration.md describes. They are Observers (backends/cpu/observer.h)
// built from specs such as `PercentileObserver(percentile=99.99, dtype=quint8)` (the class
// names and arguments are declared in common/observer_spec.cc), and plug into MakeObserver
// through RegisterObserverFactory.
//
// All three keep the same statistic, a *canonical power-of-two histogram* (Pow2Histogram): bin
// width 2^exp, bins at integer multiples of the width, and exp the smallest for which the
// observed range fits in `bins` bins. That histogram is a function of the multiset of values
// alone, so it does not depend on batch order, and merging the histograms of two shards gives
// exactly the histogram of one pass over all their batches (unlike PyTorch's or ONNX Runtime's
// histograms, whose bin edges depend on the first batch). Non-finite values (NaN, ±inf) are
// counted apart and do not enter the histogram.
//
// Per-tensor only (the qscheme must be per_tensor_affine or per_tensor_symmetric). The chosen
// range goes through PyTorch's _calculate_qparams (CalculateQParamsFromMinMax), so scale and zero
// point follow PyTorch's rules for the dtype, qscheme, quant range and eps.
#ifndef QPREP_BACKENDS_CPU_CALIBRATE_CALIBRATORS_EXTRA_H_
#define QPREP_BACKENDS_CPU_CALIBRATE_CALIBRATORS_EXTRA_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/cpu/observer.h"
#include "nlohmann/json.hpp"

namespace qprep::observers {

// The canonical histogram. `abs` mode histograms |x| with bins anchored at 0 (bin 0 is
// [0, 2^exp)); otherwise x, with the first bin the one holding the minimum.
class Pow2Histogram {
 public:
  // Exponent floor: 2^-160 is below the smallest float32 denormal, so every finite float range
  // (including all-equal values) has a fitting exponent.
  static constexpr int kMinExp = -160;

  Pow2Histogram(int64_t num_bins, bool abs) : num_bins_(num_bins), abs_(abs) {}

  // Adds values (finite ones to the histogram, the rest to nonfinite()).
  void Add(std::span<const float> values);
  // Folds in another histogram with the same num_bins and mode; equal to having added its values.
  absl::Status Merge(const Pow2Histogram& other);

  bool empty() const { return counts_.empty(); }
  int exp() const { return exp_; }
  // Index (in units of 2^exp) of counts()[0].
  int64_t lo() const { return lo_; }
  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t total() const { return total_; }
  int64_t nonfinite() const { return nonfinite_; }
  int64_t num_bins() const { return num_bins_; }
  bool abs() const { return abs_; }
  // Range of the histogrammed quantity (|x| in abs mode): +inf / -inf before data.
  float hmin() const { return hmin_; }
  float hmax() const { return hmax_; }
  // Range of the raw values x (finite ones).
  float xmin() const { return xmin_; }
  float xmax() const { return xmax_; }
  // Lower edge of counts()[i] as a double (exact).
  double Edge(int64_t i) const;

  nlohmann::json ToJson() const;
  absl::Status FromJson(const nlohmann::json& j);

 private:
  // The smallest exponent >= `from` at which [lo, hi] fits in num_bins_ bins.
  int FitExp(double lo, double hi, int from) const;
  // Coarsens / re-anchors the counts to exponent `e` and the window of [hmin, hmax].
  void Rebin(int e, float hmin, float hmax);

  int64_t num_bins_;
  bool abs_;
  int exp_ = kMinExp;
  int64_t lo_ = 0;
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
  int64_t nonfinite_ = 0;
  float hmin_ = std::numeric_limits<float>::infinity();
  float hmax_ = -std::numeric_limits<float>::infinity();
  float xmin_ = std::numeric_limits<float>::infinity();
  float xmax_ = -std::numeric_limits<float>::infinity();
};

// The range each calibrator chooses from a histogram, before _calculate_qparams (exposed for
// tests and docs/calibration.md's examples). `spec` supplies the calibrator's options and the
// quantization range.
absl::StatusOr<std::pair<float, float>> PercentileRange(const ObserverSpec& spec,
                                                        const Pow2Histogram& h);
absl::StatusOr<std::pair<float, float>> EntropyRange(const ObserverSpec& spec,
                                                     const Pow2Histogram& h);
absl::StatusOr<std::pair<float, float>> MseRange(const ObserverSpec& spec, const Pow2Histogram& h);

// Registers PercentileObserver, EntropyObserver and MSEObserver with MakeObserver. Idempotent;
// call it before MakeObserver (the calibration driver and the commands do).
void RegisterExtraCalibrators();

// The observer a calibrator spec describes (what the registered factories call).
absl::StatusOr<std::unique_ptr<Observer>> MakeExtraCalibrator(const ObserverSpec& spec,
                                                              const ObserverOptions& options);

// The range a calibrator built by MakeExtraCalibrator would pass to _calculate_qparams now
// (FailedPrecondition before any finite data; InvalidArgument for another observer).
absl::StatusOr<std::pair<float, float>> ChosenRange(const Observer& calibrator);

}  // namespace qprep::observers

#endif  // QPREP_BACKENDS_CPU_CALIBRATE_CALIBRATORS_EXTRA_H_
