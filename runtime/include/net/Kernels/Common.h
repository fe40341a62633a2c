//===- Common.h - shared helpers of the CPU kernel library ------*- C++ -*-===//
//
// The kernel library is header-only C++17 in namespace netc::kernels. Generated
// code instantiates each kernel with every extent but the batch as a template
// parameter, so loops have compile-time trip counts the compiler can unroll and
// vectorise. Conventions shared by every header:
//   - float32, contiguous, NCHW activations; (N, K) after flatten;
//   - the first argument `int n` is the number of samples in this call;
//   - outputs (gradients included) are overwritten, never accumulated into;
//   - parallel loops are static schedules (parallelFor, parallelRanges and
//     parallelRegion below, run by the kernels' own team of threads, and by
//     none where the work runs on one thread); nothing reduces a float
//     across threads, so results are bit-for-bit reproducible (and, for
//     every kernel here, independent of the thread count);
//   - no kernel allocates: row buffers and the conv patch matrices live on the
//     stack, bounded by the extents (kMaxStackFloats here; the conv im2col
//     buffers by kConvGemmStackFloats in Conv.h, 160 KiB per thread);
//   - no alignment is assumed beyond that of float.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_COMMON_H
#define NETC_KERNELS_COMMON_H

#include <cstddef>
#include <cstdint>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

// The kernels' regions run on their own team of threads (ThreadTeam.h) where
// OpenMP gives the thread count; the CUDA side has no parallel loops.
#if defined(_OPENMP) && !defined(__CUDACC__)
#define NETC_THREAD_TEAM 1
#include "net/Kernels/ThreadTeam.h"
#else
#define NETC_THREAD_TEAM 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NETC_RESTRICT __restrict__
#define NETC_INLINE inline __attribute__((always_inline))
#else
#define NETC_RESTRICT
#define NETC_INLINE inline
#endif

// Functions the CUDA kernels share with the CPU ones (the dropout stream of
// Random.h) are compiled for both sides under nvcc.
#ifdef __CUDACC__
#define NETC_HOST_DEVICE __host__ __device__
#else
#define NETC_HOST_DEVICE
#endif

