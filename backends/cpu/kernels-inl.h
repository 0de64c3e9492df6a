// Per-target bodies of the observer kernels (kernels.h). Included once per Highway target by
// kernels.cc (through foreach_target.h) and by tests/observers/kernels_test.cc, which runs every
// compiled target against the scalar references. Results equal the references bit for bit:
// the float operations are the same IEEE operations in the same order (no FMA contraction: the
// library builds with -ffp-contract=off), and min / max reductions are order-independent.

// Highway's per-target include guard idiom.
#if defined(QPREP_BACKENDS_CPU_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QPREP_BACKENDS_CPU_KERNELS_INL_H_
#undef QPREP_BACKENDS_CPU_KERNELS_INL_H_
#else
#define QPREP_BACKENDS_CPU_KERNELS_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/kernels.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace qprep::observers::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Distance, in floats, of the software prefetch ahead of the loads (2 KB: measured best on the
// test machine between 1 and 4 KB; its hardware prefetcher alone leaves the streaming loops
// ~15% below what the memory delivers).
constexpr size_t kPrefetchAhead = 512;

// Prefetches the line kPrefetchAhead floats after p. The address is formed as an integer: it may
// lie past the end of the buffer (a prefetch never faults), where pointer arithmetic may not.
HWY_INLINE void PrefetchAhead(const float* p) {
  hwy::Prefetch(reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(p) +
                                               kPrefetchAhead * sizeof(float)));
}

// True if p[0, n) holds a NaN (the exact check behind the cheap detectors below).
HWY_INLINE bool AnyNaN(const float* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(p[i])) return true;
  }
  return false;
}

// Running min / max with PyTorch's sticky NaN. Four independent Min / Max accumulator pairs hide
// latency. NaN is detected cheaply: one Add per vector into a per-chunk sum, which is NaN if the
// chunk holds a NaN (NaN propagates through addition); a NaN sum without a NaN in the data (+inf
// and -inf together, or an overflow to inf meeting the opposite inf) only triggers the exact
// re-scan of that chunk, so the result never depends on the detector. Min(v, acc) is
// `v < acc ? v : acc` on x86 (the reference's comparison, so a lane keeps the first of +0 / -0).
HWY_INLINE void MinMaxImpl(const float* HWY_RESTRICT p, size_t n, float* min_io, float* max_io) {
  if (std::isnan(*min_io) || std::isnan(*max_io)) return;
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto vmin0 = hn::Set(d, *min_io), vmax0 = hn::Set(d, *max_io);
  auto vmin1 = vmin0, vmax1 = vmax0, vmin2 = vmin0, vmax2 = vmax0, vmin3 = vmin0, vmax3 = vmax0;
  // Elements per NaN check: a multiple of 4 vectors, small enough that a false alarm re-scans
  // little and an overflowing sum is unlikely, large enough that the check is free.
  const size_t chunk = std::max<size_t>(4 * N, 4096 / (4 * N) * (4 * N));
  size_t i = 0;
  while (i + 4 * N <= n) {
    const size_t begin = i;
    const size_t end = i + std::min(chunk, (n - i) / (4 * N) * (4 * N));
    auto s0 = hn::Zero(d), s1 = hn::Zero(d);
    for (; i < end; i += 4 * N) {
      // One prefetch per 64-byte line of the four vectors.
      for (size_t q = 0; q < 4 * N; q += 16) PrefetchAhead(p + i + q);
      const auto a = hn::LoadU(d, p + i);
      const auto b = hn::LoadU(d, p + i + N);
      const auto c = hn::LoadU(d, p + i + 2 * N);
      const auto e = hn::LoadU(d, p + i + 3 * N);
      vmin0 = hn::Min(a, vmin0);
      vmax0 = hn::Max(a, vmax0);
      vmin1 = hn::Min(b, vmin1);
      vmax1 = hn::Max(b, vmax1);
      vmin2 = hn::Min(c, vmin2);
      vmax2 = hn::Max(c, vmax2);
      vmin3 = hn::Min(e, vmin3);
      vmax3 = hn::Max(e, vmax3);
      s0 = hn::Add(s0, hn::Add(a, b));
      s1 = hn::Add(s1, hn::Add(c, e));
    }
    const auto s = hn::Add(s0, s1);
    if (!hn::AllTrue(d, hn::Eq(s, s)) && AnyNaN(p + begin, end - begin)) {
      *min_io = *max_io = std::numeric_limits<float>::quiet_NaN();
      return;
    }
  }
  for (; i + N <= n; i += N) {
    const auto a = hn::LoadU(d, p + i);
    if (!hn::AllTrue(d, hn::Eq(a, a))) {  // Ne is ordered: Eq is false exactly for NaN
      *min_io = *max_io = std::numeric_limits<float>::quiet_NaN();
      return;
    }
    vmin0 = hn::Min(a, vmin0);
    vmax0 = hn::Max(a, vmax0);
  }
  float mn = hn::GetLane(
      hn::MinOfLanes(d, hn::Min(hn::Min(vmin0, vmin1), hn::Min(vmin2, vmin3))));
  float mx = hn::GetLane(
      hn::MaxOfLanes(d, hn::Max(hn::Max(vmax0, vmax1), hn::Max(vmax2, vmax3))));
  for (; i < n; ++i) {
    const float x = p[i];
    if (std::isnan(x)) {
      mn = mx = x;
      break;
    }
    mn = x < mn ? x : mn;
    mx = x > mx ? x : mx;
  }
  *min_io = mn;
  *max_io = mx;
}

