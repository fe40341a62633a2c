//===- ThreadTeam.h - the kernels' own team of spinning threads -*- C++ -*-===//
//
// The kernels' parallel helpers (Common.h) run their regions on this team
// rather than on an OpenMP parallel region. libgomp starts and ends every
// region with a barrier whose last thread makes a futex wake, a system call,
// whether or not a thread sleeps on it: 2.9-3.4 us a region on two threads
// in a virtual machine, where this team's start and end cost 0.2-0.8 us (its
// threads spin on one word, and the system calls happen only where a thread
// has gone to sleep). A batch-1 forward opens a region per kernel, so that
// was a sixth of lenet5's latency.
//
// The team keeps OpenMP's contract for the kernels: its size is the calling
// thread's omp_get_max_threads() (what netc_create's threads and
// OMP_NUM_THREADS set), thread 0 is the caller, and the caller returns when
// every thread's body has; a body that throws terminates, as in an OpenMP
// region. It is one per loaded library (the generated code is compiled with
// hidden visibility) and one caller at a time: a second application thread
// that calls a kernel while the team runs gets false from run() and opens an
// OpenMP region as before. A kernel called after the team was destroyed (from
// a static destructor) runs on its caller's thread alone (Common.h).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_THREADTEAM_H
#define NETC_KERNELS_THREADTEAM_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <strings.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace netc::kernels::detail {

class ThreadTeam {
public:
  /// Most threads the team grows to; more are refused (run() returns false).
  static constexpr int kMaxThreads = 256;

  /// The library's team, started on first use.
  static ThreadTeam &instance() {
    static ThreadTeam team;
    return team;
  }

  /// Whether the team was destroyed (at exit or when the library is
  /// unloaded): kernels called after that run on their caller's thread.
  static bool destroyed() { return destroyed_.load(std::memory_order_acquire); }

  /// Whether the calling thread runs a body of the team (its caller
  /// included): a kernel called from there runs its work alone.
  static bool &inside() {
    static thread_local bool flag = false;
    return flag;
  }

  /// body(thread, threads) on `threads` threads, the caller being thread 0;
  /// returns once every body has. False, and nothing run, when the team is
  /// busy with another caller, stopped, or cannot grow.
  template <class Body> bool run(int threads, Body &body) {
    if (threads < 2 || threads > kMaxThreads || destroyed() ||
        busy_.exchange(true, std::memory_order_acquire))
      return false;
    if (!grow(threads - 1)) {
      busy_.store(false, std::memory_order_release);
      return false;
    }
    job_ = {&call<Body>, const_cast<void *>(static_cast<const void *>(&body))};
    oversubscribed_.store(threads > cores_, std::memory_order_relaxed);
    pending_.store(threads - 1, std::memory_order_relaxed);
    // Workers past `threads` see the count in the word and leave job_ alone;
    // the others have all returned before the next run writes it.
    const std::uint64_t word = word_.load(std::memory_order_relaxed);
    word_.store(((word >> kCountBits) + 1) << kCountBits | std::uint64_t(threads),
                std::memory_order_seq_cst);
    // Wake the workers of this run that sleep (only those: one left out
    // would wake for nothing). Taking the lock orders the wake after the
    // sleeper's check of the word, so no wake is lost.
    bool locked = false;
    for (int index = 1; index < threads; ++index)
      if (sleepers_[index].asleep.load(std::memory_order_seq_cst)) {
        if (!locked) {
          std::lock_guard<std::mutex> lock(mutex_);
          locked = true;
        }
        sleepers_[index].wake.notify_one();
      }
    inside() = true;
    call<Body>(job_.body, 0, threads);
    inside() = false;
    waitForWorkers();
    busy_.store(false, std::memory_order_release);
    return true;
  }

  ThreadTeam(const ThreadTeam &) = delete;
  ThreadTeam &operator=(const ThreadTeam &) = delete;

