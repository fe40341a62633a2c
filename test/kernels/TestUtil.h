//===- TestUtil.h - helpers of the kernel tests -----------------*- C++ -*-===//
//
// Random tensors, an elementwise comparison with a stated tolerance, and a
// central-difference gradient check of L(v) = sum_j r_j * forward(v)_j, whose
// exact gradient with respect to v is the backward kernel applied to dy = r.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_TEST_KERNELS_TESTUTIL_H
#define NETC_TEST_KERNELS_TESTUTIL_H

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <random>
#include <vector>

namespace netc::kernels::test {

inline std::vector<float> randomVec(std::size_t size, std::uint32_t seed, float lo = -1.f,
                                    float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(size);
  for (float &x : v)
    x = dist(gen);
  return v;
}

/// Values bounded away from 0 (|x| in [0.1, 1]): no relu kink within a step.
inline std::vector<float> awayFromZero(std::size_t size, std::uint32_t seed) {
  std::vector<float> v = randomVec(size, seed, 0.1f, 1.f);
  std::mt19937 gen(seed + 7);
  for (float &x : v)
    if (gen() & 1)
      x = -x;
  return v;
}

/// Distinct values 0.05 apart in random order: no near-ties for max pooling.
inline std::vector<float> distinctValues(std::size_t size, std::uint32_t seed) {
  std::vector<float> v(size);
  for (std::size_t k = 0; k < size; ++k)
    v[k] = 0.05f * float(k) - 0.025f * float(size);
  std::shuffle(v.begin(), v.end(), std::mt19937(seed));
  return v;
}

/// Every |got - want| <= rtol * |want| + atol; reports the first few misses.
inline ::testing::AssertionResult allClose(const std::vector<float> &got,
                                           const std::vector<float> &want, double rtol,
                                           double atol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  int bad = 0;
  ::testing::AssertionResult result = ::testing::AssertionSuccess();
  for (std::size_t k = 0; k < got.size(); ++k) {
    const double err = std::fabs(double(got[k]) - want[k]);
    if (!(err <= rtol * std::fabs(want[k]) + atol)) {
      if (bad++ == 0)
        result = ::testing::AssertionFailure();
      if (bad <= 5)
        result << "at " << k << ": got " << got[k] << ", want " << want[k] << " (err " << err
               << ")\n";
    }
  }
  if (bad)
    result << bad << " of " << got.size() << " elements differ";
  return result;
}

inline ::testing::AssertionResult bitEqual(const std::vector<float> &a, const std::vector<float> &b) {
  for (std::size_t k = 0; k < a.size(); ++k)
    if (std::memcmp(&a[k], &b[k], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "differ at " << k << ": " << a[k] << " vs " << b[k];
  return ::testing::AssertionSuccess();
}

/// Compares grad[j] with (L(v + h e_j) - L(v - h e_j)) / 2h at `checks`
/// indices spread over v, where L(v) = sum r * forward(v) in double.
/// Passes when |numeric - analytic| <= tol * (1 + |analytic|).
template <class Forward>
void gradCheck(const char *what, Forward forward, std::vector<float> v, const std::vector<float> &r,
               const std::vector<float> &grad, int checks = 24, float h = 1e-2f,
               double tol = 2e-3) {
  ASSERT_EQ(grad.size(), v.size()) << what;
  auto loss = [&](const std::vector<float> &at) {
    const std::vector<float> y = forward(at);
    double s = 0;
    for (std::size_t k = 0; k < y.size(); ++k)
      s += double(r[k]) * y[k];
    return s;
  };
  std::mt19937 gen(1234);
  const int count = int(std::min<std::size_t>(checks, v.size()));
  for (int t = 0; t < count; ++t) {
    const std::size_t j = count == int(v.size()) ? std::size_t(t) : gen() % v.size();
    const float saved = v[j];
    v[j] = saved + h;
    const double up = loss(v);
    v[j] = saved - h;
    const double down = loss(v);
    v[j] = saved;
    // The step actually taken, after rounding to float.
    const double step = double(saved + h) - double(saved - h);
    const double numeric = (up - down) / step;
    EXPECT_LE(std::fabs(numeric - grad[j]), tol * (1 + std::fabs(grad[j])))
        << what << ": d/dv[" << j << "] numeric " << numeric << " analytic " << grad[j];
  }
}

} // namespace netc::kernels::test

#endif // NETC_TEST_KERNELS_TESTUTIL_H
