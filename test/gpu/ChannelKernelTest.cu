//===- ChannelKernelTest.cu - per-channel and element-wise kernels *- CUDA -*-===//
//
// The per-channel kernels (bias, global average pooling, batch norm),
// fold_batch_norm, the element-wise kernels and dropout_mask, each against
// its CPU twin at the shapes of KernelCases.h. The harness, and why each
// tolerance is what it is: KernelTest.h.
//
//===----------------------------------------------------------------------===//

#include "KernelTest.h"

using namespace netc::kgtest;

class CudaChannels : public CudaKernel {};
class CudaFold : public CudaKernel {};
class CudaElementwise : public CudaKernel {};

//===----------------------------------------------------------------------===//
// Per-channel kernels: bias, global average pooling, batch norm
//===----------------------------------------------------------------------===//

template <int C, int S> void checkChannels(const char *name, const char *params) {
  using Ref = ref::Channels<C, S>;
  constexpr float kEps = 1.001e-5f, kMomentum = 0.99f; // resnet50_head's
  // Not 2: a channel of two nearly equal values (S = 1) has a variance near
  // 0 and a scale near 1/sqrt(eps), where one rounding of x*scale is
  // already beyond any fair tolerance of y.
  for (const int n : {3, 16}) {
    const std::string shape = shapeOf(params, name, n);
    const std::uint64_t seed = seedOf(name) + std::uint64_t(n);
    const Dims xDims{n, C, S}, cDims{C}, pooledDims{n, C};
    const std::size_t count = product(xDims);

    // bias_add, bias_grad, global_avg_pool (+ grad).
    {
      const auto x = uniform(count, seed), b = uniform(C, seed + 1), dy = uniform(count, seed + 2),
                 dPooled = uniform(product(pooledDims), seed + 3);
      auto y = nans(count), db = nans(C), pooled = nans(product(pooledDims)), dx = nans(count);
      Ref::bias_add(n, x.data(), b.data(), y.data());
      Ref::bias_grad(n, dy.data(), db.data());
      Ref::global_avg_pool(n, x.data(), pooled.data());
      Ref::global_avg_pool_grad(n, dPooled.data(), dx.data());

      DeviceBuffer<float> gx(x), gb(b), gdy(dy), gdPooled(dPooled), gy(count), gdb(C),
          gPooled(pooled.size()), gdx(count);
      netc::cuda::bias_add<C, S>(n, gx, gb, gy);
      netc::cuda::bias_grad<C, S>(n, gdy, gdb);
      netc::cuda::global_avg_pool<C, S>(n, gx, gPooled);
      netc::cuda::global_avg_pool_grad<C, S>(n, gdPooled, gdx);
      expectCleanLaunches("bias and global average pooling" + shape);
      EXPECT_TRUE(matches("bias_add" + shape, "y", xDims, gy.download(), y, kExact));
      EXPECT_TRUE(matches("bias_grad" + shape, "db", cDims, gdb.download(), db, kReduction));
      EXPECT_TRUE(matches("global_avg_pool" + shape, "y", pooledDims, gPooled.download(), pooled,
                          kForward));
      EXPECT_TRUE(matches("global_avg_pool_grad" + shape, "dx", xDims, gdx.download(), dx, kExact));
    }

    // Batch norm: inputs with a mean away from 0, positive variances.
    const auto x = uniform(count, seed + 10, -0.5f, 1.5f), dy = uniform(count, seed + 11);
    const auto gamma = uniform(C, seed + 12, 0.5f, 1.5f), beta = uniform(C, seed + 13, -0.5f, 0.5f),
               mean = uniform(C, seed + 14, -0.5f, 0.5f), var = uniform(C, seed + 15, 0.1f, 2.f);

    // batch_norm_inference (+ grad).
    {
      auto y = nans(count), dx = nans(count);
      Ref::batch_norm_inference(n, x.data(), gamma.data(), beta.data(), mean.data(), var.data(),
                                kEps, y.data());
      Ref::batch_norm_inference_grad(n, dy.data(), gamma.data(), var.data(), kEps, dx.data());
      DeviceBuffer<float> gx(x), gdy(dy), gGamma(gamma), gBeta(beta), gMean(mean), gVar(var),
          gy(count), gdx(count);
      netc::cuda::batch_norm_inference<C, S>(n, gx, gGamma, gBeta, gMean, gVar, kEps, gy);
      netc::cuda::batch_norm_inference_grad<C, S>(n, gdy, gGamma, gVar, kEps, gdx);
      expectCleanLaunches("batch_norm_inference (+ grad)" + shape);
      EXPECT_TRUE(matches("batch_norm_inference" + shape, "y", xDims, gy.download(), y, kForward));
      EXPECT_TRUE(matches("batch_norm_inference_grad" + shape, "dx", xDims, gdx.download(), dx,
                          kElementwise));
    }

    // batch_norm_train, then its gradient from the CPU's batch statistics.
    {
      auto runningMean = mean, runningVar = var;
      auto y = nans(count), batchMean = nans(C), batchInvStd = nans(C);
      Ref::batch_norm_train(n, x.data(), gamma.data(), beta.data(), runningMean.data(),
                            runningVar.data(), kEps, kMomentum, y.data(), batchMean.data(),
                            batchInvStd.data());
      auto dx = nans(count), dgamma = nans(C), dbeta = nans(C);
      Ref::batch_norm_train_grad(n, dy.data(), x.data(), gamma.data(), batchMean.data(),
                                 batchInvStd.data(), dx.data(), dgamma.data(), dbeta.data());

      DeviceBuffer<float> gx(x), gdy(dy), gGamma(gamma), gBeta(beta), gRunningMean(mean),
          gRunningVar(var), gy(count), gBatchMean(C), gBatchInvStd(C), gCpuMean(batchMean),
          gCpuInvStd(batchInvStd), gdx(count), gdGamma(C), gdBeta(C), gdGamma2(C), gdBeta2(C);
      netc::cuda::batch_norm_train<C, S>(n, gx, gGamma, gBeta, gRunningMean, gRunningVar, kEps,
                                         kMomentum, gy, gBatchMean, gBatchInvStd);
      netc::cuda::batch_norm_train_grad<C, S>(n, gdy, gx, gGamma, gCpuMean, gCpuInvStd, gdx,
                                              gdGamma, gdBeta);
      netc::cuda::batch_norm_train_grad<C, S>(n, gdy, gx, gGamma, gCpuMean, gCpuInvStd, nullptr,
                                              gdGamma2, gdBeta2);
      expectCleanLaunches("batch_norm_train (+ grad)" + shape);
      const std::string train = "batch_norm_train" + shape, grad = "batch_norm_train_grad" + shape;
      EXPECT_TRUE(matches(train, "y", xDims, gy.download(), y, kForward));
      EXPECT_TRUE(
          matches(train, "batch_mean", cDims, gBatchMean.download(), batchMean, kElementwise));
      EXPECT_TRUE(matches(train, "batch_inv_std", cDims, gBatchInvStd.download(), batchInvStd,
                          kElementwise));
      EXPECT_TRUE(matches(train, "running_mean (updated in place)", cDims, gRunningMean.download(),
                          runningMean, kElementwise));
      EXPECT_TRUE(matches(train, "running_var (updated in place)", cDims, gRunningVar.download(),
                          runningVar, kElementwise));
      EXPECT_TRUE(matches(grad, "dx", xDims, gdx.download(), dx, kForward));
      const auto gpuDgamma = gdGamma.download(), gpuDbeta = gdBeta.download();
      EXPECT_TRUE(matches(grad, "dgamma", cDims, gpuDgamma, dgamma, kReduction));
      EXPECT_TRUE(matches(grad, "dbeta", cDims, gpuDbeta, dbeta, kReduction));
      EXPECT_TRUE(matches(grad + " with dx = nullptr, against the GPU's first run", "dgamma", cDims,
                          gdGamma2.download(), gpuDgamma, kExact));
      EXPECT_TRUE(matches(grad + " with dx = nullptr, against the GPU's first run", "dbeta", cDims,
                          gdBeta2.download(), gpuDbeta, kExact));
    }
  }
}

