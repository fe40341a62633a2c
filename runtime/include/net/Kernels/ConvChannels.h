//===- ConvChannels.h - conv2d vectorised over output channels -*- C++ -*-===//
//
// The direct forward convolution of Conv.h's other paths vectorises along an
// output row; on layers with narrow rows (7-14 pixels) and few input channels
// most of each 16-lane vector is wasted, and im2col + GEMM rebuilds the patch
// matrix for small products. This path vectorises over 16 output channels
// instead, as oneDNN's blocked kernels do:
//   - the weights of one block of 16 output channels are packed as
//     [C][KH][KW][16] (a stack buffer), so one tap's weights are one vector;
//   - the sample's input is copied once into a zero-padded stack buffer, so
//     every tap reads in range with no test; taps that would read only its
//     zero border are skipped (known at compile time for a tile's columns,
//     per tile for its rows);
//   - a register tile of up to kChannelTileMax output positions (part of a
//     row, or a few whole narrow rows) x 16 channels accumulates over every
//     (c, kh, kw): per tap, one weight vector and one broadcast input per
//     position feed one vector FMA per position, and the tile is stored once,
//     its 16 channels going to their 16 NCHW planes.
// Work is split over (sample, channel block) pairs in a static schedule, so
// batch 1 still uses every thread when F > 16; each thread rebuilds a buffer
// only when its sample or block changes. Input channels that outgrow the
// stack budget are taken in chunks (a task is then a block and a range of
// samples, each chunk after the first added to y). Each output is summed by
// one thread in the fixed order (chunk, c, kh, kw): y does not depend on the
// thread count. grad_input at stride 1 is the same engine run on dy with the
// channels swapped and the window flipped. grad_weight, vectorised the same
// way, is in ConvChannelWeights.h.
// Used for the shapes ConvUseChannels (Conv.h) picks.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CONVCHANNELS_H
#define NETC_KERNELS_CONVCHANNELS_H

#include "net/Kernels/Common.h"
#include "net/Kernels/Transpose16.h"

