//===- EmulatorTest.cpp - the CUDA emulator's own checks fire -------------===//
//
// The emulator is a test tool: these tests plant the mistakes it claims to
// catch (README.md lists which) and expect them caught, so a change that
// quietly disables a check fails here. Built three times: emulator-tests;
// emulator-memcheck-tests with AddressSanitizer, where the memcheck's cases
// (an overrun in a kernel, the host reading device memory) run too; and
// emulator-racecheck-tests with ThreadSanitizer, where the racecheck's cases
// (threads of a block, and blocks, racing on global memory) do.
//
// Launches are written as rewrite_launches.py writes them.
//
//===----------------------------------------------------------------------===//

#include <cuda_runtime.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

namespace {

constexpr int kThreads = 64;

/// out[t] = the value thread t+1 wrote to shared memory (base + t + 1), read
/// after a barrier (or not): only the barrier makes it defined.
template <bool BARRIER> __global__ void neighbour(float base, float *out) {
  __shared__ float shared[kThreads];
  const unsigned t = threadIdx.x;
  shared[t] = base + float(t);
  if (BARRIER)
    __syncthreads();
  out[t] = shared[(t + 1) % kThreads];
}

__global__ void fill(float *out, int n, float value) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = value;
}

__global__ void copyOne(const float *in, float *out) { *out = *in; }

/// Writes one element past n when `overrun`: the bug the memcheck exists for.
__global__ void writeUpTo(float *out, int n, bool overrun) {
  for (int i = threadIdx.x; i < n + (overrun ? 1 : 0); i += blockDim.x)
    out[i] = 1.f;
}

/// What rewrite_launches.py makes of `__shared__ float tile[32];`; in block
/// 1 thread 5 leaves its element unwritten (block 0 writes it), and `past`
/// threads write one element past the end.
__global__ void sharedTile(float *out, int past) {
  static char cudaemu_tile;
  auto &tile = ::cudaemu::detail::sharedArray<float[(32)]>(&cudaemu_tile);
  float *element = tile; // through a pointer, which UBSan's bounds check cannot follow
  if (blockIdx.x == 0 || threadIdx.x != 5)
    element[threadIdx.x + past] = 1.f;
  __syncthreads();
  out[blockIdx.x * 32 + threadIdx.x] = tile[threadIdx.x];
}

/// 48 KiB and one float of shared memory: more than a block may declare.
__global__ void tooMuchShared(float *out) {
  static char cudaemu_big;
  auto &big = ::cudaemu::detail::sharedArray<float[(12 * 1024 + 1)]>(&cudaemu_big);
  big[0] = 0.f;
  *out = big[0];
}

/// Every thread adds 1 to *sum: racing threads, and blocks.
__global__ void addOne(float *sum) { *sum += 1.f; }

/// In a block of many threads, one late thread writes what an early thread
/// of the same block (same = true) or of the next block reads, unordered.
__global__ void farApart(float *x, float *out, bool sameBlock) {
  const unsigned last = blockDim.x - 1;
  if (blockIdx.x == 0 && threadIdx.x == last)
    *x = 1.f;
  if (blockIdx.x == (sameBlock ? 0u : 1u) && threadIdx.x == 3)
    *out = *x;
}

/// Thread 0 writes, all read it after the barrier: ordered, no race.
__global__ void broadcast(float *value, float *out) {
  if (threadIdx.x == 0)
    *value = 7.f;
  __syncthreads();
  out[threadIdx.x] = *value;
}

template <typename T> std::vector<T> download(const T *device, std::size_t count) {
  std::vector<T> host(count);
  EXPECT_EQ(cudaMemcpy(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost),
            cudaSuccess);
  return host;
}

class Emulator : public ::testing::Test {
protected:
  void SetUp() override { (void)cudaGetLastError(); }
  void TearDown() override {
    for (void *p : owned_)
      EXPECT_EQ(cudaFree(p), cudaSuccess);
    unsetenv("NETC_CUDAEMU_MEMORY");
  }
  float *deviceFloats(std::size_t count) {
    void *p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, count * sizeof(float)), cudaSuccess);
    owned_.push_back(p);
    return static_cast<float *>(p);
  }

private:
  std::vector<void *> owned_;
};

