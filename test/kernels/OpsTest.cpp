//===- OpsTest.cpp - activations, bias, elementwise, loss, batch norm -----===//
//
// Elementwise kernels compute the reference's own formula: tolerance 1e-6
// relative + 1e-7 absolute (sigmoid/tanh: the reference runs in double and
// libm differs by an ulp or two). Sums over the batch (bias_grad) use the
// sum tolerance 1e-5 relative + 8e-6 sqrt(T).
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "net/Kernels/Activation.h"
#include "net/Kernels/Elementwise.h"
#include "net/Kernels/Loss.h"
#include "net/Kernels/Conv.h"
#include "net/Kernels/Norm.h"
#include "Reference.h"

#include <omp.h>

using namespace netc::kernels;
using namespace netc::kernels::test;

namespace {

using Unary = void (*)(int, const float *, float *);
using Grad = void (*)(int, const float *, const float *, float *);

/// A forward against its reference, and its gradient (taking the output y)
/// against the reference gradient and against central differences.
template <int E>
void checkActivation(const char *what, Unary fwd, Unary fwdRef, Grad grad, Grad gradRef, int n) {
  SCOPED_TRACE(what);
  const auto x = awayFromZero(n * E, 1), dy = randomVec(n * E, 2);
  std::vector<float> y(n * E, 5.f), yr(n * E), dx(n * E, 5.f), dxr(n * E);
  fwd(n, x.data(), y.data());
  fwdRef(n, x.data(), yr.data());
  EXPECT_TRUE(allClose(y, yr, 1e-6, 1e-7));
  grad(n, dy.data(), y.data(), dx.data());
  gradRef(n, dy.data(), y.data(), dxr.data());
  EXPECT_TRUE(allClose(dx, dxr, 1e-6, 1e-7));
  gradCheck(
      what,
      [&](const std::vector<float> &v) {
        std::vector<float> out(n * E);
        fwdRef(n, v.data(), out.data());
        return out;
      },
      x, dy, dx, 40, 1e-2f, 2e-3);
}

} // namespace

TEST(Activation, ReluSigmoidTanh) {
  for (int n : {1, 3, 64}) {
    checkActivation<1000>("relu", relu<1000>, reference::relu<1000>, relu_grad<1000>,
                          reference::relu_grad<1000>, n);
    checkActivation<37>("sigmoid", sigmoid<37>, reference::sigmoid<37>, sigmoid_grad<37>,
                        reference::sigmoid_grad<37>, n);
    checkActivation<1000>("tanh", netc::kernels::tanh<1000>, reference::tanh<1000>,
                          tanh_grad<1000>, reference::tanh_grad<1000>, n);
  }
}

TEST(Bias, AddAndGrad) {
  auto run = [](auto cTag, auto sTag, int n) {
    constexpr int C = decltype(cTag)::value, S = decltype(sTag)::value;
    SCOPED_TRACE("C=" + std::to_string(C) + " S=" + std::to_string(S) + " n=" + std::to_string(n));
    auto x = randomVec(n * C * S, 1), b = randomVec(C, 2), dy = randomVec(n * C * S, 3);
    std::vector<float> y(n * C * S, 5.f), yr(n * C * S), db(C, 5.f), dbr(C);
    bias_add<C, S>(n, x.data(), b.data(), y.data());
    reference::bias_add<C, S>(n, x.data(), b.data(), yr.data());
    EXPECT_TRUE(allClose(y, yr, 0, 0));
    bias_grad<C, S>(n, dy.data(), db.data());
    reference::bias_grad<C, S>(n, dy.data(), dbr.data());
    EXPECT_TRUE(allClose(db, dbr, 1e-5, 8e-6 * std::sqrt(double(n) * S)));
    gradCheck(
        "bias db",
        [&](const std::vector<float> &v) {
          std::vector<float> out(n * C * S);
          reference::bias_add<C, S>(n, x.data(), v.data(), out.data());
          return out;
        },
        b, dy, db);
  };
  using std::integral_constant;
  for (int n : {1, 3, 32}) {
    run(integral_constant<int, 6>{}, integral_constant<int, 784>{}, n);
    run(integral_constant<int, 64>{}, integral_constant<int, 576>{}, n);
    run(integral_constant<int, 10>{}, integral_constant<int, 1>{}, n);
    run(integral_constant<int, 7>{}, integral_constant<int, 13>{}, n);
  }
}

TEST(Bias, GradBitIdenticalAcrossRunsAndThreads) {
  constexpr int C = 32, S = 676, n = 64;
  const auto dy = randomVec(n * C * S, 9);
  std::vector<float> a(C), b(C), c(C);
  bias_grad<C, S>(n, dy.data(), a.data());
  bias_grad<C, S>(n, dy.data(), b.data());
  EXPECT_TRUE(bitEqual(a, b));
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  bias_grad<C, S>(n, dy.data(), c.data());
  omp_set_num_threads(threads);
  EXPECT_TRUE(bitEqual(a, c));
}

