//===- ConvTest.cpp - conv2d forward and backward against the reference ---===//
//
// Tolerance: |fast - reference| <= 1e-5 |reference| + 2e-6 * sqrt(T) * 4,
// T the number of products in one output (the reference sums in double, the
// kernels in float in another order). Gradients are also checked by central
// differences of the reference forward.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "net/Kernels/Conv.h"
#include "Reference.h"

#include <omp.h>

using namespace netc::kernels;
using namespace netc::kernels::test;

namespace {

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
struct ConvShape {
  static constexpr std::size_t xs = std::size_t(C) * H * W, ys = std::size_t(F) * OH * OW,
                               ws = std::size_t(F) * C * KH * KW;
  static void forward(int n, const float *x, const float *w, float *y) {
    conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
  }
  static void forwardRef(int n, const float *x, const float *w, float *y) {
    reference::conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
  }
  static void gradInput(int n, const float *dy, const float *w, float *dx) {
    conv2d_grad_input<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, w, dx);
  }
  static void gradInputRef(int n, const float *dy, const float *w, float *dx) {
    reference::conv2d_grad_input<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, w, dx);
  }
  static void gradWeight(int n, const float *dy, const float *x, float *dw) {
    conv2d_grad_weight<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  }
  static void gradWeightRef(int n, const float *dy, const float *x, float *dw) {
    reference::conv2d_grad_weight<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  }
  // Both paths, whichever the public kernels pick for this shape.
  static void forwardDirect(int n, const float *x, const float *w, float *y) {
    detail::conv2dDirect<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
  }
  static void forwardGemm(int n, const float *x, const float *w, float *y) {
    detail::conv2dGemm<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
  }
  /// The paths vectorised over output channels, where one input channel's
  /// buffers fit (more channels than fit are taken in chunks); grad_input's
  /// at stride 1 only.
  static constexpr bool hasChannels =
      detail::channelFloatsPerInput<KH, KW, SH, SW, OH, OW>() <= detail::kChannelStackFloats;
  static constexpr bool hasGradInputChannels =
      SH == 1 && SW == 1 &&
      detail::channelFloatsPerInput<KH, KW, 1, 1, H, W>() <= detail::kChannelStackFloats;
  static void forwardChannels(int n, const float *x, const float *w, float *y) {
    if constexpr (hasChannels)
      detail::conv2dChannels<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
  }
  static void gradInputChannels(int n, const float *dy, const float *w, float *dx) {
    if constexpr (hasGradInputChannels)
      detail::conv2dGradInputChannels<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, w, dx);
  }
  static constexpr bool hasGradWeightChannels =
      detail::ChannelWeightPlan<C, KH, KW, SH, SW, OH, OW>::groupChannels >= 1;
  static void gradWeightChannels(int n, const float *dy, const float *x, float *dw) {
    if constexpr (hasGradWeightChannels)
      detail::conv2dGradWeightChannels<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  }
  /// The rows path (few input channels), where it compiles: stride 1 along
  /// the width and its buffers within the stack budget.
  static constexpr bool hasGradWeightRows =
      SW == 1 && detail::RowWeightPlan<C, KH, KW, SH, OH, OW>::fits;
  static void gradWeightRows(int n, const float *dy, const float *x, float *dw) {
    if constexpr (hasGradWeightRows)
      detail::conv2dGradWeightRows<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  }
  /// The forward rows path (few input channels), where it compiles; tested
  /// on every ISA, chosen by conv2d only where measured faster.
  static constexpr bool hasForwardRows =
      SW == 1 && C <= 3 && detail::RowForwardPlan<C, KH, KW, SH, OH, OW>::fits;
  static void forwardRows(int n, const float *x, const float *w, float *y) {
    if constexpr (hasForwardRows)
      detail::conv2dForwardRows<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, x, w, y);
  }
  static void gradInputDirect(int n, const float *dy, const float *w, float *dx) {
    detail::conv2dGradInputDirect<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, w, dx);
  }
  static void gradInputGemm(int n, const float *dy, const float *w, float *dx) {
    detail::conv2dGradInputGemm<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, w, dx);
  }
  /// The pointwise GEMM grad_input (1x1, stride 1, no padding).
  static constexpr bool hasGradInputPointwise =
      detail::gradInputOnPointwiseGemm<H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>;
  static void gradInputPointwise(int n, const float *dy, const float *w, float *dx) {
    if constexpr (hasGradInputPointwise)
      detail::conv2dGradInputPointwise<C, F, OH, OW>(n, dy, w, dx);
  }
  static void gradWeightDirect(int n, const float *dy, const float *x, float *dw) {
    detail::conv2dGradWeightDirect<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  }
  static void gradWeightGemm(int n, const float *dy, const float *x, float *dw) {
    detail::conv2dGradWeightGemm<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy, x, dw);
  }
  static constexpr double tol(double terms) { return 8e-6 * std::sqrt(terms); }
  static constexpr int fwdTerms = C * KH * KW, dxTerms = F * KH * KW;
  /// Whether the im2col + GEMM paths compile for the shape (their patches
  /// fit the stack budget), so that every path can be tested.
  using Gemm = detail::ConvUseGemm<C, F, KH, KW, SH, SW, OH, OW>;
  static constexpr bool gemmCompiles = Gemm::forward && Gemm::gradInput && Gemm::gradWeight;
};

template <class S>
void checkEveryPath(int n, const std::vector<float> &x, const std::vector<float> &w,
                    const std::vector<float> &dy, const std::vector<float> &yr,
                    const std::vector<float> &dxr, const std::vector<float> &dwr);

