//===- PoolTest.cpp - pooling against the reference and by differences ---===//
//
// Pooling sums at most KH*KW terms: tolerance 1e-6 relative + 1e-6 absolute
// (max pooling is exact). Max pooling is checked on inputs whose values are
// 0.05 apart, so no step of the finite difference changes an argmax.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "net/Kernels/Pool.h"
#include "Reference.h"

using namespace netc::kernels;
using namespace netc::kernels::test;

namespace {

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void checkPool(int n, std::uint32_t seed, bool gradients) {
  SCOPED_TRACE("n=" + std::to_string(n) + " C=" + std::to_string(C) + " H=" + std::to_string(H));
  constexpr std::size_t xs = std::size_t(C) * H * W, ys = std::size_t(C) * OH * OW;
  const auto x = distinctValues(n * xs, seed), dy = randomVec(n * ys, seed + 1);
  std::vector<float> y(n * ys, 9.f), yr(n * ys), dx(n * xs, 9.f), dxr(n * xs);
  // The distinct inputs grow with the size: average within 1e-6 of the largest.
  double big = 0;
  for (float v : x)
    big = std::max(big, double(std::fabs(v)));
  const double avgTol = 1e-6 * (1 + big);

  max_pool2d<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, x.data(), y.data());
  reference::max_pool2d<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, x.data(), yr.data());
  EXPECT_TRUE(allClose(y, yr, 0, 0)) << "max_pool2d";
  max_pool2d_grad<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy.data(), x.data(), dx.data());
  reference::max_pool2d_grad<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy.data(), x.data(),
                                                                      dxr.data());
  EXPECT_TRUE(allClose(dx, dxr, 1e-6, 1e-6)) << "max_pool2d_grad";
  if (gradients)
    gradCheck(
        "max_pool2d dx",
        [&](const std::vector<float> &v) {
          std::vector<float> out(n * ys);
          reference::max_pool2d<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, v.data(), out.data());
          return out;
        },
        x, dy, dx, 40);

  avg_pool2d<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, x.data(), y.data());
  reference::avg_pool2d<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, x.data(), yr.data());
  EXPECT_TRUE(allClose(y, yr, 1e-6, avgTol)) << "avg_pool2d";
  std::fill(dx.begin(), dx.end(), 9.f);
  avg_pool2d_grad<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy.data(), dx.data());
  reference::avg_pool2d_grad<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, dy.data(), dxr.data());
  EXPECT_TRUE(allClose(dx, dxr, 1e-6, 1e-6)) << "avg_pool2d_grad";
  if (gradients)
    gradCheck(
        "avg_pool2d dx",
        [&](const std::vector<float> &v) {
          std::vector<float> out(n * ys);
          reference::avg_pool2d<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, v.data(), out.data());
          return out;
        },
        x, dy, dx, 40);
}

} // namespace

TEST(Pool, ModelShapes) {
  for (int n : {1, 3}) {
    checkPool<6, 28, 28, 2, 2, 2, 2, 0, 0, 14, 14>(n, 1, false);  // lenet5 pool 1
    checkPool<16, 14, 14, 2, 2, 2, 2, 0, 0, 7, 7>(n, 2, false);   // lenet5 pool 2
    checkPool<64, 24, 24, 2, 2, 2, 2, 0, 0, 12, 12>(n, 3, false); // mnist_cnn pool
    checkPool<6, 28, 28, 2, 2, 2, 2, 0, 0, 14, 14>(n, 4, false);
  }
}

TEST(Pool, OddShapesAndGradients) {
  for (int n : {1, 3}) {
    // 3x3/2 'same' (ResNet's max pool): padding 1 at top/left, 1 implied.
    checkPool<3, 9, 9, 3, 3, 2, 2, 1, 1, 5, 5>(n, 10, true);
    // Non-square, asymmetric: stride (2,1), padding top 0 / left 1.
    checkPool<2, 7, 5, 2, 3, 2, 1, 0, 1, 3, 5>(n, 11, true);
    // Odd size with 'valid' 2x2/2: the last row and column are dropped.
    checkPool<5, 7, 7, 2, 2, 2, 2, 0, 0, 3, 3>(n, 12, true);
    // Overlapping windows, padding on every side.
    checkPool<1, 6, 4, 3, 3, 1, 1, 1, 1, 6, 4>(n, 13, true);
    // Windows apart (stride past the window): pixels between them get no
    // gradient; 3x3/3 divides by 9, where 2x2's quarter is exact.
    checkPool<2, 8, 10, 2, 3, 3, 4, 0, 0, 3, 2>(n, 14, true);
    checkPool<3, 11, 9, 3, 3, 3, 3, 0, 0, 3, 3>(n, 15, true);
    // 'same' on odd sizes: windows apart, no top or left padding, but the
    // last window runs past the bottom and right edge (the padding OH and
    // OW imply), and so averages fewer pixels.
    checkPool<3, 7, 7, 2, 2, 2, 2, 0, 0, 4, 4>(n, 16, true);
    checkPool<2, 5, 9, 2, 3, 2, 3, 0, 0, 3, 3>(n, 17, true);
    checkPool<1, 4, 5, 2, 2, 2, 2, 0, 0, 2, 3>(n, 18, true);
  }
}

TEST(Pool, PaddingNeverWins) {
  // All inputs negative: a zero from the padding must not be the maximum,
  // and the average divides by the in-range count only.
  constexpr int H = 3, W = 3;
  std::vector<float> x(H * W, -2.f), y(4);
  max_pool2d<1, H, W, 2, 2, 2, 2, 1, 1, 2, 2>(1, x.data(), y.data());
  for (float v : y)
    EXPECT_EQ(v, -2.f);
  avg_pool2d<1, H, W, 2, 2, 2, 2, 1, 1, 2, 2>(1, x.data(), y.data());
  for (float v : y)
    EXPECT_EQ(v, -2.f);
}

TEST(Pool, MaxGradFirstMaximumWins) {
  std::vector<float> x = {1.f, 3.f, 3.f, 0.f}, dy = {5.f}, dx(4, 9.f);
  max_pool2d_grad<1, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1>(1, dy.data(), x.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<float>{0.f, 5.f, 0.f, 0.f}));
}

TEST(GlobalAvgPool, ReferenceAndGradient) {
  for (int n : {1, 3}) {
    constexpr int C = 13, S = 49;
    const auto x = randomVec(n * C * S, 40), dy = randomVec(n * C, 41);
    std::vector<float> y(n * C, 9.f), yr(n * C), dx(n * C * S, 9.f), dxr(n * C * S);
    global_avg_pool<C, S>(n, x.data(), y.data());
    reference::global_avg_pool<C, S>(n, x.data(), yr.data());
    EXPECT_TRUE(allClose(y, yr, 1e-6, 1e-6));
    global_avg_pool_grad<C, S>(n, dy.data(), dx.data());
    reference::global_avg_pool_grad<C, S>(n, dy.data(), dxr.data());
    EXPECT_TRUE(allClose(dx, dxr, 1e-6, 1e-7));
    gradCheck(
        "global_avg_pool dx",
        [&](const std::vector<float> &v) {
          std::vector<float> out(n * C);
          reference::global_avg_pool<C, S>(n, v.data(), out.data());
          return out;
        },
        x, dy, dx);
  }
}
