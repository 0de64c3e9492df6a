// HistogramObserver statistics (histogram.h). Each function follows the Python method of the same
// name in torch/ao/quantization/observer.py (1.13); the comments give the tensor dtype each step
// runs in, since that is what makes the results bit-exact: a Python float meeting a float32
// tensor is cast to float32 first; cumsum accumulates in double; .item() widens to double.
#include "backends/cpu/histogram.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <tuple>

#include "backends/cpu/kernels.h"
#include "backends/cpu/parallel.h"

namespace qprep::observers {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

bool Finite(float f) { return std::isfinite(f); }

// torch.div(a, b, rounding_mode='floor') for float32 with b > 0: the exact floor of the real
// quotient (c10's fmod-based formula yields exactly that); a double division cannot round across
// an integer for float32 operands of the magnitudes involved here.
inline float FloorDiv(float a, float b) {
  return static_cast<float>(std::floor(static_cast<double>(a) / static_cast<double>(b)));
}

// _get_norm for float32 operands: density * ((e*e*e - b*b*b) / 3).
inline float GetNorm(float b, float e, float density) {
  const float n = (e * e * e - b * b * b) / 3.0f;
  return density * n;
}

}  // namespace

namespace {

// Histc's bounds: lo == hi widens to [lo - 1, hi + 1]; non-finite or inverted bounds are errors.
absl::Status HistcRange(float* lo, float* hi) {
  if (!Finite(*lo) || !Finite(*hi)) {
    return absl::InvalidArgumentError("histc: range of [" + std::to_string(*lo) + ", " +
                                      std::to_string(*hi) + "] is not finite (NaN or inf input)");
  }
  if (*lo == *hi) {
    *lo -= 1;
    *hi += 1;
  }
  if (!(*lo < *hi)) return absl::InvalidArgumentError("histc: max must be larger than min");
  return absl::OkStatus();
}

// Per-thread integer counts summed into float32 counts (exact for any thread count).
void SumCounts(const std::vector<std::vector<uint32_t>>& counts, uint32_t bins,
               std::vector<float>* out) {
  out->assign(bins, 0.0f);
  for (uint32_t k = 0; k < bins; ++k) {
    uint64_t c = 0;
    for (const auto& per_thread : counts) c += per_thread[k];
    (*out)[k] = static_cast<float>(c);
  }
}

// What HistogramObserver.forward does with a batch of the given min / max: restart the histogram
// on the batch range (first batch, or a state that only saw one value), or histc the batch over
// the combined range (_adjust_min_max) and combine. Depends on the batch only through its min /
// max, which is what lets the speculative pass bin before it knows them.
struct BatchPlan {
  bool restart = false;
  float lo = 0, hi = 0;  // histc range (Histc widens lo == hi itself)
  int64_t downsample_rate = 0, start_idx = 0;
};

absl::StatusOr<BatchPlan> PlanBatch(const HistogramState& h, float batch_min, float batch_max) {
  if (!Finite(batch_min) || !Finite(batch_max)) {
    return absl::InvalidArgumentError(
        "HistogramObserver: the batch contains NaN or inf (PyTorch raises on it too)");
  }
  BatchPlan plan;
  const bool same_values = h.min_val == h.max_val;
  const bool uninitialized = h.min_val == kInf && h.max_val == -kInf;
  if (uninitialized || same_values) {
    plan.restart = true;
    plan.lo = batch_min;
    plan.hi = batch_max;
    return plan;
  }
  const float min_val = h.min_val, max_val = h.max_val;
  const float combined_min = std::min(batch_min, min_val);
  float combined_max = std::max(batch_max, max_val);
  // _adjust_min_max, float32 throughout.
  const float hist_bin_width = (max_val - min_val) / static_cast<float>(h.bins * h.upsample_rate);
  const float grid = static_cast<float>(h.bins) * hist_bin_width;
  const float ratio = std::ceil((combined_max - combined_min) / grid);
  if (!(hist_bin_width > 0) || !std::isfinite(ratio) || ratio > 1e9f) {
    return absl::InvalidArgumentError(
        "HistogramObserver: the new range is too wide relative to the histogram's resolution");
  }
  plan.downsample_rate = static_cast<int64_t>(ratio);
  const float e = static_cast<float>(plan.downsample_rate) * grid - (combined_max - combined_min);
  combined_max = combined_max + e;
  plan.start_idx = static_cast<int64_t>(std::nearbyint((min_val - combined_min) / hist_bin_width));
  plan.lo = combined_min;
  plan.hi = combined_max;
  return plan;
}

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// Bit-identical plans give bit-identical results (the plan is all forward reads of the batch).
bool SamePlan(const BatchPlan& a, const BatchPlan& b) {
  return a.restart == b.restart && SameBits(a.lo, b.lo) && SameBits(a.hi, b.hi) &&
         a.downsample_rate == b.downsample_rate && a.start_idx == b.start_idx;
}

absl::Status MassError() {
  return absl::InvalidArgumentError(
      "HistogramObserver: the histogram's total count would pass 2^100 (a corrupt or "
      "hand-made state)");
}

// The rest of forward, given the batch's histc over [plan.lo, plan.hi].
absl::Status ApplyBatch(HistogramState* h, const BatchPlan& plan, std::vector<float> combined) {
  if (plan.restart) {
    h->min_val = plan.lo;
    h->max_val = plan.hi;
    h->histogram = std::move(combined);
    return absl::OkStatus();
  }
  const float min_val = h->min_val, max_val = h->max_val;
  if (plan.lo == min_val && plan.hi == max_val) {
    for (int64_t k = 0; k < h->bins; ++k) combined[k] += h->histogram[k];
  } else {
    // _combine_histograms(combined, self.histogram, upsample_rate, downsample_rate, start_idx):
    // the old histogram repeated `upsample_rate` times at start_idx within Nbins*downsample_rate
    // zeros, cumulative sums in double sampled every downsample_rate, differenced (the previous
    // sample stored through a float32 tensor), divided by upsample_rate, cast to float32, added.
    const int64_t nb = h->bins, up = h->upsample_rate, down = plan.downsample_rate;
    const int64_t start_idx = plan.start_idx;
    if (start_idx < 0 || start_idx + nb * up > nb * down) {
      return absl::InternalError("HistogramObserver: upsampled histogram does not fit");
    }
    const int64_t region_end = start_idx + nb * up;
    double acc = 0.0;
    int64_t i = start_idx;  // next upsampled index to accumulate
    // Upsampled index i holds source bin (i - start_idx) / up: walk the source bins in runs
    // instead of dividing per index (the additions, and their order, are unchanged; adding a
    // zero leaves the double sum exactly as it is, so zero runs are skipped).
    int64_t src = 0, left = up;  // current source bin, copies of it not yet accumulated
    float prev_as_float = 0.0f;
    for (int64_t k = 0; k < nb; ++k) {
      const int64_t sample = k * down + down - 1;
      const int64_t stop = std::min(sample + 1, region_end);
      while (i < stop) {
        const int64_t take = std::min(left, stop - i);
        const double v = static_cast<double>(h->histogram[src]);
        if (v != 0.0) {
          for (int64_t j = 0; j < take; ++j) acc += v;
        }
        i += take;
        left -= take;
        if (left == 0) {
          ++src;
          left = up;
        }
      }
      const double integral = acc;
      const double interpolated = (integral - static_cast<double>(prev_as_float)) / up;
      combined[k] = combined[k] + static_cast<float>(interpolated);
      prev_as_float = static_cast<float>(integral);
    }
  }
  if (HistogramMass(combined) > kMaxHistogramMass) return MassError();
  h->histogram = std::move(combined);
  h->min_val = plan.lo;
  h->max_val = plan.hi;
  return absl::OkStatus();
}

}  // namespace

