// Dynamic dispatch for the observer kernels: this file is compiled once and re-includes itself
// through foreach_target.h so kernels-inl.h is instantiated for every Highway target; the
// HWY_ONCE part exports the per-target tables and the kernels.h entry points.
// foreach_target.h must come first, then the per-target code.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backends/cpu/kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "backends/cpu/kernels-inl.h"
#include "hwy/highway.h"
// clang-format on

#if HWY_ONCE
#include "hwy/targets.h"

namespace qprep::observers::kernels {

HWY_EXPORT(MinMaxKernel);
HWY_EXPORT(PerChannelMinMaxKernel);
HWY_EXPORT(HistogramCountsKernel);
HWY_EXPORT(HistogramCountsOutsideKernel);
HWY_EXPORT(HistogramCountsMinMaxKernel);
HWY_EXPORT(FakeQuantizePerTensorKernel);
HWY_EXPORT(FakeQuantizePerChannelKernel);

void MinMax(const float* p, size_t n, float* min_io, float* max_io) {
  HWY_DYNAMIC_DISPATCH(MinMaxKernel)(p, n, min_io, max_io);
}

void PerChannelMinMax(const float* p, size_t outer, size_t channels, size_t inner, float* mins,
                      float* maxs) {
  HWY_DYNAMIC_DISPATCH(PerChannelMinMaxKernel)(p, outer, channels, inner, mins, maxs);
}

void HistogramCounts(const float* p, size_t n, float lo, float hi, uint32_t bins,
                     uint32_t* counts) {
  HWY_DYNAMIC_DISPATCH(HistogramCountsKernel)(p, n, lo, hi, bins, counts);
}

void HistogramCountsOutside(const float* p, size_t n, float lo, float hi, uint32_t bins,
                            uint32_t* counts, uint64_t* outside) {
  HWY_DYNAMIC_DISPATCH(HistogramCountsOutsideKernel)(p, n, lo, hi, bins, counts, outside);
}

void HistogramCountsMinMax(const float* p, size_t n, float lo, float hi, uint32_t bins,
                           uint32_t* counts, float* min_io, float* max_io, uint64_t* outside) {
  HWY_DYNAMIC_DISPATCH(HistogramCountsMinMaxKernel)(p, n, lo, hi, bins, counts, min_io, max_io,
                                                    outside);
}

void FakeQuantizePerTensor(const float* in, size_t n, float scale, int64_t zero_point,
                           int64_t quant_min, int64_t quant_max, float* out) {
  HWY_DYNAMIC_DISPATCH(FakeQuantizePerTensorKernel)
  (in, n, scale, zero_point, quant_min, quant_max, out);
}

void FakeQuantizePerChannel(const float* in, size_t outer, size_t channels, size_t inner,
                            const float* scale, const int32_t* zero_point, int64_t quant_min,
                            int64_t quant_max, float* out) {
  HWY_DYNAMIC_DISPATCH(FakeQuantizePerChannelKernel)
  (in, outer, channels, inner, scale, zero_point, quant_min, quant_max, out);
}

const char* ChosenTargetName() {
  // Better targets have lower bits: the lowest bit both compiled and supported wins.
  const int64_t usable = hwy::SupportedTargets() & HWY_TARGETS;
  return hwy::TargetName(usable & -usable);
}

}  // namespace qprep::observers::kernels
#endif  // HWY_ONCE