/// The paths conv2d, conv2d_grad_input and conv2d_grad_weight choose ==
/// reference at batch n; outputs pre-filled with garbage to show they are
/// overwritten. `every`: each path besides, direct, im2col + GEMM and
/// output-channel, where the shape compiles for all of them.
template <class S> void checkAgainstReference(int n, std::uint32_t seed, bool every = true) {
  SCOPED_TRACE("batch " + std::to_string(n));
  const auto x = randomVec(n * S::xs, seed), w = randomVec(S::ws, seed + 1),
             dy = randomVec(n * S::ys, seed + 2);
  std::vector<float> y(n * S::ys, 123.f), yr(n * S::ys);
  S::forward(n, x.data(), w.data(), y.data());
  S::forwardRef(n, x.data(), w.data(), yr.data());
  EXPECT_TRUE(allClose(y, yr, 1e-5, S::tol(S::fwdTerms))) << "conv2d";

  std::vector<float> dx(n * S::xs, 123.f), dxr(n * S::xs);
  S::gradInput(n, dy.data(), w.data(), dx.data());
  S::gradInputRef(n, dy.data(), w.data(), dxr.data());
  EXPECT_TRUE(allClose(dx, dxr, 1e-5, S::tol(S::dxTerms))) << "conv2d_grad_input";

  std::vector<float> dw(S::ws, 123.f), dwr(S::ws);
  S::gradWeight(n, dy.data(), x.data(), dw.data());
  S::gradWeightRef(n, dy.data(), x.data(), dwr.data());
  EXPECT_TRUE(allClose(dw, dwr, 1e-5, S::tol(double(n) * S::ys / 1))) << "conv2d_grad_weight";

  if constexpr (S::gemmCompiles) {
    if (every)
      checkEveryPath<S>(n, x, w, dy, yr, dxr, dwr);
  }
}

/// The direct, im2col + GEMM and output-channel paths, each against the
/// reference outputs yr, dxr, dwr.
template <class S>
void checkEveryPath(int n, const std::vector<float> &x, const std::vector<float> &w,
                    const std::vector<float> &dy, const std::vector<float> &yr,
                    const std::vector<float> &dxr, const std::vector<float> &dwr) {
  std::vector<float> y(n * S::ys), dx(n * S::xs), dw(S::ws);
  for (auto fwd : {&S::forwardDirect, &S::forwardGemm, &S::forwardChannels, &S::forwardRows}) {
    if ((fwd == &S::forwardChannels && !S::hasChannels) ||
        (fwd == &S::forwardRows && !S::hasForwardRows))
      continue;
    std::fill(y.begin(), y.end(), 123.f);
    fwd(n, x.data(), w.data(), y.data());
    EXPECT_TRUE(allClose(y, yr, 1e-5, S::tol(S::fwdTerms)))
        << (fwd == &S::forwardGemm     ? "gemm"
            : fwd == &S::forwardDirect ? "direct"
            : fwd == &S::forwardRows   ? "rows"
                                       : "channels")
        << " conv2d";
  }
  for (auto gi : {&S::gradInputDirect, &S::gradInputGemm, &S::gradInputChannels,
                  &S::gradInputPointwise}) {
    if ((gi == &S::gradInputChannels && !S::hasGradInputChannels) ||
        (gi == &S::gradInputPointwise && !S::hasGradInputPointwise))
      continue;
    std::fill(dx.begin(), dx.end(), 123.f);
    gi(n, dy.data(), w.data(), dx.data());
    EXPECT_TRUE(allClose(dx, dxr, 1e-5, S::tol(S::dxTerms)))
        << (gi == &S::gradInputGemm        ? "gemm"
            : gi == &S::gradInputDirect    ? "direct"
            : gi == &S::gradInputPointwise ? "pointwise"
                                           : "channels")
        <<" conv2d_grad_input";
  }
  for (auto gw : {&S::gradWeightDirect, &S::gradWeightGemm, &S::gradWeightChannels,
                  &S::gradWeightRows}) {
    if ((gw == &S::gradWeightChannels && !S::hasGradWeightChannels) ||
        (gw == &S::gradWeightRows && !S::hasGradWeightRows))
      continue;
    std::fill(dw.begin(), dw.end(), 123.f);
    gw(n, dy.data(), x.data(), dw.data());
    EXPECT_TRUE(allClose(dw, dwr, 1e-5, S::tol(double(n) * S::ys / 1)))
        << (gw == &S::gradWeightGemm       ? "gemm"
            : gw == &S::gradWeightDirect   ? "direct"
            : gw == &S::gradWeightChannels ? "channels"
                                           : "rows")
        << " conv2d_grad_weight";
  }
}

template <class S> void checkAll(std::uint32_t seed) {
  checkAgainstReference<S>(1, seed);
  checkAgainstReference<S>(3, seed + 10);
}

/// Central differences of the reference forward against both backward kernels.
template <class S> void checkGradients(int n, std::uint32_t seed) {
  auto x = randomVec(n * S::xs, seed), w = randomVec(S::ws, seed + 1),
       r = randomVec(n * S::ys, seed + 2);
  std::vector<float> dx(n * S::xs), dw(S::ws);
  S::gradInput(n, r.data(), w.data(), dx.data());
  S::gradWeight(n, r.data(), x.data(), dw.data());
  gradCheck(
      "conv dx",
      [&](const std::vector<float> &xv) {
        std::vector<float> y(n * S::ys);
        S::forwardRef(n, xv.data(), w.data(), y.data());
        return y;
      },
      x, r, dx);
  gradCheck(
      "conv dw",
      [&](const std::vector<float> &wv) {
        std::vector<float> y(n * S::ys);
        S::forwardRef(n, x.data(), wv.data(), y.data());
        return y;
      },
      w, r, dw);
}

//                    C   H   W   F  KH KW SH SW PT PL OH OW
using LeNet1 = ConvShape<1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28>;
using LeNet2 = ConvShape<6, 14, 14, 16, 5, 5, 1, 1, 2, 2, 14, 14>;
using LeNet3 = ConvShape<16, 7, 7, 120, 5, 5, 1, 1, 2, 2, 7, 7>;
using LeNetClassic1 = ConvShape<1, 32, 32, 6, 5, 5, 1, 1, 0, 0, 28, 28>;
using Mnist1 = ConvShape<1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 26, 26>;
using Mnist2 = ConvShape<32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24>;
// Stride 2, non-square, padding 1 top (1 bottom implied), 0 left (0 right).
using Strided = ConvShape<3, 11, 9, 5, 3, 3, 2, 2, 1, 0, 6, 4>;
// Mixed strides (2, 1), 4x3 kernel, asymmetric padding.
using MixedStride = ConvShape<2, 9, 7, 3, 4, 3, 2, 1, 2, 1, 5, 7>;
// Asymmetric padding with stride 1: left 1, right 0; top 0, bottom 1.
using Asymmetric = ConvShape<5, 8, 10, 3, 3, 2, 1, 1, 0, 1, 7, 10>;
using OneByOne = ConvShape<7, 5, 6, 9, 1, 1, 1, 1, 0, 0, 5, 6>;
using Stem7x7 = ConvShape<3, 16, 16, 8, 7, 7, 2, 2, 3, 3, 8, 8>;
// Padding larger than the kernel reach: whole rows and columns of zeros.
using WidePad = ConvShape<2, 4, 5, 3, 3, 3, 1, 1, 3, 4, 8, 10>;
// More filters than one stack chunk of accumulators holds (FB < F).
using ManyFilters = ConvShape<2, 3, 600, 20, 1, 3, 1, 1, 0, 1, 3, 600>;

} // namespace

