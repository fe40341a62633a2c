//===- cuda_runtime.h - the CUDA runtime, emulated on the CPU ---*- C++ -*-===//
//
// Stands in for CUDA's own cuda_runtime.h so that the project's CUDA code
// (net/Kernels/cuda and the .cu netc emits) runs on a machine without a GPU,
// compiled by the host C++ compiler after rewrite_launches.py has turned each
// `kernel<<<...>>>(...)` into `::cudaemu::launch(...)(...)` (README.md).
//
// What it checks, because a GPU would fail or differ there:
//   - every thread of a block runs on its own fiber; __syncthreads() parks it
//     until every thread still running has arrived, and the threads run in
//     ascending then descending order between barriers, so a read of shared
//     memory that a barrier does not order sees the wrong value;
//   - launch shapes are checked as a GPU checks them (at most 1024 threads a
//     block, 64 in z, 65535 blocks in y and z); a bad one fails the launch and
//     is reported by cudaGetLastError();
//   - each block gets its __shared__ arrays afresh, filled with 0xFF bytes
//     (rewrite_launches.py turns the declarations into sharedArray calls),
//     so shared memory no thread of the block wrote reads as NaN, and a
//     block declaring more than 48 KiB stops the process;
//   - device memory is a registry of allocations filled with 0xFF bytes
//     (NaN as float), as a GPU's is uninitialised; cudaMemcpy and cudaMemset
//     check that their device side lies inside one allocation and their host
//     side outside every one, so a swapped direction or an overrun fails;
//   - stream capture records launches into the graph instead of running them
//     and refuses a copy, memset, allocation, free or synchronisation while
//     capturing (the contract that a step can be captured: Common.cuh);
//   - NETC_CUDAEMU_DEVICES=0 makes cudaGetDeviceCount fail as on a machine
//     without a driver, and NETC_CUDAEMU_MEMORY=<bytes> caps device memory,
//     so the callers' fall-backs are tested too.
// Built with ThreadSanitizer (the emulated racecheck), every thread is a
// fiber of its own, ordered only by its launch and its block's barriers, so
// threads or blocks touching the same memory unordered are reported.
// Built with AddressSanitizer (the emulated memcheck), it also reports a
// kernel reading or writing past the end of an allocation, and the host
// touching device memory: device memory is poisoned while no kernel runs, and
// while one runs only the bytes each allocation asked for are open.
// What it cannot check: timing, warp-level behaviour (the kernels use none),
// float results of fused multiply-adds the GPU contracts differently
// (hence the tests' stated tolerances), and, without AddressSanitizer, a
// device pointer dereferenced on the host (here it is ordinary memory).
//
// Launches run when they are made (a stream is a no-op); each block's threads
// start on reused fibers of 64 KiB stacks (256 KiB under AddressSanitizer),
// switched by a few lines of x86-64 assembly (swapcontext costs a system call
// a switch, 100x slower). A block whose thread 0 ends without a barrier runs
// its other threads as plain calls (not under ThreadSanitizer), so the
// barrier-free kernels run at the CPU's speed.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_CUDAEMU_CUDA_RUNTIME_H
#define NETC_CUDAEMU_CUDA_RUNTIME_H

#if !defined(__x86_64__)
#error "the CUDA emulator switches fibers in x86-64 assembly"
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define NETC_CUDAEMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NETC_CUDAEMU_ASAN 1
#endif
#endif
#ifdef NETC_CUDAEMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define NETC_CUDAEMU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NETC_CUDAEMU_TSAN 1
#endif
#endif
#ifdef NETC_CUDAEMU_TSAN
#include <sanitizer/tsan_interface.h>
// The emulator's own bookkeeping, which the host and the fibers share on one
// host thread, is not what the racecheck looks at.
#define NETC_CUDAEMU_NO_RACECHECK __attribute__((no_sanitize("thread"), noinline))
#else
#define NETC_CUDAEMU_NO_RACECHECK
#endif

// ---- The language: qualifiers (the built-in variables are at the end) ----

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Code rewrite_launches.py has not rewritten (the emulator's own tests): one
// block runs at a time on a host thread, so a static of the host thread
// serves as a block's shared memory.
#define __shared__ static thread_local

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
};

// CUDA's global min and max overloads.
#define NETC_CUDAEMU_MINMAX(T)                                                             \
  inline T min(T a, T b) { return b < a ? b : a; }                                         \
  inline T max(T a, T b) { return a < b ? b : a; }
NETC_CUDAEMU_MINMAX(int)
NETC_CUDAEMU_MINMAX(unsigned)
NETC_CUDAEMU_MINMAX(long)
NETC_CUDAEMU_MINMAX(unsigned long)
NETC_CUDAEMU_MINMAX(long long)
NETC_CUDAEMU_MINMAX(unsigned long long)
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
#undef NETC_CUDAEMU_MINMAX

// ---- The runtime's types --------------------------------------------------

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureWrongThread = 908,
  cudaErrorIllegalState = 401,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};

enum cudaDeviceAttr {
  cudaDevAttrClockRate = 13,
  cudaDevAttrMultiProcessorCount = 16,
};

