// Highway kernels of bandwidth.h: this file re-includes itself once per compiled target
// (hwy/foreach_target.h) and dispatches at run time, like backends/cpu/kernels.cc.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/observers/bandwidth.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace qprep::bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float SumImpl(const float* p, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::Add(s0, hn::LoadU(d, p + i));
    s1 = hn::Add(s1, hn::LoadU(d, p + i + N));
    s2 = hn::Add(s2, hn::LoadU(d, p + i + 2 * N));
    s3 = hn::Add(s3, hn::LoadU(d, p + i + 3 * N));
  }
  for (; i + N <= n; i += N) s0 = hn::Add(s0, hn::LoadU(d, p + i));
  float r = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) r += p[i];
  return r;
}

void MinMaxImpl(const float* p, size_t n, float* min_out, float* max_out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  float mn = n ? p[0] : 0.0f, mx = mn;
  size_t i = 0;
  if (n >= 2 * N) {
    auto lo0 = hn::LoadU(d, p), lo1 = hn::LoadU(d, p + N);
    auto hi0 = lo0, hi1 = lo1;
    for (i = 2 * N; i + 2 * N <= n; i += 2 * N) {
      const auto a = hn::LoadU(d, p + i), b = hn::LoadU(d, p + i + N);
      lo0 = hn::Min(lo0, a);
      hi0 = hn::Max(hi0, a);
      lo1 = hn::Min(lo1, b);
      hi1 = hn::Max(hi1, b);
    }
    mn = hn::GetLane(hn::MinOfLanes(d, hn::Min(lo0, lo1)));
    mx = hn::GetLane(hn::MaxOfLanes(d, hn::Max(hi0, hi1)));
  }
  for (; i < n; ++i) {
    mn = p[i] < mn ? p[i] : mn;
    mx = p[i] > mx ? p[i] : mx;
  }
  *min_out = mn;
  *max_out = mx;
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace qprep::bench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "bench/observers/bandwidth.h"

namespace qprep::bench {
HWY_EXPORT(SumImpl);
HWY_EXPORT(MinMaxImpl);
HWY_EXPORT(TargetNameImpl);

float ReadBandwidthSum(const float* p, size_t n) { return HWY_DYNAMIC_DISPATCH(SumImpl)(p, n); }
void ReadBandwidthMinMax(const float* p, size_t n, float* min_out, float* max_out) {
  HWY_DYNAMIC_DISPATCH(MinMaxImpl)(p, n, min_out, max_out);
}
const char* BandwidthTargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }
}  // namespace qprep::bench
#endif  // HWY_ONCE