double HistogramMass(const std::vector<float>& counts) {
  double mass = 0.0;
  for (float c : counts) mass += std::fabs(static_cast<double>(c));
  return mass;
}

absl::Status Histc(const float* data, size_t n, float lo, float hi, int64_t bins,
                   const ObserverOptions& options, std::vector<float>* out) {
  if (auto s = HistcRange(&lo, &hi); !s.ok()) return s;
  const uint32_t b = static_cast<uint32_t>(bins);
  const int threads = ThreadsFor(options, n);
  std::vector<std::vector<uint32_t>> counts(threads, std::vector<uint32_t>(b, 0));
  ParallelChunks(threads, n, [&](size_t s, size_t e, int t) {
    kernels::HistogramCounts(data + s, e - s, lo, hi, b, counts[t].data());
  });
  SumCounts(counts, b, out);
  return absl::OkStatus();
}

namespace {

// Elements per call of the fused kernel in the speculative pass: the first call takes 2^16, each
// next one twice as many up to 2^20, so a batch that widens the range (typically visible in its
// first values) stops binning early, while the kernel's per-call setup (sub-histograms, flush)
// stays near 1% of the later, larger calls.
constexpr size_t kFirstSpeculationChunk = size_t{1} << 16;
constexpr size_t kMaxSpeculationChunk = size_t{1} << 20;

// The speculative pass: histc of the batch over [lo, hi], chunk by chunk on each thread, plus
// either its min / max (torch.aminmax, NaN sticks) or, with `counts_decide`, only the number of
// values not counted. Once any chunk shows the batch leaving [keep_lo, keep_hi] (a value not
// counted, or outside by its min / max, or a NaN), the histogram will not be used: the remaining
// chunks only compute min / max (with `counts_decide`, the whole batch is then reduced once), so
// the min / max returned are exact whenever the pass returns false. Returns whether the histogram
// in *out is complete (with `counts_decide`, *batch_min / *batch_max are then not computed).
bool SpeculativePass(const float* data, size_t n, float lo, float hi, uint32_t bins, float keep_lo,
                     float keep_hi, bool counts_decide, const ObserverOptions& options,
                     std::vector<float>* out, float* batch_min, float* batch_max) {
  const int threads = ThreadsFor(options, n);
  std::vector<std::vector<uint32_t>> counts(threads, std::vector<uint32_t>(bins, 0));
  std::vector<float> mins(threads, kInf), maxs(threads, -kInf);
  std::atomic<bool> left_range{false};
  ParallelChunks(threads, n, [&](size_t s, size_t e, int t) {
    uint64_t outside = 0;
    size_t chunk = kFirstSpeculationChunk;
    size_t b = s;
    for (size_t len = 0; b < e; b += len, chunk = std::min(2 * chunk, kMaxSpeculationChunk)) {
      len = std::min(chunk, e - b);
      if (left_range.load(std::memory_order_relaxed)) break;
      if (counts_decide) {
        kernels::HistogramCountsOutside(data + b, len, lo, hi, bins, counts[t].data(), &outside);
        if (outside != 0) left_range.store(true, std::memory_order_relaxed);
      } else {
        kernels::HistogramCountsMinMax(data + b, len, lo, hi, bins, counts[t].data(), &mins[t],
                                       &maxs[t], &outside);
        if (!(mins[t] >= keep_lo && maxs[t] <= keep_hi)) {
          left_range.store(true, std::memory_order_relaxed);
        }
      }
    }
    // Stopped binning (here or on another thread): min / max of the rest. (With counts_decide
    // nothing has min / max yet: the whole batch is reduced below.)
    if (left_range.load() && !counts_decide) kernels::MinMax(data + b, e - b, &mins[t], &maxs[t]);
  });
  const bool stopped = left_range.load();
  if (stopped && counts_decide) {
    std::tie(*batch_min, *batch_max) = TensorMinMax(data, n, options);
    return false;
  }
  *batch_min = mins[0];
  *batch_max = maxs[0];
  for (int t = 1; t < threads; ++t) {
    *batch_min = NanMin(*batch_min, mins[t]);
    *batch_max = NanMax(*batch_max, maxs[t]);
  }
  if (stopped) return false;
  SumCounts(counts, bins, out);
  return true;
}

}  // namespace