#include <cstdint>
#include <type_traits>
#include <utility>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace netc::kernels {
namespace detail {

/// Output channels per vector of this path.
constexpr int kChannelLanes = kVectorFloats;

/// The most output positions of one register tile. A tile holds one 16-lane
/// accumulator per position: one vector each with AVX-512's 32 registers (the
/// rest for the weights), two with AVX2's 16 (256-bit vectors).
#if defined(NETC_CHANNEL_TILE_MAX) // for tuning with kernel-bench
constexpr int kChannelTileMax = NETC_CHANNEL_TILE_MAX;
#elif defined(__AVX512F__)
constexpr int kChannelTileMax = 20;
#else
constexpr int kChannelTileMax = 6;
#endif

/// The tile width that splits a row of OW outputs into equal tiles of at most
/// kChannelTileMax: 28 -> 14 + 14 with AVX-512.
constexpr int channelTile(int ow) {
  const int tiles = (ow + kChannelTileMax - 1) / kChannelTileMax;
  return (ow + tiles - 1) / tiles;
}

/// Rows of one tile: narrow rows (lenet5's 7) are stacked so that a tile
/// still has enough independent accumulators to hide the FMA latency.
constexpr int channelTileRows(int oh, int ow) {
  return min(oh, max(1, kChannelTileMax / channelTile(ow)));
}

/// The extents of the padded copy of one sample's input that the outputs read.
template <int KH, int KW, int SH, int SW, int OH, int OW> struct ChannelPadding {
  static constexpr int HP = (OH - 1) * SH + KH, WP = (OW - 1) * SW + KW;
};

/// Where the input lies in its padded copy: rows PT..PT+HI-1, columns
/// PL..PL+WI-1 (PT or PL negative where grad_input's window is smaller than
/// its padding); the rest is zero, and the tiles skip the taps that read it.
template <int HI, int WI, int PT, int PL> struct ChannelInputExtent {
  static constexpr bool row(int ih) { return ih >= PT && ih < PT + HI; }
  static constexpr bool column(int iw) { return iw >= PL && iw < PL + WI; }
  /// Whether every row of a padded copy of `rows` rows is an input row.
  static constexpr bool rowsInside(int rows) { return PT <= 0 && rows <= PT + HI; }
};

/// Stack floats this path may take per thread (Conv.h's GEMM buffers' budget).
constexpr std::int64_t kChannelStackFloats = kConvStackFloats;

/// Floats of the forward's stack buffers per input channel: its padded planes
/// and its packed weights.
template <int KH, int KW, int SH, int SW, int OH, int OW>
constexpr std::int64_t channelFloatsPerInput() {
  using P = ChannelPadding<KH, KW, SH, SW, OH, OW>;
  return std::int64_t(P::HP) * P::WP + std::int64_t(KH) * KW * kChannelLanes;
}

/// Floats of the forward's stack buffers when every input channel is held at
/// once (more than the budget: the input channels are taken in chunks).
template <int C, int KH, int KW, int SH, int SW, int OH, int OW>
constexpr std::int64_t channelStackFloats() {
  return C * channelFloatsPerInput<KH, KW, SH, SW, OH, OW>();
}

/// The forward's weights, w [CO][CI][KH][KW].
struct ChannelWeightsOIHW {
  template <int CI, int CO, int KH, int KW>
  static NETC_INLINE float at(const float *w, int o, int i, int kh, int kw) {
    return w[((std::size_t(o) * CI + i) * KH + kh) * KW + kw];
  }
};

/// grad_input's weights: the forward's w [F = CI][C = CO][KH][KW] with input
/// and output swapped and the window flipped.
struct ChannelWeightsFlipped {
  template <int CI, int CO, int KH, int KW>
  static NETC_INLINE float at(const float *w, int o, int i, int kh, int kw) {
    return w[((std::size_t(i) * CO + o) * KH + (KH - 1 - kh)) * KW + (KW - 1 - kw)];
  }
};

#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
/// storeChannelTile with AVX-512. Out of line: inlined, GCC hoisted the
/// transposition's shuffle controls out of the tile's tap loop, where they
/// took registers from the accumulators (mnist_cnn conv2's forward spilled:
/// 0.90x-0.96x the element-by-element stores).
template <int RH, int T, int OH, int OW, bool ACCUMULATE>
__attribute__((noinline)) void storeChannelTileTransposed(
    const float (&acc)[RH][T][kChannelLanes], int oh0, int ow0, int lanes,
    float *NETC_RESTRICT yBlock) {
  // The tile's positions, 16 at a time, transposed in registers: a lane's
  // vector then holds its channel's values of 16 consecutive positions, and
  // one masked store writes the part of them on one output row (compile-time
  // masks). Element by element, the 16 x RH x T scalar stores took a sixth
  // of lenet5 conv3's forward.
  constexpr int P = RH * T, G = ceilDiv(P, kChannelLanes);
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) {
    FloatVec rows[kChannelLanes];
#pragma GCC unroll 16
    for (int q = 0; q < kChannelLanes; ++q) {
      const int p = g * kChannelLanes + q;
      if (p < P)
        __builtin_memcpy(&rows[q], acc[p / T][p % T], sizeof(FloatVec));
      else
        rows[q] = FloatVec{};
    }
    transpose16(rows);
    // Rows of the tile that group g's positions reach.
    constexpr int kRowsPerGroup = ceilDiv(kChannelLanes, T) + 1;
    for (int l = 0; l < lanes; ++l) {
      float *plane = yBlock + std::ptrdiff_t(l) * OH * OW;
#pragma GCC unroll 16
      for (int k = 0; k < kRowsPerGroup; ++k) {
        const int r = g * kChannelLanes / T + k;
        if (r >= RH)
          break;
        // Element q of the group is position g*16 + q, on row r where
        // r*T <= g*16 + q < r*T + T.
        unsigned mask = 0;
        for (int q = 0; q < kChannelLanes; ++q) {
          const int p = g * kChannelLanes + q;
          if (p < P && p >= r * T && p < r * T + T)
            mask |= 1u << q;
        }
        if (!mask)
          continue;
        // Where element 0 would go: masked-off elements are never touched.
        float *at = plane + std::ptrdiff_t(oh0 + r) * OW + ow0 - r * T + g * kChannelLanes;
        __m512 v = rows[l];
        if constexpr (ACCUMULATE)
          v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(__mmask16(mask), at));
        _mm512_mask_storeu_ps(at, __mmask16(mask), v);
      }
    }
  }
}
#endif