struct CUstream_st;
using cudaStream_t = CUstream_st *;
#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaStreamPerThread ((cudaStream_t)0x2)

namespace cudaemu {
struct Graph;
struct Event;
} // namespace cudaemu
using cudaGraph_t = cudaemu::Graph *;
using cudaGraphExec_t = cudaemu::Graph *;
using cudaEvent_t = cudaemu::Event *;

struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  std::size_t sharedMemPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;
  int major;
  int minor;
  int multiProcessorCount;
  int memoryClockRate;
  int memoryBusWidth;
  int l2CacheSize;
};

// ---- The emulator ---------------------------------------------------------

// Saves the callee-saved registers, MXCSR and the x87 control word on the
// current stack, stores its pointer in *save and resumes the stack at `load`.
// Weak and hidden: every translation unit that includes this header defines
// it, and each library keeps its own.
extern "C" void netc_cudaemu_switch(void **save, void *load);
extern "C" void netc_cudaemu_trampoline();
asm(R"(
  .text
  .weak netc_cudaemu_switch
  .hidden netc_cudaemu_switch
  .type netc_cudaemu_switch, @function
netc_cudaemu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw 12(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr 8(%rsp)
  fldcw 12(%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size netc_cudaemu_switch, .-netc_cudaemu_switch

  .weak netc_cudaemu_trampoline
  .hidden netc_cudaemu_trampoline
  .type netc_cudaemu_trampoline, @function
netc_cudaemu_trampoline:
  movq %rbx, %rdi
  callq *%r12
  ud2
  .size netc_cudaemu_trampoline, .-netc_cudaemu_trampoline
)");

namespace cudaemu {
namespace detail {

[[noreturn]] inline void fatal(const std::string &what) {
  std::fprintf(stderr, "cudaemu: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// AddressSanitizer's view of memory and stacks; no-ops in a plain build.
inline void poison(const void *p, std::size_t bytes) {
#ifdef NETC_CUDAEMU_ASAN
  ASAN_POISON_MEMORY_REGION(p, bytes);
#else
  (void)p, (void)bytes;
#endif
}

inline void unpoison(const void *p, std::size_t bytes) {
#ifdef NETC_CUDAEMU_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
#else
  (void)p, (void)bytes;
#endif
}

/// Tells AddressSanitizer a stack switch is coming (it would otherwise take
/// the fiber's frames for a stack overflow or a corrupt stack).
inline void startSwitch(void **fakeStack, const void *bottom, std::size_t bytes) {
#ifdef NETC_CUDAEMU_ASAN
  __sanitizer_start_switch_fiber(fakeStack, bottom, bytes);
#else
  (void)fakeStack, (void)bottom, (void)bytes;
#endif
}

/// Tells it the switch has happened; `from*` receive the stack left.
inline void finishSwitch(void *fakeStack, const void **fromBottom, std::size_t *fromBytes) {
#ifdef NETC_CUDAEMU_ASAN
  __sanitizer_finish_switch_fiber(fakeStack, fromBottom, fromBytes);
#else
  (void)fakeStack, (void)fromBottom, (void)fromBytes;
#endif
}

// ThreadSanitizer's view (the emulated racecheck): every CUDA thread is a
// fiber of its own, and happens-before runs only where CUDA orders threads:
// from the launch to each thread, through each barrier of a block, from each
// thread to what follows the launch. No-ops in a plain build.
inline void *syncToken() {
#ifdef NETC_CUDAEMU_TSAN
  return new char; // a fresh address: nothing ordered through an earlier one
#else
  return nullptr;
#endif
}

inline void dropToken(void *token) {
#ifdef NETC_CUDAEMU_TSAN
  delete static_cast<char *>(token); // TSan forgets what was ordered through it
#else
  (void)token;
#endif
}

inline void releaseTo(void *token) {
#ifdef NETC_CUDAEMU_TSAN
  __tsan_release(token);
#else
  (void)token;
#endif
}

inline void acquireFrom(void *token) {
#ifdef NETC_CUDAEMU_TSAN
  __tsan_acquire(token);
#else
  (void)token;
#endif
}

/// The built-in variables of the thread running now.
struct ThreadIndex {
  uint3 thread{0, 0, 0}, block{0, 0, 0};
  dim3 blockDim, gridDim;
};

struct Fiber {
  void *sp = nullptr;    // saved stack pointer while switched out
  char *stack = nullptr; // its mapping
  void *fakeStack = nullptr; // AddressSanitizer's, while switched out
  void *tsanFiber = nullptr; // ThreadSanitizer's context
  ThreadIndex index;
  bool finished = true;
};

#ifdef NETC_CUDAEMU_ASAN
constexpr std::size_t kStackBytes = 256 * 1024; // room for the redzones of every local
#else
constexpr std::size_t kStackBytes = 64 * 1024;
#endif

/// Per host thread: the launch running, its fibers, device memory, errors.
struct State {
  ThreadIndex plain;                 // the index of a thread run as a plain call
  ThreadIndex *current = &plain;     // what threadIdx & co. read
  Fiber *fiber = nullptr;            // the fiber running, null on the host stack
  void *hostSp = nullptr;            // the host stack while a fiber runs
  const void *hostBottom = nullptr;  // and its extent, for AddressSanitizer
  std::size_t hostBytes = 0;
  void *hostTsanFiber = nullptr;     // ThreadSanitizer's context of the host
  void *launchToken = nullptr;       // released by the launch, acquired by each thread
  void *endToken = nullptr;          // released by each thread, acquired after the grid
  void *barrierArrive = nullptr;     // released by each thread arriving at a barrier
  void *barrierLeave = nullptr;      // acquired by each thread leaving it
  const std::function<void()> *body = nullptr;
  const char *kernel = "";
  bool barrierSeen = false;          // a thread of this block reached one
  char *sharedPool = nullptr;          // this block's shared memory
  std::size_t sharedCarved = 0;        // bytes of it given out, redzones included
  std::size_t sharedDeclared = 0;      // bytes the block's arrays take
  // Declaration -> array; plain arrays, for the fibers use them and the
  // racecheck looks into any library code they call.
  static constexpr int kMaxSharedArrays = 16;
  const void *sharedTags[kMaxSharedArrays];
  void *sharedArrays[kMaxSharedArrays];
  int sharedCount = 0;
  std::vector<std::unique_ptr<Fiber>> fibers;
  cudaError_t lastError = cudaSuccess;
  Graph *capturing = nullptr;
  bool captureBroken = false;
  std::uint64_t resumes = 0; // fiber resumes, for NETC_CUDAEMU_PROFILE
};

inline State &state() {
  static thread_local State s;
  return s;
}

NETC_CUDAEMU_NO_RACECHECK inline ThreadIndex &running() { return *state().current; }

// A block's shared memory (rewrite_launches.py turns each `__shared__`
// declaration into a sharedArray call): a pool of which each declaration
// reached gets its array, filled with 0xFF bytes (NaN as float) for every
// block, as a GPU's shared memory holds nothing a block can count on. Under
// AddressSanitizer the pool is poisoned but for the arrays, with a redzone
// before each; under the racecheck every block gets a new mapping, for the
// blocks of a GPU do not share their shared memory.
constexpr std::size_t kSharedBytes = 48 * 1024; // what a block may declare
constexpr std::size_t kSharedRedzone = 64;
constexpr std::size_t kSharedPoolBytes = 64 * 1024;

NETC_CUDAEMU_NO_RACECHECK inline char *mapSharedPool() {
  void *pool = mmap(nullptr, kSharedPoolBytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pool == MAP_FAILED)
    fatal("cannot map a block's shared memory");
  std::memset(pool, 0xFF, kSharedPoolBytes);
  poison(pool, kSharedPoolBytes);
  return static_cast<char *>(pool);
}

/// Called on the host before each block: its shared memory, fresh.
NETC_CUDAEMU_NO_RACECHECK inline void beginSharedMemory() {
  State &s = state();
#ifdef NETC_CUDAEMU_TSAN
  // A new mapping resets ThreadSanitizer's record of the old one's accesses
  // (none where the block before declared no array).
  if (!s.sharedPool || s.sharedCarved) {
    if (s.sharedPool)
      munmap(s.sharedPool, kSharedPoolBytes);
    s.sharedPool = mapSharedPool();
  }
#else
  if (s.sharedCarved) {
    unpoison(s.sharedPool, s.sharedCarved);
    std::memset(s.sharedPool, 0xFF, s.sharedCarved);
    poison(s.sharedPool, s.sharedCarved);
  }
#endif
  s.sharedCarved = s.sharedDeclared = 0;
  s.sharedCount = 0;
}

/// The array of `bytes` a declaration (named by `tag`) takes in this block.
NETC_CUDAEMU_NO_RACECHECK inline void *sharedArrayAt(const void *tag, std::size_t bytes,
                                                  std::size_t align) {
  State &s = state();
  for (int i = 0; i < s.sharedCount; ++i)
    if (s.sharedTags[i] == tag)
      return s.sharedArrays[i];
  if (!s.sharedPool)
    s.sharedPool = mapSharedPool();
  s.sharedDeclared += bytes;
  // The arrays a block reaches: nvcc counts every declaration, reached or not.
  if (s.sharedDeclared > kSharedBytes)
    fatal(std::string("kernel ") + s.kernel + ": its __shared__ arrays take " +
          std::to_string(s.sharedDeclared) + " bytes; a block may declare at most " +
          std::to_string(kSharedBytes));
  const std::size_t at = (s.sharedCarved + kSharedRedzone + align - 1) / align * align;
  if (s.sharedCount == State::kMaxSharedArrays)
    fatal(std::string("kernel ") + s.kernel + ": more than " +
          std::to_string(State::kMaxSharedArrays) + " __shared__ arrays, the emulator's limit");
  if (at + bytes > kSharedPoolBytes)
    fatal(std::string("kernel ") + s.kernel +
          ": its __shared__ arrays and their redzones outgrow the emulator's 64 KiB pool");
  char *array = s.sharedPool + at;
  unpoison(array, bytes);
  s.sharedCarved = at + bytes;
  s.sharedTags[s.sharedCount] = tag;
  s.sharedArrays[s.sharedCount++] = array;
  return array;
}

template <typename T> T &sharedArray(const void *tag) {
  return *static_cast<T *>(sharedArrayAt(tag, sizeof(T), alignof(T)));
}

/// From the running fiber back to the host stack, until resumed.
NETC_CUDAEMU_NO_RACECHECK inline void toHost(Fiber *f) {
  State &s = state();
#ifdef NETC_CUDAEMU_TSAN
  __tsan_switch_to_fiber(s.hostTsanFiber, __tsan_switch_to_fiber_no_sync);
#endif
  startSwitch(&f->fakeStack, s.hostBottom, s.hostBytes);
  netc_cudaemu_switch(&f->sp, s.hostSp);
  finishSwitch(f->fakeStack, &s.hostBottom, &s.hostBytes);
}

/// A fiber runs thread after thread of a block: each time it is resumed with
/// a new index it calls the launch's body, then reports it finished.
NETC_CUDAEMU_NO_RACECHECK inline void fiberMain(Fiber *f) {
  State &s = state();
  finishSwitch(nullptr, &s.hostBottom, &s.hostBytes);
  for (;;) {
    acquireFrom(s.launchToken);
    (*s.body)();
    releaseTo(s.endToken);
    f->finished = true;
    toHost(f);
  }
}

/// Points a fiber's stack at fiberMain, as netc_cudaemu_switch expects to
/// find a saved frame: 16 bytes of control words, r15..rbp, a return address.
NETC_CUDAEMU_NO_RACECHECK inline void prepare(Fiber *f) {
  auto *top = reinterpret_cast<std::uint64_t *>(f->stack + kStackBytes);
  std::uint64_t *sp = top - 11; // 88 bytes: after the ret, rsp is 16-aligned
  std::uint32_t mxcsr;
  std::uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  sp[0] = 0;
  sp[1] = std::uint64_t(mxcsr) | (std::uint64_t(fpucw) << 32);
  sp[2] = sp[3] = sp[4] = 0;                                      // r15, r14, r13
  sp[5] = reinterpret_cast<std::uint64_t>(&fiberMain);             // r12
  sp[6] = reinterpret_cast<std::uint64_t>(f);                      // rbx
  sp[7] = 0;                                                       // rbp
  sp[8] = reinterpret_cast<std::uint64_t>(&netc_cudaemu_trampoline); // ret
  sp[9] = sp[10] = 0;
  f->sp = sp;
}

NETC_CUDAEMU_NO_RACECHECK inline Fiber &fiberAt(std::size_t i) {
  State &s = state();
  while (s.fibers.size() <= i) {
    auto f = std::make_unique<Fiber>();
    // A page below the stack faults on an overflow instead of writing into
    // the next fiber's.
    const std::size_t guard = std::size_t(sysconf(_SC_PAGESIZE));
    void *mapping = mmap(nullptr, guard + kStackBytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED || mprotect(mapping, guard, PROT_NONE) != 0)
      fatal("cannot map a fiber stack");
    f->stack = static_cast<char *>(mapping) + guard;
#ifdef NETC_CUDAEMU_TSAN
    f->tsanFiber = __tsan_create_fiber(0);
#endif
    prepare(f.get());
    s.fibers.push_back(std::move(f));
  }
  return *s.fibers[i];
}

NETC_CUDAEMU_NO_RACECHECK inline void resume(Fiber &f) {
  State &s = state();
  s.fiber = &f;
  s.current = &f.index;
  ++s.resumes;
#ifdef NETC_CUDAEMU_TSAN
  s.hostTsanFiber = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(f.tsanFiber, __tsan_switch_to_fiber_no_sync);
#endif
  void *fakeStack = nullptr;
  startSwitch(&fakeStack, f.stack, kStackBytes);
  netc_cudaemu_switch(&s.hostSp, f.sp);
  finishSwitch(fakeStack, nullptr, nullptr);
  s.fiber = nullptr;
  s.current = &s.plain;
}

/// A barrier not every thread of the block reaches: stops the process.
[[noreturn]] inline void barrierAfterThreadZeroEnded() {
  fatal(std::string("kernel ") + state().kernel +
        ": a thread reached __syncthreads() after thread 0 of its block ended without one "
        "(a barrier that not every thread reaches hangs or misbehaves on a GPU)");
}

inline ThreadIndex indexOf(unsigned t, dim3 block, dim3 blockDim, dim3 gridDim) {
  ThreadIndex index;
  index.thread = {t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
  index.block = {block.x, block.y, block.z};
  index.blockDim = blockDim;
  index.gridDim = gridDim;
  return index;
}

#ifdef NETC_CUDAEMU_TSAN
constexpr bool kRacecheck = true;
#else
constexpr bool kRacecheck = false;
#endif

/// Runs one block: thread 0 on a fiber; when it ends without a barrier, the
/// others as plain calls (on fibers under the racecheck, so that they are
/// threads of their own to it); else every thread on its own fiber, round
/// after round, each round ending when every thread still running waits at
/// the barrier. Under the racecheck, neighbouring blocks run on two sets of
/// fibers, so that nothing orders a block after the one before it.
NETC_CUDAEMU_NO_RACECHECK inline void runBlock(dim3 block, dim3 blockDim, dim3 gridDim,
                                            std::size_t blockNumber) {
  State &s = state();
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  const std::size_t base = kRacecheck ? blockNumber % 2 * 1024 : 0;
  auto fiber = [&](unsigned t) -> Fiber & { return fiberAt(base + t); };
  s.barrierSeen = false;
  beginSharedMemory();
  // Under the racecheck, what the host did for this block (its shared
  // memory) comes before each of its threads.
  releaseTo(s.launchToken);
  s.barrierArrive = syncToken();
  Fiber &first = fiber(0);
  first.index = indexOf(0, block, blockDim, gridDim);
  first.finished = false;
  resume(first);
  const bool firstReachedBarrier = s.barrierSeen;
  if (!firstReachedBarrier && !kRacecheck) {
    for (unsigned t = 1; t < threads; ++t) {
      s.plain = indexOf(t, block, blockDim, gridDim);
      (*s.body)();
    }
    s.plain = ThreadIndex();
    dropToken(s.barrierArrive);
    return;
  }
  for (unsigned t = 1; t < threads; ++t) {
    Fiber &f = fiber(t);
    f.index = indexOf(t, block, blockDim, gridDim);
    f.finished = false;
    resume(f);
  }
  if (!firstReachedBarrier && s.barrierSeen)
    barrierAfterThreadZeroEnded();
  for (bool descending = true;; descending = !descending) {
    dropToken(s.barrierLeave);
    s.barrierLeave = s.barrierArrive;
    s.barrierArrive = syncToken();
    bool waiting = false;
    for (unsigned i = 0; i < threads; ++i) {
      Fiber &f = fiber(descending ? threads - 1 - i : i);
      if (!f.finished) {
        resume(f);
        waiting = true;
      }
    }
    if (!waiting)
      break;
  }
  dropToken(s.barrierLeave);
  dropToken(s.barrierArrive);
  s.barrierLeave = s.barrierArrive = nullptr;
}

/// NETC_CUDAEMU_PROFILE=1: each kernel's launches, emulated seconds and
/// fiber resumes, printed to stderr at exit, the costliest first, to find
/// what makes an emulated test slow.
struct Profile {
  struct Entry {
    std::uint64_t launches = 0, resumes = 0;
    double seconds = 0;
  };
  std::mutex lock;
  std::map<std::string, Entry> kernels;
  ~Profile() {
    std::vector<std::pair<std::string, Entry>> sorted(kernels.begin(), kernels.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const auto &a, const auto &b) { return a.second.seconds > b.second.seconds; });
    for (const auto &[name, e] : sorted)
      std::fprintf(stderr, "cudaemu: %9.3f s %8llu launches %12llu resumes  %s\n", e.seconds,
                   (unsigned long long)e.launches, (unsigned long long)e.resumes, name.c_str());
  }
};

inline Profile *profile() {
  static const bool enabled = [] {
    const char *env = std::getenv("NETC_CUDAEMU_PROFILE");
    return env && std::string(env) == "1";
  }();
  if (!enabled)
    return nullptr;
  static Profile p; // printed when the process (or the library) ends
  return &p;
}

inline void setDeviceMemoryOpen(bool open);

/// Runs a whole grid now.
NETC_CUDAEMU_NO_RACECHECK inline void runGrid(const char *kernel, dim3 grid, dim3 blockDim,
                                           const std::function<void()> &body) {
  State &s = state();
  setDeviceMemoryOpen(true);
  s.launchToken = syncToken();
  s.endToken = syncToken();
  releaseTo(s.launchToken);
  const std::function<void()> *outerBody = s.body;
  const char *outerKernel = s.kernel;
  s.body = &body;
  s.kernel = kernel;
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t resumesBefore = s.resumes;
  std::size_t blockNumber = 0;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x)
        runBlock(dim3(x, y, z), blockDim, grid, blockNumber++);
  acquireFrom(s.endToken);
  dropToken(s.launchToken);
  dropToken(s.endToken);
  if (Profile *p = profile()) {
    std::lock_guard<std::mutex> hold(p->lock);
    Profile::Entry &e = p->kernels[kernel];
    ++e.launches;
    e.resumes += s.resumes - resumesBefore;
    e.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  s.body = outerBody;
  s.kernel = outerKernel;
  setDeviceMemoryOpen(false);
}

/// A launch's configuration as a GPU checks it.
inline bool validLaunch(dim3 grid, dim3 block) {
  const std::uint64_t threads = std::uint64_t(block.x) * block.y * block.z;
  return grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 0x7FFFFFFFu &&
         grid.y <= 65535 && grid.z <= 65535 && threads >= 1 && threads <= 1024 &&
         block.x <= 1024 && block.y <= 1024 && block.z <= 64;
}

/// Device memory: start -> size of every allocation of this process.
struct Memory {
  std::mutex lock;
  std::map<std::uintptr_t, std::size_t> allocations;
  std::size_t used = 0;
  int kernelsRunning = 0; // on all host threads; device memory is open while any runs
};

inline Memory &memory() {
  static Memory m; // allocations are shared by the host threads, as on a GPU
  return m;
}

inline std::size_t memoryLimit() {
  if (const char *env = std::getenv("NETC_CUDAEMU_MEMORY"); env && *env)
    return std::size_t(std::strtoull(env, nullptr, 10));
  return std::size_t(16) << 30;
}

/// The allocation p lies in, or null; the caller holds memory().lock.
inline const std::pair<const std::uintptr_t, std::size_t> *allocationAt(const void *p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  const Memory &m = memory();
  auto it = m.allocations.upper_bound(address);
  if (it == m.allocations.begin())
    return nullptr;
  --it;
  return address < it->first + std::max<std::size_t>(it->second, 1) ? &*it : nullptr;
}

/// Whether [p, p + bytes) lies inside one allocation; `touches` says
/// whether p lies in any.
inline bool insideDevice(const void *p, std::size_t bytes, bool *touches = nullptr) {
  const auto *allocation = allocationAt(p);
  if (touches)
    *touches = allocation != nullptr;
  return allocation &&
         reinterpret_cast<std::uintptr_t>(p) + bytes <= allocation->first + allocation->second;
}

/// The bytes cudaMalloc reserves for `bytes`: rounded up to its 256-byte
/// alignment, at least one unit.
inline std::size_t reservedBytes(std::size_t bytes) {
  return (std::max<std::size_t>(bytes, 1) + 255) / 256 * 256;
}

/// Under AddressSanitizer, opens the `bytes` asked for of the allocation at
/// `start` to the code about to run (open), or closes its whole reservation
/// again. Whole allocations, for a granule of shadow memory cannot be closed
/// in part.
inline void setReservationOpen(std::uintptr_t start, std::size_t bytes, bool open) {
  const auto *p = reinterpret_cast<const void *>(start);
  if (open)
    unpoison(p, bytes);
  else
    poison(p, reservedBytes(bytes));
}

/// setReservationOpen for the allocation p lies in, if any; a close waits
/// while a kernel on another host thread may be using it. The caller holds
/// memory().lock.
inline void setAllocationOpen(const void *p, bool open) {
#ifdef NETC_CUDAEMU_ASAN
  if (!open && memory().kernelsRunning)
    return;
  if (const auto *allocation = allocationAt(p))
    setReservationOpen(allocation->first, allocation->second, open);
#else
  (void)p, (void)open;
#endif
}

/// Every allocation opened for a kernel, or closed after it, so the host
/// touching device memory and a kernel reading past an allocation's end are
/// both reported.
inline void setDeviceMemoryOpen(bool open) {
#ifdef NETC_CUDAEMU_ASAN
  Memory &m = memory();
  std::lock_guard<std::mutex> hold(m.lock);
  // Host threads may run kernels at once: the first opens, the last closes.
  if (open ? m.kernelsRunning++ != 0 : --m.kernelsRunning != 0)
    return;
  for (const auto &[start, bytes] : m.allocations)
    setReservationOpen(start, bytes, open);
#else
  (void)open;
#endif
}

inline cudaError_t fail(cudaError_t error) {
  if (state().lastError == cudaSuccess)
    state().lastError = error;
  return error;
}

/// A call a stream capture does not allow: it breaks the capture, as on a GPU.
inline bool refusedWhileCapturing() {
  State &s = state();
  if (!s.capturing)
    return false;
  s.captureBroken = true;
  return true;
}

} // namespace detail

/// A captured sequence of launches.
struct Graph {
  std::vector<std::function<void()>> launches;
};

struct Event {
  std::chrono::steady_clock::time_point at;
};

NETC_CUDAEMU_NO_RACECHECK inline void syncthreads() {
  detail::State &s = detail::state();
  if (!s.fiber)
    detail::barrierAfterThreadZeroEnded();
  s.barrierSeen = true;
  detail::releaseTo(s.barrierArrive);
  detail::toHost(s.fiber);
  detail::acquireFrom(s.barrierLeave);
}

/// The launch `kernel<<<grid, block, shared, stream>>>`: called with the
/// kernel's arguments, converts them to its parameters (by value, as a GPU
/// does), then runs the grid, or records it while a stream is captured.
template <typename... Params> struct Launch {
  void (*kernel)(Params...);
  const char *name;
  dim3 grid, block;

  template <typename... Args> void operator()(Args &&...args) const {
    static_assert(sizeof...(Args) == sizeof...(Params), "a launch with the wrong argument count");
    if (!detail::validLaunch(grid, block)) {
      detail::fail(cudaErrorInvalidConfiguration);
      return;
    }
    std::tuple<std::decay_t<Params>...> values(std::forward<Args>(args)...);
    auto *fn = kernel;
    const char *label = name;
    const dim3 g = grid, b = block;
    auto run = [fn, label, g, b, values] {
      detail::runGrid(label, g, b, [&] { std::apply(fn, values); });
    };
    detail::State &s = detail::state();
    if (s.capturing)
      s.capturing->launches.push_back(run);
    else
      run();
  }
};

template <typename... Params>
Launch<Params...> launch(void (*kernel)(Params...), const char *name, dim3 grid, dim3 block,
                         std::size_t /*shared*/ = 0, cudaStream_t /*stream*/ = nullptr) {
  return Launch<Params...>{kernel, name, grid, block};
}

} // namespace cudaemu

// ---- The runtime API --------------------------------------------------------

inline const char *cudaGetErrorName(cudaError_t error) {
  switch (error) {
  case cudaSuccess: return "cudaSuccess";
  case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
  case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
  case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
  case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
  case cudaErrorNoDevice: return "cudaErrorNoDevice";
  case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
  case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
  case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
  case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
  case cudaErrorIllegalState: return "cudaErrorIllegalState";
  }
  return "cudaErrorUnknown";
}

inline const char *cudaGetErrorString(cudaError_t error) {
  switch (error) {
  case cudaSuccess: return "no error";
  case cudaErrorInvalidValue: return "invalid argument";
  case cudaErrorMemoryAllocation: return "out of memory";
  case cudaErrorInvalidConfiguration: return "invalid configuration argument";
  case cudaErrorInvalidDevice: return "invalid device ordinal";
  case cudaErrorNoDevice: return "no CUDA-capable device is detected (emulated)";
  case cudaErrorInvalidResourceHandle: return "invalid resource handle";
  case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
  case cudaErrorStreamCaptureInvalidated:
    return "operation failed due to a previous error during capture";
  case cudaErrorStreamCaptureWrongThread:
    return "attempt to terminate a thread-local capture sequence from another thread";
  case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
  }
  return "unknown error";
}

inline cudaError_t cudaGetLastError() {
  cudaError_t error = cudaemu::detail::state().lastError;
  cudaemu::detail::state().lastError = cudaSuccess;
  return error;
}

inline cudaError_t cudaPeekAtLastError() { return cudaemu::detail::state().lastError; }

inline cudaError_t cudaGetDeviceCount(int *count) {
  if (const char *env = std::getenv("NETC_CUDAEMU_DEVICES"); env && std::string(env) == "0") {
    *count = 0;
    return cudaemu::detail::fail(cudaErrorNoDevice);
  }
  *count = 1;
  return cudaSuccess;
}

inline cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : cudaemu::detail::fail(cudaErrorInvalidDevice);
}

inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device) {
  if (device != 0)
    return cudaemu::detail::fail(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "netc CUDA emulator (CPU)");
  prop->totalGlobalMem = cudaemu::detail::memoryLimit();
  prop->sharedMemPerBlock = 48 * 1024;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7FFFFFFF;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->clockRate = 1000000;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}

inline cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
  if (device != 0)
    return cudaemu::detail::fail(cudaErrorInvalidDevice);
  *value = attr == cudaDevAttrClockRate ? 1000000 : 1;
  return cudaSuccess;
}

inline cudaError_t cudaRuntimeGetVersion(int *version) {
  *version = 13000;
  return cudaSuccess;
}

inline cudaError_t cudaDriverGetVersion(int *version) {
  *version = 13000;
  return cudaSuccess;
}

inline cudaError_t cudaMemGetInfo(std::size_t *free, std::size_t *total) {
  *total = cudaemu::detail::memoryLimit();
  *free = *total - std::min(*total, cudaemu::detail::memory().used);
  return cudaSuccess;
}

inline cudaError_t cudaMalloc(void **p, std::size_t bytes) {
  using namespace cudaemu::detail;
  if (refusedWhileCapturing())
    return fail(cudaErrorStreamCaptureUnsupported);
  Memory &m = memory();
  std::lock_guard<std::mutex> hold(m.lock);
  if (bytes > memoryLimit() - std::min(memoryLimit(), m.used))
    return fail(cudaErrorMemoryAllocation);
  // Rounded up and aligned as cudaMalloc's (256 bytes); filled with 0xFF,
  // NaN as float, for a GPU's memory is not cleared.
  const std::size_t rounded = reservedBytes(bytes);
  void *memory = std::aligned_alloc(256, rounded);
  if (!memory)
    return fail(cudaErrorMemoryAllocation);
  std::memset(memory, 0xFF, rounded);
  m.allocations[reinterpret_cast<std::uintptr_t>(memory)] = bytes;
  // Closed to the host, or open for the kernels another host thread runs.
  poison(memory, rounded);
  if (m.kernelsRunning)
    setAllocationOpen(memory, true);
  m.used += rounded;
  *p = memory;
  return cudaSuccess;
}

template <typename T> cudaError_t cudaMalloc(T **p, std::size_t bytes) {
  return cudaMalloc(reinterpret_cast<void **>(p), bytes);
}

inline cudaError_t cudaFree(void *p) {
  using namespace cudaemu::detail;
  if (!p)
    return cudaSuccess;
  if (refusedWhileCapturing())
    return fail(cudaErrorStreamCaptureUnsupported);
  Memory &m = memory();
  std::lock_guard<std::mutex> hold(m.lock);
  auto it = m.allocations.find(reinterpret_cast<std::uintptr_t>(p));
  if (it == m.allocations.end())
    return fail(cudaErrorInvalidValue);
  m.used -= reservedBytes(it->second);
  unpoison(p, reservedBytes(it->second));
  m.allocations.erase(it);
  std::free(p);
  return cudaSuccess;
}

inline cudaError_t cudaMemcpy(void *dst, const void *src, std::size_t bytes, cudaMemcpyKind kind) {
  using namespace cudaemu::detail;
  if (refusedWhileCapturing())
    return fail(cudaErrorStreamCaptureUnsupported);
  if (bytes == 0)
    return cudaSuccess;
  std::lock_guard<std::mutex> hold(memory().lock);
  bool srcDevice = false, dstDevice = false;
  const bool srcInside = insideDevice(src, bytes, &srcDevice);
  const bool dstInside = insideDevice(dst, bytes, &dstDevice);
  bool ok = false;
  switch (kind) {
  case cudaMemcpyHostToDevice: ok = !srcDevice && dstInside; break;
  case cudaMemcpyDeviceToHost: ok = srcInside && !dstDevice; break;
  case cudaMemcpyDeviceToDevice: ok = srcInside && dstInside; break;
  case cudaMemcpyHostToHost: ok = !srcDevice && !dstDevice; break;
  case cudaMemcpyDefault:
    ok = (!srcDevice || srcInside) && (!dstDevice || dstInside);
    break;
  }
  if (!ok)
    return fail(cudaErrorInvalidValue);
  setAllocationOpen(src, true);
  setAllocationOpen(dst, true);
  std::memmove(dst, src, bytes);
  setAllocationOpen(src, false);
  setAllocationOpen(dst, false);
  return cudaSuccess;
}

inline cudaError_t cudaMemset(void *p, int value, std::size_t bytes) {
  using namespace cudaemu::detail;
  if (refusedWhileCapturing())
    return fail(cudaErrorStreamCaptureUnsupported);
  if (bytes == 0)
    return cudaSuccess;
  std::lock_guard<std::mutex> hold(memory().lock);
  if (!insideDevice(p, bytes))
    return fail(cudaErrorInvalidValue);
  setAllocationOpen(p, true);
  std::memset(p, value, bytes);
  setAllocationOpen(p, false);
  return cudaSuccess;
}

inline cudaError_t cudaDeviceSynchronize() {
  using namespace cudaemu::detail;
  if (refusedWhileCapturing())
    return fail(cudaErrorStreamCaptureUnsupported);
  return cudaSuccess;
}

inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaDeviceSynchronize(); }

