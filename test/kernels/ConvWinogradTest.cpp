//===- ConvWinogradTest.cpp - Winograd F(2x2,3x3) against the reference ---===//
//
// The Winograd path (ConvWinograd.h) on generated 3x3 stride-1 shapes, its
// forward and grad_input against the reference with ConvTest's tolerance
// (the transforms change the rounding, not the sum); its gradient by central
// differences; grad_weight in the transformed domain likewise; which calls
// conv2d and its gradients route to it; its epilogue against a pass after,
// and its results against the thread count (and the batch), to the bit;
// fused_conv2d taking it with pooling. The path's functions are called
// directly, so every target tests them, though only AVX-512 builds select it.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "net/Kernels/Conv.h"
#include "net/Kernels/ConvWinogradWeights.h"
#include "net/Kernels/Fused.h"
#include "FusedReference.h"
#include "Reference.h"

#include <omp.h>

#include <string>
#include <utility>

using namespace netc::kernels;
using namespace netc::kernels::test;

namespace {

/// A 3x3 stride-1 convolution with top/left padding PT, PL and bottom/right
/// PB, PR (so OH = H + PT + PB - 2).
template <int C_, int H_, int W_, int F_, int PT_, int PL_, int PB, int PR> struct Shape {
  static constexpr int C = C_, H = H_, W = W_, F = F_, PT = PT_, PL = PL_;
  static constexpr int OH = H + PT + PB - 2, OW = W + PL + PR - 2;
  static_assert(OH >= 1 && OW >= 1, "an empty output");
  static constexpr std::size_t xs = std::size_t(C) * H * W, ys = std::size_t(F) * OH * OW,
                               ws = std::size_t(F) * C * 9;
  static constexpr double tol(double terms) { return 8e-6 * std::sqrt(terms); }
  static std::string name() {
    return "C" + std::to_string(C) + " " + std::to_string(H) + "x" + std::to_string(W) + " F" +
           std::to_string(F) + " pad " + std::to_string(PT) + "," + std::to_string(PL) + "," +
           std::to_string(PB) + "," + std::to_string(PR);
  }
};

/// Generated case I: channels 16-47 and 16-49 (neither a multiple of the 16
/// lanes nor of the register tile's filters, mostly), planes 1x1 to 40 wide
/// (a tile row of 1 to 21 tiles: one or two vectors), odd and even sizes,
/// padding 0-2 on each side independently.
template <int I>
using Generated = Shape<16 + (I * 7) % 32, 1 + (I * 5) % 19, 1 + (I * 11) % 40, 16 + (I * 13) % 34,
                        I % 3, (I / 3) % 3, (I + 1) % 3, (I / 2 + 2) % 3>;

template <class S> void forwardAgainstReference(int n, std::uint32_t seed) {
  SCOPED_TRACE(S::name() + ", batch " + std::to_string(n));
  const auto x = randomVec(n * S::xs, seed), w = randomVec(S::ws, seed + 1);
  std::vector<float> y(n * S::ys, 123.f), want(n * S::ys);
  detail::conv2dWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(n, x.data(),
                                                                           w.data(), y.data());
  reference::conv2d<S::C, S::H, S::W, S::F, 3, 3, 1, 1, S::PT, S::PL, S::OH, S::OW>(
      n, x.data(), w.data(), want.data());
  EXPECT_TRUE(allClose(y, want, 1e-5, S::tol(S::C * 9))) << "forward";
}

template <class S> void gradInputAgainstReference(int n, std::uint32_t seed) {
  SCOPED_TRACE(S::name() + ", batch " + std::to_string(n));
  const auto dy = randomVec(n * S::ys, seed), w = randomVec(S::ws, seed + 1);
  std::vector<float> dx(n * S::xs, 123.f), want(n * S::xs);
  detail::conv2dGradInputWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(
      n, dy.data(), w.data(), dx.data());
  reference::conv2d_grad_input<S::C, S::H, S::W, S::F, 3, 3, 1, 1, S::PT, S::PL, S::OH, S::OW>(
      n, dy.data(), w.data(), want.data());
  EXPECT_TRUE(allClose(dx, want, 1e-5, S::tol(S::F * 9))) << "grad_input";
}

template <class S> void gradWeightAgainstReference(int n, std::uint32_t seed) {
  SCOPED_TRACE(S::name() + ", batch " + std::to_string(n));
  const auto dy = randomVec(n * S::ys, seed), x = randomVec(n * S::xs, seed + 1);
  std::vector<float> dw(S::ws, 123.f), want(S::ws);
  detail::conv2dGradWeightWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(
      n, dy.data(), x.data(), dw.data());
  reference::conv2d_grad_weight<S::C, S::H, S::W, S::F, 3, 3, 1, 1, S::PT, S::PL, S::OH, S::OW>(
      n, dy.data(), x.data(), want.data());
  EXPECT_TRUE(allClose(dw, want, 1e-5, S::tol(double(n) * S::ys))) << "grad_weight";
}

template <class S> void allAgainstReference(int n, std::uint32_t seed) {
  forwardAgainstReference<S>(n, seed);
  gradInputAgainstReference<S>(n, seed + 3);
  gradWeightAgainstReference<S>(n, seed + 6);
}

template <std::size_t... I> void generatedCases(std::index_sequence<I...>) {
  (allAgainstReference<Generated<int(I) + 1>>(int(I) % 3 + 1, 700 + 10 * I), ...);
}

//                  C   H   W   F  PT PL PB PR
using Mnist2 = Shape<32, 26, 26, 64, 0, 0, 0, 0>;
using Resnet = Shape<64, 14, 14, 64, 1, 1, 1, 1>;
// Deep inputs: blocks of two and one vectors of tiles (WinogradPlan::NV).
using Deep = Shape<96, 7, 9, 24, 1, 1, 1, 1>;
using Deeper = Shape<160, 5, 6, 20, 1, 0, 1, 2>;
using DeepOdd = Shape<48, 5, 6, 20, 1, 0, 1, 2>;
// Padding past the window's reach (rows and columns of zeros), and none
// (grad_input's padding then 2).
using WidePad = Shape<16, 4, 5, 16, 3, 2, 2, 4>;

} // namespace