  ~ThreadTeam() {
    // Refuse every later run, then wait out one of another thread.
    destroyed_.store(true, std::memory_order_seq_cst);
    while (busy_.exchange(true, std::memory_order_acquire))
      std::this_thread::yield();
    live_.store(nullptr);
    exit_.store(true, std::memory_order_relaxed);
    word_.fetch_add(std::uint64_t(1) << kCountBits, std::memory_order_seq_cst);
    { std::lock_guard<std::mutex> lock(mutex_); }
    for (Sleeper &sleeper : sleepers_)
      sleeper.wake.notify_one();
    for (pthread_t worker : workers_)
      pthread_join(worker, nullptr);
  }

private:
  struct Job {
    void (*fn)(void *, int, int) noexcept;
    void *body;
  };

  /// The word workers wait on: a generation above, the run's thread count in
  /// the low bits.
  static constexpr int kCountBits = 16;
  static constexpr std::uint64_t kCountMask = (std::uint64_t(1) << kCountBits) - 1;

  /// How long an idle worker spins before it sleeps: the gap between two
  /// kernels of a step is far shorter, the gap between two steps of a
  /// training run may not be. OMP_WAIT_POLICY, as for libgomp's threads:
  /// `active` spins until the next job, `passive` sleeps at once.
  static constexpr std::chrono::microseconds kSpin{200};

  /// A worker's stack: at least this, or the system's default if larger
  /// (the conv kernels keep up to 160 KiB of buffers on it; musl's default
  /// is 128 KiB).
  static constexpr std::size_t kMinStack = std::size_t(8) << 20;

  ThreadTeam() : spin_(spinFromEnvironment()), cores_(usableCores()) {
    workers_.reserve(kMaxThreads);
    pthread_atfork(nullptr, nullptr, &restartInChild);
    live_.store(this);
  }

  static std::chrono::microseconds spinFromEnvironment() {
    const char *policy = std::getenv("OMP_WAIT_POLICY");
    if (policy && strcasecmp(policy, "active") == 0)
      return std::chrono::hours(24 * 365);
    if (policy && strcasecmp(policy, "passive") == 0)
      return std::chrono::microseconds(0);
    return kSpin;
  }

  static int usableCores() {
    cpu_set_t cores;
    if (sched_getaffinity(0, sizeof cores, &cores) == 0)
      return CPU_COUNT(&cores);
    const unsigned hardware = std::thread::hardware_concurrency();
    return hardware ? static_cast<int>(hardware) : 1;
  }

  template <class Body> static void call(void *body, int thread, int threads) noexcept {
    (*static_cast<Body *>(body))(thread, threads);
  }

  /// A child after fork has only the thread that forked: the team starts
  /// afresh there, with new workers on its next run. (libgomp's pool is not
  /// restarted: an OpenMP region in such a child can hang.) The lock and the
  /// condition may have been held by threads that the child does not have,
  /// so they are made anew. A team still being built when the fork came is
  /// not live yet and has no workers.
  static void restartInChild() {
    ThreadTeam *team = live_.load();
    if (!team)
      return;
    team->workers_.clear();
    new (&team->mutex_) std::mutex;
    for (Sleeper &sleeper : team->sleepers_) {
      new (&sleeper.wake) std::condition_variable;
      sleeper.asleep.store(false);
    }
    team->pending_.store(0);
    team->busy_.store(false);
  }

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  struct WorkerStart {
    ThreadTeam *team;
    int index;
    std::uint64_t seen;
  };