TEST(Conv, LeNetSame1) { checkAll<LeNet1>(1); }
TEST(Conv, LeNetSame2) { checkAll<LeNet2>(2); }
TEST(Conv, LeNetSame3) { checkAll<LeNet3>(3); }
TEST(Conv, LeNetClassic1) { checkAll<LeNetClassic1>(4); }
TEST(Conv, MnistCnn1) { checkAll<Mnist1>(5); }
TEST(Conv, MnistCnn2) { checkAll<Mnist2>(6); }
TEST(Conv, Stride2NonSquare) { checkAll<Strided>(7); }
TEST(Conv, MixedStride) { checkAll<MixedStride>(8); }
TEST(Conv, AsymmetricPadding) { checkAll<Asymmetric>(9); }
TEST(Conv, OneByOne) { checkAll<OneByOne>(10); }
TEST(Conv, Stem7x7Stride2Pad3) { checkAll<Stem7x7>(11); }
TEST(Conv, PaddingWiderThanKernel) { checkAll<WidePad>(12); }
TEST(Conv, FilterChunks) { checkAll<ManyFilters>(13); }
// The output-channel paths skip the taps that read the zero border: at the
// tiles of a row's ends (their columns compile-time constants) and the rows
// a kernel row reads outside the input. Only the end tiles reading the
// border skip anything; the interior tiles share one loop.
using BorderTiles = ConvShape<16, 5, 121, 16, 3, 3, 2, 2, 1, 1, 3, 61>;
TEST(Conv, ChannelTilesSkipBorderTaps) {
  using netc::kernels::detail::ChannelInputExtent;
  using netc::kernels::detail::ChannelRowTiles;
  using Padded = ChannelRowTiles<600, 3, 1, ChannelInputExtent<3, 600, 0, 1>>;
  static_assert(Padded::LEAD == 1 && Padded::TRAIL == Padded::FULL - 1,
                "one border tile at each end of a row padded by one");
  using Unpadded = ChannelRowTiles<24, 3, 1, ChannelInputExtent<26, 26, 0, 0>>;
  static_assert(Unpadded::LEAD == 0 && Unpadded::TRAIL == Unpadded::FULL,
                "no border tile without padding");
  using WiderPadding = ChannelRowTiles<10, 3, 1, ChannelInputExtent<4, 5, 3, 4>>;
  static_assert(WiderPadding::LEAD == WiderPadding::FULL &&
                    WiderPadding::TRAIL == WiderPadding::FULL,
                "every tile reads the border where the padding exceeds the window");
  using Strided = ChannelRowTiles<61, 3, 2, ChannelInputExtent<5, 121, 1, 1>>;
  static_assert(Strided::LEAD == 1 && Strided::TRAIL == Strided::FULL,
                "the last full tile of a strided row stays inside; the rest tile does not");
  static_assert(BorderTiles::hasChannels && BorderTiles::hasGradWeightChannels,
                "the shape runs the output-channel paths");
  checkAll<BorderTiles>(31);
  checkAll<WidePad>(32);
}
// The first layers' rows paths at their edges: three channels and rows of
// exactly two vectors (the last one full), and a 17-wide window (the widest
// two vectors hold) over rows of three vectors with 8 columns of padding.
using Rgb32 = ConvShape<3, 32, 32, 16, 3, 3, 1, 1, 1, 1, 32, 32>;
using Window17 = ConvShape<1, 6, 40, 5, 3, 17, 1, 1, 1, 8, 6, 40>;
TEST(Conv, RowsPathEdges) {
  static_assert(Rgb32::hasForwardRows && Window17::hasForwardRows &&
                    Rgb32::hasGradWeightRows && Window17::hasGradWeightRows,
                "both rows paths compile for these shapes");
  checkAll<Rgb32>(26);
  checkAll<Window17>(27);
}
TEST(Conv, LargerBatch) { checkAgainstReference<Mnist2>(8, 14); }
// Odd sample counts (uneven split over threads) and more output rows than one
// GEMM chunk holds (Mnist2: the patch matrix is built a few rows at a time).
TEST(Conv, OddBatch) {
  checkAgainstReference<LeNet3>(5, 15);
  checkAgainstReference<LeNet3>(7, 16);
  checkAgainstReference<Mnist2>(5, 17);
}
// More input channels than the output-channel paths hold at once (128 x
// (16 x 16 + 9 x 16) floats): the forward takes them in two chunks.
using WideInput = ConvShape<128, 14, 14, 20, 3, 3, 1, 1, 1, 1, 14, 14>;
TEST(Conv, ChannelChunks) { checkAll<WideInput>(19); }
// Deep inputs where one output row of im2col + GEMM's whole patches
// outgrows the stack (resnet50's 3x3 layers on 512 channels): the forward
// takes the GEMM in depth chunks, at stride 1 and 2 (below); only where a
// row of the plane is too wide for those too (more than 320 outputs) does it
// take the output-channel path in chunks.
using DeepInput = ConvShape<512, 5, 5, 24, 3, 3, 1, 1, 1, 1, 5, 5>;
using DeepStrided = ConvShape<320, 9, 9, 16, 3, 3, 2, 2, 1, 1, 5, 5>;
using WideRowInput = ConvShape<64, 1, 336, 16, 3, 3, 1, 1, 1, 1, 1, 336>;
using WideRowStrided = ConvShape<64, 3, 671, 16, 3, 3, 2, 2, 1, 1, 2, 336>;
template <int C, int F, int KH, int KW, int SH, int SW, int OH, int OW>
constexpr bool takesChunkedChannels() {
  using Channels = netc::kernels::detail::ConvUseChannels<C, F, KH, KW, SH, SW, OH, OW>;
  using Gemm = netc::kernels::detail::ConvUseGemm<C, F, KH, KW, SH, SW, OH, OW>;
  return !Channels::forward && !Gemm::forward && Channels::forwardInChunks;
}
static_assert(takesChunkedChannels<64, 16, 3, 3, 1, 1, 1, 336>() &&
              takesChunkedChannels<64, 16, 3, 3, 2, 2, 2, 336>() &&
              !takesChunkedChannels<512, 24, 3, 3, 1, 1, 5, 5>() &&
              !takesChunkedChannels<320, 16, 3, 3, 2, 2, 5, 5>());