/// y[l, oh0 + r, ow0 + j] (+)= acc[r][j][l] for l < lanes: each lane of a
/// register tile to its channel plane.
template <int RH, int T, int OH, int OW, bool ACCUMULATE>
NETC_INLINE void storeChannelTile(const float (&acc)[RH][T][kChannelLanes], int oh0, int ow0,
                                  int lanes, float *NETC_RESTRICT yBlock) {
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
  storeChannelTileTransposed<RH, T, OH, OW, ACCUMULATE>(acc, oh0, ow0, lanes, yBlock);
#else
  // Each lane to its channel plane.
  // (Two loops, not one with a conditional: GCC vectorises the plain store's
  // transposition, which a read-modify-write keeps scalar.)
  if constexpr (ACCUMULATE) {
    for (int l = 0; l < lanes; ++l)
      for (int r = 0; r < RH; ++r)
        for (int j = 0; j < T; ++j)
          yBlock[(l * OH + oh0 + r) * OW + ow0 + j] += acc[r][j][l];
  } else {
    for (int l = 0; l < lanes; ++l)
      for (int r = 0; r < RH; ++r)
        for (int j = 0; j < T; ++j)
          yBlock[(l * OH + oh0 + r) * OW + ow0 + j] = acc[r][j][l];
  }
#endif
}

/// OW0 of a tile whose columns read no border column: its first column is
/// the run-time ow0.
constexpr int kInteriorColumns = -1;

/// y[o0 + l, oh0 + r, ow0 + j] for r < RH, j < T, l < lanes (lanes <= 16):
/// a tile of RH x T output positions summed over the taps of `channels`
/// padded input channels (CHANNELS when not 0), stored, or added to y when
/// ACCUMULATE (a later chunk of input channels). Taps that read the zero
/// border (Extent) are skipped: columns at compile time (a tile at the
/// row's ends has its first column as OW0 = ow0), rows by a test per channel
/// and kernel row (a 5x5 window on lenet5's 7x7 plane reads the border in
/// 31 % of its taps).
template <int RH, int T, int OW0, int KH, int KW, int SH, int SW, int HP, int WP, int OH,
          int OW, class Extent, bool ACCUMULATE, int CHANNELS>
NETC_INLINE void channelTileStore(const float *NETC_RESTRICT xpad,
                                  const float *NETC_RESTRICT wpack, int channels, int oh0,
                                  int runtimeOw0, int lanes, float *NETC_RESTRICT yBlock) {
  constexpr bool kBorderColumns = OW0 != kInteriorColumns;
  const int ow0 = kBorderColumns ? OW0 : runtimeOw0;
  float acc[RH][T][kChannelLanes];
  for (int r = 0; r < RH; ++r)
    for (int j = 0; j < T; ++j)
#pragma omp simd
      for (int l = 0; l < kChannelLanes; ++l)
        acc[r][j][l] = 0.f;
  // A compile-time count when all input channels are held (measured ~20 %
  // faster on the lenet5 and mnist_cnn layers than a run-time one).
  const int count = CHANNELS > 0 ? CHANNELS : channels;
  // Which kernel rows of which tile rows read an input row.
  bool live[KH][RH];
  for (int kh = 0; kh < KH; ++kh)
    for (int r = 0; r < RH; ++r)
      live[kh][r] = Extent::row((oh0 + r) * SH + kh);
  for (int c = 0; c < count; ++c)
    for (int kh = 0; kh < KH; ++kh) {
      const float *row = xpad + (c * HP + oh0 * SH + kh) * WP + ow0 * SW;
      const float *wt = wpack + (c * KH + kh) * KW * kChannelLanes;
      // Unrolled, so that the column tests below fold away (left as
      // loops, GCC kept the accumulators in memory: 2.4x slower).
#pragma GCC unroll 16
      for (int r = 0; r < RH; ++r) {
        if (!Extent::rowsInside(HP) && !live[kh][r])
          continue;
#pragma GCC unroll 16
        for (int kw = 0; kw < KW; ++kw)
#pragma GCC unroll 32
          for (int j = 0; j < T; ++j) {
            if (kBorderColumns && !Extent::column((OW0 + j) * SW + kw))
              continue;
            const float v = row[r * SH * WP + j * SW + kw];
#pragma omp simd
            for (int l = 0; l < kChannelLanes; ++l)
              acc[r][j][l] += v * wt[kw * kChannelLanes + l];
          }
      }
    }
  storeChannelTile<RH, T, OH, OW, ACCUMULATE>(acc, oh0, ow0, lanes, yBlock);
}