TEST(Elementwise, AddMulCopy) {
  constexpr int E = 1000;
  for (int n : {1, 3, 100}) {
    const auto a = randomVec(n * E, 1), b = randomVec(n * E, 2);
    std::vector<float> y(n * E, 5.f), yr(n * E);
    add<E>(n, a.data(), b.data(), y.data());
    reference::add<E>(n, a.data(), b.data(), yr.data());
    EXPECT_TRUE(allClose(y, yr, 0, 0));
    mul<E>(n, a.data(), b.data(), y.data());
    reference::mul<E>(n, a.data(), b.data(), yr.data());
    EXPECT_TRUE(allClose(y, yr, 0, 0));
    copy<E>(n, a.data(), y.data());
    reference::copy<E>(n, a.data(), yr.data());
    EXPECT_TRUE(allClose(y, yr, 0, 0));
  }
}

TEST(Elementwise, ZerosWritesItsExtentOnly) {
  // A parameter's zero gradient: E floats, whatever the buffer held, and
  // nothing past them.
  constexpr int E = 37;
  std::vector<float> y(E + 5, 7.f), yr(E + 5, 7.f);
  y[3] = std::nanf("");
  zeros<E>(y.data());
  reference::zeros<E>(yr.data());
  for (int k = 0; k < E + 5; ++k)
    EXPECT_EQ(y[k], yr[k]) << "element " << k << (k < E ? "" : ", past the extent");
  EXPECT_EQ(yr[E], 7.f);
}

TEST(Elementwise, MulGradient) {
  // Dropout's forward and backward: y = x * mask, dx = dy * mask.
  constexpr int E = 50, n = 3;
  const auto x = randomVec(n * E, 1), mask = randomVec(n * E, 2), r = randomVec(n * E, 3);
  std::vector<float> dx(n * E);
  mul<E>(n, r.data(), mask.data(), dx.data());
  gradCheck(
      "mul dx",
      [&](const std::vector<float> &v) {
        std::vector<float> out(n * E);
        reference::mul<E>(n, v.data(), mask.data(), out.data());
        return out;
      },
      x, r, dx);
}

TEST(Loss, SoftmaxCrossEntropyAndAccuracy) {
  constexpr int K = 10;
  for (int n : {1, 3, 128}) {
    auto logits = randomVec(n * K, 1, -4.f, 4.f);
    std::vector<std::int32_t> labels(n);
    for (int i = 0; i < n; ++i)
      labels[i] = (i * 7 + 3) % K;
    std::vector<float> p(n * K, 5.f), pr(n * K), d(n * K, 5.f), dr(n * K);
    softmax<K>(n, logits.data(), p.data());
    reference::softmax<K>(n, logits.data(), pr.data());
    EXPECT_TRUE(allClose(p, pr, 1e-5, 1e-7));
    EXPECT_NEAR(cross_entropy<K>(n, p.data(), labels.data()),
                reference::cross_entropy<K>(n, pr.data(), labels.data()), 1e-5);
    EXPECT_EQ(count_correct<K>(n, p.data(), labels.data()),
              reference::count_correct<K>(n, pr.data(), labels.data()));
    softmax_cross_entropy_grad<K>(n, p.data(), labels.data(), d.data());
    reference::softmax_cross_entropy_grad<K>(n, p.data(), labels.data(), dr.data());
    EXPECT_TRUE(allClose(d, dr, 1e-6, 1e-9)); // times 1/n against divided by n
    // d(mean cross-entropy of softmax)/d(logits) by central differences; the
    // loss is a scalar, so r = 1 on a one-element output.
    gradCheck(
        "softmax+cross_entropy",
        [&](const std::vector<float> &v) {
          std::vector<float> q(n * K);
          reference::softmax<K>(n, v.data(), q.data());
          return std::vector<float>{reference::cross_entropy<K>(n, q.data(), labels.data())};
        },
        logits, {1.f}, d, 30, 1e-2f, 2e-3);
  }
}

TEST(Loss, SoftmaxGradThroughItsOutput) {
  constexpr int K = 7;
  for (int n : {1, 3}) {
    const std::vector<float> x = randomVec(std::size_t(n) * K, 40 + n, -3.f, 3.f);
    const std::vector<float> r = randomVec(x.size(), 50 + n);
    std::vector<float> y(x.size()), dx(x.size()), dxr(x.size());
    softmax<K>(n, x.data(), y.data());
    softmax_grad<K>(n, r.data(), y.data(), dx.data());
    reference::softmax_grad<K>(n, r.data(), y.data(), dxr.data());
    EXPECT_TRUE(allClose(dx, dxr, 1e-5, 1e-6));
    gradCheck(
        "softmax",
        [&](const std::vector<float> &v) {
          std::vector<float> q(v.size());
          reference::softmax<K>(n, v.data(), q.data());
          return q;
        },
        x, r, dx);
  }
}