static HWY_NOINLINE void MinMaxKernel(const float* p, size_t n, float* min_io, float* max_io) {
  MinMaxImpl(p, n, min_io, max_io);
}

// [outer, C, inner]: long rows reduce one row at a time; short rows (inner small, e.g. the last
// axis as channel axis) accumulate the whole C*inner block lane-wise across `outer` with a
// NaN-propagating select, then fold each channel's inner elements.
static HWY_NOINLINE void PerChannelMinMaxKernel(const float* p, size_t outer, size_t channels,
                                                size_t inner, float* mins, float* maxs) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  if (inner >= 4 * N || outer == 1) {
    for (size_t o = 0; o < outer; ++o) {
      for (size_t c = 0; c < channels; ++c) {
        MinMaxImpl(p + (o * channels + c) * inner, inner, &mins[c], &maxs[c]);
      }
    }
    return;
  }
  const size_t block = channels * inner;
  std::vector<float> amin(block, std::numeric_limits<float>::infinity());
  std::vector<float> amax(block, -std::numeric_limits<float>::infinity());
  // Fast pass: plain Min / Max per lane, NaN detected by one Add per vector into a sum (NaN iff
  // a NaN was read, or +inf meets -inf / an overflowing sum: then only the exact pass re-runs).
  bool exact_pass = false;
  {
    // Columns in tiles of four vectors whose min / max stay in registers while the tile walks
    // down a group of kRows rows (one load per vector instead of three loads and two stores);
    // the group (kRows * block floats) stays in L2 while its tiles are walked.
    constexpr size_t kRows = 32;
    const size_t tiled = outer > 1 ? block / (4 * N) * (4 * N) : 0;
    for (size_t o0 = 0; o0 < outer && !exact_pass; o0 += kRows) {
      const size_t o1 = std::min(outer, o0 + kRows);
      for (size_t j = 0; j < tiled && !exact_pass; j += 4 * N) {
        auto mn0 = hn::LoadU(d, amin.data() + j), mn1 = hn::LoadU(d, amin.data() + j + N);
        auto mn2 = hn::LoadU(d, amin.data() + j + 2 * N);
        auto mn3 = hn::LoadU(d, amin.data() + j + 3 * N);
        auto mx0 = hn::LoadU(d, amax.data() + j), mx1 = hn::LoadU(d, amax.data() + j + N);
        auto mx2 = hn::LoadU(d, amax.data() + j + 2 * N);
        auto mx3 = hn::LoadU(d, amax.data() + j + 3 * N);
        auto s0 = hn::Zero(d), s1 = hn::Zero(d);
        for (size_t o = o0; o < o1; ++o) {
          const float* row = p + o * block + j;
          const auto a = hn::LoadU(d, row);
          const auto b = hn::LoadU(d, row + N);
          const auto c = hn::LoadU(d, row + 2 * N);
          const auto e = hn::LoadU(d, row + 3 * N);
          mn0 = hn::Min(a, mn0);
          mx0 = hn::Max(a, mx0);
          mn1 = hn::Min(b, mn1);
          mx1 = hn::Max(b, mx1);
          mn2 = hn::Min(c, mn2);
          mx2 = hn::Max(c, mx2);
          mn3 = hn::Min(e, mn3);
          mx3 = hn::Max(e, mx3);
          s0 = hn::Add(s0, hn::Add(a, b));
          s1 = hn::Add(s1, hn::Add(c, e));
        }
        const auto sum = hn::Add(s0, s1);
        exact_pass = !hn::AllTrue(d, hn::Eq(sum, sum));
        hn::StoreU(mn0, d, amin.data() + j);
        hn::StoreU(mn1, d, amin.data() + j + N);
        hn::StoreU(mn2, d, amin.data() + j + 2 * N);
        hn::StoreU(mn3, d, amin.data() + j + 3 * N);
        hn::StoreU(mx0, d, amax.data() + j);
        hn::StoreU(mx1, d, amax.data() + j + N);
        hn::StoreU(mx2, d, amax.data() + j + 2 * N);
        hn::StoreU(mx3, d, amax.data() + j + 3 * N);
      }
    }
    auto s = hn::Zero(d);
    size_t tail_nan = 0;
    for (size_t o = 0; o < outer && !exact_pass; ++o) {
      const float* row = p + o * block;
      size_t i = tiled;
      for (; i + N <= block; i += N) {
        const auto v = hn::LoadU(d, row + i);
        hn::StoreU(hn::Min(v, hn::LoadU(d, amin.data() + i)), d, amin.data() + i);
        hn::StoreU(hn::Max(v, hn::LoadU(d, amax.data() + i)), d, amax.data() + i);
        s = hn::Add(s, v);
      }
      for (; i < block; ++i) {
        const float x = row[i];
        tail_nan |= std::isnan(x);
        amin[i] = x < amin[i] ? x : amin[i];
        amax[i] = x > amax[i] ? x : amax[i];
      }
      // Reset the sum per row so an overflow to inf cannot meet the other inf across rows.
      if (!hn::AllTrue(d, hn::Eq(s, s))) {
        exact_pass = true;
        break;
      }
      s = hn::Zero(d);
    }
    exact_pass = exact_pass || tail_nan;
  }
  // Exact pass (only when the fast pass may have seen a NaN): lane-wise NaN-propagating select.
  if (exact_pass) {
    std::fill(amin.begin(), amin.end(), std::numeric_limits<float>::infinity());
    std::fill(amax.begin(), amax.end(), -std::numeric_limits<float>::infinity());
    for (size_t o = 0; o < outer; ++o) {
      const float* row = p + o * block;
      size_t i = 0;
      for (; i + N <= block; i += N) {
        const auto v = hn::LoadU(d, row + i);
        const auto isnan = hn::Not(hn::Eq(v, v));  // Ne is ordered: false for NaN
        const auto a = hn::LoadU(d, amin.data() + i);
        const auto b = hn::LoadU(d, amax.data() + i);
        hn::StoreU(hn::IfThenElse(hn::Or(isnan, hn::Lt(v, a)), v, a), d, amin.data() + i);
        hn::StoreU(hn::IfThenElse(hn::Or(isnan, hn::Gt(v, b)), v, b), d, amax.data() + i);
      }
      for (; i < block; ++i) {
        const float x = row[i];
        if (std::isnan(x) || x < amin[i]) amin[i] = x;
        if (std::isnan(x) || x > amax[i]) amax[i] = x;
      }
    }
  }
  for (size_t c = 0; c < channels; ++c) {
    float mn = mins[c], mx = maxs[c];
    for (size_t k = 0; k < inner; ++k) {
      const float a = amin[c * inner + k], b = amax[c * inner + k];
      if (std::isnan(mn) || std::isnan(a) || std::isnan(b)) {
        mn = mx = std::numeric_limits<float>::quiet_NaN();
        break;
      }
      mn = a < mn ? a : mn;
      mx = b > mx ? b : mx;
    }
    mins[c] = mn;
    maxs[c] = mx;
  }
}

