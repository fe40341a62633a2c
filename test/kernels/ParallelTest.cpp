//===- ParallelTest.cpp - the kernels' parallel-loop helpers ---------------===//
//
// parallelFor, parallelRanges and parallelRegion (Common.h) must cover every
// index once for any thread count, inside and outside an active region (the
// kernels' team's or OpenMP's), from several application threads at once and
// in a child after fork, and must enter no region where the work runs on one
// thread: libgomp ends each region, even an `if (false)` one, with a system
// call, which batch-1 inference would pay in every small kernel.
// omp_get_level() counts every enclosing OpenMP region, active or not, and
// ThreadTeam::inside() says whether the team runs the caller.
//
//===----------------------------------------------------------------------===//

#include "net/Kernels/Common.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
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

/// Armed in a child process: at exit, after the team's destructor has run
/// (this object was built before the team, so it is destroyed after it),
/// a parallel loop must still cover its range, on the calling thread, not
/// wait for the stopped team. Ends the child with 0, or 5 for a wrong cover
/// or a loop that entered a region.
struct ParallelLoopAtExit {
  bool armed = false;
  ~ParallelLoopAtExit() {
    if (!armed)
      return;
    std::vector<std::atomic<int>> visits(64);
    std::atomic<int> inRegion{0};
    parallelFor(64, /*parallel=*/true, [&](int i) {
      visits[static_cast<std::size_t>(i)]++;
      if (omp_get_level() != 0 || ThreadTeam::inside())
        inRegion++;
    });
    for (auto &v : visits)
      if (v != 1)
        _exit(5);
    _exit(inRegion == 0 ? 0 : 5);
  }
} parallelLoopAtExit;

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
      if (omp_get_level() != level || ThreadTeam::inside())
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
    EXPECT_EQ(deeper, 0) << threads << " threads: a serial loop entered a region";
    if (threads == 1) {
      // Asked for parallel work with one thread: still no region.
      calls = 0;
      parallelFor(100, /*parallel=*/true, [&](int) { note(); });
      parallelRegion(/*parallel=*/true, [&](int, int team) {
        EXPECT_EQ(team, 1);
        note();
      });
      EXPECT_EQ(calls, 101);
      EXPECT_EQ(deeper, 0) << "one thread: a parallel loop entered a region";
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

TEST(ParallelHelpers, ParallelWorkRunsOnTheTeamWithoutAnOpenMPRegion) {
  ThreadCount scope(2);
  const int level = omp_get_level();
  std::atomic<int> onTeam{0}, inOpenMP{0}, threadsSeen{0};
  parallelRegion(/*parallel=*/true, [&](int thread, int team) {
    if (ThreadTeam::inside())
      onTeam++;
    if (omp_get_level() != level)
      inOpenMP++;
    threadsSeen |= 1 << thread;
    EXPECT_EQ(team, 2);
  });
  EXPECT_EQ(onTeam, 2);
  EXPECT_EQ(inOpenMP, 0);
  EXPECT_EQ(threadsSeen, 3);
  EXPECT_FALSE(ThreadTeam::inside()) << "the caller still counts as inside the team";
}

TEST(ParallelHelpers, InsideTheTeamEachCallerRunsItsOwnWork) {
  for (int threads : {2, 3}) {
    ThreadCount scope(threads);
    std::vector<std::atomic<int>> visits(static_cast<std::size_t>(threads * 40));
    std::atomic<int> bad{0};
    parallelRegion(/*parallel=*/true, [&](int me, int) {
      parallelFor(40, /*parallel=*/true, [&](int i) {
        if (!ThreadTeam::inside())
          bad++;
        visits[static_cast<std::size_t>(me * 40 + i)]++;
      });
      parallelRegion(/*parallel=*/true, [&](int thread, int team) {
        if (thread != 0 || team != 1)
          bad++;
      });
    });
    EXPECT_EQ(bad, 0) << threads << " threads";
    EXPECT_EQ(std::vector<int>(visits.begin(), visits.end()),
              std::vector<int>(static_cast<std::size_t>(threads * 40), 1));
  }
}

// Two application threads calling kernels at once: one gets the team, the
// other an OpenMP region (or the team after the first is done); each covers
// its own range once, many times over.
TEST(ParallelHelpers, ConcurrentCallersEachCoverTheirRange) {
  constexpr int kRounds = 2000, kCount = 64;
  std::atomic<int> wrong{0};
  auto caller = [&] {
    omp_set_num_threads(2);
    for (int round = 0; round < kRounds; ++round) {
      std::vector<std::atomic<int>> visits(kCount);
      parallelFor(kCount, /*parallel=*/true, [&](int i) { visits[static_cast<std::size_t>(i)]++; });
      for (auto &v : visits)
        if (v != 1)
          wrong++;
    }
  };
  std::thread first(caller), second(caller);
  first.join();
  second.join();
  EXPECT_EQ(wrong, 0);
}

// An idle worker spins for a while, then sleeps; a job after a longer gap
// must wake it (a lost wake would hang here).
TEST(ParallelHelpers, WorkersAsleepAreWoken) {
  ThreadCount scope(2);
  for (int round = 0; round < 40; ++round) {
    std::this_thread::sleep_for(std::chrono::microseconds(round % 2 ? 1500 : 50 * round));
    std::atomic<int> calls{0};
    parallelRegion(/*parallel=*/true, [&](int, int) { calls++; });
    ASSERT_EQ(calls, 2) << "round " << round;
  }
}

// The team's size follows the caller's thread count from call to call,
// smaller than the team has grown to included.
TEST(ParallelHelpers, TheTeamFollowsTheThreadCount) {
  for (int threads : {5, 2, 3, 1, 4, 2}) {
    ThreadCount scope(threads);
    std::atomic<int> calls{0}, wrongTeam{0};
    parallelRegion(/*parallel=*/true, [&](int, int team) {
      calls++;
      if (team != threads)
        wrongTeam++;
    });
    EXPECT_EQ(calls, threads);
    EXPECT_EQ(wrongTeam, 0) << threads << " threads";
  }
}

// A child after fork has none of its parent's threads: its kernels must not
// wait for the parent's workers, and get a team of their own. (An OpenMP
// region there can hang once the parent has used libgomp, as the tests
// above have.)
TEST(ParallelHelpers, AChildAfterForkRunsOnATeamOfItsOwn) {
  ThreadCount scope(2);
  parallelFor(100, /*parallel=*/true, [](int) {}); // the parent's team exists
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(20); // a hang fails the test rather than the suite
    for (int round = 0; round < 3; ++round) {
      std::vector<std::atomic<int>> visits(100);
      std::atomic<int> onTeam{0};
      parallelRegion(/*parallel=*/true, [&](int thread, int team) {
        if (ThreadTeam::inside() && team == 2)
          onTeam++;
        const StaticRange range = staticRange(100, thread, team);
        for (std::int64_t i = range.begin; i < range.end; ++i)
          visits[static_cast<std::size_t>(i)]++;
      });
      for (auto &v : visits)
        if (v != 1)
          _exit(2);
      if (onTeam != 2)
        _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: an index not visited once; 3: not run on a team of 2";
}

// A kernel called from a static destructor, after the team's own: it runs
// on its caller's thread (a hang here ends the child by its alarm).
TEST(ParallelHelpers, AfterTheTeamIsDestroyedLoopsStillRun) {
  ThreadCount scope(2);
  parallelFor(100, /*parallel=*/true, [](int) {}); // the team exists
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(20);
    omp_set_num_threads(2);
    parallelFor(100, /*parallel=*/true, [](int) {}); // the child's own workers
    parallelLoopAtExit.armed = true;
    std::exit(3); // the armed destructor ends the child with 0 or 5
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child was killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: the destructor did not run; 5: a wrong cover";
}