namespace netc::kernels {
namespace detail {

/// Floats in one vector of the kernels' register tiles: one AVX-512
/// register (two AVX2 ones where the target has no AVX-512).
constexpr int kVectorFloats = 16;

/// Floats in one vector register of the target. Where a 16-lane vector takes
/// several registers, a tile that must stay in registers is built of these.
#if defined(__AVX512F__)
constexpr int kRegisterFloats = 16;
#elif defined(__AVX__)
constexpr int kRegisterFloats = 8;
#else
constexpr int kRegisterFloats = 4;
#endif

#if defined(__GNUC__) || defined(__clang__)
/// kVectorFloats floats as one vector-extension value.
typedef float FloatVec __attribute__((vector_size(kVectorFloats * sizeof(float))));
/// kRegisterFloats floats: one register of the target.
typedef float RegisterVec __attribute__((vector_size(kRegisterFloats * sizeof(float))));
#endif

/// Stack budget (floats) of one accumulator tile inside a conv kernel. 8192
/// floats = 32 KiB: it stays in L1 and far below OpenMP's worker stack size.
constexpr int kMaxStackFloats = 8192;

/// Below this many floats of work a kernel runs on the calling thread: the
/// fork/join of a parallel region (~1-2 us) costs more than the work.
constexpr std::int64_t kParallelThreshold = 16384;

/// Below this many multiply-adds a convolution runs on the calling thread.
/// Measured at batch 1 on lenet5, 2 cores: a region's fork and join take
/// about 1 us, and the operands then cross between the cores' caches; its
/// first convolution (118K multiply-adds, 2.2 us on one core) ran 2.6x
/// slower split in two, its second (470K) about even, its third (2.4M) 1.5x
/// faster.
constexpr std::int64_t kParallelMacs = std::int64_t(1) << 18;

/// Whether a convolution pass (forward, grad-input or grad-weight: each does
/// n * F * P * CKK multiply-adds for F output planes of P positions over CKK
/// input taps) splits over the team. Every conv kernel and the fused pass
/// that follows one decide by this, so a serial convolution's output is
/// finished by the thread in whose cache it is.
constexpr bool convInParallel(std::int64_t n, std::int64_t F, std::int64_t P, std::int64_t CKK) {
  return n * F * P * CKK > kParallelMacs;
}

/// What a convolution's forward does to a finished run of one output
/// channel's values while they are in L1 (epi(channel, values, count)):
/// nothing, or a fused layer's bias and activation (Fused.h), which a pass
/// of its own read and wrote back from memory. Where kOnVectors, a path
/// whose register tile holds one channel per vector applies
/// epi.onVector(channel, v) to it before the store instead (the rows path:
/// per-row runs of 26 floats cost mnist_cnn conv1 half its convolution).
struct NoEpilogue {
  static constexpr bool kOnVectors = true;
  NETC_INLINE void operator()(int, float *, int) const {}
  /// (A template, so that a build without AVX-512 compiles no function
  /// returning its 64-byte vector: GCC warns of the ABI change, -Wpsabi.)
  template <class Vec> NETC_INLINE Vec onVector(int, Vec v) const { return v; }
};

constexpr int min(int a, int b) { return a < b ? a : b; }
constexpr int max(int a, int b) { return a > b ? a : b; }

/// Floor division for possibly negative numerators (positive divisor).
constexpr int floorDiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
constexpr int ceilDiv(int a, int b) { return -floorDiv(-a, b); }

/// Per-thread stack floats (160 KiB) of a conv path's buffers: the GEMM
/// path's patch matrices (ConvGemm.h), the output-channel path's padded input
/// and packed weights (ConvChannels.h).
constexpr int kConvStackFloats = 40960;

/// dst[i] = src[i] for i < count, as 16-float blocks and a binary tail: GCC
/// turns a copy loop of run-time length into `rep movs` or a memcpy call,
/// whose start-up cost exceeds a short copy (a 3x3 forward at 14x14 spent
/// 13 % of its time so on rows of 12-14 floats).
NETC_INLINE void copyFloats(float *NETC_RESTRICT dst, const float *NETC_RESTRICT src, int count) {
  int i = 0;
  for (; i + 16 <= count; i += 16) {
    __builtin_memcpy(dst + i, src + i, 16 * sizeof(float));
#if defined(__GNUC__) || defined(__clang__)
    __asm__("" : "+r"(i)); // an opaque index: GCC makes no memmove call of the loop
#endif
  }
  if (i + 8 <= count) {
    __builtin_memcpy(dst + i, src + i, 8 * sizeof(float));
    i += 8;
  }
  if (i + 4 <= count) {
    __builtin_memcpy(dst + i, src + i, 4 * sizeof(float));
    i += 4;
  }
  if (i + 2 <= count) {
    __builtin_memcpy(dst + i, src + i, 2 * sizeof(float));
    i += 2;
  }
  if (i < count)
    dst[i] = src[i];
}

/// Calls f(std::integral_constant<int, count>{}) for a run-time count in
/// [1, MAX] (nothing for 0), so that a register tile sized by a count known
/// only at run time (the channels or filters a full tile leaves) still has
/// compile-time extents.
template <int MAX, class Fn> NETC_INLINE void withCompileTimeCount(int count, Fn &&f) {
  if constexpr (MAX > 0) {
    if (count == MAX)
      f(std::integral_constant<int, MAX>{});
    else
      withCompileTimeCount<MAX - 1>(count, f);
  }
}

/// Keeps a vector value in a register from here on. GCC folds the load of a
/// vector into every FMA that reads it, loading it again per use: a value
/// loaded once and read by four FMAs (a tile's input row) becomes four
/// loads, and the dense gradients ran at half their speed from that alone.
/// An empty asm that claims to change the value in a register stops that.
/// Only where the type fits one register of the target (else a no-op).
template <class V> NETC_INLINE void keepInRegister(V &v) {
#if defined(__GNUC__) && defined(__AVX512F__)
  if constexpr (sizeof(V) <= 64)
    asm("" : "+v"(v));
#elif defined(__GNUC__) && defined(__AVX__)
  if constexpr (sizeof(V) <= 32)
    asm("" : "+x"(v));
#else
  (void)v;
#endif
}

/// Copies src[0..N) into dst[OFF..OFF+N) of a row of P floats, zeroing the
/// rest; OFF may be negative (leading elements of src dropped).
template <int P, int N, int OFF>
NETC_INLINE void padRow(float *NETC_RESTRICT dst, const float *NETC_RESTRICT src) {
  constexpr int j0 = max(0, OFF), j1 = min(P, OFF + N);
  for (int j = 0; j < j0; ++j)
    dst[j] = 0.f;
#pragma omp simd
  for (int j = j0; j < j1; ++j)
    dst[j] = src[j - OFF];
  for (int j = max(j0, j1); j < P; ++j)
    dst[j] = 0.f;
}

/// Rows r0..r0+rows-1 of the zero-padded copy of input channels
/// i0..i0+channels-1 of one sample, each channel's rows RP apart: rows and
/// columns past the input (padding, or the bottom/right remainder a stride
/// leaves unread) read zero.
template <int HI, int WI, int WP, int PT, int PL>
NETC_INLINE void padChannelRows(const float *NETC_RESTRICT xi, int i0, int channels, int r0,
                                int rows, int RP, float *NETC_RESTRICT xpad) {
  for (int c = 0; c < channels; ++c)
    for (int r = 0; r < rows; ++r) {
      const int ih = r0 + r - PT;
      float *dst = xpad + (c * RP + r) * WP;
      if (ih >= 0 && ih < HI) {
        padRow<WP, WI, PL>(dst, xi + (std::size_t(i0 + c) * HI + ih) * WI);
      } else {
        for (int q = 0; q < WP; ++q)
          dst[q] = 0.f;
      }
    }
}

/// The threads a kernel's parallel loop may split its work over: none
/// beyond the caller's when the loop would not run in parallel, or when the
/// call is already inside a parallel region, the kernels' team's or an
/// OpenMP one (fused_conv2d's blocks call the conv kernels from their own
/// threads), or comes after the team's destructor (at exit).
NETC_INLINE int threadsToSplitOver(bool parallel) {
#if NETC_THREAD_TEAM
  return parallel && !ThreadTeam::inside() && !ThreadTeam::destroyed() && !omp_in_parallel()
             ? omp_get_max_threads()
             : 1;
#elif defined(_OPENMP)
  return parallel && !omp_in_parallel() ? omp_get_max_threads() : 1;
#else
  (void)parallel;
  return 1;
#endif
}

/// Whether a kernel's work is split over threads: it is worth it
/// (`parallel`) and there are threads to split it over. Serial work enters
/// no region at all: even an OpenMP `if (false)` region ends with a futex
/// wake, a system call of about 1 us, which a batch-1 forward would pay in
/// each small kernel.
NETC_INLINE bool opensRegion(bool parallel) { return threadsToSplitOver(parallel) > 1; }

#ifdef _OPENMP
/// body(thread, threads) in an OpenMP region of `threads` threads. Not forced
/// inline: GCC gives the region's outlined function the attribute too, and
/// then fails when it cannot inline that.
template <class Body> inline void openMPRegion(int threads, Body &body) {
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num(), omp_get_num_threads());
}
#endif

/// body(thread, threads) on every thread of a team when
/// opensRegion(parallel), else body(0, 1) on the calling thread. The team is
/// the kernels' own (ThreadTeam.h), or an OpenMP region where that one is
/// busy with another application thread. Bodies share work by staticRange,
/// not by OpenMP worksharing, which binds to the innermost OpenMP region.
template <class Body> NETC_INLINE void parallelRegion(bool parallel, Body &&body) {
#ifdef _OPENMP
  const int threads = threadsToSplitOver(parallel);
  if (threads > 1) {
#if NETC_THREAD_TEAM
    if (ThreadTeam::instance().run(threads, body))
      return;
#endif
    openMPRegion(threads, body);
    return;
  }
#else
  (void)parallel;
#endif
  body(0, 1);
}

/// The part [begin, end) of [0, count) that thread `thread` of `threads`
/// takes: contiguous, the same for the same arguments in every call.
struct StaticRange {
  std::int64_t begin, end;
};
NETC_INLINE StaticRange staticRange(std::int64_t count, int thread, int threads) {
  return {count * thread / threads, count * (thread + 1) / threads};
}

/// body(i) for i in [0, count): one contiguous range of i per thread when
/// opensRegion(parallel), else in order on the calling thread.
template <class Index, class Body>
NETC_INLINE void parallelFor(Index count, bool parallel, Body &&body) {
  if (count > 1 && opensRegion(parallel)) {
    parallelRegion(true, [&](int thread, int team) {
      const StaticRange range = staticRange(count, thread, team);
      for (Index i = Index(range.begin); i < Index(range.end); ++i)
        body(i);
    });
  } else {
    for (Index i = 0; i < count; ++i)
      body(i);
  }
}

/// body(begin, end) over [0, count): one contiguous range per thread when
/// opensRegion(parallel), else the whole range once (element-wise kernels,
/// whose loop body vectorises inside the range).
template <class Index, class Body>
NETC_INLINE void parallelRanges(Index count, bool parallel, Body &&body) {
  parallelRegion(count > 1 && parallel, [&](int thread, int team) {
    const StaticRange range = staticRange(count, thread, team);
    body(Index(range.begin), Index(range.end));
  });
}

} // namespace detail
} // namespace netc::kernels

#endif // NETC_KERNELS_COMMON_H