// Float -> int32 truncation of values known to be in int32 range. On x86 this is one
// cvttps2dq; hn::ConvertTo adds four operations per vector to saturate out-of-range lanes, which
// the histogram's inner loop cannot afford and does not need.
template <class DI, class V>
HWY_INLINE hn::Vec<DI> TruncateInRange(DI di, V v) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  (void)di;
  return hn::Vec<DI>{_mm512_cvttps_epi32(v.raw)};
#elif HWY_TARGET == HWY_AVX2
  (void)di;
  return hn::Vec<DI>{_mm256_cvttps_epi32(v.raw)};
#elif HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3
  (void)di;
  return hn::Vec<DI>{_mm_cvttps_epi32(v.raw)};
#else
  return hn::ConvertTo(di, v);
#endif
}

// histc counts (and, with kMinMax, the running min / max of MinMax) of p[0, n); *outside (if not
// null) += the number of values not counted.
//
// Bin indices ("slots") for a block of kBlock values are computed N at a time into a local
// buffer, then counted into eight interleaved uint16 sub-histograms (so runs of one bin, e.g.
// ReLU zeros, do not serialize on one counter), summed into `counts` before any counter can
// wrap. Slots: [0, bins) the bins; `bins` the top edge (folded into bins - 1 at the flush, as
// histc does); `bins + 1` the values not counted (outside [lo, hi], or NaN). One memory increment
// per value is the floor of this loop (one store per cycle on the test machine); everything
// else is arranged to overlap with it.
//
// The bin is trunc(z), z = fl(fl(t / r) * B), t = fl(x - lo), r = hi - lo (PyTorch's float32
// expression). A vector divide costs more than the rest of the loop, so the fast path computes
// z' = fl(t * s), s = fl(B / r), and proves per lane that trunc(z') = trunc(z): with u = 2^-24
// and no overflow / underflow, s, t * s, t / r and the product by B each carry one rounding, so
// z' / z lies within (1 + u)^2 / (1 - u)^2, i.e. |z' - z| <= 4.01 u z' (< 5.01 u z', the bound of
// the earlier two-multiply form). Hence z lies in [z' - 8u z', z' + 8u z'] even after rounding
// those two bounds (one more u each); when both bounds truncate to the same integer, so does z.
// A vector with a lane that close to a bin edge (about 1 in 100 vectors for 2048 bins) redoes
// its bins with the divide. Tiny t (underflow) gives z, z' < 1, bin 0 either way; in-range t
// lies in [0, r], so z' <= B (1 + 4.01u) and the slot is at most `bins`. Values not counted get
// z' = B + 1.5, which both bounds truncate to bins + 1 as long as 8u (B + 1.5) < 1/2. So the fast
// path needs r and s finite and normal and B <= 2^19; otherwise every vector takes the divide.
//
// kMinMax: plain Min / Max accumulators, exact when the data has no NaN. A NaN is never counted
// (it fails both range compares), so when every value was counted the accumulators are exact;
// otherwise (a NaN, or values outside [lo, hi]: then the caller's speculation failed anyway) the
// exact MinMax re-reads p.
template <bool kMinMax>
HWY_INLINE void HistogramImpl(const float* HWY_RESTRICT p, size_t n, float lo, float hi,
                              uint32_t bins, uint32_t* counts, float* min_io, float* max_io,
                              uint64_t* outside) {
  if (bins > (uint32_t{1} << 30)) {  // slot numbers must fit int32; the sub-histograms memory
    if (kMinMax) reference::MinMax(p, n, min_io, max_io);
    for (size_t j = 0; outside != nullptr && j < n; ++j) *outside += !(p[j] >= lo && p[j] <= hi);
    reference::HistogramCounts(p, n, lo, hi, bins, counts);
    return;
  }
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d);
  constexpr size_t kBlock = 128;
  const float range = hi - lo;
  const float scale = static_cast<float>(bins) / range;
  const bool fast = std::isnormal(range) && std::isnormal(scale) && bins <= (uint32_t{1} << 19);
  const auto vlo = hn::Set(d, lo), vhi = hn::Set(d, hi), vrange = hn::Set(d, range);
  const auto vscale = hn::Set(d, scale);
  const auto veps = hn::Set(d, 4.76837158203125e-07f);  // 2^-21 = 8u
  const auto vbins = hn::Set(d, static_cast<float>(bins));
  const auto vnotf = hn::Set(d, static_cast<float>(bins) + 1.5f);
  const auto vlast = hn::Set(di, static_cast<int32_t>(bins - 1));
  const auto vnot = hn::Set(di, static_cast<int32_t>(bins + 1));
  // The exact slots of one vector (the divide; Highway's saturating conversion, since z may be
  // as large as float(bins) here).
  const auto exact_slots = [&](decltype(vlo) v) {
    const auto in = hn::And(hn::Ge(v, vlo), hn::Le(v, vhi));
    const auto z = hn::IfThenElseZero(in, hn::Mul(hn::Div(hn::Sub(v, vlo), vrange), vbins));
    return hn::IfThenElse(hn::RebindMask(di, in), hn::Min(hn::ConvertTo(di, z), vlast), vnot);
  };

  // Eight sub-histograms for up to 2^16 bins (8 x 4 KB for 2048: they stay in L1 beside the
  // input stream); one above that, to bound the memory.
  const size_t subs = bins <= (uint32_t{1} << 16) ? 8 : 1;
  const size_t stride = size_t{bins} + 2;
  // A block of len <= kBlock values adds at most len / subs + subs to one counter.
  const size_t blocks_per_flush = 65535 / (kBlock / subs + subs);
  std::vector<uint16_t> sub(subs * stride, 0);
  // One base pointer per sub-histogram, so each increment is a single add to memory.
  uint16_t* const s0 = sub.data();
  uint16_t* const s1 = s0 + (subs == 8 ? 1 : 0) * stride;
  uint16_t* const s2 = s0 + (subs == 8 ? 2 : 0) * stride;
  uint16_t* const s3 = s0 + (subs == 8 ? 3 : 0) * stride;
  uint16_t* const s4 = s0 + (subs == 8 ? 4 : 0) * stride;
  uint16_t* const s5 = s0 + (subs == 8 ? 5 : 0) * stride;
  uint16_t* const s6 = s0 + (subs == 8 ? 6 : 0) * stride;
  uint16_t* const s7 = s0 + (subs == 8 ? 7 : 0) * stride;
  uint64_t not_counted = 0;
  const auto flush = [&] {
    for (size_t b = 0; b < stride; ++b) {
      uint32_t sum = 0;
      for (size_t j = 0; j < subs; ++j) sum += s0[j * stride + b];
      if (b < bins) {
        counts[b] += sum;
      } else if (b == bins) {
        counts[bins - 1] += sum;
      } else {
        not_counted += sum;
      }
    }
    std::fill(sub.begin(), sub.end(), uint16_t{0});
  };

  float mn = kMinMax ? *min_io : 0.0f, mx = kMinMax ? *max_io : 0.0f;
  const bool track = kMinMax && !std::isnan(mn) && !std::isnan(mx);
  auto vmin = hn::Set(d, mn), vmax = hn::Set(d, mx);

  // Software pipelining: the slots of block b are computed into one half of `idx` while the
  // slots of block b - 1, stored a whole block earlier, are counted from the other half. The
  // scalar loads then read slots whose vector stores have left the store buffer, and the vector
  // work of one block overlaps the increments of the previous one.
  size_t blocks = 0;
  HWY_ALIGN int32_t idx[2][kBlock];
  const auto count_block = [&](const int32_t* HWY_RESTRICT q, size_t len) {
    size_t k = 0;
    if (subs == 8) {
      for (; k + 8 <= len; k += 8) {
        ++s0[q[k]];
        ++s1[q[k + 1]];
        ++s2[q[k + 2]];
        ++s3[q[k + 3]];
        ++s4[q[k + 4]];
        ++s5[q[k + 5]];
        ++s6[q[k + 6]];
        ++s7[q[k + 7]];
      }
    }
    for (; k < len; ++k) ++s0[q[k]];
    if (++blocks == blocks_per_flush) {
      flush();
      blocks = 0;
    }
  };
  size_t i = 0;
  size_t pending = 0;  // slots in idx[cur ^ 1] not counted yet
  int cur = 0;
  const size_t block = kBlock - kBlock % N;  // a multiple of N (N may not divide 128 on SVE)
  while (i + N <= n) {
    const size_t len = std::min(block, (n - i) / N * N);
    int32_t* HWY_RESTRICT out = idx[cur];
    for (size_t k = 0; k < len; k += N) {
      PrefetchAhead(p + i + k);
      const auto v = hn::LoadU(d, p + i + k);
      if (kMinMax) {
        vmin = hn::Min(v, vmin);
        vmax = hn::Max(v, vmax);
      }
      if (fast) {
        const auto in = hn::And(hn::Ge(v, vlo), hn::Le(v, vhi));
        const auto z = hn::IfThenElse(in, hn::Mul(hn::Sub(v, vlo), vscale), vnotf);
        const auto m = hn::Mul(z, veps);
        const auto slot = TruncateInRange(di, hn::Sub(z, m));
        if (HWY_LIKELY(hn::AllTrue(di, hn::Eq(slot, TruncateInRange(di, hn::Add(z, m)))))) {
          hn::Store(slot, di, out + k);
        } else {
          hn::Store(exact_slots(v), di, out + k);
        }
      } else {
        hn::Store(exact_slots(v), di, out + k);
      }
    }
    if (pending != 0) count_block(idx[cur ^ 1], pending);
    pending = len;
    cur ^= 1;
    i += len;
  }
  if (pending != 0) count_block(idx[cur ^ 1], pending);
  if (blocks != 0) flush();
  const uint64_t not_counted_vectors = not_counted;
  // The tail (fewer than N values), scalar.
  reference::HistogramCounts(p + i, n - i, lo, hi, bins, counts);
  for (size_t j = i; j < n; ++j) not_counted += !(p[j] >= lo && p[j] <= hi);
  if (outside != nullptr) *outside += not_counted;
  if (kMinMax) {
    if (!track) return;  // a NaN from earlier batches sticks
    if (not_counted_vectors != 0) {  // maybe a NaN: the exact pass decides
      MinMaxImpl(p, n, min_io, max_io);
      return;
    }
    mn = hn::GetLane(hn::MinOfLanes(d, vmin));
    mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
    reference::MinMax(p + i, n - i, &mn, &mx);
    *min_io = mn;
    *max_io = mx;
  }
}