/// Whether a tile of `width` columns from ow0 has a tap on a border column.
template <int KW, int SW, class Extent> constexpr bool channelTileReadsBorder(int ow0, int width) {
  for (int j = 0; j < width; ++j)
    if (!Extent::column((ow0 + j) * SW) || !Extent::column((ow0 + j) * SW + KW - 1))
      return true;
  return false;
}

/// A row's full tiles of T columns: [0, LEAD) and [TRAIL, FULL) read the
/// border, [LEAD, TRAIL) do not.
template <int OW, int KW, int SW, class Extent> struct ChannelRowTiles {
  static constexpr int T = channelTile(OW), FULL = OW / T;
  static constexpr int LEAD = [] {
    int t = 0;
    while (t < FULL && channelTileReadsBorder<KW, SW, Extent>(t * T, T))
      ++t;
    return t;
  }();
  static constexpr int TRAIL = [] {
    int t = FULL;
    while (t > LEAD && channelTileReadsBorder<KW, SW, Extent>((t - 1) * T, T))
      --t;
    return t;
  }();
};

/// Calls f(std::integral_constant<int, I>) for I in [BEGIN, BEGIN + sizeof...(I)).
template <int BEGIN, class Fn, int... I>
NETC_INLINE void forEachConstant(Fn &&f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, BEGIN + I>{}), ...);
}

/// One output row band of RH rows starting at oh0: its full tiles of T
/// columns, then the narrower one a row of OW leaves. The tiles at the
/// row's ends that read the border are expanded at compile time (their
/// columns are constants, so their border taps drop out); the interior
/// ones share one loop.
template <int RH, int KH, int KW, int SH, int SW, int HP, int WP, int OH, int OW, class Extent,
          bool ACCUMULATE, int CHANNELS>
NETC_INLINE void channelBand(const float *NETC_RESTRICT xpad, const float *NETC_RESTRICT wpack,
                             int channels, int oh0, int lanes, float *NETC_RESTRICT yBlock) {
  using Tiles = ChannelRowTiles<OW, KW, SW, Extent>;
  constexpr int T = Tiles::T, FULL = Tiles::FULL, REST = OW % T;
  constexpr int LEAD = Tiles::LEAD, TRAIL = Tiles::TRAIL;
  auto borderTile = [&](auto tile) {
    channelTileStore<RH, T, decltype(tile)::value * T, KH, KW, SH, SW, HP, WP, OH, OW, Extent,
                     ACCUMULATE, CHANNELS>(xpad, wpack, channels, oh0, 0, lanes, yBlock);
  };
  forEachConstant<0>(borderTile, std::make_integer_sequence<int, LEAD>());
  for (int t = LEAD; t < TRAIL; ++t)
    channelTileStore<RH, T, kInteriorColumns, KH, KW, SH, SW, HP, WP, OH, OW, Extent, ACCUMULATE,
                     CHANNELS>(xpad, wpack, channels, oh0, t * T, lanes, yBlock);
  forEachConstant<TRAIL>(borderTile, std::make_integer_sequence<int, FULL - TRAIL>());
  if constexpr (REST > 0)
    channelTileStore<RH, REST, FULL * T, KH, KW, SH, SW, HP, WP, OH, OW, Extent, ACCUMULATE,
                     CHANNELS>(xpad, wpack, channels, oh0, 0, lanes, yBlock);
}

/// Bands of RH output rows in one output block (the last one shorter when RH
/// does not divide OH).
constexpr int channelBands(int oh, int ow) {
  return ceilDiv(oh, channelTileRows(oh, ow));
}