TEST(Conv, DeepInputInChunks) { checkAgainstReference<DeepInput>(3, 22); }
TEST(Conv, DeepStridedInChunks) { checkAgainstReference<DeepStrided>(3, 23); }
TEST(Conv, WideRowsInChannelChunks) {
  checkAgainstReference<WideRowInput>(2, 24);
  checkAgainstReference<WideRowStrided>(2, 25);
}
// Deep patches on small planes (resnet50's 2048 -> 512 1x1 at 7x7): a chunk
// of whole patches holds two output rows, so the GEMM forward takes the
// patch rows in chunks, adding each into y, at stride 1 and 2, 1x1 and 3x3,
// and at batch 1 halves the filters between threads.
using DeepPointwise = ConvShape<2048, 7, 7, 20, 1, 1, 1, 1, 0, 0, 7, 7>;
using Deep3x3 = ConvShape<256, 7, 7, 9, 3, 3, 1, 1, 1, 1, 7, 7>;
using Deep3x3Strided = ConvShape<256, 13, 13, 13, 3, 3, 2, 2, 1, 1, 7, 7>;
template <int C, int KH, int KW, int SH, int SW, int OH, int OW>
constexpr bool takesDepthChunks() {
  using namespace netc::kernels::detail;
  using Plan = ConvGemmPlan<C, KH, KW, SH, SW, OH, OW>;
  return gemmForwardInDepthChunks<Plan::CKK, OH, OW, Plan::fwdRows> &&
         GemmDeepPlan<Plan::CKK, OH, OW>::kChunk < Plan::CKK;
}
static_assert(takesDepthChunks<2048, 1, 1, 1, 1, 7, 7>() &&
              takesDepthChunks<256, 3, 3, 1, 1, 7, 7>() &&
              takesDepthChunks<256, 3, 3, 2, 2, 7, 7>() &&
              takesDepthChunks<512, 3, 3, 1, 1, 5, 5>() &&
              takesDepthChunks<320, 3, 3, 2, 2, 5, 5>() &&
              takesDepthChunks<512, 3, 3, 1, 1, 7, 7>());
// A pointwise conv whose patches fit takes the GEMM forward, not the
// output-channel path (which a 3x3 on the same plane still takes).
static_assert(!netc::kernels::detail::ConvUseChannels<512, 2048, 1, 1, 1, 1, 7, 7>::forward &&
              netc::kernels::detail::ConvUseGemm<512, 2048, 1, 1, 1, 1, 7, 7>::forward &&
              netc::kernels::detail::ConvUseChannels<64, 64, 3, 3, 1, 1, 7, 7>::forward);
// Its grad_weight too, from 64 x 64 weights (the small ones stay on the
// output-channel path).
static_assert(!netc::kernels::detail::ConvUseChannels<512, 2048, 1, 1, 1, 1, 7, 7>::gradWeight &&
              netc::kernels::detail::ConvUseChannels<16, 32, 1, 1, 1, 1, 7, 7>::gradWeight &&
              netc::kernels::detail::ConvUseChannels<64, 64, 3, 3, 1, 1, 7, 7>::gradWeight);
// mnist_cnn conv2 (24x24 outputs) takes the output-channel forward and
// grad_weight with AVX-512 only; elsewhere the GEMM, whose tile leads there.
// lenet5 conv2 (10x10) takes them on every ISA.
using MnistConv2Paths = netc::kernels::detail::ConvUseChannels<32, 64, 3, 3, 1, 1, 24, 24>;
using Lenet5Conv2Paths = netc::kernels::detail::ConvUseChannels<6, 16, 5, 5, 1, 1, 10, 10>;
#if defined(__AVX512F__)
static_assert(MnistConv2Paths::forward && MnistConv2Paths::gradWeight);
#else
static_assert(!MnistConv2Paths::forward && !MnistConv2Paths::gradWeight &&
              netc::kernels::detail::ConvUseGemm<32, 64, 3, 3, 1, 1, 24, 24>::forward &&
              netc::kernels::detail::ConvUseGemm<32, 64, 3, 3, 1, 1, 24, 24>::gradWeight);