#define NETC_KG_CHANNEL_TEST(name, ...)                                                            \
  TEST_F(CudaChannels, name) { checkChannels<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_CHANNEL_CASES(NETC_KG_CHANNEL_TEST)

//===----------------------------------------------------------------------===//
// fold_batch_norm
//===----------------------------------------------------------------------===//

template <int F, int K> void checkFold(const char *name, const char *params) {
  const std::uint64_t seed = seedOf(name);
  const auto w = uniform(std::size_t(F) * K, seed), b = uniform(F, seed + 1),
             gamma = uniform(F, seed + 2, 0.5f, 1.5f), beta = uniform(F, seed + 3),
             mean = uniform(F, seed + 4), var = uniform(F, seed + 5, 0.1f, 2.f);
  constexpr float kEps = 1.001e-5f;
  for (const bool withBias : {false, true}) { // resnet50_head's convs have none
    const std::string shape =
        std::string("<") + params + "> (" + name + "), b " + (withBias ? "given" : "= nullptr");
    auto wOut = nans(w.size()), bOut = nans(F);
    ref::Fold<F, K>::fold_batch_norm(w.data(), withBias ? b.data() : nullptr, gamma.data(),
                                     beta.data(), mean.data(), var.data(), kEps, wOut.data(),
                                     bOut.data());
    DeviceBuffer<float> gw(w), gb(b), gGamma(gamma), gBeta(beta), gMean(mean), gVar(var),
        gwOut(w.size()), gbOut(F);
    netc::cuda::fold_batch_norm<F, K>(gw, withBias ? gb.get() : nullptr, gGamma, gBeta, gMean, gVar,
                                      kEps, gwOut, gbOut);
    expectCleanLaunches("fold_batch_norm" + shape);
    EXPECT_TRUE(matches("fold_batch_norm" + shape, "w_out", Dims{F, K}, gwOut.download(), wOut,
                        kElementwise));
    EXPECT_TRUE(
        matches("fold_batch_norm" + shape, "b_out", Dims{F}, gbOut.download(), bOut, kElementwise));
  }
}

#define NETC_KG_FOLD_TEST(name, ...)                                                               \
  TEST_F(CudaFold, name) { checkFold<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_FOLD_CASES(NETC_KG_FOLD_TEST)

//===----------------------------------------------------------------------===//
// Element-wise kernels and dropout_mask
//===----------------------------------------------------------------------===//

template <int E> void checkElementwise(const char *name, const char *params) {
  using Ref = ref::Elementwise<E>;
  for (const int n : {3, 128}) {
    const std::string shape = shapeOf(params, name, n);
    const std::uint64_t seed = seedOf(name) + std::uint64_t(n);
    const Dims dims{n, E};
    const std::size_t count = product(dims);
    const auto a = uniform(count, seed, -4.f, 4.f), b = uniform(count, seed + 1),
               dy = uniform(count, seed + 2);
    auto add = nans(count), mul = nans(count), copy = nans(count), relu = nans(count),
         sigmoid = nans(count), tanh = nans(count), reluGrad = nans(count),
         sigmoidGrad = nans(count), tanhGrad = nans(count);
    Ref::add(n, a.data(), b.data(), add.data());
    Ref::mul(n, a.data(), b.data(), mul.data());
    Ref::copy(n, a.data(), copy.data());
    Ref::relu(n, a.data(), relu.data());
    Ref::sigmoid(n, a.data(), sigmoid.data());
    Ref::tanh(n, a.data(), tanh.data());
    // The gradients take the forward outputs: the CPU's, on both sides.
    Ref::relu_grad(n, dy.data(), relu.data(), reluGrad.data());
    Ref::sigmoid_grad(n, dy.data(), sigmoid.data(), sigmoidGrad.data());
    Ref::tanh_grad(n, dy.data(), tanh.data(), tanhGrad.data());

    DeviceBuffer<float> ga(a), gb(b), gdy(dy), gRelu(relu), gSigmoid(sigmoid), gTanh(tanh),
        gAdd(count), gMul(count), gCopy(count), gReluOut(count), gSigmoidOut(count),
        gTanhOut(count), gReluGrad(count), gSigmoidGrad(count), gTanhGrad(count);
    netc::cuda::add<E>(n, ga, gb, gAdd);
    netc::cuda::mul<E>(n, ga, gb, gMul);
    netc::cuda::copy<E>(n, ga, gCopy);
    netc::cuda::relu<E>(n, ga, gReluOut);
    netc::cuda::sigmoid<E>(n, ga, gSigmoidOut);
    netc::cuda::tanh<E>(n, ga, gTanhOut);
    netc::cuda::relu_grad<E>(n, gdy, gRelu, gReluGrad);
    netc::cuda::sigmoid_grad<E>(n, gdy, gSigmoid, gSigmoidGrad);
    netc::cuda::tanh_grad<E>(n, gdy, gTanh, gTanhGrad);
    // zeros: E floats (one sample's extent, as a parameter's gradient), not n*E.
    DeviceBuffer<float> gZeros(a);
    netc::cuda::zeros<E>(gZeros);
    std::vector<float> zeros = a;
    std::fill(zeros.begin(), zeros.begin() + E, 0.f);
    expectCleanLaunches("element-wise kernels" + shape);
    EXPECT_TRUE(matches("add" + shape, "y", dims, gAdd.download(), add, kExact));
    EXPECT_TRUE(matches("mul" + shape, "y", dims, gMul.download(), mul, kExact));
    EXPECT_TRUE(matches("copy" + shape, "y", dims, gCopy.download(), copy, kExact));
    EXPECT_TRUE(matches("zeros" + shape, "y", dims, gZeros.download(), zeros, kExact));
    EXPECT_TRUE(matches("relu" + shape, "y", dims, gReluOut.download(), relu, kExact));
    EXPECT_TRUE(
        matches("sigmoid" + shape, "y", dims, gSigmoidOut.download(), sigmoid, kElementwise));
    EXPECT_TRUE(matches("tanh" + shape, "y", dims, gTanhOut.download(), tanh, kElementwise));
    EXPECT_TRUE(matches("relu_grad" + shape, "dx", dims, gReluGrad.download(), reluGrad, kExact));
    EXPECT_TRUE(matches("sigmoid_grad" + shape, "dx", dims, gSigmoidGrad.download(), sigmoidGrad,
                        kElementwise));
    EXPECT_TRUE(
        matches("tanh_grad" + shape, "dx", dims, gTanhGrad.download(), tanhGrad, kElementwise));

    // dropout_mask: the seed is read from args[cursor]; the other entry
    // holds another seed, so a kernel reading the wrong one differs.
    struct Dropout {
      float rate;
      std::uint64_t seed, stream;
    };
    for (const Dropout d :
         {Dropout{0.25f, 12345, 0}, Dropout{0.5f, 0x9E3779B97F4A7C15ull, 1}, Dropout{0.5f, 7, 3}}) {
      const std::string what = "dropout_mask" + shape + " rate " + std::to_string(d.rate) +
                               " seed " + std::to_string(d.seed) + " stream " +
                               std::to_string(d.stream);
      auto mask = nans(count);
      Ref::dropout_mask(n, d.rate, d.seed, d.stream, mask.data());
      std::vector<netc::cuda::StepArgs> args{sentinelArgs(0), sentinelArgs(1)};
      args[1].seed = d.seed;
      args[0].seed = d.seed + 1;
      DeviceStep step(args, /*cursor=*/1);
      DeviceBuffer<float> gMask(count);
      netc::cuda::dropout_mask<E>(n, d.rate, step.step(), d.stream, gMask);
      expectCleanLaunches(what);
      EXPECT_TRUE(matches(what, "mask", dims, gMask.download(), mask, kExact));
      if (count >= 10000) { // both sides share Random.h: check it drops about `rate`
        const auto dropped = std::count(mask.begin(), mask.end(), 0.f);
        EXPECT_NEAR(double(dropped) / double(count), d.rate, 0.02) << what;
      }
    }
  }
}

#define NETC_KG_ELEMENTWISE_TEST(name, ...)                                                        \
  TEST_F(CudaElementwise, name) { checkElementwise<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_ELEMENTWISE_CASES(NETC_KG_ELEMENTWISE_TEST)
