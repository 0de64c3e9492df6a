// Observer kernels: the inner loops of backends/cpu/observer.cc, vectorized with Google Highway
// and dispatched at run time to the best target the CPU supports (kernels.cc re-includes
// kernels-inl.h once per compiled target). This header has no SIMD: pointers and counts cross the
// dispatch boundary. Each kernel has a scalar reference (kernels_reference.cc) that defines its
// result; tests check every compiled target against it bit for bit.
//
// Semantics follow the PyTorch 1.13 CPU ops the observers call:
// - MinMax: torch.aminmax. NaN anywhere makes both results NaN; ±inf are ordinary values.
// - Histogram: torch.histc(x, bins, min=lo, max=hi) counts: values outside [lo, hi] and NaN are
//   skipped; bin = int((x - lo) / (hi - lo) * bins) in float32, the top edge in the last bin.
// - FakeQuantize*: torch.fake_quantize_per_{tensor,channel}_affine forward, including x86's
//   conversion of NaN / out-of-range values to INT64_MIN (so they land on quant_min).
#ifndef QPREP_BACKENDS_CPU_KERNELS_H_
#define QPREP_BACKENDS_CPU_KERNELS_H_

#include <cstddef>
#include <cstdint>

namespace qprep::observers::kernels {

// Running min / max over n floats: *min_io = min(*min_io, min(p)), likewise max; NaN sticks.
void MinMax(const float* p, size_t n, float* min_io, float* max_io);

// Per-channel running min / max of a contiguous tensor viewed as [outer, channels, inner]
// (channels = the size of ch_axis). mins / maxs hold `channels` running values (NaN sticks).
void PerChannelMinMax(const float* p, size_t outer, size_t channels, size_t inner, float* mins,
                      float* maxs);

// Adds histc counts of p[0, n) over [lo, hi] (lo < hi, both finite) into counts[bins].
void HistogramCounts(const float* p, size_t n, float lo, float hi, uint32_t bins, uint32_t* counts);

// HistogramCounts that also adds the number of values not counted (outside [lo, hi], or NaN) to
// *outside.
void HistogramCountsOutside(const float* p, size_t n, float lo, float hi, uint32_t bins,
                            uint32_t* counts, uint64_t* outside);

// HistogramCounts and MinMax in one pass over p (HistogramObserver's speculative pass, which
// bins with the running range while it finds the batch's min / max): counts as HistogramCounts,
// *min_io / *max_io as MinMax, and *outside += the number of values not counted (outside
// [lo, hi], or NaN).
void HistogramCountsMinMax(const float* p, size_t n, float lo, float hi, uint32_t bins,
                           uint32_t* counts, float* min_io, float* max_io, uint64_t* outside);

// out[i] = fake_quantize_per_tensor_affine(in[i], scale, zero_point, quant_min, quant_max).
// `out` may alias `in`.
void FakeQuantizePerTensor(const float* in, size_t n, float scale, int64_t zero_point,
                           int64_t quant_min, int64_t quant_max, float* out);

// Per channel over [outer, channels, inner] with scale[c], zero_point[c] (PyTorch divides by the
// scale here, where the per-tensor op multiplies by 1/scale).
void FakeQuantizePerChannel(const float* in, size_t outer, size_t channels, size_t inner,
                            const float* scale, const int32_t* zero_point, int64_t quant_min,
                            int64_t quant_max, float* out);

// The scalar references (the definitions of the results above).
namespace reference {
void MinMax(const float* p, size_t n, float* min_io, float* max_io);
void PerChannelMinMax(const float* p, size_t outer, size_t channels, size_t inner, float* mins,
                      float* maxs);
void HistogramCounts(const float* p, size_t n, float lo, float hi, uint32_t bins, uint32_t* counts);
void HistogramCountsOutside(const float* p, size_t n, float lo, float hi, uint32_t bins,
                            uint32_t* counts, uint64_t* outside);
void HistogramCountsMinMax(const float* p, size_t n, float lo, float hi, uint32_t bins,
                           uint32_t* counts, float* min_io, float* max_io, uint64_t* outside);
void FakeQuantizePerTensor(const float* in, size_t n, float scale, int64_t zero_point,
                           int64_t quant_min, int64_t quant_max, float* out);
void FakeQuantizePerChannel(const float* in, size_t outer, size_t channels, size_t inner,
                            const float* scale, const int32_t* zero_point, int64_t quant_min,
                            int64_t quant_max, float* out);
// One element of the per-tensor / per-channel fake-quant (shared with the vector tails).
float FakeQuantizeOne(float x, float inv_scale_or_scale, bool divide, int64_t zero_point,
                      int64_t quant_min, int64_t quant_max, float scale);
}  // namespace reference

// The Highway target the dispatcher picks on this machine (for logs and benchmarks).
const char* ChosenTargetName();

}  // namespace qprep::observers::kernels

#endif  // QPREP_BACKENDS_CPU_KERNELS_H_