TEST(ConvWinograd, GeneratedShapes) { generatedCases(std::make_index_sequence<16>()); }

TEST(ConvWinograd, ModelAndDeepShapes) {
  static_assert(detail::WinogradPlan<96, 24, 7, 9>::NV == 2 &&
                    detail::WinogradPlan<160, 20, 5, 6>::NV == 1,
                "Deep and Deeper: blocks of fewer vectors");
  static_assert(detail::WinogradWeightPlan<48, 20, 5, 6>::Q == 2 &&
                    detail::WinogradWeightPlan<48, 20, 5, 6>::CP / 16 == 3,
                "DeepOdd: grad_weight's channel vectors in a pair and a single");
  forwardAgainstReference<Mnist2>(3, 800);
  gradInputAgainstReference<Mnist2>(1, 801);
  gradWeightAgainstReference<Mnist2>(2, 802);
  allAgainstReference<Resnet>(2, 810);
  allAgainstReference<Deep>(2, 820);
  allAgainstReference<Deeper>(3, 830);
  allAgainstReference<DeepOdd>(2, 835);
  allAgainstReference<WidePad>(2, 840);
}

TEST(ConvWinogradGradient, FiniteDifferences) {
  using S = Generated<5>;
  const int n = 2;
  const auto x = randomVec(n * S::xs, 850), w = randomVec(S::ws, 851),
             r = randomVec(n * S::ys, 852);
  std::vector<float> dx(n * S::xs);
  detail::conv2dGradInputWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(
      n, r.data(), w.data(), dx.data());
  gradCheck(
      "winograd dx",
      [&](const std::vector<float> &xv) {
        std::vector<float> y(n * S::ys);
        detail::conv2dWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(
            n, xv.data(), w.data(), y.data());
        return y;
      },
      x, r, dx);
  std::vector<float> dw(S::ws);
  detail::conv2dGradWeightWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(
      n, r.data(), x.data(), dw.data());
  gradCheck(
      "winograd dw",
      [&](const std::vector<float> &wv) {
        std::vector<float> y(n * S::ys);
        detail::conv2dWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(
            n, x.data(), wv.data(), y.data());
        return y;
      },
      w, r, dw);
}

