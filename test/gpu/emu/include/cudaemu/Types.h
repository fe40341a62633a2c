//===- cudaemu/Types.h - the CUDA language and the runtime's types ---*- C++ -*-===//
//
// The qualifiers, dim3, the global min and max, and the types and
// constants of the runtime API.
// A part of the emulated cuda_runtime.h, which includes its parts in order
// after the standard headers and the sanitizers' macros; not included alone.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_CUDAEMU_TYPES_H
#define NETC_CUDAEMU_TYPES_H

// ---- The language: qualifiers (the built-in variables: in cuda_runtime.h) --

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

#endif // NETC_CUDAEMU_TYPES_H