absl::Status HistogramObserve(HistogramState* h, const float* data, size_t n, float batch_min,
                              float batch_max, const ObserverOptions& options) {
  absl::StatusOr<BatchPlan> plan = PlanBatch(*h, batch_min, batch_max);
  if (!plan.ok()) return plan.status();
  std::vector<float> hist;
  if (auto s = Histc(data, n, plan->lo, plan->hi, h->bins, options, &hist); !s.ok()) return s;
  return ApplyBatch(h, *plan, std::move(hist));
}

absl::Status HistogramObserveBatch(HistogramState* h, const float* data, size_t n,
                                   const ObserverOptions& options, HistogramPassStats* stats) {
  HistogramPassStats local;
  HistogramPassStats& st = stats ? *stats : local;
  st = HistogramPassStats{};
  const bool uninitialized = h->min_val == kInf && h->max_val == -kInf;
  float batch_min = kInf, batch_max = -kInf;
  if (!uninitialized && h->min_val != h->max_val) {
    // Speculate that the batch stays inside [min_val, max_val]: then the combined range, and so
    // the whole plan, is the state's own, and one pass bins the batch while finding its min /
    // max. The speculation holds iff the plan of the true min / max is bit-identical.
    absl::StatusOr<BatchPlan> guess = PlanBatch(*h, h->min_val, h->max_val);
    if (guess.ok() && !guess->restart) {
      std::vector<float> hist;
      float lo = guess->lo, hi = guess->hi;
      if (auto s = HistcRange(&lo, &hi); !s.ok()) return s;
      // When histc's range is exactly [min_val, max_val] and neither bound is a zero, "every
      // value was counted" already proves the plan: all values are finite and inside, so
      // torch.min(batch_min, min_val) is min_val (equal values have equal bits when nonzero),
      // likewise the max. Then the pass needs no min / max at all. (A zero bound could meet a
      // zero of the other sign, which torch.min would return; e != 0 moves histc's top off
      // max_val.)
      const bool counts_decide = SameBits(lo, h->min_val) && SameBits(hi, h->max_val) &&
                                 h->min_val != 0.0f && h->max_val != 0.0f;
      const bool complete =
          SpeculativePass(data, n, lo, hi, static_cast<uint32_t>(h->bins), h->min_val, h->max_val,
                          counts_decide, options, &hist, &batch_min, &batch_max);
      ++st.passes;
      if (complete && counts_decide) {
        st.speculation_held = true;
        return ApplyBatch(h, *guess, std::move(hist));
      }
      absl::StatusOr<BatchPlan> plan = PlanBatch(*h, batch_min, batch_max);
      if (!plan.ok()) return plan.status();
      if (complete && SamePlan(*plan, *guess)) {
        st.speculation_held = true;
        return ApplyBatch(h, *plan, std::move(hist));
      }
      // The batch widened the range: bin it again over the new one (min / max are known now).
      std::vector<float> again;
      if (auto s = Histc(data, n, plan->lo, plan->hi, h->bins, options, &again); !s.ok()) return s;
      ++st.passes;
      return ApplyBatch(h, *plan, std::move(again));
    }
  }
  // No running range to speculate with: min / max first (torch.aminmax), then histc.
  std::tie(batch_min, batch_max) = TensorMinMax(data, n, options);
  st.passes = 2;
  return HistogramObserve(h, data, n, batch_min, batch_max, options);
}