TEST_F(Emulator, a_barrier_orders_shared_memory_and_its_absence_shows) {
  // A new base each run, so shared memory left by an earlier run cannot pass.
  static float base = 0;
  base += 1000;
  float *out = deviceFloats(kThreads);
  ::cudaemu::launch(&neighbour<true>, "neighbour<true>", 1, kThreads)(base, out);
  const auto ordered = download(out, kThreads);
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(ordered[t], base + float((t + 1) % kThreads)) << "thread " << t << " with the barrier";
#ifdef NETC_CUDAEMU_TSAN
  // The racecheck reports the read its write does not come before.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(::cudaemu::launch(&neighbour<false>, "neighbour<false>", 1, kThreads)(base, out),
               "ThreadSanitizer: data race[^\n]*\n[^\n]*\n[^\n]*neighbour<false>");
#else
  ::cudaemu::launch(&neighbour<false>, "neighbour<false>", 1, kThreads)(base, out);
  const auto unordered = download(out, kThreads);
  int wrong = 0;
  for (int t = 0; t < kThreads; ++t)
    wrong += unordered[t] != base + float((t + 1) % kThreads);
  EXPECT_GT(wrong, 0) << "without the barrier every thread still read its neighbour's value: "
                         "the emulator would not catch a missing __syncthreads()";
#endif
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST_F(Emulator, launch_shapes_are_checked_as_a_gpu_checks_them) {
  float *out = deviceFloats(1);
  ::cudaemu::launch(&fill, "fill", 1, 1025)(out, 1, 0.f);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration) << "1025 threads a block";
  ::cudaemu::launch(&fill, "fill", 1, dim3(1, 1, 65))(out, 1, 0.f);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration) << "65 threads in z";
  ::cudaemu::launch(&fill, "fill", dim3(1, 65536), 1)(out, 1, 0.f);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration) << "65536 blocks in y";
  ::cudaemu::launch(&fill, "fill", 1, 1024)(out, 1, 2.f);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "1024 threads a block is allowed";
  EXPECT_EQ(download(out, 1)[0], 2.f);
}

TEST_F(Emulator, fresh_device_memory_reads_as_nan) {
  float *p = deviceFloats(3);
  for (const float v : download(p, 3))
    EXPECT_TRUE(std::isnan(v)) << "cudaMalloc'd memory read as " << v;
}

TEST_F(Emulator, each_block_gets_its_shared_memory_afresh) {
  float *out = deviceFloats(64);
  ::cudaemu::launch(&sharedTile, "sharedTile", 2, 32)(out, 0);
  const auto values = download(out, 64);
  for (int i = 0; i < 64; ++i) {
    if (i == 32 + 5)
      EXPECT_TRUE(std::isnan(values[i])) << "block 1 read " << values[i]
                                         << " from shared memory only block 0 wrote";
    else
      EXPECT_EQ(values[i], 1.f) << "element " << i;
  }
}

TEST_F(Emulator, a_block_declaring_more_than_48_KiB_is_stopped) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float *out = deviceFloats(1);
  EXPECT_DEATH(::cudaemu::launch(&tooMuchShared, "tooMuchShared", 1, 1)(out),
               "kernel tooMuchShared: its __shared__ arrays take 49156 bytes; a block may "
               "declare at most 49152");
}

