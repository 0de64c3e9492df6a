// HistogramObserver's statistics (PyTorch 1.13 observer.py, with 2.x's float histc bounds), kept
// apart from the Observer class so the calibrators in calibrators_extra.* can reuse the running
// histogram, its merge and the L2 search.
//
// Contract: every function reproduces the float32 / float64 arithmetic of the Python method it
// names, in the same order, so the results equal PyTorch's bit for bit (one known approximation:
// torch.sum over float32 uses a vectorized cascade; we sum in double and round, which agrees
// except when two candidate errors differ in the last bit, see docs/observers.md).
#ifndef QPREP_BACKENDS_CPU_HISTOGRAM_H_
#define QPREP_BACKENDS_CPU_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "backends/cpu/observer.h"

namespace qprep::observers {

struct HistogramState {
  int64_t bins = 2048;
  int64_t upsample_rate = 128;
  float min_val = std::numeric_limits<float>::infinity();
  float max_val = -std::numeric_limits<float>::infinity();
  std::vector<float> histogram;  // `bins` float32 counts (fractional after combining)
};

// The most total count (sum of |counts|, in double) a HistogramState may hold: far above any
// element count, and low enough that no rebinning or merge of such states overflows float32.
// Loading a state checks it; forward and merge refuse (state unchanged) to pass it, so every
// state they write loads again.
constexpr double kMaxHistogramMass = 0x1p100;
double HistogramMass(const std::vector<float>& counts);

// torch.histc(x, bins, min=lo, max=hi) as float32 counts, threaded (exact for any thread count).
// lo == hi widens to [lo - 1, hi + 1] as histc does. Non-finite bounds are InvalidArgument.
absl::Status Histc(const float* data, size_t n, float lo, float hi, int64_t bins,
                   const ObserverOptions& options, std::vector<float>* out);

// HistogramObserver.forward for one non-empty batch whose min / max (torch.aminmax) are given.
// Non-finite data is InvalidArgument (PyTorch raises too) and leaves the state unchanged.
absl::Status HistogramObserve(HistogramState* h, const float* data, size_t n, float batch_min,
                              float batch_max, const ObserverOptions& options);

// How HistogramObserveBatch handled one batch (for tests and benchmarks).
struct HistogramPassStats {
  int passes = 0;                 // passes over the batch's data
  bool speculation_held = false;  // the single speculative pass was the whole forward
};

// HistogramObserver.forward for one non-empty batch, min / max included. With a running range,
// one pass bins the batch over the range the state would use if the batch stays inside it,
// while it computes the batch's min / max (kernels::HistogramCountsMinMax); it stops binning
// (min / max only, from the next chunk of 2^16 growing to 2^20 elements on) once the batch
// leaves the range. The
// histogram is used only when the plan of the true min / max is bit-identical to the guessed
// one; otherwise the batch is binned again over the new range, so the result always equals
// torch.aminmax followed by HistogramObserve. The first batch (or a one-value state) takes
// min / max, then histc.
absl::Status HistogramObserveBatch(HistogramState* h, const float* data, size_t n,
                                   const ObserverOptions& options,
                                   HistogramPassStats* stats = nullptr);

// Folds `other` into `h` (same bins): the merged range is PyTorch's _adjust_min_max of h against
// the union of both ranges, and each histogram is re-binned onto it by exact interval overlap
// (mass spread uniformly within a source bin). Mass is conserved; docs/observers.md states the
// bound on the moved mass. An uninitialized side is the identity.
absl::Status HistogramMerge(HistogramState* h, const HistogramState& other);

// _non_linear_param_search: the (new_min, new_max) that calculate_qparams feeds to
// _calculate_qparams. `dst_nbins` = 2 ** bits(dtype).
std::pair<float, float> NonLinearParamSearch(const HistogramState& h, int64_t dst_nbins);

// _compute_quantization_error(next_start_bin, next_end_bin), as a float32 value widened to double.
double ComputeQuantizationError(const HistogramState& h, int64_t dst_nbins, int64_t start_bin,
                                int64_t end_bin);

}  // namespace qprep::observers

#endif  // QPREP_BACKENDS_CPU_HISTOGRAM_H_