double ComputeQuantizationError(const HistogramState& h, int64_t dst_nbins, int64_t start_bin,
                                int64_t end_bin) {
  // bin_width from .item() values: Python double arithmetic.
  const double bin_width =
      (static_cast<double>(h.max_val) - static_cast<double>(h.min_val)) / h.bins;
  const double dst_bin_width = bin_width * (end_bin - start_bin + 1) / dst_nbins;
  if (dst_bin_width == 0.0) return 0.0;
  // Python floats meeting float32 tensors.
  const float bw = static_cast<float>(bin_width);
  const float dbw = static_cast<float>(dst_bin_width);
  const float half = static_cast<float>(dst_bin_width / 2);
  const float neg_half = static_cast<float>(-dst_bin_width / 2);
  const float max_dst = static_cast<float>(dst_nbins - 1);
  // _get_norm(tensor(-w/2), tensor(w/2), density) without the density factor.
  const float inner_norm = (half * half * half - neg_half * neg_half * neg_half) / 3.0f;
  double sum = 0.0;
  for (int64_t i = 0; i < h.bins; ++i) {
    const float count = h.histogram[i];
    if (count == 0.0f) continue;  // contributes exactly +0
    const float src_begin = static_cast<float>(i - start_bin) * bw;
    const float src_end = src_begin + bw;
    const float dst_begin = std::clamp(FloorDiv(src_begin, dbw), 0.0f, max_dst);
    const float dst_begin_center = (dst_begin + 0.5f) * dbw;
    const float dst_end = std::clamp(FloorDiv(src_end, dbw), 0.0f, max_dst);
    const float density = count / bw;
    float norm = 0.0f;
    norm = norm + GetNorm(src_begin - dst_begin_center, half, density);
    norm = norm + (dst_end - dst_begin - 1.0f) * (density * inner_norm);
    const float dst_end_center = dst_end * dbw + half;
    norm = norm + GetNorm(neg_half, src_end - dst_end_center, density);
    sum += norm;
  }
  return static_cast<double>(static_cast<float>(sum));
}