static HWY_NOINLINE void HistogramCountsKernel(const float* p, size_t n, float lo, float hi,
                                               uint32_t bins, uint32_t* counts) {
  HistogramImpl<false>(p, n, lo, hi, bins, counts, nullptr, nullptr, nullptr);
}

static HWY_NOINLINE void HistogramCountsOutsideKernel(const float* p, size_t n, float lo,
                                                      float hi, uint32_t bins, uint32_t* counts,
                                                      uint64_t* outside) {
  HistogramImpl<false>(p, n, lo, hi, bins, counts, nullptr, nullptr, outside);
}

static HWY_NOINLINE void HistogramCountsMinMaxKernel(const float* p, size_t n, float lo, float hi,
                                                     uint32_t bins, uint32_t* counts,
                                                     float* min_io, float* max_io,
                                                     uint64_t* outside) {
  HistogramImpl<true>(p, n, lo, hi, bins, counts, min_io, max_io, outside);
}

// Fake-quant of one contiguous run with one scale / zero point. `divide`: x / scale (per
// channel) instead of x * (1 / scale) (per tensor). Requires |quant_min|, |quant_max|,
// |zero_point| <= 2^23, so every integer involved is exact in float32 and the float clamp and
// product equal PyTorch's int64 / double ones.
HWY_INLINE void FakeQuantRun(const float* in, size_t n, float mul_or_div, bool divide,
                             int64_t zero_point, int64_t quant_min, int64_t quant_max, float scale,
                             float* out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vf = hn::Set(d, mul_or_div);
  const auto vzp = hn::Set(d, static_cast<float>(zero_point));
  const auto vqmin = hn::Set(d, static_cast<float>(quant_min));
  const auto vqmax = hn::Set(d, static_cast<float>(quant_max));
  const auto vscale = hn::Set(d, scale);
  const auto vlimit = hn::Set(d, 9.2233720368547758e18f);  // 2^63: int64 conversion limit
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, in + i);
    const auto r = hn::Round(divide ? hn::Div(v, vf) : hn::Mul(v, vf));
    const auto qf = hn::Add(vzp, r);
    // NaN / ±inf / |q| >= 2^63 become INT64_MIN in PyTorch's cast on x86, i.e. quant_min.
    const auto ok = hn::Lt(hn::Abs(qf), vlimit);
    const auto cl = hn::IfThenElse(ok, hn::Min(hn::Max(qf, vqmin), vqmax), vqmin);
    hn::StoreU(hn::Mul(hn::Sub(cl, vzp), vscale), d, out + i);
  }
  for (; i < n; ++i) {
    out[i] = reference::FakeQuantizeOne(in[i], mul_or_div, divide, zero_point, quant_min, quant_max,
                                        scale);
  }
}

