//===- ConvChannelWeights.h - conv2d grad_weight over output channels -*- C++ -*-===//
//
// grad_weight vectorised over 16 output channels, as ConvChannels.h's
// forward: a task owns the weights of one block of 16 output channels (and
// of a group of input channels when there are fewer blocks than threads);
// per sample it transposes the block's dy to position-major vectors and pads
// the group's input, then a register tile of a few input channels x KW taps
// accumulates dy vectors times broadcast inputs over every output position,
// kernel row by kernel row, skipping the taps that read the zero border.
// Used for the shapes ConvUseChannels (Conv.h) picks.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CONVCHANNELWEIGHTS_H
#define NETC_KERNELS_CONVCHANNELWEIGHTS_H

#include "net/Kernels/Common.h"
#include "net/Kernels/ConvChannels.h"

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace netc::kernels {
namespace detail {

/// The widest padded row whose grad_weight tile is unrolled column by column.
constexpr int kChannelSlidingColumns = 32;

/// grad_weight: the RC x KW accumulators of channels c..c+RC-1 (of the
/// padded copy of a band of input rows starting at padded row ih0, channels
/// RP rows apart) at kernel row kh, over the ROWS output rows of the band:
/// acc[r][kw] += dy[p] * x[c + r, oh*SH + kh, ow*SW + kw]. Output rows whose
/// kernel row kh reads the zero border (Extent) are skipped. At stride 1 on
/// rows of at most kChannelSlidingColumns, the sum runs over input columns
/// (below), which also skips the border columns; elsewhere over output
/// positions, every tap (a test per tap there made GCC spill the
/// accumulators). Both sum each weight over the positions in order.
template <int RC, int KW, int SH, int SW, int WP, int OW, int ROWS, class Extent>
NETC_INLINE void channelWeightTile(const float *NETC_RESTRICT dyT,
                                   const float *NETC_RESTRICT xpad, int RP, int ih0, int c,
                                   int kh, float *NETC_RESTRICT accKh) {
  float acc[RC][KW][kChannelLanes];
  for (int r = 0; r < RC; ++r)
    for (int kw = 0; kw < KW; ++kw)
#pragma omp simd
      for (int l = 0; l < kChannelLanes; ++l)
        acc[r][kw][l] = accKh[((c + r) * KW + kw) * kChannelLanes + l];
  int oh0 = 0, oh1 = ROWS;
  while (oh0 < oh1 && !Extent::row(ih0 + oh0 * SH + kh))
    ++oh0;
  while (oh1 > oh0 && !Extent::row(ih0 + (oh1 - 1) * SH + kh))
    --oh1;
  const std::ptrdiff_t plane = std::ptrdiff_t(RP) * WP;
  if constexpr (SW == 1 && WP <= kChannelSlidingColumns) {
    // Input column by input column: each broadcast input feeds the KW taps
    // of the outputs that read it, so a dy vector is reused across the
    // tile's channels, and no tap on a border column is issued (the loops
    // unroll: every column is a constant). lenet5 conv3 1.3x the position
    // loop, resnet50's 3x3 at 28x28 1.3x; even at 30 columns; 1.06x at 58,
    // not worth its code.
    for (int oh = oh0; oh < oh1; ++oh) {
      const float *dyRow = dyT + oh * OW * kChannelLanes;
      const float *xRow = xpad + c * plane + (oh * SH + kh) * WP;
#pragma GCC unroll 64
      for (int m = 0; m < WP; ++m) {
        if (!Extent::column(m))
          continue;
#pragma GCC unroll 16
        for (int r = 0; r < RC; ++r) {
          const float v = xRow[r * plane + m];
#pragma GCC unroll 16
          for (int kw = 0; kw < KW; ++kw) {
            const int ow = m - kw;
            if (ow < 0 || ow >= OW)
              continue;
#pragma omp simd
            for (int l = 0; l < kChannelLanes; ++l)
              acc[r][kw][l] += v * dyRow[ow * kChannelLanes + l];
          }
        }
      }
    }
  } else {
    for (int oh = oh0; oh < oh1; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        const float *dyv = dyT + (oh * OW + ow) * kChannelLanes;
        const float *base = xpad + c * plane + (oh * SH + kh) * WP + ow * SW;
        for (int r = 0; r < RC; ++r)
          for (int kw = 0; kw < KW; ++kw) {
            const float v = base[r * plane + kw];
#pragma omp simd
            for (int l = 0; l < kChannelLanes; ++l)
              acc[r][kw][l] += v * dyv[l];
          }
      }
  }
  for (int r = 0; r < RC; ++r)
    for (int kw = 0; kw < KW; ++kw)
#pragma omp simd
      for (int l = 0; l < kChannelLanes; ++l)
        accKh[((c + r) * KW + kw) * kChannelLanes + l] = acc[r][kw][l];
}

/// Channels of one grad_weight register tile: as many whole kernel rows as
/// kChannelTileMax accumulators hold.
constexpr int channelWeightTileRows(int kw) { return max(1, kChannelTileMax / kw); }

/// How grad_weight cuts its work to fit the stack budget: a task's buffers are
/// the accumulators of its group of at most `groupChannels` input channels
/// (KH*KW vectors each), the padded input rows of one band of `bandRows`
/// output rows for those channels, and the band's dy as position-major
/// vectors. The whole plane and every channel when they fit (every MNIST
/// layer); otherwise bands of a quarter of the budget's dy (resnet50's 56x56:
/// 11 rows) and as many channels as the rest holds.
template <int C, int KH, int KW, int SH, int SW, int OH, int OW> struct ChannelWeightPlan {
  static constexpr int WP = (OW - 1) * SW + KW;
  static constexpr int padRows(int rows) { return (rows - 1) * SH + KH; }
  static constexpr std::int64_t perChannel(int rows) {
    return std::int64_t(KH) * KW * kChannelLanes + std::int64_t(padRows(rows)) * WP;
  }
  static constexpr std::int64_t dyFloats(int rows) {
    return std::int64_t(rows) * OW * kChannelLanes;
  }
  static constexpr int bandRows = [] {
    if (dyFloats(OH) + C * perChannel(OH) <= kChannelStackFloats)
      return OH;
    int rows = 1;
    while (rows < OH && dyFloats(rows + 1) <= kChannelStackFloats / 4)
      ++rows;
    return rows;
  }();
  static constexpr int groupChannels = [] {
    const std::int64_t fit = (kChannelStackFloats - dyFloats(bandRows)) / perChannel(bandRows);
    return int(fit < 0 ? 0 : fit < C ? fit : C);
  }();
  /// Groups the budget needs; more when there are fewer blocks than threads.
  static constexpr int minGroups = groupChannels > 0 ? ceilDiv(C, groupChannels) : 0;
  static constexpr int RP = padRows(bandRows);
};

/// dw [F,C,KH,KW] = sum over the batch of dy (x) x, vectorised over 16 output
/// channels. Tasks are (channel block, input-channel group) pairs, each owning
/// its weights and summing them over the samples, the bands and the positions
/// in order: dw does not depend on the thread count or on the grouping.
/// Per sample and band a task transposes its block's dy to position-major
/// vectors and pads its group's input rows, then a register tile of a few
/// input channels x KW taps accumulates dy vectors times broadcast inputs
/// over the band's positions, kernel row by kernel row.
template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT,
          int PL, int OH, int OW>
void conv2dGradWeightChannels(int n, const float *NETC_RESTRICT dy,
                              const float *NETC_RESTRICT x, float *NETC_RESTRICT dw) {
  using Plan = ChannelWeightPlan<C, KH, KW, SH, SW, OH, OW>;
  // (static: GCC 12 fails on a captured constexpr in a lambda's array bound.)
  static constexpr int WP = Plan::WP, RP = Plan::RP, BR = Plan::bandRows,
                       CG = Plan::groupChannels;
  using Extent = ChannelInputExtent<H, W, PT, PL>;
  constexpr int PLANE = OH * OW;
  constexpr int FB = ceilDiv(F, kChannelLanes);
  constexpr int RC = min(C, channelWeightTileRows(KW));
  static_assert(CG >= 1, "one input channel's grad_weight buffers exceed the stack budget");
  const int threads = threadsToSplitOver(true);
  const int groups =
      FB >= threads ? Plan::minGroups : max(Plan::minGroups, min(C, ceilDiv(threads, FB)));
  const int tasks = FB * groups;
  const bool parallel =
      tasks > 1 && convInParallel(n, F, PLANE, C * KH * KW);
  detail::parallelFor(int(tasks), parallel, [&](int task) {
    const int fb = task / groups, group = task % groups;
    const int f0 = fb * kChannelLanes, lanes = min(kChannelLanes, F - f0);
    const int c0 = C * group / groups, c1 = C * (group + 1) / groups, cs = c1 - c0;
    alignas(64) float acc[KH * CG * KW * kChannelLanes];
    alignas(64) float xpad[CG * RP * WP];
    alignas(64) float dyT[BR * OW * kChannelLanes];
    for (int k = 0; k < KH * cs * KW * kChannelLanes; ++k)
      acc[k] = 0.f;
    for (int i = 0; i < n; ++i) {
      const float *dyi = dy + (std::size_t(i) * F + f0) * PLANE;
      // Every band but the last has BR rows: both counts are compile-time.
      auto band = [&](int oh0, auto rowsConstant) {
        constexpr int ROWS = decltype(rowsConstant)::value;
        transposeChannelPlanes<PLANE>(dyi + oh0 * OW, ROWS * OW, lanes, dyT);
        padChannelRows<H, W, WP, PT, PL>(x + std::size_t(i) * C * H * W, c0, cs, oh0 * SH,
                                         Plan::padRows(ROWS), RP, xpad);
        for (int kh = 0; kh < KH; ++kh) {
          float *accKh = acc + kh * cs * KW * kChannelLanes;
          int c = 0;
          for (; c + RC <= cs; c += RC)
            channelWeightTile<RC, KW, SH, SW, WP, OW, ROWS, Extent>(dyT, xpad, RP, oh0 * SH, c,
                                                                    kh, accKh);
          // The rest in one tile of cs - c channels, not one by one: a
          // single channel's KW accumulators cannot hide the FMA latency.
          withCompileTimeCount<RC - 1>(cs - c, [&](auto rest) {
            channelWeightTile<decltype(rest)::value, KW, SH, SW, WP, OW, ROWS, Extent>(
                dyT, xpad, RP, oh0 * SH, c, kh, accKh);
          });
        }
      };
      for (int b = 0; b < OH / BR; ++b)
        band(b * BR, std::integral_constant<int, BR>{});
      if constexpr (OH % BR > 0)
        band(OH / BR * BR, std::integral_constant<int, OH % BR>{});
    }
    for (int l = 0; l < lanes; ++l)
      for (int c = 0; c < cs; ++c)
        for (int kh = 0; kh < KH; ++kh)
          for (int kw = 0; kw < KW; ++kw)
            dw[((std::size_t(f0 + l) * C + c0 + c) * KH + kh) * KW + kw] =
                acc[((kh * cs + c) * KW + kw) * kChannelLanes + l];
  });
}

} // namespace detail
} // namespace netc::kernels

#endif // NETC_KERNELS_CONVCHANNELWEIGHTS_H