std::pair<float, float> NonLinearParamSearch(const HistogramState& h, int64_t dst_nbins) {
  const float bin_width = (h.max_val - h.min_val) / static_cast<float>(h.bins);
  const int64_t bins = h.bins;
  if (h.max_val == h.min_val) return {h.min_val, h.max_val};  // bin_width 0: the loop keeps both
  // total: torch.sum (float32) then .item(); cSum: torch.cumsum (double accumulator, float32).
  double total_d = 0.0;
  std::vector<float> csum(bins);
  for (int64_t k = 0; k < bins; ++k) {
    total_d += h.histogram[k];
    csum[k] = static_cast<float>(total_d);
  }
  const double total = static_cast<float>(total_d);
  const double stepsize = 1e-5;
  double alpha = 0.0, beta = 1.0;
  int64_t start_bin = 0, end_bin = bins - 1;
  double norm_min = std::numeric_limits<double>::infinity();
  while (alpha < beta) {
    const double next_alpha = alpha + stepsize;
    const double next_beta = beta - stepsize;
    // Comparisons of a float32 element with a Python float run in float32.
    const float lo_bound = static_cast<float>(next_alpha * total);
    const float hi_bound = static_cast<float>(next_beta * total);
    int64_t l = start_bin, r = end_bin;
    while (l < end_bin && csum[l] < lo_bound) ++l;
    while (r > start_bin && csum[r] > hi_bound) --r;
    int64_t next_start_bin = start_bin, next_end_bin = end_bin;
    if ((l - start_bin) > (end_bin - r)) {
      next_start_bin = l;
      alpha = next_alpha;
    } else {
      next_end_bin = r;
      beta = next_beta;
    }
    if (next_start_bin == start_bin && next_end_bin == end_bin) continue;
    const double norm = ComputeQuantizationError(h, dst_nbins, next_start_bin, next_end_bin);
    if (norm > norm_min) break;
    norm_min = norm;
    start_bin = next_start_bin;
    end_bin = next_end_bin;
  }
  const float new_min = h.min_val + bin_width * static_cast<float>(start_bin);
  const float new_max = h.min_val + bin_width * static_cast<float>(end_bin + 1);
  return {new_min, new_max};
}

