// Verifies that every compiled Highway target's observer kernels (backends/cpu/kernels-inl.h)
// equal the scalar references (kernels_reference.cc) bit for bit, on sizes around the vector
// width, NaN / ±inf / denormals / rounding ties / out-of-range values.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tests/observers/kernels_test.cc"
// foreach_target.h must come first, then the per-target code.
// clang-format off
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "backends/cpu/kernels-inl.h"
#include "backends/cpu/kernels.h"
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
// clang-format on

#ifndef QPREP_TESTS_OBSERVERS_KERNELS_TEST_HELPERS_
#define QPREP_TESTS_OBSERVERS_KERNELS_TEST_HELPERS_
namespace qprep::observers::kernels::testing_helpers {

inline bool SameFloat(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  // min / max of +0 and -0 may pick either zero; both are the same statistic.
  return x == y || (a == 0.0f && b == 0.0f);
}

inline std::vector<float> Data(size_t n, uint32_t seed, int flavor) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> v(n);
  for (float& f : v) f = normal(rng);
  if (n == 0) return v;
  std::uniform_int_distribution<size_t> pos(0, n - 1);
  switch (flavor) {
    case 1:
      v[pos(rng)] = std::numeric_limits<float>::quiet_NaN();
      break;
    case 2:
      v[pos(rng)] = std::numeric_limits<float>::infinity();
      v[pos(rng)] = -std::numeric_limits<float>::infinity();
      break;
    case 3:
      for (float& f : v) f *= 1e-39f;  // denormals
      break;
    case 4:
      for (float& f : v) f = std::round(f * 4.0f) / 4.0f;  // ties at scale 0.5
      break;
    case 5:
      for (float& f : v) f *= 1e20f;  // beyond every quantized range
      break;
    default:
      break;
  }
  return v;
}

}  // namespace qprep::observers::kernels::testing_helpers
#endif