inline bool FitsFloatExactly(int64_t v) {
  return v >= -(int64_t{1} << 23) && v <= (int64_t{1} << 23);
}

static HWY_NOINLINE void FakeQuantizePerTensorKernel(const float* in, size_t n, float scale,
                                                     int64_t zero_point, int64_t quant_min,
                                                     int64_t quant_max, float* out) {
  if (!FitsFloatExactly(quant_min) || !FitsFloatExactly(quant_max) ||
      !FitsFloatExactly(zero_point)) {
    reference::FakeQuantizePerTensor(in, n, scale, zero_point, quant_min, quant_max, out);
    return;
  }
  FakeQuantRun(in, n, 1.0f / scale, false, zero_point, quant_min, quant_max, scale, out);
}

static HWY_NOINLINE void FakeQuantizePerChannelKernel(const float* in, size_t outer,
                                                      size_t channels, size_t inner,
                                                      const float* scale, const int32_t* zero_point,
                                                      int64_t quant_min, int64_t quant_max,
                                                      float* out) {
  bool exact = FitsFloatExactly(quant_min) && FitsFloatExactly(quant_max);
  for (size_t c = 0; c < channels && exact; ++c) exact = FitsFloatExactly(zero_point[c]);
  if (!exact) {
    reference::FakeQuantizePerChannel(in, outer, channels, inner, scale, zero_point, quant_min,
                                      quant_max, out);
    return;
  }
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  if (inner < 4 * N && outer > 1) {
    // Short runs (e.g. ch_axis=1 of a 3x3 weight: runs of 9): vectorize across channels with the
    // scale / zero point expanded to one [channels * inner] row, the same lane operations as
    // FakeQuantRun's divide form.
    const size_t block = channels * inner;
    std::vector<float> sc(block), zp(block);
    for (size_t c = 0; c < channels; ++c) {
      std::fill(sc.begin() + c * inner, sc.begin() + (c + 1) * inner, scale[c]);
      std::fill(zp.begin() + c * inner, zp.begin() + (c + 1) * inner,
                static_cast<float>(zero_point[c]));
    }
    const auto vqmin = hn::Set(d, static_cast<float>(quant_min));
    const auto vqmax = hn::Set(d, static_cast<float>(quant_max));
    const auto vlimit = hn::Set(d, 9.2233720368547758e18f);  // 2^63: int64 conversion limit
    for (size_t o = 0; o < outer; ++o) {
      const float* row = in + o * block;
      float* dst = out + o * block;
      size_t i = 0;
      for (; i + N <= block; i += N) {
        const auto v = hn::LoadU(d, row + i);
        const auto vs = hn::LoadU(d, sc.data() + i);
        const auto vzp = hn::LoadU(d, zp.data() + i);
        const auto qf = hn::Add(vzp, hn::Round(hn::Div(v, vs)));
        const auto ok = hn::Lt(hn::Abs(qf), vlimit);
        const auto cl = hn::IfThenElse(ok, hn::Min(hn::Max(qf, vqmin), vqmax), vqmin);
        hn::StoreU(hn::Mul(hn::Sub(cl, vzp), vs), d, dst + i);
      }
      for (; i < block; ++i) {
        const size_t c = i / inner;
        dst[i] = reference::FakeQuantizeOne(row[i], scale[c], true, zero_point[c], quant_min,
                                            quant_max, scale[c]);
      }
    }
    return;
  }
  for (size_t o = 0; o < outer; ++o) {
    for (size_t c = 0; c < channels; ++c) {
      const size_t base = (o * channels + c) * inner;
      FakeQuantRun(in + base, inner, scale[c], true, zero_point[c], quant_min, quant_max, scale[c],
                   out + base);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace qprep::observers::kernels
HWY_AFTER_NAMESPACE();

#endif  // QPREP_BACKENDS_CPU_KERNELS_INL_H_ toggle