TEST_F(Emulator, copies_check_their_direction_and_bounds) {
  float *p = deviceFloats(4);
  std::vector<float> host(8, 1.f);
  EXPECT_EQ(cudaMemcpy(host.data(), p, 4 * sizeof(float), cudaMemcpyHostToDevice),
            cudaErrorInvalidValue)
      << "direction swapped";
  EXPECT_EQ(cudaMemcpy(p, host.data(), 8 * sizeof(float), cudaMemcpyHostToDevice),
            cudaErrorInvalidValue)
      << "8 floats into 4";
  EXPECT_EQ(cudaMemset(p + 1, 0, 4 * sizeof(float)), cudaErrorInvalidValue) << "memset overrun";
  EXPECT_EQ(cudaMemcpy(p, host.data(), 4 * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue) << "the first error is kept";
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "and reading it clears it";
}

TEST_F(Emulator, a_capture_records_launches_and_refuses_copies) {
  float *a = deviceFloats(1), *b = deviceFloats(1);
  const float one = 1.f, two = 2.f;
  ASSERT_EQ(cudaMemcpy(a, &one, sizeof one, cudaMemcpyHostToDevice), cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(cudaStreamPerThread, cudaStreamCaptureModeGlobal), cudaSuccess);
  ::cudaemu::launch(&copyOne, "copyOne", 1, 1)(a, b);
  ASSERT_EQ(cudaStreamEndCapture(cudaStreamPerThread, &graph), cudaSuccess);
  EXPECT_TRUE(std::isnan(download(b, 1)[0])) << "a captured launch ran during the capture";
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(a, &two, sizeof two, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, cudaStreamPerThread), cudaSuccess);
  EXPECT_EQ(download(b, 1)[0], 2.f) << "the replay reads the arguments' memory as it is now";
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);

  ASSERT_EQ(cudaStreamBeginCapture(cudaStreamPerThread, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(a, &one, sizeof one, cudaMemcpyHostToDevice),
            cudaErrorStreamCaptureUnsupported);
  EXPECT_EQ(cudaStreamEndCapture(cudaStreamPerThread, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(graph, nullptr);
  (void)cudaGetLastError();
}

TEST_F(Emulator, device_memory_can_be_capped) {
  setenv("NETC_CUDAEMU_MEMORY", "1024", 1);
  void *p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 2048), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaMalloc(&p, 512), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
}

#ifdef NETC_CUDAEMU_TSAN
// A race ends the process, also when the tests are run by hand.
extern "C" const char *__tsan_default_options() { return "halt_on_error=1"; }

// The emulated racecheck's cases: a race must be reported (a process of its
// own that dies), an ordered access must not.
using EmulatedRacecheck = Emulator;

TEST_F(EmulatedRacecheck, threads_of_a_block_racing_are_reported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float *sum = deviceFloats(1);
  EXPECT_DEATH(::cudaemu::launch(&addOne, "addOne", 1, 2)(sum),
               "ThreadSanitizer: data race[^\n]*\n[^\n]*\n[^\n]*addOne");
}

TEST_F(EmulatedRacecheck, blocks_racing_are_reported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float *sum = deviceFloats(1);
  EXPECT_DEATH(::cudaemu::launch(&addOne, "addOne", 2, 1)(sum),
               "ThreadSanitizer: data race[^\n]*\n[^\n]*\n[^\n]*addOne");
}

// Blocks of many threads: the racecheck keeps a fiber for each thread, more
// than ThreadSanitizer has slots for threads running at once.
TEST_F(EmulatedRacecheck, races_in_large_blocks_are_reported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float *x = deviceFloats(1), *out = deviceFloats(1);
  EXPECT_DEATH(::cudaemu::launch(&farApart, "farApart", 1, 1024)(x, out, true),
               "ThreadSanitizer: data race[^\n]*\n[^\n]*\n[^\n]*farApart");
  EXPECT_DEATH(::cudaemu::launch(&farApart, "farApart", 2, 256)(x, out, false),
               "ThreadSanitizer: data race[^\n]*\n[^\n]*\n[^\n]*farApart");
}

TEST_F(EmulatedRacecheck, a_barrier_and_the_launches_order_accesses) {
  float *value = deviceFloats(1), *out = deviceFloats(64);
  ::cudaemu::launch(&broadcast, "broadcast", 1, 64)(value, out);
  ::cudaemu::launch(&addOne, "addOne", 1, 1)(value); // after the launch before
  for (const float v : download(out, 64))
    ASSERT_EQ(v, 7.f);
  EXPECT_EQ(download(value, 1)[0], 8.f);
}
#endif

#ifdef NETC_CUDAEMU_ASAN
// The emulated memcheck's cases: each a process of its own that must die
// with AddressSanitizer's report.
using EmulatedMemcheck = Emulator;

TEST_F(EmulatedMemcheck, a_kernel_writing_past_its_allocation_is_reported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float *out = deviceFloats(100);
  ::cudaemu::launch(&writeUpTo, "writeUpTo", 1, 32)(out, 100, false); // in bounds: fine
  EXPECT_DEATH(::cudaemu::launch(&writeUpTo, "writeUpTo", 1, 32)(out, 100, true),
               "AddressSanitizer.*\n.*WRITE of size 4[^\n]*\n.*writeUpTo");
}

TEST_F(EmulatedMemcheck, a_kernel_writing_past_a_shared_array_is_reported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float *out = deviceFloats(32);
  EXPECT_DEATH(::cudaemu::launch(&sharedTile, "sharedTile", 1, 32)(out, 1),
               "AddressSanitizer: use-after-poison.*\n.*WRITE of size 4[^\n]*\n.*sharedTile");
}

TEST_F(EmulatedMemcheck, the_host_reading_device_memory_is_reported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float *p = deviceFloats(4);
  ASSERT_EQ(cudaMemset(p, 0, 4 * sizeof(float)), cudaSuccess);
  EXPECT_DEATH(std::printf("%f\n", double(*static_cast<volatile float *>(p))),
               "AddressSanitizer: use-after-poison.*\n.*READ of size 4");
}
#endif

} // namespace