namespace {

// floor(x) clamped to [0, n): a NaN or a value beyond int64 never reaches the conversion.
int64_t BinIndex(double x, int64_t n) {
  if (!(x >= 0)) return 0;
  if (x >= static_cast<double>(n - 1)) return n - 1;
  return static_cast<int64_t>(std::floor(x));
}

// Adds `src` (bins over [lo, hi]) onto `dst` (bins over [dlo, dhi]) by exact overlap, in double.
void Rebin(const std::vector<float>& src, double lo, double hi, double dlo, double dhi,
           std::vector<double>* dst) {
  const int64_t ns = static_cast<int64_t>(src.size());
  const int64_t nd = static_cast<int64_t>(dst->size());
  const double sw = (hi - lo) / ns, dw = (dhi - dlo) / nd;
  for (int64_t i = 0; i < ns; ++i) {
    const double mass = src[i];
    if (mass == 0) continue;
    if (sw == 0) {  // a point mass (a state that saw one value)
      (*dst)[BinIndex((lo - dlo) / dw, nd)] += mass;
      continue;
    }
    const double a = lo + i * sw, b = a + sw;
    int64_t k = BinIndex((a - dlo) / dw, nd);
    double placed = 0;
    for (; k < nd; ++k) {
      const double ka = dlo + k * dw, kb = ka + dw;
      const double overlap = std::min(b, kb) - std::max(a, ka);
      if (overlap > 0) {
        const double part = mass * overlap / sw;
        (*dst)[k] += part;
        placed += part;
      }
      if (kb >= b) break;
    }
    // Rounding at the edges: keep the mass exact.
    (*dst)[std::clamp<int64_t>(k, 0, nd - 1)] += mass - placed;
  }
}

}  // namespace

absl::Status HistogramMerge(HistogramState* h, const HistogramState& other) {
  if (other.bins != h->bins) {
    return absl::InvalidArgumentError("cannot merge histograms with different bin counts");
  }
  const bool other_empty = other.min_val == kInf && other.max_val == -kInf;
  if (other_empty) return absl::OkStatus();
  if (h->min_val == kInf && h->max_val == -kInf) {
    *h = other;
    return absl::OkStatus();
  }
  // Ranges: the union, widened as _adjust_min_max would for a batch spanning `other`.
  float combined_min = std::min(h->min_val, other.min_val);
  float combined_max = std::max(h->max_val, other.max_val);
  if (h->max_val > h->min_val) {
    const float hist_bin_width =
        (h->max_val - h->min_val) / static_cast<float>(h->bins * h->upsample_rate);
    const float grid = static_cast<float>(h->bins) * hist_bin_width;
    const float ratio = std::ceil((combined_max - combined_min) / grid);
    if (hist_bin_width > 0 && std::isfinite(ratio) && ratio < 1e9f) {
      combined_max = combined_max + (ratio * grid - (combined_max - combined_min));
    }
  }
  if (!std::isfinite(combined_min) || !std::isfinite(combined_max)) {
    return absl::InvalidArgumentError(
        "cannot merge histograms: the merged range does not fit float32");
  }
  if (HistogramMass(h->histogram) + HistogramMass(other.histogram) > kMaxHistogramMass) {
    return MassError();
  }
  if (combined_min == combined_max) {
    for (int64_t k = 0; k < h->bins; ++k) h->histogram[k] += other.histogram[k];
    return absl::OkStatus();
  }
  std::vector<double> acc(h->bins, 0.0);
  // A one-value state keeps its mass in histc's middle bin of [v - 1, v + 1]: treat it as a point.
  auto add = [&](const HistogramState& s) {
    if (s.min_val == s.max_val) {
      double mass = 0;
      for (float c : s.histogram) mass += c;
      std::vector<float> point{static_cast<float>(mass)};
      Rebin(point, s.min_val, s.min_val, combined_min, combined_max, &acc);
    } else {
      Rebin(s.histogram, s.min_val, s.max_val, combined_min, combined_max, &acc);
    }
  };
  add(*h);
  add(other);
  for (int64_t k = 0; k < h->bins; ++k) h->histogram[k] = static_cast<float>(acc[k]);
  h->min_val = combined_min;
  h->max_val = combined_max;
  return absl::OkStatus();
}

}  // namespace qprep::observers