/// Bands band0..band1-1 of one output block, summed over `channels` input
/// channels. A tile is computed the same way whichever call covers it.
template <int KH, int KW, int SH, int SW, int HP, int WP, int OH, int OW, class Extent,
          bool ACCUMULATE, int CHANNELS>
NETC_INLINE void channelBlock(const float *NETC_RESTRICT xpad, const float *NETC_RESTRICT wpack,
                              int channels, int lanes, float *NETC_RESTRICT yBlock,
                              int band0 = 0, int band1 = channelBands(OH, OW)) {
  constexpr int RH = channelTileRows(OH, OW), BANDS = OH / RH, LAST = OH % RH;
  for (int band = band0; band < min(band1, BANDS); ++band)
    channelBand<RH, KH, KW, SH, SW, HP, WP, OH, OW, Extent, ACCUMULATE, CHANNELS>(
        xpad, wpack, channels, band * RH, lanes, yBlock);
  if constexpr (LAST > 0)
    if (band0 <= BANDS && BANDS < band1)
      channelBand<LAST, KH, KW, SH, SW, HP, WP, OH, OW, Extent, ACCUMULATE, CHANNELS>(
          xpad, wpack, channels, BANDS * RH, lanes, yBlock);
}

/// Whole padded planes (HP rows) of input channels i0..i0+channels-1.
template <int HI, int WI, int HP, int WP, int PT, int PL>
NETC_INLINE void padChannels(const float *NETC_RESTRICT xi, int i0, int channels,
                             float *NETC_RESTRICT xpad) {
  padChannelRows<HI, WI, WP, PT, PL>(xi, i0, channels, 0, HP, HP, xpad);
}


/// The weights of output block o0 (lanes channels) for input channels
/// i0..i0+channels-1 as [channel][KH][KW][16]; lanes past CO are zero (their
/// sums are never stored).
template <class Weights, int CI, int CO, int KH, int KW>
NETC_INLINE void packChannelWeights(const float *NETC_RESTRICT w, int o0, int lanes, int i0,
                                    int channels, float *NETC_RESTRICT wpack) {
  if constexpr (std::is_same_v<Weights, ChannelWeightsOIHW>) {
    constexpr int KK = KH * KW;
    transposeChannelPlanes<std::size_t(CI) * KK>(w + (std::size_t(o0) * CI + i0) * KK,
                                                 channels * KK, lanes, wpack);
    return;
  }
  if constexpr (std::is_same_v<Weights, ChannelWeightsFlipped>) {
    // A channel's block is 16 contiguous runs of KK taps in w (the
    // forward's filter i0 + c, its input channels o0..o0+15): a 16 x KK
    // transposition, taps reversed. Through Weights::at, element by element,
    // this packing took two thirds of resnet50 stage 4's grad_input at batch
    // 1, where every call repacks every block.
    constexpr int KK = KH * KW;
    for (int c = 0; c < channels; ++c) {
      const float *src = w + (std::size_t(i0 + c) * CO + o0) * KK;
      float *dst = wpack + std::size_t(c) * KK * kChannelLanes;
      if (lanes == kChannelLanes) {
        for (int t = 0; t < KK; ++t)
#pragma omp simd
          for (int l = 0; l < kChannelLanes; ++l)
            dst[t * kChannelLanes + l] = src[l * KK + KK - 1 - t];
      } else {
        for (int t = 0; t < KK; ++t)
          for (int l = 0; l < kChannelLanes; ++l)
            dst[t * kChannelLanes + l] = l < lanes ? src[l * KK + KK - 1 - t] : 0.f;
      }
    }
    return;
  }
  for (int c = 0; c < channels; ++c)
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw)
        for (int l = 0; l < kChannelLanes; ++l)
          wpack[((c * KH + kh) * KW + kw) * kChannelLanes + l] =
              l < lanes ? Weights::template at<CI, CO, KH, KW>(w, o0 + l, i0 + c, kh, kw) : 0.f;
}