TEST(ConvWinograd, TakenByConv2dForEnoughTiles) {
  using Use = detail::ConvUseWinograd<32, 64, 3, 3, 1, 1, 24, 24, 26, 26>;
#if defined(__AVX512F__)
  static_assert(Use::forward && Use::gradInput && Use::gradWeight,
                "mnist_cnn conv2: Winograd's path");
#else
  static_assert(!Use::forward && !Use::gradInput && !Use::gradWeight,
                "Winograd's path only with AVX-512");
#endif
  static_assert(!detail::ConvUseWinograd<32, 64, 3, 3, 2, 2, 12, 12, 26, 26>::forward &&
                    !detail::ConvUseWinograd<8, 64, 3, 3, 1, 1, 24, 24, 26, 26>::forward &&
                    !detail::ConvUseWinograd<32, 64, 5, 5, 1, 1, 22, 22, 26, 26>::forward,
                "not for strides, few channels or other windows");
  EXPECT_FALSE(Use::forwardFor(3)); // 432 tiles
  EXPECT_TRUE(Use::forwardFor(4));
  EXPECT_FALSE(Use::gradInputFor(3)); // 13 x 13 tiles of dx a sample: 507
  EXPECT_TRUE(Use::gradInputFor(4));
  using S = Mnist2;
  for (int n : {3, 4}) {
    const auto x = randomVec(n * S::xs, 860 + n), w = randomVec(S::ws, 870 + n),
               dy = randomVec(n * S::ys, 880 + n);
    std::vector<float> y(n * S::ys), yw(n * S::ys), dx(n * S::xs), dxw(n * S::xs);
    conv2d<32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24>(n, x.data(), w.data(), y.data());
    detail::conv2dWinograd<32, 26, 26, 64, 0, 0, 24, 24>(n, x.data(), w.data(), yw.data());
    conv2d_grad_input<32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24>(n, dy.data(), w.data(),
                                                                dx.data());
    detail::conv2dGradInputWinograd<32, 26, 26, 64, 0, 0, 24, 24>(n, dy.data(), w.data(),
                                                                  dxw.data());
    std::vector<float> dw(S::ws), dww(S::ws);
    conv2d_grad_weight<32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24>(n, dy.data(), x.data(),
                                                                 dw.data());
    detail::conv2dGradWeightWinograd<32, 26, 26, 64, 0, 0, 24, 24>(n, dy.data(), x.data(),
                                                                   dww.data());
    EXPECT_EQ(bool(bitEqual(y, yw)), Use::forward && n >= 4) << "batch " << n;
    EXPECT_EQ(bool(bitEqual(dx, dxw)), Use::gradInput && n >= 4) << "batch " << n;
    EXPECT_EQ(bool(bitEqual(dw, dww)), Use::gradWeight && n >= 4) << "batch " << n;
  }
}

TEST(ConvWinograd, EpilogueOnTheStoredVectors) {
  using S = Resnet;
  const int n = 2;
  const auto x = randomVec(n * S::xs, 890), w = randomVec(S::ws, 891),
             b = randomVec(S::F, 892, -0.5f, 0.5f);
  std::vector<float> plain(n * S::ys);
  detail::conv2dWinograd<64, 14, 14, 64, 1, 1, 14, 14>(n, x.data(), w.data(), plain.data());
  auto check = [&](auto act, auto bias) {
    constexpr int ACT = decltype(act)::value;
    constexpr bool BIAS = decltype(bias)::value;
    std::vector<float> y(n * S::ys, 123.f), want = plain;
    detail::conv2dWinograd<64, 14, 14, 64, 1, 1, 14, 14>(
        n, x.data(), w.data(), y.data(), detail::FusedBiasActEpilogue<ACT, BIAS>{b.data()});
    for (std::size_t k = 0; k < want.size(); ++k) {
      const int f = int(k / (S::OH * S::OW) % S::F);
      want[k] = detail::fusedAct<ACT>(BIAS ? want[k] + b[f] : want[k]);
    }
    EXPECT_TRUE(bitEqual(y, want)) << "ACT " << ACT << " BIAS " << BIAS;
  };
  check(std::integral_constant<int, 0>{}, std::true_type{});
  check(std::integral_constant<int, 1>{}, std::true_type{});
  check(std::integral_constant<int, 2>{}, std::false_type{});
  check(std::integral_constant<int, 3>{}, std::true_type{});
}