#endif
static_assert(Lenet5Conv2Paths::forward && Lenet5Conv2Paths::gradWeight);
TEST(Conv, DeepPatchesInDepthChunks) {
  checkAll<DeepPointwise>(28);
  checkAll<Deep3x3>(29);
  checkAll<Deep3x3Strided>(30);
}
// The depth chunks give each output the sum of the one-chunk GEMM, the same
// bits for 1, 2 and 3 threads, with the filters halved (batch 1, more
// threads than samples) or not.
TEST(ConvDeterminism, DepthChunksThreadCountIndependent) {
  using S = Deep3x3;
  const auto x = randomVec(2 * S::xs, 60), w = randomVec(S::ws, 61);
  const int threads = omp_get_max_threads();
  for (int n : {1, 2}) {
    std::vector<float> y0;
    for (int t : {1, 2, 3}) {
      omp_set_num_threads(t);
      std::vector<float> y(n * S::ys, 123.f);
      S::forwardGemm(n, x.data(), w.data(), y.data());
      if (t == 1)
        y0 = y;
      else
        EXPECT_TRUE(bitEqual(y0, y)) << "batch " << n << ", " << t << " threads";
    }
  }
  omp_set_num_threads(threads);
}
// The GEMM grad_weight takes each thread's columns of dw in blocks
// (dwBlockColumns: F x columns stays in L2 over the batch): many filters give
// several blocks a thread, 1x1 with a short last block, 3x3 with blocks that
// start inside a channel's 9 columns, strided with padding, and a wide plane
// in chunks of rows. Checked against the reference and bit-identical for 1,
// 2 and 3 threads.
using ManyFilters1x1 = ConvShape<300, 4, 4, 1100, 1, 1, 1, 1, 0, 0, 4, 4>;
using ManyFilters3x3 = ConvShape<40, 5, 5, 600, 3, 3, 1, 1, 1, 1, 5, 5>;
using ManyFiltersStrided = ConvShape<24, 9, 9, 700, 3, 3, 2, 2, 1, 1, 5, 5>;
using WidePointwise = ConvShape<256, 30, 30, 64, 1, 1, 1, 1, 0, 0, 30, 30>;
TEST(ConvDeterminism, GemmGradWeightInColumnBlocks) {
  using namespace netc::kernels::detail;
  // Narrower blocks where they give a GEMM more positions: 64 columns and 10
  // of 30 rows (300 positions) rather than 256 columns and 2 rows.
  static_assert(ConvGemmPlan<256, 1, 1, 1, 1, 30, 30>::dwBlockColumns<64> == 64 &&
                ConvGemmPlan<256, 1, 1, 1, 1, 30, 30>::dwBlockRows<64> == 10);
  // resnet50's 2048 -> 512 at 7x7: 128 columns (256 KiB of dw), the whole plane.
  static_assert(ConvGemmPlan<2048, 1, 1, 1, 1, 7, 7>::dwBlockColumns<512> == 128 &&
                ConvGemmPlan<2048, 1, 1, 1, 1, 7, 7>::dwBlockRows<512> == 7);
  static_assert(ConvGemmPlan<300, 1, 1, 1, 1, 4, 4>::dwBlockColumns<1100> == 64 &&
                ConvGemmPlan<40, 3, 3, 1, 1, 5, 5>::dwBlockColumns<600> == 64 &&
                ConvGemmPlan<24, 3, 3, 2, 2, 5, 5>::dwBlockColumns<700> == 64);
  // Few filters: one block of every column (lenet5 conv3).
  static_assert(ConvGemmPlan<16, 5, 5, 1, 1, 7, 7>::dwBlockColumns<120> ==
                ConvGemmPlan<16, 5, 5, 1, 1, 7, 7>::LD);
  const int threads = omp_get_max_threads();
  auto check = [&](auto shape, int seed) {
    using S = decltype(shape);
    const int n = 3;
    const auto x = randomVec(n * S::xs, seed), dy = randomVec(n * S::ys, seed + 1);
    std::vector<float> dwr(S::ws), dw0;
    S::gradWeightRef(n, dy.data(), x.data(), dwr.data());
    for (int t : {1, 2, 3}) {
      omp_set_num_threads(t);
      std::vector<float> dw(S::ws, 123.f);
      S::gradWeightGemm(n, dy.data(), x.data(), dw.data());
      EXPECT_TRUE(allClose(dw, dwr, 1e-5, S::tol(double(n) * S::ys))) << t << " threads";
      if (t == 1)
        dw0 = dw;
      else
        EXPECT_TRUE(bitEqual(dw0, dw)) << t << " threads";
    }
  };
  check(ManyFilters1x1{}, 70);
  check(ManyFilters3x3{}, 72);
  check(ManyFiltersStrided{}, 74);
  check(WidePointwise{}, 76);
  omp_set_num_threads(threads);
}
// A pointwise conv's grad_input is w^T dy straight into dx
// (conv2dGradInputPointwise): the filters in chunks where the copy of dy
// outgrows the stack (2100 filters at 7x7: chunks of 640, the last of 180),
// chunks of rows on a wide plane, dx's rows in parts at batch 1 and 3; the
// dispatch takes it, never with padding or stride. Against the reference and
// bit-identical for 1, 2 and 3 threads.
using PointwiseManyFilters = ConvShape<40, 7, 7, 2100, 1, 1, 1, 1, 0, 0, 7, 7>;
using PointwiseWidePlane = ConvShape<24, 40, 40, 64, 1, 1, 1, 1, 0, 0, 40, 40>;
// A grad_input path against the reference at batch 1 and 3, and the same
// bits for 1, 2 and 3 threads.
template <class S>
void checkGradInputThreadIndependent(void (*gradInput)(int, const float *, const float *, float *),
                                     int seed) {
  const int threads = omp_get_max_threads();
  for (int n : {1, 3}) {
    const auto w = randomVec(S::ws, seed), dy = randomVec(n * S::ys, seed + 1);
    std::vector<float> dxr(n * S::xs), dx0;
    S::gradInputRef(n, dy.data(), w.data(), dxr.data());
    for (int t : {1, 2, 3}) {
      omp_set_num_threads(t);
      std::vector<float> dx(n * S::xs, 123.f);
      gradInput(n, dy.data(), w.data(), dx.data());
      EXPECT_TRUE(allClose(dx, dxr, 1e-5, S::tol(S::dxTerms))) << n << " samples, " << t;
      if (t == 1)
        dx0 = dx;
      else
        EXPECT_TRUE(bitEqual(dx0, dx)) << n << " samples, " << t << " threads";
    }
  }
  omp_set_num_threads(threads);
}
TEST(ConvDeterminism, PointwiseGradInput) {
  using namespace netc::kernels::detail;
  static_assert(GemmPointwisePlan<2100, 7, 7>::rows == 7 &&
                GemmPointwisePlan<2100, 7, 7>::kChunk == 640);
  static_assert(GemmPointwisePlan<64, 40, 40>::rows == 16);
  static_assert(gradInputOnPointwiseGemm<7, 7, 9, 1, 1, 1, 1, 0, 0, 7, 7> &&
                !gradInputOnPointwiseGemm<7, 7, 9, 1, 1, 1, 1, 1, 1, 9, 9> &&
                !gradInputOnPointwiseGemm<7, 7, 9, 1, 1, 2, 2, 0, 0, 4, 4> &&
                !gradInputOnPointwiseGemm<7, 7, 9, 3, 3, 1, 1, 1, 1, 7, 7>);
  static_assert(PointwiseManyFilters::hasGradInputPointwise &&
                PointwiseWidePlane::hasGradInputPointwise);
  checkGradInputThreadIndependent<PointwiseManyFilters>(&PointwiseManyFilters::gradInput, 80);
  checkGradInputThreadIndependent<PointwiseWidePlane>(&PointwiseWidePlane::gradInput, 82);
}
// The GEMM grad_input splits the input channels between threads where the
// samples split unevenly (batch 1, 3 samples on 2 threads): group starts fill
// whole 6-row tiles (2 channels of 3x3, 6 of 1x1, 6 of 5x5), the groups'
// dx channels are disjoint, and dx is the same bits for 1-3 threads.
using GemmGradInput3x3Strided = ConvShape<22, 15, 15, 12, 3, 3, 2, 2, 1, 1, 8, 8>;
using GemmGradInput1x1Strided = ConvShape<40, 13, 13, 16, 1, 1, 2, 2, 0, 0, 7, 7>;
using GemmGradInput5x5 = ConvShape<13, 9, 9, 8, 5, 5, 1, 1, 2, 2, 9, 9>;
TEST(ConvDeterminism, GemmGradInputSplitsChannels) {
  using namespace netc::kernels::detail;
  static_assert(gemmChannelGroupStart<22, 9>(1, 2) == 10 &&
                gemmChannelGroupStart<22, 9>(2, 2) == 22 &&
                gemmChannelGroupStart<40, 1>(1, 3) == 12 &&
                gemmChannelGroupStart<40, 1>(2, 3) == 24 &&
                gemmChannelGroupStart<13, 25>(1, 2) == 6 &&
                gemmChannelGroupStart<3, 49>(1, 2) == 0);
  checkGradInputThreadIndependent<GemmGradInput3x3Strided>(
      &GemmGradInput3x3Strided::gradInputGemm, 84);
  checkGradInputThreadIndependent<GemmGradInput1x1Strided>(
      &GemmGradInput1x1Strided::gradInputGemm, 86);
  checkGradInputThreadIndependent<GemmGradInput5x5>(&GemmGradInput5x5::gradInputGemm, 88);
}
// Where neither im2col + GEMM's patches nor one plane's grad_weight buffers
// fit the stack (resnet50's 3x3 layers): grad_weight takes the plane in bands
// of output rows and the input channels in groups, at stride 1 and 2, with a
// shorter last band.
using WidePlane = ConvShape<64, 62, 62, 16, 3, 3, 1, 1, 1, 1, 62, 62>;
using WidePlaneStrided = ConvShape<128, 57, 57, 16, 3, 3, 2, 2, 1, 1, 29, 29>;
template <int C, int F, int KH, int KW, int SH, int SW, int OH, int OW>
constexpr bool takesBandedGradWeight() {
  using namespace netc::kernels::detail;
  using Channels = ConvUseChannels<C, F, KH, KW, SH, SW, OH, OW>;
  using Plan = ChannelWeightPlan<C, KH, KW, SH, SW, OH, OW>;
  return !Channels::gradWeight && !ConvUseGemm<C, F, KH, KW, SH, SW, OH, OW>::gradWeight &&
         Channels::gradWeightInChunks && Plan::bandRows < OH && OH % Plan::bandRows != 0 &&
         Plan::minGroups > 1;
}
static_assert(takesBandedGradWeight<64, 16, 3, 3, 1, 1, 62, 62>() &&
              takesBandedGradWeight<128, 16, 3, 3, 2, 2, 29, 29>());
