//===- DenseTest.cpp - dense forward and backward against the reference ---===//
//
// Tolerance: |fast - reference| <= 1e-5 |reference| + 8e-6 sqrt(T), T the
// length of the reduction (K, M or the batch). Finite differences check both
// gradients through the reference forward.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "net/Kernels/Dense.h"
#include "Reference.h"

#include <omp.h>

using namespace netc::kernels;
using namespace netc::kernels::test;

namespace {

double tol(double terms) { return 8e-6 * std::sqrt(terms); }

template <int K, int M> void checkDense(int n, std::uint32_t seed) {
  SCOPED_TRACE("K=" + std::to_string(K) + " M=" + std::to_string(M) + " n=" + std::to_string(n));
  const auto x = randomVec(std::size_t(n) * K, seed), w = randomVec(std::size_t(M) * K, seed + 1),
             dy = randomVec(std::size_t(n) * M, seed + 2);
  std::vector<float> y(n * M, 7.f), yr(n * M);
  dense<K, M>(n, x.data(), w.data(), y.data());
  reference::dense<K, M>(n, x.data(), w.data(), yr.data());
  EXPECT_TRUE(allClose(y, yr, 1e-5, tol(K))) << "dense";

  std::vector<float> dx(std::size_t(n) * K, 7.f), dxr(std::size_t(n) * K);
  dense_grad_input<K, M>(n, dy.data(), w.data(), dx.data());
  reference::dense_grad_input<K, M>(n, dy.data(), w.data(), dxr.data());
  EXPECT_TRUE(allClose(dx, dxr, 1e-5, tol(M))) << "dense_grad_input";

  std::vector<float> dw(static_cast<std::size_t>(M) * K, 7.f), dwr(static_cast<std::size_t>(M) * K);
  dense_grad_weight<K, M>(n, dy.data(), x.data(), dw.data());
  reference::dense_grad_weight<K, M>(n, dy.data(), x.data(), dwr.data());
  EXPECT_TRUE(allClose(dw, dwr, 1e-5, tol(n))) << "dense_grad_weight";
}

} // namespace

TEST(Dense, ModelShapes) {
  for (int n : {1, 3, 16}) {
    checkDense<9216, 128>(n, 1);
    checkDense<128, 10>(n, 2);
    checkDense<5880, 84>(n, 3);
    checkDense<400, 120>(n, 4);
    checkDense<120, 84>(n, 5);
    checkDense<84, 10>(n, 6);
  }
}

TEST(Dense, OddShapes) {
  for (int n : {1, 2, 3, 5}) {
    checkDense<1, 1>(n, 10);
    checkDense<7, 3>(n, 11);
    checkDense<17, 5>(n, 12);
    checkDense<65, 9>(n, 13);
    checkDense<1031, 6>(n, 14); // one K chunk of 1024 plus a tail of 7
    checkDense<2049, 13>(n, 15);
  }
}

// The gradients' GEMMs in blocks: grad_input's samples in blocks of 48 and
// M over 256 packed in two passes; grad_weight's outputs in blocks of 96 and
// a batch over 256 in two passes; K chunks of 64 with and without a tail.
TEST(Dense, GradientBlocks) {
  for (int n : {13, 50}) {
    checkDense<70, 300>(n, 16);
    checkDense<128, 97>(n, 17);
  }
  checkDense<200, 7>(300, 18);
  checkDense<64, 130>(257, 19);
}

TEST(DenseGradient, FiniteDifferences) {
  constexpr int K = 37, M = 11, n = 3;
  auto x = randomVec(n * K, 20), w = randomVec(M * K, 21), r = randomVec(n * M, 22);
  std::vector<float> dx(n * K), dw(M * K);
  dense_grad_input<K, M>(n, r.data(), w.data(), dx.data());
  dense_grad_weight<K, M>(n, r.data(), x.data(), dw.data());
  gradCheck(
      "dense dx",
      [&](const std::vector<float> &v) {
        std::vector<float> y(n * M);
        reference::dense<K, M>(n, v.data(), w.data(), y.data());
        return y;
      },
      x, r, dx);
  gradCheck(
      "dense dw",
      [&](const std::vector<float> &v) {
        std::vector<float> y(n * M);
        reference::dense<K, M>(n, x.data(), v.data(), y.data());
        return y;
      },
      w, r, dw);
}

template <int K, int M> void checkSameForOneAndTwoThreads(int n) {
  SCOPED_TRACE("K=" + std::to_string(K) + " M=" + std::to_string(M) + " n=" + std::to_string(n));
  const auto x = randomVec(std::size_t(n) * K, 30), w = randomVec(M * K, 31),
             dy = randomVec(std::size_t(n) * M, 32);
  std::vector<float> y1(n * M), y2(n * M), dw1(M * K), dw2(M * K), dx1(std::size_t(n) * K),
      dx2(std::size_t(n) * K);
  dense<K, M>(n, x.data(), w.data(), y2.data());
  dense_grad_weight<K, M>(n, dy.data(), x.data(), dw2.data());
  dense_grad_input<K, M>(n, dy.data(), w.data(), dx2.data());
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  dense<K, M>(n, x.data(), w.data(), y1.data());
  dense_grad_weight<K, M>(n, dy.data(), x.data(), dw1.data());
  dense_grad_input<K, M>(n, dy.data(), w.data(), dx1.data());
  omp_set_num_threads(threads);
  EXPECT_TRUE(bitEqual(y1, y2));
  EXPECT_TRUE(bitEqual(dw1, dw2));
  EXPECT_TRUE(bitEqual(dx1, dx2));
}

TEST(DenseDeterminism, SameForOneAndTwoThreads) {
  checkSameForOneAndTwoThreads<5880, 84>(32);
  checkSameForOneAndTwoThreads<64, 300>(300); // both reductions in two passes
}

// A sample's outputs are bitwise the same whichever tile of the forward
// computes them: a whole tile of samples, a row of outputs at the batch's
// edge, or a single output where M leaves a remainder. Inference of one
// image then agrees with the same image inside any batch.
template <int K, int M> void checkSampleSameInAnyBatch() {
  SCOPED_TRACE("K=" + std::to_string(K) + " M=" + std::to_string(M));
  constexpr int n = 7;
  const auto x = randomVec(n * K, 40), w = randomVec(M * K, 41);
  std::vector<float> batch(n * M), alone(M);
  dense<K, M>(n, x.data(), w.data(), batch.data());
  for (int i = 0; i < n; ++i) {
    dense<K, M>(1, x.data() + std::size_t(i) * K, w.data(), alone.data());
    const std::vector<float> row(batch.begin() + i * M, batch.begin() + (i + 1) * M);
    EXPECT_TRUE(bitEqual(alone, row)) << "sample " << i;
  }
}

TEST(DenseDeterminism, SampleSameInAnyBatch) {
  checkSampleSameInAnyBatch<5880, 84>();
  checkSampleSameInAnyBatch<2049, 13>();
  checkSampleSameInAnyBatch<40, 10>();
}