/// Passes rows [r0, r1) of the `lanes` output planes from yBlock through
/// epi, channel o0 first.
template <int OH, int OW, class Epi>
NETC_INLINE void channelEpilogue(const Epi &epi, int o0, int lanes, int r0, int r1,
                                 float *NETC_RESTRICT yBlock) {
  if constexpr (!std::is_same_v<Epi, NoEpilogue>)
    for (int l = 0; l < lanes; ++l)
      epi(o0 + l, yBlock + std::size_t(l) * OH * OW + std::size_t(r0) * OW, (r1 - r0) * OW);
}

/// The convolution engine: x [n,CI,HI,WI] -> y [n,CO,OH,OW] (overwritten).
/// When every input channel fits the stack budget, tasks are (sample, output
/// block) pairs; otherwise the input channels are taken in chunks, a task is
/// an output block and a range of samples, and each chunk after the first is
/// added to y (every output still sums its chunks and channels in one order).
/// A task passes its finished outputs through `epi` before the next.
template <int CI, int HI, int WI, int CO, int KH, int KW, int SH, int SW, int PT, int PL,
          int OH, int OW, class Weights, class Epi = NoEpilogue>
void channelConv(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
                 float *NETC_RESTRICT y, const Epi &epi = Epi{}) {
  using P = ChannelPadding<KH, KW, SH, SW, OH, OW>;
  // (static: GCC 12 fails on a captured constexpr in a lambda's array bound.)
  static constexpr int HP = P::HP, WP = P::WP, KK = KH * KW;
  using Extent = ChannelInputExtent<HI, WI, PT, PL>;
  constexpr int OB = ceilDiv(CO, kChannelLanes);
  static constexpr int CHUNK =
      int(min(CI, int(kChannelStackFloats / channelFloatsPerInput<KH, KW, SH, SW, OH, OW>())));
  static_assert(CHUNK >= 1, "one input channel's buffers exceed the stack budget");
  constexpr int CHUNKS = (CI + CHUNK - 1) / CHUNK;
  const bool parallel = convInParallel(n, CO, OH * OW, CI * KK);
  if constexpr (CHUNKS == 1) {
    constexpr bool kBlockMajor = KK * kChannelLanes > HP * WP;
    constexpr int BANDS = channelBands(OH, OW);
    // Fewer (sample, block) pairs than threads (batch 1, few output
    // channels): each pair's bands are split among tasks too, so that every
    // thread computes (lenet5 conv2 at batch 1 is a single block).
    const int threads = threadsToSplitOver(parallel);
    const std::int64_t pairs = std::int64_t(n) * OB;
    const int splits =
        pairs > 0 && pairs < threads ? int(min(BANDS, int(ceilDiv(threads, int(pairs))))) : 1;
    const std::int64_t tasks = pairs * splits;
    parallelRegion(tasks > 1 && parallel, [&](int thread, int team) {
      alignas(64) float xpad[CI * HP * WP];
      alignas(64) float wpack[CI * KK * kChannelLanes];
      int paddedSample = -1, packedBlock = -1;
      const StaticRange range = staticRange(tasks, thread, team);
      for (std::int64_t t = range.begin; t < range.end; ++t) {
        const std::int64_t task = t / splits;
        const int part = int(t % splits);
        // A thread's tasks are consecutive: order them so that the larger of
        // the two buffers is rebuilt the fewer times.
        const int i = int(kBlockMajor ? task % n : task / OB);
        const int ob = int(kBlockMajor ? task / n : task % OB);
        const int o0 = ob * kChannelLanes, lanes = min(kChannelLanes, CO - o0);
        if (i != paddedSample) {
          padChannels<HI, WI, HP, WP, PT, PL>(x + std::size_t(i) * CI * HI * WI, 0, CI, xpad);
          paddedSample = i;
        }
        if (ob != packedBlock) {
          packChannelWeights<Weights, CI, CO, KH, KW>(w, o0, lanes, 0, CI, wpack);
          packedBlock = ob;
        }
        float *yBlock = y + (std::size_t(i) * CO + o0) * OH * OW;
        const int band0 = BANDS * part / splits, band1 = BANDS * (part + 1) / splits;
        channelBlock<KH, KW, SH, SW, HP, WP, OH, OW, Extent, false, CI>(xpad, wpack, CI, lanes,
                                                                     yBlock, band0, band1);
        constexpr int RH = channelTileRows(OH, OW);
        channelEpilogue<OH, OW>(epi, o0, lanes, band0 * RH, min(OH, band1 * RH), yBlock);
      }
    });
  } else {
    const int threads = threadsToSplitOver(parallel);
    // Chunk by chunk over the samples re-reads each sample's output block
    // per chunk, from memory when the range's blocks outgrow the cache;
    // sample by sample repacks the weights per chunk. The cheaper order,
    // counting a float from memory as four packed ones:
    constexpr bool kSampleOuter = CHUNK * KK * kChannelLanes < 8 * kChannelLanes * OH * OW;
    const int groups = max(1, min(n, (threads + OB - 1) / OB));
    const int tasks = OB * groups;
    detail::parallelFor(int(tasks), tasks > 1 && parallel, [&](int task) {
      const int ob = task / groups, group = task % groups;
      const int o0 = ob * kChannelLanes, lanes = min(kChannelLanes, CO - o0);
      const int s0 = int(std::int64_t(n) * group / groups);
      const int s1 = int(std::int64_t(n) * (group + 1) / groups);
      alignas(64) float xpad[CHUNK * HP * WP];
      alignas(64) float wpack[CHUNK * KK * kChannelLanes];
      auto run = [&](int i, int chunk) {
        const int i0 = chunk * CHUNK, channels = min(CHUNK, CI - i0);
        padChannels<HI, WI, HP, WP, PT, PL>(x + std::size_t(i) * CI * HI * WI, i0, channels,
                                            xpad);
        float *yBlock = y + (std::size_t(i) * CO + o0) * OH * OW;
        if (chunk == 0)
          channelBlock<KH, KW, SH, SW, HP, WP, OH, OW, Extent, false, 0>(xpad, wpack, channels,
                                                                      lanes, yBlock);
        else
          channelBlock<KH, KW, SH, SW, HP, WP, OH, OW, Extent, true, 0>(xpad, wpack, channels,
                                                                     lanes, yBlock);
        if (chunk == CHUNKS - 1)
          channelEpilogue<OH, OW>(epi, o0, lanes, 0, OH, yBlock);
      };
      auto pack = [&](int chunk) {
        const int i0 = chunk * CHUNK;
        packChannelWeights<Weights, CI, CO, KH, KW>(w, o0, lanes, i0, min(CHUNK, CI - i0),
                                                    wpack);
      };
      if constexpr (kSampleOuter) {
        for (int i = s0; i < s1; ++i)
          for (int chunk = 0; chunk < CHUNKS; ++chunk) {
            pack(chunk);
            run(i, chunk);
          }
      } else {
        for (int chunk = 0; chunk < CHUNKS; ++chunk) {
          pack(chunk);
          for (int i = s0; i < s1; ++i)
            run(i, chunk);
        }
      }
    });
  }
}

