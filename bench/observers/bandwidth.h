// The read-bandwidth reference kernels of the observer benchmarks: a vectorized sum and a
// vectorized min/max over a float buffer, in Google Highway with dynamic dispatch. Every observer
// kernel reads its input once, so these are the speed limit the benchmarks report against
// (docs/benchmarks-observers.md).
#ifndef QPREP_BENCH_OBSERVERS_BANDWIDTH_H_
#define QPREP_BENCH_OBSERVERS_BANDWIDTH_H_

#include <cstddef>
#include <cstdint>

namespace qprep::bench {

// Sum of p[0, n) (four independent accumulators, so the adds never limit the loop).
float ReadBandwidthSum(const float* p, size_t n);
// Min and max of p[0, n) (no NaN handling: the data is finite).
void ReadBandwidthMinMax(const float* p, size_t n, float* min_out, float* max_out);
// ReadBandwidthSum with a software prefetch 2 KB ahead, as the observer kernels issue it
// (backends/cpu/kernels-inl.h): on the test machine the hardware prefetcher alone leaves a
// streaming loop below what the memory delivers, so this is the stricter limit.
float ReadBandwidthSumPrefetch(const float* p, size_t n);
// ReadBandwidthSum split over `threads` threads with the observers' own worker pool
// (backends/cpu/parallel.h) and chunks, as they split a large tensor; for comparing
// multi-threaded observers in wall time.
float ReadBandwidthSumThreaded(const float* p, size_t n, int threads);
// The floor of any exact histogram that increments one counter per value, measured rather than
// assumed: streams p[0, n) like ReadBandwidthSumPrefetch and, per block of 128 values, adds one to
// the counters at slots[0, 128) (eight uint16 sub-histograms `stride` apart in `sub`, slot k in
// sub-histogram k % 8: HistogramImpl's layout and order). It is HistogramCounts without the bin
// arithmetic. `sub` holds 8 * stride counters and slots[k] < stride; the counters wrap (unsigned
// arithmetic), their values are not the point. Returns the sum. With read = false it does the
// same increments without touching p (the increments' own cost, for the analysis).
float ReadAndIncrementBound(const float* p, size_t n, const int32_t* slots, uint16_t* sub,
                            size_t stride, bool read = true);
// The Highway target chosen on this machine.
const char* BandwidthTargetName();

}  // namespace qprep::bench

#endif  // QPREP_BENCH_OBSERVERS_BANDWIDTH_H_
