// Highway kernels of bandwidth.h: this file re-includes itself once per compiled target
// (hwy/foreach_target.h) and dispatches at run time, like backends/cpu/kernels.cc.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/observers/bandwidth.cc"
#include <cstdint>

#include "hwy/cache_control.h"
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

float SumPrefetchImpl(const float* p, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    for (size_t q = 0; q < 4 * N; q += 16) {
      hwy::Prefetch(reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(p + i + q) +
                                                   512 * sizeof(float)));
    }
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

// See ReadAndIncrementBound in bandwidth.h. Blocks of 128 values as in HistogramImpl.
float IncrementBoundImpl(const float* p, size_t n, const int32_t* slots, uint16_t* sub,
                         size_t stride, bool read) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  constexpr size_t kBlock = 128;
  uint16_t* const s0 = sub;
  uint16_t* const s1 = sub + stride;
  uint16_t* const s2 = sub + 2 * stride;
  uint16_t* const s3 = sub + 3 * stride;
  uint16_t* const s4 = sub + 4 * stride;
  uint16_t* const s5 = sub + 5 * stride;
  uint16_t* const s6 = sub + 6 * stride;
  uint16_t* const s7 = sub + 7 * stride;
  auto s = hn::Zero(d);
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (size_t k = 0; read && k < kBlock; k += N) {
      hwy::Prefetch(reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(p + i + k) +
                                                   512 * sizeof(float)));
      s = hn::Add(s, hn::LoadU(d, p + i + k));
    }
    for (size_t k = 0; k < kBlock; k += 8) {
      ++s0[slots[k]];
      ++s1[slots[k + 1]];
      ++s2[slots[k + 2]];
      ++s3[slots[k + 3]];
      ++s4[slots[k + 4]];
      ++s5[slots[k + 5]];
      ++s6[slots[k + 6]];
      ++s7[slots[k + 7]];
    }
  }
  float r = hn::GetLane(hn::SumOfLanes(d, s));
  for (; i < n; ++i) r += p[i];
  return r;
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace qprep::bench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <vector>

#include "backends/cpu/parallel.h"
#include "bench/observers/bandwidth.h"

namespace qprep::bench {
HWY_EXPORT(SumImpl);
HWY_EXPORT(SumPrefetchImpl);
HWY_EXPORT(MinMaxImpl);
HWY_EXPORT(IncrementBoundImpl);
HWY_EXPORT(TargetNameImpl);

float ReadBandwidthSum(const float* p, size_t n) { return HWY_DYNAMIC_DISPATCH(SumImpl)(p, n); }
float ReadBandwidthSumPrefetch(const float* p, size_t n) {
  return HWY_DYNAMIC_DISPATCH(SumPrefetchImpl)(p, n);
}
float ReadBandwidthSumThreaded(const float* p, size_t n, int threads) {
  if (threads <= 1) return ReadBandwidthSum(p, n);
  std::vector<float> part(threads, 0.0f);
  observers::ParallelChunks(
      threads, n, [&](size_t b, size_t e, int t) { part[t] = ReadBandwidthSum(p + b, e - b); });
  float r = 0;
  for (float x : part) r += x;
  return r;
}
void ReadBandwidthMinMax(const float* p, size_t n, float* min_out, float* max_out) {
  HWY_DYNAMIC_DISPATCH(MinMaxImpl)(p, n, min_out, max_out);
}
float ReadAndIncrementBound(const float* p, size_t n, const int32_t* slots, uint16_t* sub,
                            size_t stride, bool read) {
  return HWY_DYNAMIC_DISPATCH(IncrementBoundImpl)(p, n, slots, sub, stride, read);
}
const char* BandwidthTargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }
}  // namespace qprep::bench
#endif  // HWY_ONCE