TEST(Conv, GradWeightInBandsAndGroups) { checkAgainstReference<WidePlane>(2, 24); }
TEST(Conv, StridedGradWeightInBandsAndGroups) { checkAgainstReference<WidePlaneStrided>(2, 25); }
// More than one 64-column tile plus a partial vector, with a row tail of the
// 6-row GEMM tile in both M = F and M = C*KH*KW.
using TileTails = ConvShape<3, 9, 11, 13, 3, 3, 1, 1, 1, 1, 9, 10>;
TEST(Conv, GemmTileTails) { checkAll<TileTails>(18); }

TEST(ConvGradient, FiniteDifferences) {
  checkGradients<LeNet2>(1, 20);
  checkGradients<Strided>(3, 21);
  checkGradients<MixedStride>(2, 22);
  checkGradients<Asymmetric>(2, 23);
  checkGradients<Stem7x7>(1, 24);
}

TEST(ConvDeterminism, GradWeightBitIdentical) {
  using S = Mnist2;
  const int n = 16;
  const auto x = randomVec(n * S::xs, 30), dy = randomVec(n * S::ys, 31);
  std::vector<float> first(S::ws), again(S::ws), oneThread(S::ws);
  S::gradWeight(n, dy.data(), x.data(), first.data());
  for (int rep = 0; rep < 3; ++rep) {
    S::gradWeight(n, dy.data(), x.data(), again.data());
    EXPECT_TRUE(bitEqual(first, again));
  }
  // Each dw element is owned by one thread: the thread count does not matter.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  S::gradWeight(n, dy.data(), x.data(), oneThread.data());
  omp_set_num_threads(threads);
  EXPECT_TRUE(bitEqual(first, oneThread));
}

// The GEMM grad_weight splits dw's columns over threads: still bit-identical
// for 1, 2 and 3 threads, and so is every other conv kernel (one thread per
// sample).
TEST(ConvDeterminism, GemmPathsThreadCountIndependent) {
  using S = LeNet3;
  const int n = 9;
  const auto x = randomVec(n * S::xs, 40), w = randomVec(S::ws, 41),
             dy = randomVec(n * S::ys, 42);
  const int threads = omp_get_max_threads();
  std::vector<float> y0, dx0, dw0;
  for (int t : {1, 2, 3}) {
    omp_set_num_threads(t);
    std::vector<float> y(n * S::ys), dx(n * S::xs), dw(S::ws);
    S::forwardGemm(n, x.data(), w.data(), y.data());
    S::gradInputGemm(n, dy.data(), w.data(), dx.data());
    S::gradWeightGemm(n, dy.data(), x.data(), dw.data());
    if (t == 1) {
      y0 = y, dx0 = dx, dw0 = dw;
      continue;
    }
    EXPECT_TRUE(bitEqual(y0, y)) << t << " threads";
    EXPECT_TRUE(bitEqual(dx0, dx)) << t << " threads";
    EXPECT_TRUE(bitEqual(dw0, dw)) << t << " threads";
  }
  omp_set_num_threads(threads);
}