/// Forward conv: x [n,C,H,W], w [F,C,KH,KW] -> y [n,F,OH,OW] (overwritten).
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW, class Epi = NoEpilogue>
void conv2dChannels(int n, const float *NETC_RESTRICT x, const float *NETC_RESTRICT w,
                    float *NETC_RESTRICT y, const Epi &epi = Epi{}) {
  channelConv<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW, ChannelWeightsOIHW>(n, x, w, y, epi);
}

/// grad_input at stride 1: dx [n,C,H,W] is the "full" correlation of dy with
/// the window flipped and the channels swapped, the forward engine with
/// padding KH-1-PT, KW-1-PL (negative where the padding exceeds the window:
/// those rows of dy are never read).
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGradInputChannels(int n, const float *NETC_RESTRICT dy,
                             const float *NETC_RESTRICT w, float *NETC_RESTRICT dx) {
  static_assert(SH == 1 && SW == 1, "grad_input by the forward engine needs stride 1");
  channelConv<F, OH, OW, C, KH, KW, 1, 1, KH - 1 - PT, KW - 1 - PL, H, W,
              ChannelWeightsFlipped>(n, dy, w, dx);
}

} // namespace detail
} // namespace netc::kernels

#endif // NETC_KERNELS_CONVCHANNELS_H
