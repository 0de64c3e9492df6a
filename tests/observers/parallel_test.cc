// The observer kernels' worker pool (backends/cpu/parallel.h): the chunks it hands out, where
// they run, nesting, concurrent callers, and many back-to-back jobs (the calibration pattern).
#include "backends/cpu/parallel.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

namespace qprep::observers {
namespace {

struct Call {
  size_t begin, end;
  int t;
  std::thread::id thread;
  bool operator<(const Call& o) const {
    return std::tie(t, begin, end) < std::tie(o.t, o.begin, o.end);
  }
};

std::vector<Call> Record(int threads, size_t n) {
  std::mutex mu;
  std::vector<Call> calls;
  ParallelChunks(threads, n, [&](size_t b, size_t e, int t) {
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back({b, e, t, std::this_thread::get_id()});
  });
  std::set<Call> sorted(calls.begin(), calls.end());
  return {sorted.begin(), sorted.end()};
}

TEST(ParallelChunks, SplitsIntoTheDocumentedContiguousChunks) {
  for (int threads : {1, 2, 3, 4, 7}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{5}, size_t{1000}, size_t{1001}}) {
      SCOPED_TRACE("threads=" + std::to_string(threads) + " n=" + std::to_string(n));
      const std::vector<Call> calls = Record(threads, n);
      const size_t k = (threads <= 1 || n < 2) ? 1 : std::min<size_t>(threads, n);
      ASSERT_EQ(calls.size(), k);
      for (size_t t = 0; t < k; ++t) {
        EXPECT_EQ(calls[t].t, static_cast<int>(t));
        EXPECT_EQ(calls[t].begin, n * t / k);
        EXPECT_EQ(calls[t].end, n * (t + 1) / k);
      }
      EXPECT_EQ(calls.front().begin, 0u);
      EXPECT_EQ(calls.back().end, n);
    }
  }
}

TEST(ParallelChunks, ChunkZeroRunsOnTheCallerAndTheOthersOnOtherThreads) {
  const std::vector<Call> calls = Record(3, 300);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].thread, std::this_thread::get_id());
  EXPECT_NE(calls[1].thread, std::this_thread::get_id());
  EXPECT_NE(calls[2].thread, std::this_thread::get_id());
  EXPECT_NE(calls[1].thread, calls[2].thread);
}

TEST(ParallelChunks, WorkersArePersistent) {
  // The same worker thread serves chunk 1 of consecutive jobs: no thread is started per call.
  const std::thread::id first = Record(2, 100)[1].thread;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Record(2, 100)[1].thread, first);
}

TEST(ParallelChunks, ANestedCallRunsInlineOnTheCallingThread) {
  std::atomic<int> inner_calls{0};
  std::atomic<bool> inner_left_its_thread{false};
  ParallelChunks(2, 2, [&](size_t, size_t, int) {
    const std::thread::id me = std::this_thread::get_id();
    ParallelChunks(2, 10, [&](size_t, size_t, int) {
      ++inner_calls;
      if (std::this_thread::get_id() != me) inner_left_its_thread = true;
    });
  });
  EXPECT_EQ(inner_calls.load(), 4);  // two outer chunks, each with two inner chunks
  EXPECT_FALSE(inner_left_its_thread.load());
}

TEST(ParallelChunks, ManyBackToBackJobsEachCoverTheirRangeOnce) {
  // The calibration pattern: thousands of short jobs. Every element is visited exactly once per
  // job, and the job returns only after all its chunks finished (the sum is complete).
  std::vector<int> visits(4096, 0);
  for (int job = 0; job < 3000; ++job) {
    const size_t n = 1 + static_cast<size_t>(job) % visits.size();
    std::atomic<size_t> sum{0};
    ParallelChunks(2, n, [&](size_t b, size_t e, int) {
      size_t local = 0;
      for (size_t i = b; i < e; ++i) {
        ++visits[i];
        local += i;
      }
      sum += local;
    });
    ASSERT_EQ(sum.load(), n * (n - 1) / 2) << "job " << job;
  }
  size_t total = 0;
  for (int v : visits) total += static_cast<size_t>(v);
  size_t expected = 0;
  for (int job = 0; job < 3000; ++job) expected += 1 + static_cast<size_t>(job) % visits.size();
  EXPECT_EQ(total, expected);
}

TEST(ParallelChunks, ConcurrentCallersTakeTurnsAndAllFinish) {
  constexpr int kCallers = 4, kJobs = 200;
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&] {
      for (int j = 0; j < kJobs; ++j) {
        ParallelChunks(2, 1000,
                       [&](size_t b, size_t e, int) { total += static_cast<long>(e - b); });
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), long{kCallers} * kJobs * 1000);
}

TEST(ParallelChunks, AForkedChildRunsItsJobsInline) {
  Record(2, 100);  // the parent's workers exist now; the child will not have them
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(20);  // a hang (waiting for a worker that does not exist) fails the test, not the suite
    std::atomic<size_t> covered{0};
    ParallelChunks(2, 1000, [&](size_t b, size_t e, int) { covered += e - b; });
    _exit(covered.load() == 1000 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child hung or crashed (status " << status << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace qprep::observers
