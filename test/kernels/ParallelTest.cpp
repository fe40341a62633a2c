//===- ParallelTest.cpp - the kernels' parallel-loop helpers ---------------===//
//
// parallelFor, parallelRanges and parallelRegion (Common.h) must cover every
// index once for any thread count, inside and outside an active region, and
// must open no OpenMP region where the work runs on one thread: libgomp ends
// each region, even an `if (false)` one, with a system call, which batch-1
// inference would pay in every small kernel. omp_get_level() counts every
// enclosing region, active or not, so it tells whether one was opened.
//
//===----------------------------------------------------------------------===//

#include "net/Kernels/Common.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <vector>

using namespace netc::kernels::detail;

namespace {

/// Restores the thread count a test changes.
struct ThreadCount {
  int saved = omp_get_max_threads();
  explicit ThreadCount(int threads) { omp_set_num_threads(threads); }
  ~ThreadCount() { omp_set_num_threads(saved); }
};

/// How often each index of [0, count) was visited.
std::vector<int> visitsOfFor(int count, bool parallel) {
  std::vector<std::atomic<int>> visits(static_cast<std::size_t>(count));
  parallelFor(count, parallel, [&](int i) { visits[static_cast<std::size_t>(i)]++; });
  return std::vector<int>(visits.begin(), visits.end());
}

std::vector<int> visitsOfRanges(std::int64_t count, bool parallel) {
  std::vector<std::atomic<int>> visits(static_cast<std::size_t>(count));
  parallelRanges(count, parallel, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i)
      visits[static_cast<std::size_t>(i)]++;
  });
  return std::vector<int>(visits.begin(), visits.end());
}

} // namespace

TEST(ParallelHelpers, EveryIndexOnceForAnyThreadCount) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadCount scope(threads);
    for (int count : {0, 1, 2, 7, 1000})
      for (bool parallel : {false, true}) {
        SCOPED_TRACE(testing::Message() << threads << " threads, count " << count
                                        << (parallel ? ", parallel" : ", serial"));
        EXPECT_EQ(visitsOfFor(count, parallel), std::vector<int>(count, 1));
        EXPECT_EQ(visitsOfRanges(count, parallel), std::vector<int>(count, 1));
        std::vector<std::atomic<int>> visits(static_cast<std::size_t>(count));
        parallelRegion(parallel, [&](int thread, int team) {
          const StaticRange range = staticRange(count, thread, team);
          for (std::int64_t i = range.begin; i < range.end; ++i)
            visits[static_cast<std::size_t>(i)]++;
        });
        EXPECT_EQ(std::vector<int>(visits.begin(), visits.end()), std::vector<int>(count, 1));
      }
  }
}

TEST(ParallelHelpers, SerialWorkOpensNoRegion) {
  for (int threads : {1, 2}) {
    ThreadCount scope(threads);
    const int level = omp_get_level();
    std::atomic<int> calls{0}, deeper{0};
    auto note = [&] {
      calls++;
      if (omp_get_level() != level)
        deeper++;
    };
    parallelFor(100, /*parallel=*/false, [&](int) { note(); });
    parallelRanges(std::int64_t(100), /*parallel=*/false,
                   [&](std::int64_t, std::int64_t) { note(); });
    parallelRegion(/*parallel=*/false, [&](int thread, int team) {
      EXPECT_EQ(thread, 0);
      EXPECT_EQ(team, 1);
      note();
    });
    EXPECT_EQ(calls, 102);
    EXPECT_EQ(deeper, 0) << threads << " threads: a serial loop entered an OpenMP region";
    if (threads == 1) {
      // Asked for parallel work with one thread: still no region.
      calls = 0;
      parallelFor(100, /*parallel=*/true, [&](int) { note(); });
      parallelRegion(/*parallel=*/true, [&](int, int team) {
        EXPECT_EQ(team, 1);
        note();
      });
      EXPECT_EQ(calls, 101);
      EXPECT_EQ(deeper, 0) << "one thread: a parallel loop entered an OpenMP region";
    }
  }
}

TEST(ParallelHelpers, InsideAnActiveRegionEachCallerRunsItsOwnWork) {
  ThreadCount scope(2);
  std::atomic<int> outer{0}, bad{0};
  std::vector<std::atomic<int>> visits(2 * 50);
#pragma omp parallel num_threads(2)
  {
    const int me = omp_get_thread_num();
    outer++;
    // A kernel called from inside a region (fused_conv2d's blocks call
    // conv2d): its whole range runs on the caller's thread.
    parallelRegion(/*parallel=*/true, [&](int thread, int team) {
      if (thread != 0 || team != 1)
        bad++;
      const StaticRange range = staticRange(50, thread, team);
      for (std::int64_t i = range.begin; i < range.end; ++i)
        visits[static_cast<std::size_t>(me * 50 + i)]++;
    });
  }
  if (outer != 2)
    GTEST_SKIP() << "the OpenMP runtime gave the region " << outer.load() << " thread(s)";
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(std::vector<int>(visits.begin(), visits.end()), std::vector<int>(100, 1));
}

TEST(ParallelHelpers, StaticRangesTileTheCount) {
  for (int team : {1, 2, 3, 7})
    for (std::int64_t count : {0, 1, 5, 64, 1001}) {
      std::int64_t next = 0;
      for (int thread = 0; thread < team; ++thread) {
        const StaticRange range = staticRange(count, thread, team);
        EXPECT_EQ(range.begin, next);
        EXPECT_LE(range.begin, range.end);
        EXPECT_LE(range.end - range.begin, (count + team - 1) / team);
        next = range.end;
      }
      EXPECT_EQ(next, count);
    }
}