TEST(Loss, ClipAndTies) {
  constexpr int K = 4;
  const std::vector<float> probs = {0.f, 0.5f, 0.5f, 0.f, 0.25f, 0.25f, 0.25f, 0.25f};
  const std::vector<std::int32_t> labels = {0, 1};
  // -log(1e-7) for the zero probability, -log(0.25) for the second row.
  EXPECT_NEAR(cross_entropy<K>(2, probs.data(), labels.data()),
              (-std::log(1e-7) - std::log(0.25)) / 2, 1e-4);
  // Row 0: tie between 1 and 2, first wins (1 != label 0); row 1: all tie, 0 wins (!= 1).
  EXPECT_EQ(count_correct<K>(2, probs.data(), labels.data()), 0);
  const std::vector<std::int32_t> firsts = {1, 0};
  EXPECT_EQ(count_correct<K>(2, probs.data(), firsts.data()), 2);
}

// A convolution with the folded weight and bias equals the convolution, its
// bias and the batch norm after it (the chain net-fold-batch-norm replaces).
TEST(BatchNorm, FoldedIntoConvEqualsConvThenBatchNorm) {
  constexpr int C = 3, H = 9, W = 9, F = 4, KH = 3, KW = 3, OH = 7, OW = 7;
  for (bool withBias : {false, true}) {
    const int n = 3;
    const auto x = randomVec(n * C * H * W, 11), w = randomVec(F * C * KH * KW, 12),
               b = randomVec(F, 13), gamma = randomVec(F, 14), beta = randomVec(F, 15),
               mean = randomVec(F, 16), var = randomVec(F, 17, 0.1f, 2.f);
    const float eps = 1.001e-5f;
    std::vector<float> z(n * F * OH * OW), zb(z.size()), want(z.size());
    reference::conv2d<C, H, W, F, KH, KW, 1, 1, 0, 0, OH, OW>(n, x.data(), w.data(), z.data());
    if (withBias)
      reference::bias_add<F, OH * OW>(n, z.data(), b.data(), zb.data());
    else
      zb = z;
    reference::batch_norm_inference<F, OH * OW>(n, zb.data(), gamma.data(), beta.data(),
                                                mean.data(), var.data(), eps, want.data());
    std::vector<float> w2(w.size()), b2(F), got(z.size()), conv(z.size());
    fold_batch_norm<F, C * KH * KW>(w.data(), withBias ? b.data() : nullptr, gamma.data(),
                                    beta.data(), mean.data(), var.data(), eps, w2.data(),
                                    b2.data());
    conv2d<C, H, W, F, KH, KW, 1, 1, 0, 0, OH, OW>(n, x.data(), w2.data(), conv.data());
    bias_add<F, OH * OW>(n, conv.data(), b2.data(), got.data());
    EXPECT_TRUE(allClose(got, want, 1e-4, 1e-5)) << "bias " << withBias;
  }
}

TEST(BatchNorm, InferenceAndGradient) {
  constexpr int C = 5, S = 12;
  for (int n : {1, 3}) {
    const auto x = randomVec(n * C * S, 1), gamma = randomVec(C, 2), beta = randomVec(C, 3),
               mean = randomVec(C, 4), var = randomVec(C, 5, 0.1f, 2.f),
               dy = randomVec(n * C * S, 6);
    const float eps = 1e-3f;
    std::vector<float> y(n * C * S, 5.f), yr(n * C * S), dx(n * C * S, 5.f), dxr(n * C * S);
    batch_norm_inference<C, S>(n, x.data(), gamma.data(), beta.data(), mean.data(), var.data(),
                               eps, y.data());
    reference::batch_norm_inference<C, S>(n, x.data(), gamma.data(), beta.data(), mean.data(),
                                          var.data(), eps, yr.data());
    EXPECT_TRUE(allClose(y, yr, 1e-5, 1e-6));
    batch_norm_inference_grad<C, S>(n, dy.data(), gamma.data(), var.data(), eps, dx.data());
    reference::batch_norm_inference_grad<C, S>(n, dy.data(), gamma.data(), var.data(), eps,
                                               dxr.data());
    EXPECT_TRUE(allClose(dx, dxr, 1e-5, 1e-7));
    gradCheck(
        "batch_norm dx",
        [&](const std::vector<float> &v) {
          std::vector<float> out(n * C * S);
          reference::batch_norm_inference<C, S>(n, v.data(), gamma.data(), beta.data(),
                                                mean.data(), var.data(), eps, out.data());
          return out;
        },
        x, dy, dx);
  }
}

