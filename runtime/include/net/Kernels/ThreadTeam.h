//===- ThreadTeam.h - the kernels' own team of spinning threads -*- C++ -*-===//
//
// The kernels' parallel helpers (Common.h) run their regions on this team
// rather than on an OpenMP parallel region. libgomp starts and ends every
// region with a barrier whose last thread makes a futex wake, a system call,
// whether or not a thread sleeps on it: about 2.9 us a region on two threads
// in a virtual machine, where this team's start and end cost 0.6-0.7 us (its
// threads spin on one counter, and the system calls happen only where a
// thread has gone to sleep). A batch-1 forward opens a region per kernel, so
// that was a sixth of lenet5's latency.
//
// The team keeps OpenMP's contract for the kernels: its size is the calling
// thread's omp_get_max_threads() (what netc_set_threads and OMP_NUM_THREADS
// set), thread 0 is the caller, and the caller returns when every thread's
// body has. It is one per loaded library (the generated code is compiled
// with hidden visibility) and one caller at a time: a second application
// thread that calls a kernel while the team runs gets false from run() and
// opens an OpenMP region as before.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_THREADTEAM_H
#define NETC_KERNELS_THREADTEAM_H

#include <pthread.h>
#include <sched.h>
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

  /// Whether the calling thread runs a body of the team (its caller
  /// included): a kernel called from there runs its work alone.
  static bool &inside() {
    static thread_local bool flag = false;
    return flag;
  }

  /// body(thread, threads) on `threads` threads, the caller being thread 0;
  /// returns once every body has. False, and nothing run, when the team is
  /// busy with another caller or cannot grow.
  template <class Body> bool run(int threads, Body &body) {
    if (threads < 2 || threads > kMaxThreads || busy_.exchange(true, std::memory_order_acquire))
      return false;
    if (!grow(threads - 1)) {
      busy_.store(false, std::memory_order_release);
      return false;
    }
    job_ = {&call<Body>, const_cast<void *>(static_cast<const void *>(&body)), threads};
    // Every worker acknowledges the job, those past `threads` too: none may
    // still be reading job_ when the next run writes it.
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      // Taking the lock orders this wake after a sleeper's check of the
      // generation, so no wake is lost.
      { std::lock_guard<std::mutex> lock(mutex_); }
      wake_.notify_all();
    }
    inside() = true;
    body(0, threads);
    inside() = false;
    waitForWorkers();
    busy_.store(false, std::memory_order_release);
    return true;
  }

  ThreadTeam(const ThreadTeam &) = delete;
  ThreadTeam &operator=(const ThreadTeam &) = delete;

  ~ThreadTeam() {
    stopping_.store(true);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
    for (pthread_t worker : workers_)
      pthread_join(worker, nullptr);
  }

private:
  struct Job {
    void (*fn)(void *, int, int);
    void *body;
    int threads;
  };

  /// How long an idle worker spins before it sleeps: the gap between two
  /// kernels of a step is far shorter, the gap between two steps of a
  /// training run may not be. OMP_WAIT_POLICY, as for libgomp's threads:
  /// `active` spins until the next job, `passive` sleeps at once.
  static constexpr std::chrono::microseconds kSpin{200};

  ThreadTeam() : spin_(spinFromEnvironment()) {
    pthread_atfork(nullptr, nullptr, &restartInChild);
  }

  static std::chrono::microseconds spinFromEnvironment() {
    const char *policy = std::getenv("OMP_WAIT_POLICY");
    if (policy && strcasecmp(policy, "active") == 0)
      return std::chrono::hours(24 * 365);
    if (policy && strcasecmp(policy, "passive") == 0)
      return std::chrono::microseconds(0);
    return kSpin;
  }

  template <class Body> static void call(void *body, int thread, int threads) {
    (*static_cast<Body *>(body))(thread, threads);
  }

  /// A child after fork has only the thread that forked: the team starts
  /// afresh there, with new workers on its next run. (libgomp's pool is not
  /// restarted: an OpenMP region in such a child can hang.) The lock and the
  /// condition may have been held by threads that the child does not have,
  /// so they are made anew.
  static void restartInChild() {
    ThreadTeam &team = instance();
    team.workers_.clear();
    new (&team.mutex_) std::mutex;
    new (&team.wake_) std::condition_variable;
    team.pending_.store(0);
    team.sleepers_.store(0);
    team.busy_.store(false);
    team.oversubscribed_.store(false);
  }

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  /// At least `count` workers; false if a thread cannot be started.
  bool grow(int count) {
    if (static_cast<int>(workers_.size()) >= count)
      return true;
    // More threads than cores: a spinning thread would take a core from one
    // with work (libgomp shortens its spin likewise).
    oversubscribed_.store(count + 1 > usableCores(), std::memory_order_relaxed);
    while (static_cast<int>(workers_.size()) < count) {
      auto *start = new WorkerStart{this, static_cast<int>(workers_.size()) + 1,
                                    generation_.load(std::memory_order_relaxed)};
      pthread_t worker;
      if (pthread_create(&worker, nullptr, &workerMain, start) != 0) {
        delete start;
        return false;
      }
      workers_.push_back(worker);
    }
    return true;
  }

  struct WorkerStart {
    ThreadTeam *team;
    int index;
    std::uint32_t seen;
  };

  static void *workerMain(void *arg) {
    const WorkerStart start = *static_cast<WorkerStart *>(arg);
    delete static_cast<WorkerStart *>(arg);
    start.team->work(start.index, start.seen);
    return nullptr;
  }

  void work(int index, std::uint32_t seen) {
    inside() = true;
    for (;;) {
      seen = nextGeneration(seen);
      if (stopping_.load())
        return;
      const Job job = job_;
      if (index < job.threads)
        job.fn(job.body, index, job.threads);
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  static int usableCores() {
    cpu_set_t cores;
    if (sched_getaffinity(0, sizeof cores, &cores) == 0)
      return CPU_COUNT(&cores);
    const unsigned hardware = std::thread::hardware_concurrency();
    return hardware ? static_cast<int>(hardware) : 1;
  }

  /// Spins while the generation is `seen`, then sleeps until it changes.
  std::uint32_t nextGeneration(std::uint32_t seen) {
    const auto until = std::chrono::steady_clock::now() + spin_;
    const bool spin = spin_.count() > 0 && !oversubscribed_.load(std::memory_order_relaxed);
    for (int spins = 0; spin; ++spins) {
      const std::uint32_t now = generation_.load(std::memory_order_acquire);
      if (now != seen)
        return now;
      pause();
      if ((spins & 255) == 255 && std::chrono::steady_clock::now() > until)
        break;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    wake_.wait(lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen; });
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return generation_.load(std::memory_order_acquire);
  }

  /// Spins until every worker's body has returned; yields the core after a
  /// while, in case a worker was descheduled.
  void waitForWorkers() {
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < 100000 && !oversubscribed_.load(std::memory_order_relaxed))
        pause();
      else
        std::this_thread::yield();
    }
  }

  // The caller's fields and the workers' counter on separate cache lines.
  alignas(64) std::atomic<std::uint32_t> generation_{0};
  Job job_{};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> busy_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> oversubscribed_{false};
  const std::chrono::microseconds spin_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<pthread_t> workers_;
};

} // namespace netc::kernels::detail

#endif // NETC_KERNELS_THREADTEAM_H
