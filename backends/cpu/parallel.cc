// The observer kernels' worker pool (parallel.h).
//
// One job at a time (turn_mu_). A job is published under mu_ with a new generation number;
// workers read (generation, job) under mu_, so a worker always sees one consistent job, runs its
// chunk if it has one, and counts itself out of `pending_`. A job is published only after every
// participant of the previous one has counted out, so no worker is still inside an old job's
// function when its fields change. Waiting spins for a short while first (kSpin) and then blocks on
// a condition variable: calibration calls the kernels back to back, where a sleeping worker
// would add a futex wake-up (tens of microseconds in a VM) to every call.
#include "backends/cpu/parallel.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/cpu/kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace qprep::observers {
namespace {

using Fn = absl::FunctionRef<void(size_t, size_t, int)>;
using Clock = std::chrono::steady_clock;

// How long an idle worker, or a caller waiting for the workers, spins before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(100);

// True on a thread while it runs a chunk (the caller's chunk 0 included): a nested call then
// runs its chunks inline.
thread_local bool t_inside_chunk = false;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until pred() or kSpin has passed; returns pred().
template <typename Pred>
bool SpinUntil(Pred pred) {
  const auto deadline = Clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (pred()) return true;
    CpuRelax();
    if ((i & 63) == 63 && Clock::now() > deadline) return pred();
  }
}

class Pool {
 public:
  void Run(int k, size_t n, Fn fn) {
    std::lock_guard<std::mutex> turn(turn_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (static_cast<int>(workers_) < k - 1) {
        const int index = static_cast<int>(++workers_);
        std::thread([this, index] { Work(index); }).detach();
      }
      fn_ = &fn;
      n_ = n;
      k_ = k;
      pending_.store(k - 1, std::memory_order_relaxed);
      generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    work_cv_.notify_all();
    RunChunk(fn, n, k, 0);
    if (!SpinUntil([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
  }

 private:
  static void RunChunk(Fn fn, size_t n, int k, int t) {
    const bool was_inside = t_inside_chunk;
    t_inside_chunk = true;
    fn(n * static_cast<size_t>(t) / static_cast<size_t>(k),
       n * static_cast<size_t>(t + 1) / static_cast<size_t>(k), t);
    t_inside_chunk = was_inside;
  }

  void Work(int index) {
    uint64_t seen = 0;
    for (;;) {
      if (!SpinUntil([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
      }
      const Fn* fn;
      size_t n;
      int k;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen = generation_.load(std::memory_order_relaxed);
        fn = fn_;
        n = n_;
        k = k_;
      }
      if (index >= k) continue;  // not needed for this job
      RunChunk(*fn, n, k, index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        done_cv_.notify_all();
      }
    }
  }

  std::mutex turn_mu_;  // one job at a time
  std::mutex mu_;       // guards the job fields and the worker count
  std::condition_variable work_cv_, done_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  size_t workers_ = 0;
  const Fn* fn_ = nullptr;
  size_t n_ = 0;
  int k_ = 0;
};

Pool& ThePool() {
  // Never destroyed: its workers are detached and run until the process exits.
  static Pool* const pool = new Pool;
  return *pool;
}

// The process that owns the pool's workers: a child made by fork() has none of them (only the
// forking thread survives a fork), so there every call runs inline.
pid_t PoolOwner() {
  static const pid_t owner = getpid();
  return owner;
}

}  // namespace

void ParallelChunks(int threads, size_t n, Fn fn) {
  if (threads <= 1 || n < 2) {
    fn(size_t{0}, n, 0);
    return;
  }
  const int k = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), n));
  if (t_inside_chunk || PoolOwner() != getpid()) {
    for (int t = 0; t < k; ++t) {
      fn(n * static_cast<size_t>(t) / static_cast<size_t>(k),
         n * static_cast<size_t>(t + 1) / static_cast<size_t>(k), t);
    }
    return;
  }
  ThePool().Run(k, n, fn);
}

int ThreadsFor(const ObserverOptions& options, size_t elements) {
  const int64_t per = std::max<int64_t>(1, options.min_elements_per_thread);
  const int64_t useful = static_cast<int64_t>(elements) / per;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(options.num_threads, useful)));
}

std::pair<float, float> TensorMinMax(const float* p, size_t n, const ObserverOptions& options) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const int threads = ThreadsFor(options, n);
  std::vector<float> mins(threads, kInf), maxs(threads, -kInf);
  ParallelChunks(threads, n, [&](size_t b, size_t e, int t) {
    kernels::MinMax(p + b, e - b, &mins[t], &maxs[t]);
  });
  float mn = mins[0], mx = maxs[0];
  for (int t = 1; t < threads; ++t) {
    mn = NanMin(mn, mins[t]);
    mx = NanMax(mx, maxs[t]);
  }
  return {mn, mx};
}

}  // namespace qprep::observers
