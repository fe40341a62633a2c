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

// The language, the runtime's types, and the emulator, in this order.
#include "cudaemu/Types.h"
#include "cudaemu/Blocks.h"
#include "cudaemu/DeviceMemory.h"
#include "cudaemu/Launch.h"

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
