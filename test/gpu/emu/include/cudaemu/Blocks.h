//===- cudaemu/Blocks.h - fibers, blocks and grids ---*- C++ -*-===//
//
// The fiber switch, the sanitizers' hooks, the per-thread State, a block's
// shared memory, the threads of a block on fibers, and a grid run now.
// A part of the emulated cuda_runtime.h, which includes its parts in order
// after the standard headers and the sanitizers' macros; not included alone.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_CUDAEMU_BLOCKS_H
#define NETC_CUDAEMU_BLOCKS_H

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

} // namespace detail
} // namespace cudaemu

#endif // NETC_CUDAEMU_BLOCKS_H
