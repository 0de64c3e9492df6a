// The read-bandwidth reference kernels of the observer benchmarks: a vectorized sum and a
// vectorized min/max over a float buffer, in Google Highway with dynamic dispatch. Every observer
// kernel reads its input once, so these are the speed limit the benchmarks report against
// (docs/benchmarks-observers.md).
#ifndef QPREP_BENCH_OBSERVERS_BANDWIDTH_H_
#define QPREP_BENCH_OBSERVERS_BANDWIDTH_H_

#include <cstddef>

namespace qprep::bench {

// Sum of p[0, n) (four independent accumulators, so the adds never limit the loop).
float ReadBandwidthSum(const float* p, size_t n);
// Min and max of p[0, n) (no NaN handling: the data is finite).
void ReadBandwidthMinMax(const float* p, size_t n, float* min_out, float* max_out);
// ReadBandwidthSum with a software prefetch 2 KB ahead, as the observer kernels issue it
// (backends/cpu/kernels-inl.h): on the test machine the hardware prefetcher alone leaves a
// streaming loop below what the memory delivers, so this is the stricter limit.
float ReadBandwidthSumPrefetch(const float* p, size_t n);
// ReadBandwidthSum split over `threads` threads (the caller's thread takes the first chunk), as
// the observers split a large tensor; for comparing multi-threaded observers in wall time.
float ReadBandwidthSumThreaded(const float* p, size_t n, int threads);
// The Highway target chosen on this machine.
const char* BandwidthTargetName();

}  // namespace qprep::bench

#endif  // QPREP_BENCH_OBSERVERS_BANDWIDTH_H_
