//===- TrainingTest.cpp - optimizers and dropout masks --------------------===//
//
// The optimizers against steps worked out by hand (tolerance 1e-6 relative),
// and the dropout mask: exact values, the fraction dropped, and the same mask
// for 1 and 2 threads.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "net/Kernels/Optimizer.h"
#include "net/Kernels/Random.h"
#include "Reference.h"

#include <omp.h>

using namespace netc::kernels;
using namespace netc::kernels::test;

TEST(Sgd, PlainStep) {
  std::vector<float> p = {1.f, -2.f}, g = {0.5f, -1.f};
  sgd_update(2, p.data(), g.data(), /*velocity=*/nullptr, /*lr=*/0.1f, /*momentum=*/0.f,
             /*nesterov=*/false);
  EXPECT_FLOAT_EQ(p[0], 0.95f);
  EXPECT_FLOAT_EQ(p[1], -1.9f);
}

TEST(Sgd, MomentumTwoSteps) {
  // v1 = -0.1*0.5 = -0.05, p1 = 0.95; v2 = 0.9*-0.05 - 0.1*0.5 = -0.095, p2 = 0.855.
  std::vector<float> p = {1.f}, g = {0.5f}, v = {0.f};
  sgd_update(1, p.data(), g.data(), v.data(), 0.1f, 0.9f, false);
  EXPECT_FLOAT_EQ(v[0], -0.05f);
  EXPECT_FLOAT_EQ(p[0], 0.95f);
  sgd_update(1, p.data(), g.data(), v.data(), 0.1f, 0.9f, false);
  EXPECT_FLOAT_EQ(v[0], -0.095f);
  EXPECT_FLOAT_EQ(p[0], 0.855f);
}

TEST(Sgd, Nesterov) {
  // v1 = -0.05, p1 = 1 + 0.9*-0.05 - 0.05 = 0.905;
  // v2 = -0.095, p2 = 0.905 + 0.9*-0.095 - 0.05 = 0.7695.
  std::vector<float> p = {1.f}, g = {0.5f}, v = {0.f};
  sgd_update(1, p.data(), g.data(), v.data(), 0.1f, 0.9f, true);
  EXPECT_FLOAT_EQ(p[0], 0.905f);
  sgd_update(1, p.data(), g.data(), v.data(), 0.1f, 0.9f, true);
  EXPECT_NEAR(p[0], 0.7695f, 1e-6);
}

TEST(Adam, TwoSteps) {
  // Step 1: m = 0.1*g, v = 0.001*g^2, mhat = g, vhat = g^2, p -= lr*g/(|g|+eps).
  const float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
  std::vector<float> p = {1.f, -1.f}, g = {0.5f, -2.f}, m = {0.f, 0.f}, v = {0.f, 0.f};
  adam_update(2, p.data(), g.data(), m.data(), v.data(), lr, b1, b2, eps, 1);
  EXPECT_NEAR(p[0], 1.f - 0.01f * 0.5f / (0.5f + 1e-7f), 1e-6);
  EXPECT_NEAR(p[1], -1.f + 0.01f * 2.f / (2.f + 1e-7f), 1e-6);
  EXPECT_FLOAT_EQ(m[0], 0.05f);
  EXPECT_NEAR(v[1], 0.004f, 1e-7); // (1 - 0.999f) is not 0.001 in float
  // Step 2 with g' = 1 for element 0: m = 0.9*0.05 + 0.1 = 0.145,
  // v = 0.999*0.00025 + 0.001 = 0.00124975; mhat = 0.145/0.19,
  // vhat = 0.00124975/0.001999.
  std::vector<float> g2 = {1.f, -2.f};
  adam_update(2, p.data(), g2.data(), m.data(), v.data(), lr, b1, b2, eps, 2);
  const double mhat = 0.145 / 0.19, vhat = 0.00124975 / (1 - 0.999 * 0.999);
  const double want = (1.0 - 0.01 * 0.5 / (0.5 + 1e-7)) - 0.01 * mhat / (std::sqrt(vhat) + 1e-7);
  EXPECT_NEAR(p[0], want, 1e-6);
}

