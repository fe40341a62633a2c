//===- LayerKernelTest.cu - conv, dense and pooling kernels -----*- CUDA -*-===//
//
// conv2d, dense, their gradients and their fused forms, and pooling, each
// against its CPU twin at the shapes of KernelCases.h. The harness, and why
// each tolerance is what it is: KernelTest.h.
//
//===----------------------------------------------------------------------===//

#include "KernelTest.h"

using namespace netc::kgtest;

class CudaConv : public CudaKernel {};
class CudaFusedConv : public CudaKernel {};
class CudaDense : public CudaKernel {};
class CudaFusedDense : public CudaKernel {};
class CudaPool : public CudaKernel {};

//===----------------------------------------------------------------------===//
// conv2d, conv2d_grad_input, conv2d_grad_weight
//===----------------------------------------------------------------------===//

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW>
void checkConv(const char *name, const char *params) {
  using Ref = ref::Conv<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>;
  for (const int n : {1, 6}) {
    const std::string shape = shapeOf(params, name, n);
    const std::uint64_t seed = seedOf(name) + std::uint64_t(n);
    const Dims xDims{n, C, H, W}, wDims{F, C, KH, KW}, yDims{n, F, OH, OW};
    const auto x = uniform(product(xDims), seed), w = uniform(product(wDims), seed + 1),
               dy = uniform(product(yDims), seed + 2);
    auto y = nans(product(yDims)), dx = nans(product(xDims)), dw = nans(product(wDims));
    Ref::conv2d(n, x.data(), w.data(), y.data());
    Ref::conv2d_grad_input(n, dy.data(), w.data(), dx.data());
    Ref::conv2d_grad_weight(n, dy.data(), x.data(), dw.data());

    DeviceBuffer<float> gx(x), gw(w), gdy(dy), gy(y.size()), gdx(dx.size()), gdw(dw.size());
    netc::cuda::conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, gx, gw, gy);
    netc::cuda::conv2d_grad_input<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, gdy, gw, gdx);
    netc::cuda::conv2d_grad_weight<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW>(n, gdy, gx, gdw);
    expectCleanLaunches("conv2d and its gradients " + shape);
    EXPECT_TRUE(matches("conv2d" + shape, "y", yDims, gy.download(), y, kForward));
    EXPECT_TRUE(matches("conv2d_grad_input" + shape, "dx", xDims, gdx.download(), dx, kForward));
    EXPECT_TRUE(matches("conv2d_grad_weight" + shape, "dw", wDims, gdw.download(), dw, kReduction));
  }
}

