// Highway kernels of bandwidth.h: this file re-includes itself once per compiled target
// (hwy/foreach_target.h) and dispatches at run time, like backends/cpu/kernels.cc.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/observers/bandwidth.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include <cstdint>

#include "hwy/cache_control.h"
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

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace qprep::bench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <thread>
#include <vector>

#include "bench/observers/bandwidth.h"

namespace qprep::bench {
HWY_EXPORT(SumImpl);
HWY_EXPORT(SumPrefetchImpl);
HWY_EXPORT(MinMaxImpl);
HWY_EXPORT(TargetNameImpl);

float ReadBandwidthSum(const float* p, size_t n) { return HWY_DYNAMIC_DISPATCH(SumImpl)(p, n); }
float ReadBandwidthSumPrefetch(const float* p, size_t n) {
  return HWY_DYNAMIC_DISPATCH(SumPrefetchImpl)(p, n);
}
float ReadBandwidthSumThreaded(const float* p, size_t n, int threads) {
  if (threads <= 1) return ReadBandwidthSum(p, n);
  std::vector<float> part(threads, 0.0f);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const size_t b = n * t / threads, e = n * (t + 1) / threads;
      part[t] = ReadBandwidthSum(p + b, e - b);
    });
  }
  part[0] = ReadBandwidthSum(p, n / threads);
  for (auto& th : pool) th.join();
  float r = 0;
  for (float x : part) r += x;
  return r;
}
void ReadBandwidthMinMax(const float* p, size_t n, float* min_out, float* max_out) {
  HWY_DYNAMIC_DISPATCH(MinMaxImpl)(p, n, min_out, max_out);
}
const char* BandwidthTargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }
}  // namespace qprep::bench
#endif  // HWY_ONCE