TEST(Optimizers, MatchReferenceOnLargeParameters) {
  const std::int64_t size = 100003;
  const auto g = randomVec(size, 1);
  auto p = randomVec(size, 2), v = randomVec(size, 3), m = randomVec(size, 4),
       a = randomVec(size, 5, 0.f, 1.f);
  auto p2 = p, v2 = v, m2 = m, a2 = a;
  for (bool nesterov : {false, true}) {
    sgd_update(size, p.data(), g.data(), v.data(), 0.01f, 0.9f, nesterov);
    reference::sgd_update(size, p2.data(), g.data(), v2.data(), 0.01f, 0.9f, nesterov);
    EXPECT_TRUE(allClose(p, p2, 1e-6, 1e-7));
    EXPECT_TRUE(allClose(v, v2, 1e-6, 1e-7));
  }
  adam_update(size, p.data(), g.data(), m.data(), a.data(), 1e-3f, 0.9f, 0.999f, 1e-7f, 3);
  reference::adam_update(size, p2.data(), g.data(), m2.data(), a2.data(), 1e-3f, 0.9f, 0.999f,
                         1e-7f, 3);
  EXPECT_TRUE(allClose(p, p2, 1e-6, 1e-6));
  EXPECT_TRUE(allClose(m, m2, 1e-6, 1e-7));
  EXPECT_TRUE(allClose(a, a2, 1e-6, 1e-7));
}

TEST(Dropout, ValuesFractionAndThreadCount) {
  constexpr int E = 9216;
  const int n = 32;
  for (float rate : {0.25f, 0.5f}) {
    std::vector<float> two(n * E), one(n * E), ref(n * E), half(n * E);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(2);
    dropout_mask<E>(n, rate, /*seed=*/42, /*stream=*/1, two.data());
    omp_set_num_threads(1);
    dropout_mask<E>(n, rate, 42, 1, one.data());
    omp_set_num_threads(threads);
    EXPECT_TRUE(bitEqual(one, two));
    reference::dropout_mask<E>(n, rate, 42, 1, ref.data());
    EXPECT_TRUE(bitEqual(one, ref));
    // A call on the first half of the batch gives the first half of the mask.
    dropout_mask<E>(n / 2, rate, 42, 1, half.data());
    EXPECT_TRUE(bitEqual(std::vector<float>(half.begin(), half.begin() + n / 2 * E),
                         std::vector<float>(one.begin(), one.begin() + n / 2 * E)));

    const float keep = 1.f / (1.f - rate);
    std::int64_t zeros = 0;
    for (float v : one) {
      ASSERT_TRUE(v == 0.f || v == keep) << v;
      zeros += v == 0.f;
    }
    // 294912 draws: the standard deviation of the fraction is below 0.001.
    EXPECT_NEAR(double(zeros) / one.size(), rate, 0.005);
  }
}

TEST(Dropout, StreamsAndSeedsDiffer) {
  constexpr int E = 1000;
  std::vector<float> a(E), b(E), c(E);
  dropout_mask<E>(1, 0.5f, 1, 0, a.data());
  dropout_mask<E>(1, 0.5f, 1, 1, b.data());
  dropout_mask<E>(1, 0.5f, 2, 0, c.data());
  int sameStream = 0, sameSeed = 0;
  for (int k = 0; k < E; ++k) {
    sameStream += a[k] == b[k];
    sameSeed += a[k] == c[k];
  }
  EXPECT_LT(sameStream, 600);
  EXPECT_LT(sameSeed, 600);
  std::vector<float> all(E);
  dropout_mask<E>(1, 0.f, 7, 0, all.data());
  for (float v : all)
    EXPECT_EQ(v, 1.f);
}