  /// At least `count` workers; false if a thread cannot be started. Workers
  /// block every signal (the application's threads handle them) and get a
  /// stack of at least kMinStack.
  bool grow(int count) {
    if (static_cast<int>(workers_.size()) >= count)
      return true;
    pthread_attr_t attributes;
    if (pthread_attr_init(&attributes) != 0)
      return false;
    std::size_t stack = 0;
    if (pthread_attr_getstacksize(&attributes, &stack) == 0 && stack < kMinStack)
      pthread_attr_setstacksize(&attributes, kMinStack);
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    bool ok = true;
    while (ok && static_cast<int>(workers_.size()) < count) {
      auto *start = new (std::nothrow) WorkerStart{this, static_cast<int>(workers_.size()) + 1,
                                                   word_.load(std::memory_order_relaxed)};
      pthread_t worker;
      ok = start && pthread_create(&worker, &attributes, &workerMain, start) == 0;
      if (ok)
        workers_.push_back(worker); // reserved: cannot throw
      else
        delete start;
    }
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    pthread_attr_destroy(&attributes);
    return ok;
  }

  static void *workerMain(void *arg) {
    const WorkerStart start = *static_cast<WorkerStart *>(arg);
    delete static_cast<WorkerStart *>(arg);
    start.team->work(start.index, start.seen);
    return nullptr;
  }

  /// A worker left out of a run (the thread count shrank) sleeps at once
  /// rather than spin beside the threads at work.
  void work(int index, std::uint64_t seen) {
    inside() = true;
    bool needed = true;
    for (;;) {
      seen = nextWord(index, seen, needed);
      if (exit_.load(std::memory_order_relaxed))
        return;
      const int threads = int(seen & kCountMask);
      needed = index < threads;
      if (needed) {
        job_.fn(job_.body, index, threads);
        pending_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  /// Spins while the word is `seen` (if `spin`), then sleeps until it
  /// changes.
  std::uint64_t nextWord(int index, std::uint64_t seen, bool spin) {
    const auto until = std::chrono::steady_clock::now() + spin_;
    spin = spin && spin_.count() > 0 && !oversubscribed_.load(std::memory_order_relaxed);
    for (unsigned spins = 0; spin; ++spins) {
      const std::uint64_t now = word_.load(std::memory_order_acquire);
      if (now != seen)
        return now;
      pause();
      if ((spins & 255u) == 255u && std::chrono::steady_clock::now() > until)
        break;
    }
    Sleeper &sleeper = sleepers_[index];
    std::unique_lock<std::mutex> lock(mutex_);
    sleeper.asleep.store(true, std::memory_order_seq_cst);
    sleeper.wake.wait(lock, [&] { return word_.load(std::memory_order_seq_cst) != seen; });
    sleeper.asleep.store(false, std::memory_order_relaxed);
    return word_.load(std::memory_order_acquire);
  }

  /// Spins until every worker's body has returned; after about 50 us (or at
  /// once with more threads than cores) yields the core instead, in case a
  /// worker waits for it.
  void waitForWorkers() {
    const bool spin = !oversubscribed_.load(std::memory_order_relaxed);
    for (unsigned spins = 0; pending_.load(std::memory_order_acquire) != 0;) {
      if (spin && spins < 2048) {
        pause();
        ++spins;
      } else {
        std::this_thread::yield();
      }
    }
  }

  static inline std::atomic<ThreadTeam *> live_{nullptr};
  static inline std::atomic<bool> destroyed_{false};

  // What the workers read, what the caller writes per run and what the
  // workers write, each on its own cache lines.
  alignas(64) std::atomic<std::uint64_t> word_{0};
  Job job_{};
  std::atomic<bool> exit_{false};           // the workers' signal to return
  std::atomic<bool> oversubscribed_{false};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<bool> busy_{false};
  const std::chrono::microseconds spin_;
  const int cores_;
  std::mutex mutex_;
  /// Per worker (by index): whether it sleeps, and its wake.
  struct alignas(64) Sleeper {
    std::atomic<bool> asleep{false};
    std::condition_variable wake;
  };
  Sleeper sleepers_[kMaxThreads];
  std::vector<pthread_t> workers_;
};

} // namespace netc::kernels::detail

#endif // NETC_KERNELS_THREADTEAM_H