HWY_BEFORE_NAMESPACE();
namespace qprep::observers::kernels {
namespace HWY_NAMESPACE {

using testing_helpers::Data;
using testing_helpers::SameFloat;

void TestMinMaxMatchesReference() {
  for (size_t n : {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4099}) {
    for (int flavor = 0; flavor < 4; ++flavor) {
      const auto v = Data(n, static_cast<uint32_t>(n * 7 + flavor), flavor);
      float mn = std::numeric_limits<float>::infinity(), mx = -mn;
      float rmn = mn, rmx = mx;
      MinMaxKernel(v.data(), n, &mn, &mx);
      reference::MinMax(v.data(), n, &rmn, &rmx);
      EXPECT_TRUE(SameFloat(mn, rmn)) << n << " " << flavor << ": " << mn << " vs " << rmn;
      EXPECT_TRUE(SameFloat(mx, rmx)) << n << " " << flavor << ": " << mx << " vs " << rmx;
      if (flavor == 1 && n > 0) {
        EXPECT_TRUE(std::isnan(mn) && std::isnan(mx)) << "NaN must stick, n=" << n;
      }
    }
  }
}

void TestPerChannelMinMaxMatchesReference() {
  struct Shape {
    size_t outer, channels, inner;
  };
  for (Shape s : {Shape{1, 5, 37}, Shape{3, 4, 1}, Shape{7, 3, 2}, Shape{2, 16, 130},
                  Shape{5, 3, 17}, Shape{64, 3, 1}, Shape{1, 1, 1}}) {
    for (int flavor = 0; flavor < 4; ++flavor) {
      const size_t n = s.outer * s.channels * s.inner;
      const auto v = Data(n, static_cast<uint32_t>(n + flavor), flavor);
      std::vector<float> mn(s.channels, std::numeric_limits<float>::infinity());
      std::vector<float> mx(s.channels, -std::numeric_limits<float>::infinity());
      auto rmn = mn, rmx = mx;
      PerChannelMinMaxKernel(v.data(), s.outer, s.channels, s.inner, mn.data(), mx.data());
      reference::PerChannelMinMax(v.data(), s.outer, s.channels, s.inner, rmn.data(), rmx.data());
      for (size_t c = 0; c < s.channels; ++c) {
        EXPECT_TRUE(SameFloat(mn[c], rmn[c])) << s.outer << "x" << s.channels << "x" << s.inner;
        EXPECT_TRUE(SameFloat(mx[c], rmx[c])) << s.outer << "x" << s.channels << "x" << s.inner;
      }
    }
  }
}

void TestHistogramCountsMatchReference() {
  for (size_t n : {0, 1, 5, 16, 33, 127, 128, 129, 256, 272, 1000, 5003}) {
    for (uint32_t bins : {1u, 7u, 256u, 2048u}) {
      for (int flavor : {0, 1, 2, 4}) {
        auto v = Data(n, static_cast<uint32_t>(n * 3 + bins + flavor), flavor);
        float lo = -2.5f, hi = 4.0f;
        if (n > 2) {
          v[0] = lo;  // both edges, inclusive
          v[1] = hi;
        }
        std::vector<uint32_t> got(bins, 0), want(bins, 0);
        HistogramCountsKernel(v.data(), n, lo, hi, bins, got.data());
        reference::HistogramCounts(v.data(), n, lo, hi, bins, want.data());
        EXPECT_EQ(got, want) << "n=" << n << " bins=" << bins << " flavor=" << flavor;
      }
    }
  }
}

// The kernels of the speculative HistogramObserver forward: counts, min / max and the number of
// values not counted, against the references, on NaN / ±inf / edges / large counts.
void TestHistogramCountsMinMaxMatchesReference() {
  for (size_t n : {0, 1, 5, 16, 33, 1000, 5003, 70001}) {
    for (uint32_t bins : {1u, 7u, 2048u}) {
      for (int flavor : {0, 1, 2, 4}) {
        auto v = Data(n, static_cast<uint32_t>(n * 5 + bins + flavor), flavor);
        float lo = -2.5f, hi = 4.0f;
        if (n > 2) {
          v[0] = lo;
          v[1] = hi;
        }
        for (float start : {std::numeric_limits<float>::infinity(), 0.5f,
                            std::numeric_limits<float>::quiet_NaN()}) {
          std::vector<uint32_t> got(bins, 0), want(bins, 0);
          float mn = start, mx = -start, rmn = start, rmx = -start;
          uint64_t out = 7, rout = 7;
          HistogramCountsMinMaxKernel(v.data(), n, lo, hi, bins, got.data(), &mn, &mx, &out);
          reference::HistogramCountsMinMax(v.data(), n, lo, hi, bins, want.data(), &rmn, &rmx,
                                           &rout);
          EXPECT_EQ(got, want) << "n=" << n << " bins=" << bins << " flavor=" << flavor;
          EXPECT_EQ(out, rout) << "n=" << n << " bins=" << bins << " flavor=" << flavor;
          EXPECT_TRUE(SameFloat(mn, rmn)) << n << " " << flavor << ": " << mn << " vs " << rmn;
          EXPECT_TRUE(SameFloat(mx, rmx)) << n << " " << flavor << ": " << mx << " vs " << rmx;
        }
        std::vector<uint32_t> got(bins, 0), want(bins, 0);
        uint64_t out = 3, rout = 3;
        HistogramCountsOutsideKernel(v.data(), n, lo, hi, bins, got.data(), &out);
        reference::HistogramCountsOutside(v.data(), n, lo, hi, bins, want.data(), &rout);
        EXPECT_EQ(got, want) << "n=" << n << " bins=" << bins << " flavor=" << flavor;
        EXPECT_EQ(out, rout) << "n=" << n << " bins=" << bins << " flavor=" << flavor;
      }
    }
  }
}

// Values within a few ulp of bin edges, for random ranges and bin counts on both sides of the
// reciprocal path's limit (2^19): the fast path must fall back wherever it cannot prove the bin.
void TestHistogramCountsNearEdges() {
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (int round = 0; round < 40; ++round) {
    const uint32_t bins = round % 4 == 0 ? (uint32_t{1} << 19) + (round % 8 == 0 ? 1 : 0)
                                         : 1 + static_cast<uint32_t>(rng() % 4096);
    const float lo = (unit(rng) - 0.5f) * std::pow(10.0f, static_cast<float>(rng() % 9) - 4);
    const float hi = lo + std::pow(10.0f, static_cast<float>(rng() % 9) - 4) * (0.1f + unit(rng));
    if (!(hi > lo)) continue;
    std::vector<float> v(4000);
    for (float& x : v) {
      // An edge lo + (hi - lo) * k / bins, moved by a few ulp; some values outside the range.
      const uint32_t k = static_cast<uint32_t>(rng() % (bins + 1));
      float e = lo + (hi - lo) * (static_cast<float>(k) / static_cast<float>(bins));
      const int ulps = static_cast<int>(rng() % 9) - 4;
      for (int j = 0; j < std::abs(ulps); ++j) {
        e = std::nextafter(e, ulps > 0 ? std::numeric_limits<float>::infinity()
                                       : -std::numeric_limits<float>::infinity());
      }
      x = e;
    }
    std::vector<uint32_t> got(bins, 0), want(bins, 0);
    float mn = std::numeric_limits<float>::infinity(), mx = -mn, rmn = mn, rmx = mx;
    uint64_t out = 0, rout = 0;
    HistogramCountsMinMaxKernel(v.data(), v.size(), lo, hi, bins, got.data(), &mn, &mx, &out);
    reference::HistogramCountsMinMax(v.data(), v.size(), lo, hi, bins, want.data(), &rmn, &rmx,
                                     &rout);
    EXPECT_EQ(got, want) << "round " << round << " bins " << bins << " [" << lo << ", " << hi
                         << "]";
    EXPECT_EQ(out, rout);
    std::fill(got.begin(), got.end(), 0u);
    HistogramCountsKernel(v.data(), v.size(), lo, hi, bins, got.data());
    EXPECT_EQ(got, want) << "round " << round;
  }
}

// More than 65535 values in one bin (and on the top edge, which folds into the last bin): the
// uint16 sub-histograms must flush before they wrap.
void TestHistogramCountsLargeCounts() {
  const size_t n = 300007;
  std::vector<float> v(n, 1.0f);
  for (size_t i = 0; i < n; i += 3) v[i] = 4.0f;  // hi: the last bin
  std::vector<uint32_t> got(2048, 0), want(2048, 0);
  HistogramCountsKernel(v.data(), n, -2.5f, 4.0f, 2048, got.data());
  reference::HistogramCounts(v.data(), n, -2.5f, 4.0f, 2048, want.data());
  EXPECT_EQ(got, want);
  EXPECT_EQ(want[2047], (n + 2) / 3);
  std::fill(got.begin(), got.end(), 0u);
  float mn = std::numeric_limits<float>::infinity(), mx = -mn;
  uint64_t out = 0;
  HistogramCountsMinMaxKernel(v.data(), n, -2.5f, 4.0f, 2048, got.data(), &mn, &mx, &out);
  EXPECT_EQ(got, want);
  EXPECT_EQ(out, 0u);
  EXPECT_EQ(mn, 1.0f);
  EXPECT_EQ(mx, 4.0f);
}

void TestFakeQuantizePerTensorMatchesReference() {
  struct Range {
    int64_t qmin, qmax, zp;
  };
  for (Range r : {Range{0, 255, 3}, Range{-128, 127, 0}, Range{0, 15, 7}, Range{0, 127, 64},
                  Range{-2147483648LL, 2147483647LL, 0}}) {
    for (float scale : {0.5f, 0.0123f, 1e-6f, 3.0f}) {
      for (int flavor = 0; flavor < 6; ++flavor) {
        const size_t n = 1000 + flavor;
        const auto v = Data(n, static_cast<uint32_t>(flavor * 11 + r.qmax), flavor);
        std::vector<float> got(n), want(n);
        FakeQuantizePerTensorKernel(v.data(), n, scale, r.zp, r.qmin, r.qmax, got.data());
        reference::FakeQuantizePerTensor(v.data(), n, scale, r.zp, r.qmin, r.qmax, want.data());
        size_t bad = 0;
        for (size_t i = 0; i < n; ++i) bad += !SameFloat(got[i], want[i]);
        EXPECT_EQ(bad, 0u) << "range " << r.qmin << ".." << r.qmax << " scale " << scale
                           << " flavor " << flavor;
      }
    }
  }
}

void TestFakeQuantizePerChannelMatchesReference() {
  const size_t outer = 3, channels = 4, inner = 45;
  const std::vector<float> scale = {0.5f, 0.02f, 1.5f, 1e-4f};
  const std::vector<int32_t> zp = {0, 10, -3, 127};
  for (int flavor = 0; flavor < 6; ++flavor) {
    const size_t n = outer * channels * inner;
    const auto v = Data(n, static_cast<uint32_t>(flavor + 99), flavor);
    std::vector<float> got(n), want(n);
    FakeQuantizePerChannelKernel(v.data(), outer, channels, inner, scale.data(), zp.data(), -128,
                                 127, got.data());
    reference::FakeQuantizePerChannel(v.data(), outer, channels, inner, scale.data(), zp.data(),
                                      -128, 127, want.data());
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad += !SameFloat(got[i], want[i]);
    EXPECT_EQ(bad, 0u) << "flavor " << flavor;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace qprep::observers::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace qprep::observers::kernels {
HWY_BEFORE_TEST(ObserverKernelsTest);
HWY_EXPORT_AND_TEST_P(ObserverKernelsTest, TestMinMaxMatchesReference);
HWY_EXPORT_AND_TEST_P(ObserverKernelsTest, TestPerChannelMinMaxMatchesReference);
HWY_EXPORT_AND_TEST_P(ObserverKernelsTest, TestHistogramCountsMatchReference);
HWY_EXPORT_AND_TEST_P(ObserverKernelsTest, TestHistogramCountsMinMaxMatchesReference);
HWY_EXPORT_AND_TEST_P(ObserverKernelsTest, TestHistogramCountsNearEdges);
HWY_EXPORT_AND_TEST_P(ObserverKernelsTest, TestHistogramCountsLargeCounts);
HWY_EXPORT_AND_TEST_P(ObserverKernelsTest, TestFakeQuantizePerTensorMatchesReference);
HWY_EXPORT_AND_TEST_P(ObserverKernelsTest, TestFakeQuantizePerChannelMatchesReference);

// The dispatched entry points (what observer.cc calls) agree with the references too.
TEST(ObserverKernelsDispatch, EntryPointsMatchReference) {
  const auto v = testing_helpers::Data(777, 5, 2);
  float mn = std::numeric_limits<float>::infinity(), mx = -mn, rmn = mn, rmx = mx;
  MinMax(v.data(), v.size(), &mn, &mx);
  reference::MinMax(v.data(), v.size(), &rmn, &rmx);
  EXPECT_EQ(mn, rmn);
  EXPECT_EQ(mx, rmx);
  EXPECT_NE(std::string(ChosenTargetName()), "");
}

}  // namespace qprep::observers::kernels
#endif