// At batch 1 the GEMM forward splits its chunks of output rows over threads
// (mnist_cnn conv2: 24 rows in several chunks): the same bits for 1, 2 and 3.
TEST(ConvDeterminism, GemmForwardSplitsRowsAtBatchOne) {
  using S = Mnist2;
  static_assert(netc::kernels::detail::ConvGemmPlan<32, 3, 3, 1, 1, 24, 24>::fwdRows < 24);
  const auto x = randomVec(S::xs, 43), w = randomVec(S::ws, 44);
  std::vector<float> yr(S::ys);
  S::forwardRef(1, x.data(), w.data(), yr.data());
  const int threads = omp_get_max_threads();
  std::vector<float> y0;
  for (int t : {1, 2, 3}) {
    omp_set_num_threads(t);
    std::vector<float> y(S::ys, 123.f);
    S::forwardGemm(1, x.data(), w.data(), y.data());
    EXPECT_TRUE(allClose(y, yr, 1e-5, S::tol(S::fwdTerms))) << t << " threads";
    if (t == 1)
      y0 = y;
    else
      EXPECT_TRUE(bitEqual(y0, y)) << t << " threads";
  }
  omp_set_num_threads(threads);
}

// Where the chunks of output rows split unevenly over threads (a 1x1 conv
// at 14x14 in chunks of 11 and 3 rows, resnet50's stage 3 3x3 in depth
// chunks of 12 and 2 rows) or number fewer than the threads, the GEMM
// forward splits the filters instead, the last part holding the 6-row tile's
// tail: still the same bits for 1, 2 and 3 threads, at batch 1 and 2.
using UnevenChunks = ConvShape<256, 14, 14, 20, 1, 1, 1, 1, 0, 0, 14, 14>;
using UnevenDepthChunks = ConvShape<256, 14, 14, 9, 3, 3, 1, 1, 1, 1, 14, 14>;
TEST(ConvDeterminism, GemmForwardSplitsFiltersWhereChunksAreUneven) {
  using namespace netc::kernels::detail;
  constexpr int R = ConvGemmPlan<256, 1, 1, 1, 1, 14, 14>::fwdRows;
  static_assert(14 % R != 0 && 14 / R == 1, "the shape should give uneven chunks");
  EXPECT_EQ((gemmFilterParts<20, 14, R>(1, 2)), 2);  // 11 and 3 rows; 12 and 8 filters
  EXPECT_EQ((gemmFilterParts<20, 14, R>(1, 1)), 1);
  EXPECT_EQ((gemmFilterParts<20, 14, R>(16, 2)), 1); // whole samples per thread
  EXPECT_EQ((gemmFilterParts<256, 14, R>(3, 2)), 2); // 1.5 samples per thread
  EXPECT_EQ((gemmFilterParts<20, 14, R>(3, 2)), 1);  // ... but 12 and 8 filters are no better
  constexpr int DR = GemmDeepPlan<256 * 9, 14, 14>::rows;
  static_assert(takesDepthChunks<256, 3, 3, 1, 1, 14, 14>() && 14 % DR != 0);
  EXPECT_EQ((gemmFilterParts<9, 14, DR>(1, 2)), 2);
  EXPECT_EQ((gemmFilterParts<9, 7, 7>(1, 2)), 2); // fewer pairs than threads
  EXPECT_EQ((gemmFilterParts<9, 7, 7>(2, 2)), 1);
  EXPECT_EQ((gemmFilterParts<6, 7, 7>(1, 2)), 1); // one tile of filters cannot split
  // Part starts: multiples of the tile's rows, F at the end, never past F.
  EXPECT_EQ(gemmFilterPartStart<20>(1, 2), 12);
  EXPECT_EQ(gemmFilterPartStart<20>(2, 2), 20);
  EXPECT_EQ(gemmFilterPartStart<5>(2, 3), 5);
  // The tasks cover each (filter, sample, output row) once, part-major.
  for (const std::int64_t n : {1, 2, 3})
    for (const int team : {1, 2, 3}) {
      const GemmForwardTasks<20, 14, R> tasks(n, team);
      std::vector<int> seen(20 * n * 14, 0);
      for (std::int64_t index = 0; index < tasks.count(); ++index) {
        const GemmForwardTask task = tasks[index];
        EXPECT_EQ(task.f0, gemmFilterPartStart<20>(int(index / tasks.pairs), tasks.parts));
        for (int f = task.f0; f < task.f1; ++f)
          for (int oh = task.oh0; oh < task.oh0 + task.rows; ++oh)
            ++seen[(f * n + task.sample) * 14 + oh];
      }
      EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), std::int64_t(seen.size()))
          << n << " samples, " << team << " threads";
    }
  const int threads = omp_get_max_threads();
  auto check = [&](auto shape, int seed) {
    using S = decltype(shape);
    for (int n : {1, 2}) {
      const auto x = randomVec(n * S::xs, seed), w = randomVec(S::ws, seed + 1);
      std::vector<float> yr(n * S::ys), y0;
      S::forwardRef(n, x.data(), w.data(), yr.data());
      for (int t : {1, 2, 3}) {
        omp_set_num_threads(t);
        std::vector<float> y(n * S::ys, 123.f);
        S::forwardGemm(n, x.data(), w.data(), y.data());
        EXPECT_TRUE(allClose(y, yr, 1e-5, S::tol(S::fwdTerms)))
            << "batch " << n << ", " << t << " threads";
        if (t == 1)
          y0 = y;
        else
          EXPECT_TRUE(bitEqual(y0, y)) << "batch " << n << ", " << t << " threads";
      }
    }
  };
  check(UnevenChunks{}, 45);
  check(UnevenDepthChunks{}, 47);
  check(Deep3x3{}, 49);
  omp_set_num_threads(threads);
}

