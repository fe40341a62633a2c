//===- ConvGradReferenceTest.cpp - netbench's double gradient reference ---===//
//
// netbench --device cuda gates netc's CUDA conv gradients on
// tools/netbench/ConvGradReference.h. Here that reference is held to the CPU
// kernels' fused_conv2d_grad, fed the same forward (every element, every
// pooling kind), and its sampled comparison is shown to catch one wrong
// element.
//
//===----------------------------------------------------------------------===//

#include "ConvGradReference.h"
#include "TestUtil.h"

#include "net/Kernels/Fused.h"

#include <gtest/gtest.h>

#include <vector>

using namespace netc::kernels;
using namespace netc::kernels::test;

namespace {

/// netbench's layer form: conv KxK stride 1 padding PAD, relu, POOL 2x2/2.
template <int C, int H, int W, int F, int K, int PAD, int POOL> struct Case {
  static constexpr int OH = H + 2 * PAD - K + 1, OW = W + 2 * PAD - K + 1;
  static constexpr int POH = POOL ? OH / 2 : OH, POW = POOL ? OW / 2 : OW;
  static constexpr int n = 3;
  std::vector<float> x, w, b, y, saved, dy, scratch, dx, dw, db;

  Case()
      : x(randomVec(std::size_t(n) * C * H * W, 1)), w(randomVec(std::size_t(F) * C * K * K, 2)),
        b(randomVec(F, 3, -0.1f, 0.1f)), y(std::size_t(n) * F * POH * POW),
        saved(std::size_t(n) * F * (POOL == 1 ? POH * POW : OH * OW)),
        dy(randomVec(y.size(), 4)), scratch(std::size_t(n) * F * OH * OW),
        dx(x.size()), dw(w.size()), db(F) {
    if constexpr (POOL)
      fused_conv2d<C, H, W, F, K, K, 1, 1, PAD, PAD, OH, OW, 1, POOL, 2, 2, 2, 2, 0, 0, POH, POW,
                   true>(n, x.data(), w.data(), b.data(), y.data(), saved.data());
    else
      fused_conv2d<C, H, W, F, K, K, 1, 1, PAD, PAD, OH, OW, 1, 0, 0, 0, 0, 0, 0, 0, OH, OW,
                   true>(n, x.data(), w.data(), b.data(), y.data(), saved.data());
    if constexpr (POOL)
      fused_conv2d_grad<C, H, W, F, K, K, 1, 1, PAD, PAD, OH, OW, 1, POOL, 2, 2, 2, 2, 0, 0, POH,
                        POW, true>(n, dy.data(), x.data(), w.data(), y.data(), saved.data(),
                                   scratch.data(), dx.data(), dw.data(), db.data());
    else
      fused_conv2d_grad<C, H, W, F, K, K, 1, 1, PAD, PAD, OH, OW, 1, 0, 0, 0, 0, 0, 0, 0, OH, OW,
                        true>(n, dy.data(), x.data(), w.data(), y.data(), saved.data(),
                              scratch.data(), dx.data(), dw.data(), db.data());
  }

  netc::bench::ConvGradReference reference() const {
    return netc::bench::ConvGradReference(netc::bench::ConvGradProblem{
        n, C, H, W, F, K, PAD, OH, OW, POOL, POH, POW, x.data(), w.data(), dy.data(), y.data(),
        saved.data()});
  }

  void expectAgreement() const {
    const netc::bench::ConvGradReference ref = reference();
    const auto dwAg = netc::bench::compareSampled(dw, [&](std::int64_t e) { return ref.dw(e); },
                                               1 << 30);
    const auto dbAg = netc::bench::compareSampled(db, [&](std::int64_t e) { return ref.db(int(e)); },
                                               1 << 30);
    const auto dxAg = netc::bench::compareSampled(dx, [&](std::int64_t e) { return ref.dx(e); },
                                               1 << 30);
    EXPECT_EQ(dwAg.checked, std::int64_t(dw.size()));
    EXPECT_EQ(dxAg.checked, std::int64_t(dx.size()));
    EXPECT_TRUE(dwAg.ok(1e-5)) << "dw rel " << dwAg.relative() << " at " << dwAg.worstIndex;
    EXPECT_TRUE(dbAg.ok(1e-5)) << "db rel " << dbAg.relative() << " at " << dbAg.worstIndex;
    EXPECT_TRUE(dxAg.ok(1e-5)) << "dx rel " << dxAg.relative() << " at " << dxAg.worstIndex;
  }
};

TEST(ConvGradReference, MatchesCpuKernelWithMaxPooling) {
  Case<3, 10, 10, 4, 3, 0, 1>().expectAgreement();
}

TEST(ConvGradReference, MatchesCpuKernelWithAveragePoolingAndPadding) {
  Case<2, 9, 9, 5, 3, 1, 2>().expectAgreement();
}

TEST(ConvGradReference, MatchesCpuKernelWithoutPooling) {
  Case<4, 7, 7, 3, 5, 2, 0>().expectAgreement();
}

TEST(ConvGradReference, OddConvOutputLeavesUncoveredRowsWithoutGradient) {
  // 11 + 0 - 3 + 1 = 9 rows: the pooling covers 8, the ninth gets none.
  Case<2, 11, 11, 3, 3, 0, 1>().expectAgreement();
}

TEST(ConvGradReference, SampledComparisonCatchesOneWrongElement) {
  Case<3, 10, 10, 4, 3, 0, 1> c;
  const netc::bench::ConvGradReference ref = c.reference();
  std::vector<float> dx = c.dx;
  const std::int64_t wrong = 137;
  dx[wrong] += 0.5f;
  // A sample that misses the element sees agreement; naming it as an extra
  // element (as netbench names where cuDNN differed most) catches it.
  const auto missed =
      netc::bench::compareSampled(dx, [&](std::int64_t e) { return ref.dx(e); }, 8);
  const auto caught =
      netc::bench::compareSampled(dx, [&](std::int64_t e) { return ref.dx(e); }, 8, {wrong});
  EXPECT_EQ(caught.checked, missed.checked + 1);
  EXPECT_FALSE(caught.ok(1e-4));
  EXPECT_EQ(caught.worstIndex, wrong);
  const auto all = netc::bench::compareSampled(dx, [&](std::int64_t e) { return ref.dx(e); },
                                            std::int64_t(dx.size()));
  EXPECT_FALSE(all.ok(1e-4));
  EXPECT_EQ(all.worstIndex, wrong);
}

} // namespace