inline cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
  using namespace cudaemu::detail;
  State &s = state();
  if (s.capturing)
    return fail(cudaErrorIllegalState);
  s.capturing = new cudaemu::Graph();
  s.captureBroken = false;
  return cudaSuccess;
}

inline cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t *graph) {
  using namespace cudaemu::detail;
  State &s = state();
  if (!s.capturing)
    return fail(cudaErrorIllegalState);
  cudaemu::Graph *captured = s.capturing;
  s.capturing = nullptr;
  if (s.captureBroken) {
    delete captured;
    *graph = nullptr;
    return fail(cudaErrorStreamCaptureInvalidated);
  }
  *graph = captured;
  return cudaSuccess;
}

inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph,
                                        unsigned long long /*flags*/ = 0) {
  if (!graph)
    return cudaemu::detail::fail(cudaErrorInvalidValue);
  *exec = new cudaemu::Graph(*graph);
  return cudaSuccess;
}

inline cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t) {
  if (!exec)
    return cudaemu::detail::fail(cudaErrorInvalidValue);
  if (cudaemu::detail::state().capturing)
    return cudaemu::detail::fail(cudaErrorStreamCaptureUnsupported);
  for (const auto &launch : exec->launches)
    launch();
  return cudaSuccess;
}

inline cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

inline cudaError_t cudaEventCreate(cudaEvent_t *event) {
  *event = new cudaemu::Event();
  return cudaSuccess;
}

inline cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t = nullptr) {
  event->at = std::chrono::steady_clock::now();
  return cudaSuccess;
}

inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }

inline cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
  *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
  return cudaSuccess;
}

inline cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

// ---- The built-in variables, last: the emulator's own code names blockDim
// and gridDim as members.
#define __syncthreads() ::cudaemu::syncthreads()
#define threadIdx (::cudaemu::detail::running().thread)
#define blockIdx (::cudaemu::detail::running().block)
#define blockDim (::cudaemu::detail::running().blockDim)
#define gridDim (::cudaemu::detail::running().gridDim)

#endif // NETC_CUDAEMU_CUDA_RUNTIME_H