// The output-channel paths split (sample, channel block) pairs over threads
// (grad_input of LeNet3, 120 channels in two chunks: blocks and sample
// ranges), grad_weight also splits the input channels when there are fewer
// blocks than threads, and the forward splits a pair's bands of output rows
// when there are fewer pairs than threads (batch 1 with one block: LeNet2's
// 14 bands, Narrow16's 3 bands of 2 rows and 1 of 1 with AVX-512), as the
// forward rows path splits a sample's rows (Rgb32): the same bits for 1, 2,
// 3 and 5 threads, and the forward as the reference.
template <class S> void checkChannelPathsThreadCountIndependent() {
  const auto x = randomVec(3 * S::xs, 50), w = randomVec(S::ws, 51),
             dy = randomVec(3 * S::ys, 52);
  const int threads = omp_get_max_threads();
  for (int n : {1, 3}) {
    std::vector<float> y0, dw0, dx0, yRows0, yr(n * S::ys);
    S::forwardRef(n, x.data(), w.data(), yr.data());
    for (int t : {1, 2, 3, 5}) {
      omp_set_num_threads(t);
      std::vector<float> y(n * S::ys, 123.f), dw(S::ws, 123.f), dx(n * S::xs, 123.f);
      S::forwardChannels(n, x.data(), w.data(), y.data());
      EXPECT_TRUE(allClose(y, yr, 1e-5, S::tol(S::fwdTerms)))
          << "batch " << n << ", " << t << " threads";
      if constexpr (S::hasForwardRows) {
        // The forward rows path splits a sample's rows among threads too.
        std::vector<float> yRows(n * S::ys, 123.f);
        S::forwardRows(n, x.data(), w.data(), yRows.data());
        EXPECT_TRUE(allClose(yRows, yr, 1e-5, S::tol(S::fwdTerms)))
            << "rows, batch " << n << ", " << t << " threads";
        if (t == 1)
          yRows0 = yRows;
        else
          EXPECT_TRUE(bitEqual(yRows0, yRows)) << "rows, batch " << n << ", " << t << " threads";
      }
      S::gradWeightChannels(n, dy.data(), x.data(), dw.data());
      S::gradInputChannels(n, dy.data(), w.data(), dx.data());
      if (t == 1) {
        y0 = y, dw0 = dw, dx0 = dx;
        continue;
      }
      EXPECT_TRUE(bitEqual(y0, y)) << "batch " << n << ", " << t << " threads";
      EXPECT_TRUE(bitEqual(dx0, dx)) << "batch " << n << ", " << t << " threads";
      EXPECT_TRUE(bitEqual(dw0, dw)) << "batch " << n << ", " << t << " threads";
    }
  }
  omp_set_num_threads(threads);
}

// LeNet3: 8 blocks of 16 channels, the last one partial (120 = 7 x 16 + 8);
// LeNet2: one block, so grad_weight splits its 6 input channels by thread.
TEST(ConvDeterminism, ChannelPathsThreadCountIndependent) {
  checkChannelPathsThreadCountIndependent<LeNet3>();
  checkChannelPathsThreadCountIndependent<LeNet2>();
  using Narrow16 = ConvShape<16, 7, 7, 16, 5, 5, 1, 1, 2, 2, 7, 7>;
  // With AVX-512 bands of 2, 2, 2 and 1 rows; with AVX2, 7 of one row.
  static_assert(netc::kernels::detail::channelBands(7, 7) >= 4, "several bands to split");
  checkChannelPathsThreadCountIndependent<Narrow16>();
  // A first layer: the forward rows path at batch 1 and 3.
  checkChannelPathsThreadCountIndependent<Rgb32>();
}

// The rows path splits (chunk of filters, input channel) pairs over threads:
// the same bits for 1, 2 and 3 (mnist_cnn conv1: 32 filters in chunks).
TEST(ConvDeterminism, RowsPathThreadCountIndependent) {
  using S = Mnist1;
  static_assert(S::hasGradWeightRows);
  const auto x = randomVec(3 * S::xs, 60), dy = randomVec(3 * S::ys, 61);
  const int threads = omp_get_max_threads();
  std::vector<float> dw0;
  for (int t : {1, 2, 3}) {
    omp_set_num_threads(t);
    std::vector<float> dw(S::ws, 123.f);
    S::gradWeightRows(3, dy.data(), x.data(), dw.data());
    if (t == 1)
      dw0 = dw;
    else
      EXPECT_TRUE(bitEqual(dw0, dw)) << t << " threads";
  }
  omp_set_num_threads(threads);
}

// grad_weight in bands and groups: one block, so the groups follow the thread
// count above the two the stack needs.
TEST(ConvDeterminism, BandedGradWeightThreadCountIndependent) {
  checkChannelPathsThreadCountIndependent<WidePlane>();
}

// The channel path's weight packing ([channel][kh][kw][16 filters], zero past
// the block's filters) against its definition, for full and partial blocks,
// chunks of input channels, and tap counts with and without a remainder past
// whole tiles of 16 (the transposing AVX-512 packing and its scalar tail).
template <class Weights, int CI, int CO, int KH, int KW> void checkChannelPacking() {
  constexpr int KK = KH * KW;
  const std::vector<float> w = randomVec(std::size_t(CO) * CI * KK, CI * 100 + CO);
  std::vector<float> packed(static_cast<std::size_t>(CI * KK * detail::kChannelLanes));
  for (int o0 = 0; o0 < CO; o0 += detail::kChannelLanes)
    for (int i0 : {0, CI / 3, CI - 1}) {
      const int lanes = std::min(detail::kChannelLanes, CO - o0), channels = CI - i0;
      std::fill(packed.begin(), packed.end(), -7.f);
      detail::packChannelWeights<Weights, CI, CO, KH, KW>(w.data(), o0, lanes, i0, channels,
                                                          packed.data());
      for (int k = 0; k < channels * KK; ++k)
        for (int l = 0; l < detail::kChannelLanes; ++l) {
          const int c = k / KK, kh = k % KK / KW, kw = k % KW;
          const float want =
              l < lanes ? Weights::template at<CI, CO, KH, KW>(w.data(), o0 + l, i0 + c, kh, kw)
                        : 0.f;
          ASSERT_EQ(packed[std::size_t(k) * detail::kChannelLanes + l], want)
              << "CI " << CI << " CO " << CO << " " << KH << "x" << KW << ": block " << o0
              << ", channels from " << i0 << ", tap " << k << ", lane " << l;
        }
    }
}

template <int CI, int CO, int KH, int KW> void checkBothChannelPackings() {
  checkChannelPacking<detail::ChannelWeightsOIHW, CI, CO, KH, KW>();
  checkChannelPacking<detail::ChannelWeightsFlipped, CI, CO, KH, KW>();
}

// The forward's packing (OIHW) and grad_input's (the forward's weights read
// transposed and flipped), each against Weights::at.
TEST(ConvPacking, ChannelWeightsMatchTheirDefinition) {
  checkBothChannelPackings<16, 120, 5, 5>(); // lenet5 conv3: 25 whole tiles, a half block
  checkBothChannelPackings<6, 16, 5, 5>();   // 150 taps: 9 tiles and 6 more
  checkBothChannelPackings<32, 64, 3, 3>();  // mnist_cnn conv2
  checkBothChannelPackings<7, 9, 1, 1>();    // fewer taps than a tile
  checkBothChannelPackings<3, 40, 7, 7>();
  checkBothChannelPackings<120, 16, 5, 5>(); // lenet5 conv3's grad_input
}