#define NETC_KG_CONV_TEST(name, ...)                                                               \
  TEST_F(CudaConv, name) { checkConv<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_CONV_CASES(NETC_KG_CONV_TEST)

//===----------------------------------------------------------------------===//
// fused_conv2d, fused_conv2d_grad
//===----------------------------------------------------------------------===//

template <int C, int H, int W, int F, int KH, int KW, int SH, int SW, int PT, int PL, int OH,
          int OW, int ACT, int POOL, int PKH, int PKW, int PSH, int PSW, int PPT, int PPL, int POH,
          int POW, bool BIAS>
void checkFusedConv(const char *name, const char *params) {
  using Ref = ref::FusedConv<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW, ACT, POOL, PKH, PKW, PSH,
                             PSW, PPT, PPL, POH, POW, BIAS>;
  auto forward = [](int n, const float *x, const float *w, const float *b, float *y, float *saved) {
    netc::cuda::fused_conv2d<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW, ACT, POOL, PKH, PKW, PSH,
                             PSW, PPT, PPL, POH, POW, BIAS>(n, x, w, b, y, saved);
  };
  auto backward = [](int n, const float *dy, const float *x, const float *w, const float *y,
                     const float *saved, float *scratch, float *dx, float *dw, float *db) {
    netc::cuda::fused_conv2d_grad<C, H, W, F, KH, KW, SH, SW, PT, PL, OH, OW, ACT, POOL, PKH, PKW,
                                  PSH, PSW, PPT, PPL, POH, POW, BIAS>(n, dy, x, w, y, saved,
                                                                      scratch, dx, dw, db);
  };
  // A max-pooled sigmoid or tanh would make the argmax depend on 1-ulp
  // differences of expf/tanhf; no model has one, and the list has none.
  static_assert(POOL != 1 || ACT <= 1, "KernelCases.h: max pooling only after relu or none");
  // ACT 0/1 on quantized inputs: every value exact (see the file comment).
  constexpr Tolerance forwardTolerance = ACT <= 1 ? kExact : kElementwise;
  constexpr Tolerance dzTolerance = ACT <= 1 ? kExact : kElementwise;
  constexpr bool hasDz = POOL != 0 || ACT != 0;

  for (const int n : {1, 5}) {
    const std::string shape = shapeOf(params, name, n);
    const std::uint64_t seed = seedOf(name) + std::uint64_t(n);
    const Dims xDims{n, C, H, W}, wDims{F, C, KH, KW}, bDims{F}, zDims{n, F, OH, OW},
        yDims{n, F, POH, POW};
    // saved: the argmax per window (max pooling) or the activation (else,
    // with an activation); nothing otherwise.
    const Dims savedDims = POOL == 1 ? yDims : ACT != 0 ? zDims : Dims{0};
    const bool hasSaved = product(savedDims) > 0;

    // Forward, on quantized inputs.
    {
      const auto x = quantized(product(xDims), seed, 8, 1.f / 8);
      const auto w = quantized(product(wDims), seed + 1, 16, 1.f / 64);
      const auto b = quantized(product(bDims), seed + 2, 16, 1.f / 64);
      auto y = nans(product(yDims)), saved = nans(product(savedDims));
      Ref::fused_conv2d(n, x.data(), w.data(), orNull(BIAS, b), y.data(),
                        hasSaved ? saved.data() : nullptr);

      DeviceBuffer<float> gx(x), gw(w), gb(b), gy(y.size()), gsaved(saved.size()),
          gyInference(y.size());
      forward(n, gx, gw, BIAS ? gb.get() : nullptr, gy, hasSaved ? gsaved.get() : nullptr);
      forward(n, gx, gw, BIAS ? gb.get() : nullptr, gyInference, nullptr);
      expectCleanLaunches("fused_conv2d" + shape);
      EXPECT_TRUE(matches("fused_conv2d" + shape, "y", yDims, gy.download(), y, forwardTolerance));
      if (hasSaved)
        EXPECT_TRUE(matches(
            "fused_conv2d" + shape, POOL == 1 ? "saved (argmax per window)" : "saved (activation)",
            savedDims, gsaved.download(), saved, POOL == 1 ? kExact : forwardTolerance));
      EXPECT_TRUE(matches("fused_conv2d" + shape + " with saved = nullptr", "y", yDims,
                          gyInference.download(), y, forwardTolerance));
    }

    // Backward, on continuous inputs, from the CPU forward's y and saved.
    {
      const auto x = uniform(product(xDims), seed + 3);
      const auto w = uniform(product(wDims), seed + 4, -0.2f, 0.2f);
      const auto b = uniform(product(bDims), seed + 5, -0.2f, 0.2f);
      const auto dy = uniform(product(yDims), seed + 6);
      auto y = nans(product(yDims)), saved = nans(product(savedDims));
      Ref::fused_conv2d(n, x.data(), w.data(), orNull(BIAS, b), y.data(),
                        hasSaved ? saved.data() : nullptr);
      auto scratch = nans(product(zDims)), dx = nans(product(xDims)), dw = nans(product(wDims)),
           db = nans(product(bDims));
      Ref::fused_conv2d_grad(n, dy.data(), x.data(), w.data(), y.data(),
                             hasSaved ? saved.data() : nullptr, scratch.data(), dx.data(),
                             dw.data(), BIAS ? db.data() : nullptr);

      DeviceBuffer<float> gdy(dy), gx(x), gw(w), gy(y), gsaved(saved), gscratch(scratch.size()),
          gdx(dx.size()), gdw(dw.size()), gdb(db.size()), gdw2(dw.size()), gdb2(db.size());
      backward(n, gdy, gx, gw, gy, hasSaved ? gsaved.get() : nullptr, gscratch, gdx, gdw,
               BIAS ? gdb.get() : nullptr);
      // As emitted for a first layer: no dx.
      backward(n, gdy, gx, gw, gy, hasSaved ? gsaved.get() : nullptr, gscratch, nullptr, gdw2,
               BIAS ? gdb2.get() : nullptr);
      expectCleanLaunches("fused_conv2d_grad" + shape);
      const std::string kernel = "fused_conv2d_grad" + shape;
      if (hasDz)
        EXPECT_TRUE(
            matches(kernel, "scratch (dz)", zDims, gscratch.download(), scratch, dzTolerance));
      EXPECT_TRUE(matches(kernel, "dx", xDims, gdx.download(), dx, kForward));
      const auto gpuDw = gdw.download();
      EXPECT_TRUE(matches(kernel, "dw", wDims, gpuDw, dw, kReduction));
      EXPECT_TRUE(matches(kernel + " with dx = nullptr, against the GPU's first run", "dw", wDims,
                          gdw2.download(), gpuDw, kExact));
      if (BIAS) {
        const auto gpuDb = gdb.download();
        EXPECT_TRUE(matches(kernel, "db", bDims, gpuDb, db, kReduction));
        EXPECT_TRUE(matches(kernel + " with dx = nullptr, against the GPU's first run", "db", bDims,
                            gdb2.download(), gpuDb, kExact));
      }
    }
  }
}

#define NETC_KG_FUSED_CONV_TEST(name, ...)                                                         \
  TEST_F(CudaFusedConv, name) { checkFusedConv<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_FUSED_CONV_CASES(NETC_KG_FUSED_CONV_TEST)

//===----------------------------------------------------------------------===//
// dense, dense_grad_input, dense_grad_weight; fused_dense, fused_dense_grad
//===----------------------------------------------------------------------===//

template <int K, int M> void checkDense(const char *name, const char *params) {
  using Ref = ref::Dense<K, M>;
  for (const int n : {1, 37, 128}) {
    const std::string shape = shapeOf(params, name, n);
    const std::uint64_t seed = seedOf(name) + std::uint64_t(n);
    const Dims xDims{n, K}, wDims{M, K}, yDims{n, M};
    const auto x = uniform(product(xDims), seed), w = uniform(product(wDims), seed + 1),
               dy = uniform(product(yDims), seed + 2);
    auto y = nans(product(yDims)), dx = nans(product(xDims)), dw = nans(product(wDims));
    Ref::dense(n, x.data(), w.data(), y.data());
    Ref::dense_grad_input(n, dy.data(), w.data(), dx.data());
    Ref::dense_grad_weight(n, dy.data(), x.data(), dw.data());

    DeviceBuffer<float> gx(x), gw(w), gdy(dy), gy(y.size()), gdx(dx.size()), gdw(dw.size());
    netc::cuda::dense<K, M>(n, gx, gw, gy);
    netc::cuda::dense_grad_input<K, M>(n, gdy, gw, gdx);
    netc::cuda::dense_grad_weight<K, M>(n, gdy, gx, gdw);
    expectCleanLaunches("dense and its gradients " + shape);
    EXPECT_TRUE(matches("dense" + shape, "y", yDims, gy.download(), y, kForward));
    EXPECT_TRUE(matches("dense_grad_input" + shape, "dx", xDims, gdx.download(), dx, kForward));
    EXPECT_TRUE(matches("dense_grad_weight" + shape, "dw", wDims, gdw.download(), dw, kReduction));
  }
}

#define NETC_KG_DENSE_TEST(name, ...)                                                              \
  TEST_F(CudaDense, name) { checkDense<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_DENSE_CASES(NETC_KG_DENSE_TEST)

template <int K, int M, int ACT, bool BIAS>
void checkFusedDense(const char *name, const char *params) {
  using Ref = ref::FusedDense<K, M, ACT, BIAS>;
  for (const int n : {1, 37, 128}) {
    const std::string shape = shapeOf(params, name, n);
    const std::uint64_t seed = seedOf(name) + std::uint64_t(n);
    const Dims xDims{n, K}, wDims{M, K}, bDims{M}, yDims{n, M};
    // Weights scaled so that pre-activations stay O(1): sigmoid and tanh
    // keep gradients worth comparing.
    const float scale = 1.f / std::sqrt(float(K));
    const auto x = uniform(product(xDims), seed),
               w = uniform(product(wDims), seed + 1, -scale, scale),
               b = uniform(product(bDims), seed + 2), dy = uniform(product(yDims), seed + 3);
    auto y = nans(product(yDims));
    Ref::fused_dense(n, x.data(), w.data(), orNull(BIAS, b), y.data());
    auto scratch = nans(product(yDims)), dx = nans(product(xDims)), dw = nans(product(wDims)),
         db = nans(product(bDims));
    Ref::fused_dense_grad(n, dy.data(), x.data(), w.data(), y.data(), scratch.data(), dx.data(),
                          dw.data(), BIAS ? db.data() : nullptr);

    DeviceBuffer<float> gx(x), gw(w), gb(b), gdy(dy), gyOut(y.size()), gy(y),
        gscratch(scratch.size()), gdx(dx.size()), gdw(dw.size()), gdb(db.size());
    netc::cuda::fused_dense<K, M, ACT, BIAS>(n, gx, gw, BIAS ? gb.get() : nullptr, gyOut);
    netc::cuda::fused_dense_grad<K, M, ACT, BIAS>(n, gdy, gx, gw, gy, gscratch, gdx, gdw,
                                                  BIAS ? gdb.get() : nullptr);
    expectCleanLaunches("fused_dense and fused_dense_grad" + shape);
    EXPECT_TRUE(matches("fused_dense" + shape, "y", yDims, gyOut.download(), y, kForward));
    const std::string kernel = "fused_dense_grad" + shape;
    if (ACT != 0)
      EXPECT_TRUE(matches(kernel, "scratch (dz)", yDims, gscratch.download(), scratch,
                          ACT == 1 ? kExact : kElementwise));
    EXPECT_TRUE(matches(kernel, "dx", xDims, gdx.download(), dx, kForward));
    EXPECT_TRUE(matches(kernel, "dw", wDims, gdw.download(), dw, kReduction));
    if (BIAS)
      EXPECT_TRUE(matches(kernel, "db", bDims, gdb.download(), db, kReduction));
  }
}

#define NETC_KG_FUSED_DENSE_TEST(name, ...)                                                        \
  TEST_F(CudaFusedDense, name) { checkFusedDense<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_FUSED_DENSE_CASES(NETC_KG_FUSED_DENSE_TEST)

//===----------------------------------------------------------------------===//
// max_pool2d, avg_pool2d and their gradients
//===----------------------------------------------------------------------===//

template <int C, int H, int W, int KH, int KW, int SH, int SW, int PT, int PL, int OH, int OW>
void checkPool(const char *name, const char *params) {
  using Ref = ref::Pool<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>;
  for (const int n : {1, 4}) {
    const std::string shape = shapeOf(params, name, n);
    const std::uint64_t seed = seedOf(name) + std::uint64_t(n);
    const Dims xDims{n, C, H, W}, yDims{n, C, OH, OW};
    // Nine distinct values: most windows hold ties, which the first maximum
    // (row-major in the window) must win on both sides.
    const auto x = quantized(product(xDims), seed, 4, 0.25f);
    const auto dy = uniform(product(yDims), seed + 1);
    auto maxY = nans(product(yDims)), maxDx = nans(product(xDims)), avgY = nans(product(yDims)),
         avgDx = nans(product(xDims));
    Ref::max_pool2d(n, x.data(), maxY.data());
    Ref::max_pool2d_grad(n, dy.data(), x.data(), maxDx.data());
    Ref::avg_pool2d(n, x.data(), avgY.data());
    Ref::avg_pool2d_grad(n, dy.data(), avgDx.data());

    DeviceBuffer<float> gx(x), gdy(dy), gMaxY(maxY.size()), gMaxDx(maxDx.size()),
        gAvgY(avgY.size()), gAvgDx(avgDx.size());
    netc::cuda::max_pool2d<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, gx, gMaxY);
    netc::cuda::max_pool2d_grad<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, gdy, gx, gMaxDx);
    netc::cuda::avg_pool2d<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, gx, gAvgY);
    netc::cuda::avg_pool2d_grad<C, H, W, KH, KW, SH, SW, PT, PL, OH, OW>(n, gdy, gAvgDx);
    expectCleanLaunches("pooling" + shape);
    EXPECT_TRUE(matches("max_pool2d" + shape, "y", yDims, gMaxY.download(), maxY, kExact));
    EXPECT_TRUE(matches("max_pool2d_grad" + shape, "dx", xDims, gMaxDx.download(), maxDx, kExact));
    EXPECT_TRUE(matches("avg_pool2d" + shape, "y", yDims, gAvgY.download(), avgY, kExact));
    EXPECT_TRUE(matches("avg_pool2d_grad" + shape, "dx", xDims, gAvgDx.download(), avgDx, kExact));
  }
}

#define NETC_KG_POOL_TEST(name, ...)                                                               \
  TEST_F(CudaPool, name) { checkPool<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_POOL_CASES(NETC_KG_POOL_TEST)