TEST(ConvWinogradDeterminism, BatchAndThreadCountIndependent) {
  using S = Generated<3>;
  const int n = 5;
  const auto x = randomVec(n * S::xs, 900), w = randomVec(S::ws, 901),
             dy = randomVec(n * S::ys, 902);
  auto run = [&](int batch, const float *xb, const float *dyb, std::vector<float> &y,
                 std::vector<float> &dx) {
    y.assign(batch * S::ys, 0.f), dx.assign(batch * S::xs, 0.f);
    detail::conv2dWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(batch, xb,
                                                                             w.data(), y.data());
    detail::conv2dGradInputWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(
        batch, dyb, w.data(), dx.data());
  };
  auto gradWeight = [&](std::vector<float> &dw) {
    dw.assign(S::ws, 0.f);
    detail::conv2dGradWeightWinograd<S::C, S::H, S::W, S::F, S::PT, S::PL, S::OH, S::OW>(
        n, dy.data(), x.data(), dw.data());
  };
  std::vector<float> y0, dx0, dw0, y, dx, dw;
  run(n, x.data(), dy.data(), y0, dx0);
  gradWeight(dw0);
  const int threads = omp_get_max_threads();
  for (int t : {1, 2, 3}) {
    omp_set_num_threads(t);
    run(n, x.data(), dy.data(), y, dx);
    gradWeight(dw);
    EXPECT_TRUE(bitEqual(y0, y)) << t << " threads: y";
    EXPECT_TRUE(bitEqual(dx0, dx)) << t << " threads: dx";
    EXPECT_TRUE(bitEqual(dw0, dw)) << t << " threads: dw";
  }
  omp_set_num_threads(threads);
  // Sample 3 alone: the same bits as in the batch.
  run(1, x.data() + 3 * S::xs, dy.data() + 3 * S::ys, y, dx);
  EXPECT_TRUE(bitEqual(y, std::vector<float>(y0.begin() + 3 * S::ys, y0.begin() + 4 * S::ys)));
  EXPECT_TRUE(
      bitEqual(dx, std::vector<float>(dx0.begin() + 3 * S::xs, dx0.begin() + 4 * S::xs)));
}

TEST(ConvWinograd, FusedWithPooling) {
  // mnist_cnn conv2 with bias, ReLU and 2x2 max pooling, at a batch that
  // takes the path: fused_conv2d transforms the weights once for its blocks.
  constexpr int n = 4, P = 24 * 24, PO = 12 * 12;
  const auto x = randomVec(n * Mnist2::xs, 910), w = randomVec(Mnist2::ws, 911, -0.2f, 0.2f),
             b = randomVec(64, 912, -0.5f, 0.5f);
  std::vector<float> y(n * 64 * PO), s(n * 64 * PO), want(y.size()), wantS(s.size());
  fused_conv2d<32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24, 1, 1, 2, 2, 2, 2, 0, 0, 12, 12, true>(
      n, x.data(), w.data(), b.data(), y.data(), s.data());
  reference::fused_conv2d<32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24, 1, 1, 2, 2, 2, 2, 0, 0, 12,
                          12, true>(n, x.data(), w.data(), b.data(), want.data(), wantS.data());
  EXPECT_TRUE(allClose(y, want, 1e-5, Mnist2::tol(32 * 9)));
  // The kernels' own chain: conv2d (the same path at this batch), bias,
  // ReLU, the 2x2 maximum: the same bits.
  std::vector<float> z(n * 64 * P);
  conv2d<32, 26, 26, 64, 3, 3, 1, 1, 0, 0, 24, 24>(n, x.data(), w.data(), z.data());
  for (int k = 0; k < n * 64; ++k)
    for (int py = 0; py < 12; ++py)
      for (int px = 0; px < 12; ++px) {
        float m = -1e30f;
        for (int dy2 = 0; dy2 < 2; ++dy2)
          for (int dx2 = 0; dx2 < 2; ++dx2)
            m = std::max(m, detail::fusedAct<1>(
                                z[std::size_t(k) * P + (2 * py + dy2) * 24 + 2 * px + dx2] +
                                b[k % 64]));
        const float got = y[std::size_t(k) * PO + py * 12 + px];
        ASSERT_EQ(got, m) << "plane " << k << " at " << py << "," << px;
      }
}
