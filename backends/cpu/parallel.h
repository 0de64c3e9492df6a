// Threads for the observer kernels (backends/cpu): one process-wide pool of persistent workers
// that every observer splits its large tensors over (ObserverOptions::num_threads).
//
// Starting a std::thread per call cost 0.1-0.13 ms per call on the test machine (a KVM guest):
// 5-10% of a HistogramObserver forward on a 6.4M-value activation split over two threads, more
// on smaller tensors. The pool starts its workers once, on first use, and keeps them; between
// calls they spin briefly (back-to-back calls, the calibration loop) and then sleep.
//
// Contract: ParallelChunks(threads, n, fn) calls fn(begin, end, t) once for each t in
// [0, k), k = min(threads, n) (or k = 1 when threads <= 1 or n < 2), with the contiguous chunks
// [n*t/k, n*(t+1)/k) that cover [0, n) — the same split for the same arguments, so a kernel that
// reduces per chunk gives the same result every run. Chunk 0 runs on the calling thread, chunk t
// on pool worker t. It returns when every chunk has returned. Calls from several threads at once
// take turns; a call made from inside fn (on any thread of the pool) runs all its chunks on the
// calling thread, so nesting cannot deadlock; so does every call in a child process made by
// fork() (the workers do not survive a fork). fn must not throw.
#ifndef QPREP_BACKENDS_CPU_PARALLEL_H_
#define QPREP_BACKENDS_CPU_PARALLEL_H_

#include <cmath>
#include <cstddef>
#include <utility>

#include "absl/functional/function_ref.h"
#include "backends/cpu/observer.h"

namespace qprep::observers {

void ParallelChunks(int threads, size_t n, absl::FunctionRef<void(size_t, size_t, int)> fn);

// The thread count for `elements` values: options.num_threads, but no more threads than
// options.min_elements_per_thread fills; at least 1.
int ThreadsFor(const ObserverOptions& options, size_t elements);

// torch.min / torch.max of two float32 scalars (combining per-chunk results): NaN propagates.
inline float NanMin(float a, float b) {
  return std::isnan(a) || std::isnan(b) ? NAN : (b < a ? b : a);
}
inline float NanMax(float a, float b) {
  return std::isnan(a) || std::isnan(b) ? NAN : (b > a ? b : a);
}

// Whole-tensor min / max (torch.aminmax) of p[0, n) over ThreadsFor(options, n) chunks; exact
// for any thread count.
std::pair<float, float> TensorMinMax(const float* p, size_t n, const ObserverOptions& options);

}  // namespace qprep::observers

#endif  // QPREP_BACKENDS_CPU_PARALLEL_H_