// Training mode: the kernel against the definition (outputs, kept statistics,
// running statistics), and its three gradients against central differences
// of the definition, whose batch statistics move with every input.
TEST(BatchNorm, TrainingAndGradients) {
  constexpr int C = 3, S = 10;
  for (int n : {1, 4}) {
    SCOPED_TRACE(n);
    const auto x = randomVec(n * C * S, 21, -2.f, 3.f), gamma = randomVec(C, 22, 0.5f, 1.5f),
               beta = randomVec(C, 23), dy = randomVec(n * C * S, 24);
    const float eps = 1e-3f, momentum = 0.9f;
    auto runningMean = randomVec(C, 25), runningVar = randomVec(C, 26, 0.5f, 2.f);
    auto wantMean = runningMean, wantVar = runningVar;
    std::vector<float> y(n * C * S, 5.f), yr(n * C * S), mu(C), istd(C), mur(C), istdr(C);
    batch_norm_train<C, S>(n, x.data(), gamma.data(), beta.data(), runningMean.data(),
                           runningVar.data(), eps, momentum, y.data(), mu.data(), istd.data());
    reference::batch_norm_train<C, S>(n, x.data(), gamma.data(), beta.data(), wantMean.data(),
                                      wantVar.data(), eps, momentum, yr.data(), mur.data(),
                                      istdr.data());
    EXPECT_TRUE(allClose(y, yr, 1e-5, 1e-6));
    EXPECT_TRUE(allClose(mu, mur, 1e-6, 1e-7));
    EXPECT_TRUE(allClose(istd, istdr, 1e-6, 1e-7));
    EXPECT_TRUE(allClose(runningMean, wantMean, 1e-6, 1e-7));
    EXPECT_TRUE(allClose(runningVar, wantVar, 1e-6, 1e-7));

    std::vector<float> dx(n * C * S, 5.f), dgamma(C, 5.f), dbeta(C, 5.f);
    batch_norm_train_grad<C, S>(n, dy.data(), x.data(), gamma.data(), mu.data(), istd.data(),
                                dx.data(), dgamma.data(), dbeta.data());
    auto forward = [&](const std::vector<float> &xv, const std::vector<float> &g,
                       const std::vector<float> &b) {
      std::vector<float> out(n * C * S), m(C), v(C, 1.f), bm(C), bs(C);
      reference::batch_norm_train<C, S>(n, xv.data(), g.data(), b.data(), m.data(), v.data(),
                                        eps, momentum, out.data(), bm.data(), bs.data());
      return out;
    };
    if (n * S > 1) // one value per channel normalises to beta whatever x is
      gradCheck("batch_norm_train dx",
                [&](const std::vector<float> &v) { return forward(v, gamma, beta); }, x, dy, dx,
                30, 1e-2f, 3e-3);
    gradCheck("batch_norm_train dgamma",
              [&](const std::vector<float> &v) { return forward(x, v, beta); }, gamma, dy,
              dgamma, C, 1e-2f, 2e-3);
    gradCheck("batch_norm_train dbeta",
              [&](const std::vector<float> &v) { return forward(x, gamma, v); }, beta, dy, dbeta,
              C, 1e-2f, 2e-3);
  }
}

// Channels are the parallel dimension and each channel's sums run in one
// order: the results are bit-identical for 1 and 2 threads.
TEST(BatchNorm, TrainingBitIdenticalAcrossThreads) {
  constexpr int C = 16, S = 196;
  const int n = 32;
  const auto x = randomVec(n * C * S, 31), gamma = randomVec(C, 32), beta = randomVec(C, 33),
             dy = randomVec(n * C * S, 34);
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<float> m(C), v(C, 1.f), y(n * C * S), mu(C), istd(C), dx(n * C * S), dg(C),
        db(C);
    batch_norm_train<C, S>(n, x.data(), gamma.data(), beta.data(), m.data(), v.data(), 1e-3f,
                           0.99f, y.data(), mu.data(), istd.data());
    batch_norm_train_grad<C, S>(n, dy.data(), x.data(), gamma.data(), mu.data(), istd.data(),
                                dx.data(), dg.data(), db.data());
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dg.begin(), dg.end());
    y.insert(y.end(), m.begin(), m.end());
    return y;
  };
  const int threads = omp_get_max_threads();
  const auto one = run(1), two = run(2);
  omp_set_num_threads(threads);
  EXPECT_TRUE(bitEqual(one, two));
}
