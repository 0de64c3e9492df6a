// Scalar references for the observer kernels (kernels.h): plain loops that state each kernel's
// result. The vector kernels must match them bit for bit on every target.
#include <cmath>
#include <cstdint>
#include <limits>

#include "backends/cpu/kernels.h"

namespace qprep::observers::kernels::reference {

void MinMax(const float* p, size_t n, float* min_io, float* max_io) {
  float mn = *min_io, mx = *max_io;
  for (size_t i = 0; i < n; ++i) {
    const float x = p[i];
    if (std::isnan(x)) {
      mn = mx = x;
      break;
    }
    if (std::isnan(mn)) break;
    mn = x < mn ? x : mn;
    mx = x > mx ? x : mx;
  }
  *min_io = mn;
  *max_io = mx;
}

void PerChannelMinMax(const float* p, size_t outer, size_t channels, size_t inner, float* mins,
                      float* maxs) {
  for (size_t o = 0; o < outer; ++o) {
    for (size_t c = 0; c < channels; ++c) {
      MinMax(p + (o * channels + c) * inner, inner, &mins[c], &maxs[c]);
    }
  }
}

void HistogramCounts(const float* p, size_t n, float lo, float hi, uint32_t bins,
                     uint32_t* counts) {
  const float range = hi - lo;
  const float fbins = static_cast<float>(bins);
  for (size_t i = 0; i < n; ++i) {
    const float x = p[i];
    if (!(x >= lo && x <= hi)) continue;
    // int64 truncation of a value in [0, bins]; the top edge goes to the last bin.
    int64_t pos = static_cast<int64_t>((x - lo) / range * fbins);
    if (pos >= static_cast<int64_t>(bins)) pos = bins - 1;
    ++counts[pos];
  }
}

void HistogramCountsOutside(const float* p, size_t n, float lo, float hi, uint32_t bins,
                            uint32_t* counts, uint64_t* outside) {
  HistogramCounts(p, n, lo, hi, bins, counts);
  for (size_t i = 0; i < n; ++i) *outside += !(p[i] >= lo && p[i] <= hi);
}

void HistogramCountsMinMax(const float* p, size_t n, float lo, float hi, uint32_t bins,
                           uint32_t* counts, float* min_io, float* max_io, uint64_t* outside) {
  MinMax(p, n, min_io, max_io);
  HistogramCountsOutside(p, n, lo, hi, bins, counts, outside);
}

float FakeQuantizeOne(float x, float inv_scale_or_scale, bool divide, int64_t zero_point,
                      int64_t quant_min, int64_t quant_max, float scale) {
  const float r = std::nearbyint(divide ? x / inv_scale_or_scale : x * inv_scale_or_scale);
  // PyTorch: static_cast<int64_t>(zero_point + nearbyint(...)), the sum in float. x86 converts
  // NaN and out-of-range values to INT64_MIN; emulate that instead of invoking UB.
  const float qf = static_cast<float>(zero_point) + r;
  int64_t q;
  if (std::isnan(qf) || !(std::fabs(qf) < 9.2233720368547758e18f)) {
    q = std::numeric_limits<int64_t>::min();
  } else {
    q = static_cast<int64_t>(qf);
  }
  const int64_t clamped = q < quant_min ? quant_min : (q > quant_max ? quant_max : q);
  return static_cast<float>(static_cast<double>(clamped - zero_point) * static_cast<double>(scale));
}

void FakeQuantizePerTensor(const float* in, size_t n, float scale, int64_t zero_point,
                           int64_t quant_min, int64_t quant_max, float* out) {
  const float inv_scale = 1.0f / scale;
  for (size_t i = 0; i < n; ++i) {
    out[i] = FakeQuantizeOne(in[i], inv_scale, false, zero_point, quant_min, quant_max, scale);
  }
}

void FakeQuantizePerChannel(const float* in, size_t outer, size_t channels, size_t inner,
                            const float* scale, const int32_t* zero_point, int64_t quant_min,
                            int64_t quant_max, float* out) {
  for (size_t o = 0; o < outer; ++o) {
    for (size_t c = 0; c < channels; ++c) {
      const size_t base = (o * channels + c) * inner;
      for (size_t i = 0; i < inner; ++i) {
        out[base + i] = FakeQuantizeOne(in[base + i], scale[c], true, zero_point[c], quant_min,
                                        quant_max, scale[c]);
      }
    }
  }
}

}  // namespace qprep::observers::kernels::reference
