//===- KernelTest.cu - every CUDA kernel against its CPU twin ---*- CUDA -*-===//
//
// Each launcher of net/Kernels/cuda (namespace netc::cuda) runs on random
// inputs with fixed seeds at the shapes of KernelCases.h (the template
// arguments netc's emitters pass for models/*.net, resnet50_head's kinds of
// layer at reduced size, and a few variants), and its outputs are compared
// with the CPU kernel of the same name (netc::kernels, built apart in
// KernelReference.cpp) on the same inputs. Where the CUDA kernel reads a
// Step instead of a scalar (dropout's seed, the learning rate, Adam's t) the
// test puts the scalar into a StepArgs that is not the first of its array, so
// a kernel that ignored the cursor would read another value; cross_entropy and
// count_correct are read back from StepArgs::loss / ::correct, the other
// entries checked untouched. gather_batch has no CPU twin and is checked
// against a table lookup on the host. Every output buffer starts as NaN on
// both sides, so an element a kernel fails to write fails the comparison.
// Backward kernels get the CPU forward's outputs (y, saved, batch statistics)
// as inputs on both sides, so each kernel is judged on identical inputs.
//
// Tolerances (element i passes when |gpu - cpu| <= rel*|cpu| + ofMax*max|cpu|,
// KernelCheck.h):
//   exact        equal values. Kernels with no arithmetic or the same single
//                IEEE operations in the same order on both sides: copy, add,
//                mul, relu, relu_grad, bias_add, dropout masks (the same
//                Random.h functions), max pooling and its argmax-routed
//                gradient (ties included: inputs are quantized so that windows
//                hold equal values, and the first maximum must win on both
//                sides), average pooling and its gradient (same summation
//                order, IEEE division on both), global_avg_pool_grad,
//                gather_batch, count_correct, and
//                fused_conv2d's forward outputs and argmax for ACT 0/1: its
//                inputs are multiples of 1/8 and 1/64, so every partial sum
//                is exact in float and the summation order cannot matter.
//   elementwise  rel 1e-6, ofMax 1e-6: the same float formula, which may
//                differ by FMA contraction (nvcc contracts a*b+c, the
//                x86-64-v3 host build may too, differently) or by the 1-2 ulp
//                of CUDA's expf/tanhf against libm (sigmoid, tanh and their
//                gradients, batch norm's affine maps, fold_batch_norm, the
//                optimizers, the fused kernels' dz with sigmoid/tanh,
//                softmax_cross_entropy_grad, whose (p - onehot) * (1/n) may
//                as well be written (p - onehot) / n).
//   forward      rel 1e-5, ofMax 1e-5: float sums of up to ~10^4 products
//                (conv C*KH*KW, dense K, conv grad_input F*KH*KW) in another
//                order; the observed error is ~1e-7..1e-6 of the largest
//                magnitude; a wrong index or tap is off by O(1) of it.
//   reduction    rel 1e-4, ofMax 1e-4: sums over the batch (conv and dense
//                weight gradients, bias_grad, batch norm's dgamma/dbeta,
//                several thousand terms), which the GPU adds in double in a
//                fixed tree or in float 16-wide tiles and the CPU in float
//                in its own order; relative to the largest magnitude, as
//                terms of both signs cancel in individual elements.
//   cross_entropy's loss: rel 1e-6 (a double sum in another order, cast).
//
// Without a usable device (no driver, no GPU, or one below compute
// capability 8.0, which the binary has no code for) every test is skipped
// with "no usable CUDA device: ..."; the check runs in the fixture's SetUp,
// never at static initialisation, so test discovery does not touch the GPU.
//
//===----------------------------------------------------------------------===//

#include "KernelCases.h"
#include "KernelCheck.h"

#include "net/Kernels/cuda/Kernels.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace netc::kgtest {
namespace {

namespace cu = netc::cuda;

constexpr Tolerance kExact{"exact", 0, 0};
constexpr Tolerance kElementwise{"elementwise", 1e-6, 1e-6};
constexpr Tolerance kForward{"forward", 1e-5, 1e-5};
constexpr Tolerance kReduction{"reduction", 1e-4, 1e-4};

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Dims = std::vector<std::int64_t>;

/// Throws (GoogleTest reports it as the test's failure) when a CUDA call of
/// the test itself fails.
void cudaOk(cudaError_t status, const char *call, const char *file, int line) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call +
                             " failed: " + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
}
#define KG_CUDA(call) cudaOk((call), #call, __FILE__, __LINE__)

/// Why no device can run the tests, "" when one can. Asked once, from the
/// first test's SetUp.
const std::string &deviceProblem() {
  static const std::string problem = [] {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess)
      return std::string("cudaGetDeviceCount failed with ") + cudaGetErrorName(status) + " (" +
             cudaGetErrorString(status) + ")";
    if (count == 0)
      return std::string("cudaGetDeviceCount found none");
    cudaDeviceProp prop;
    const cudaError_t props = cudaGetDeviceProperties(&prop, 0);
    if (props != cudaSuccess)
      return std::string("cudaGetDeviceProperties failed with ") + cudaGetErrorName(props);
    if (prop.major < 8)
      return std::string("device 0 (") + prop.name + ") has compute capability " +
             std::to_string(prop.major) + "." + std::to_string(prop.minor) +
             "; these tests are built for 8.0 and 9.0 and later";
    return std::string();
  }();
  return problem;
}

/// A device array of T, NaN-filled (0xFF bytes: NaN for floats, -1 for ints).
template <typename T> class DeviceBuffer {
public:
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    KG_CUDA(cudaMalloc(&data_, bytes()));
    KG_CUDA(cudaMemset(data_, 0xFF, bytes()));
  }
  explicit DeviceBuffer(const std::vector<T> &host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  operator T *() const { return data_; }
  T *get() const { return data_; }

  void upload(const std::vector<T> &host) {
    if (host.size() != count_)
      throw std::logic_error("DeviceBuffer::upload: size mismatch");
    KG_CUDA(cudaMemcpy(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    KG_CUDA(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

private:
  std::size_t bytes() const { return (count_ ? count_ : 1) * sizeof(T); }
  T *data_ = nullptr;
  std::size_t count_;
};

/// StepArgs on the device with a cursor: the Step the kernels read.
class DeviceStep {
public:
  DeviceStep(const std::vector<cu::StepArgs> &args, std::int64_t cursor)
      : args_(args), cursor_(std::vector<std::int64_t>{cursor}) {}
  cu::Step step() const { return cu::Step{args_.get(), cursor_.get()}; }
  std::vector<cu::StepArgs> args() const { return args_.download(); }
  std::int64_t cursor() const { return cursor_.download()[0]; }

private:
  DeviceBuffer<cu::StepArgs> args_;
  DeviceBuffer<std::int64_t> cursor_;
};

/// StepArgs whose every field is a recognisable sentinel.
cu::StepArgs sentinelArgs(int k) {
  cu::StepArgs args;
  args.seed = 0xDEADBEEF00000000ull + k;
  args.t = 1000 + k;
  args.first = 10000 + k;
  args.learning_rate = 1000.f + k;
  args.loss = -1000.f - k;
  args.correct = -1000 - k;
  return args;
}

bool sameArgs(const cu::StepArgs &a, const cu::StepArgs &b) {
  return a.seed == b.seed && a.t == b.t && a.first == b.first &&
         a.learning_rate == b.learning_rate && a.loss == b.loss && a.correct == b.correct;
}

/// Waits for the launches, then fails the test when the launchers recorded
/// a CUDA error (NETC_CUDA_CHECK) or a kernel faulted.
void expectCleanLaunches(const std::string &what) {
  const cudaError_t sync = cudaDeviceSynchronize();
  const std::string recorded = cu::detail::takeError();
  EXPECT_TRUE(recorded.empty()) << what << ": a launcher recorded a CUDA error: " << recorded;
  if (sync != cudaSuccess)
    throw std::runtime_error(what + ": cudaDeviceSynchronize failed with " +
                             cudaGetErrorName(sync) + " (" + cudaGetErrorString(sync) +
                             "): a kernel faulted");
}

std::size_t product(const Dims &dims) {
  std::size_t count = 1;
  for (std::int64_t d : dims)
    count *= std::size_t(d);
  return count;
}

std::vector<float> nans(std::size_t count) { return std::vector<float>(count, kNaN); }

/// "<params> (name), n=N": the shape part of a kernel's description.
std::string shapeOf(const char *params, const char *name, int n) {
  return std::string("<") + params + "> (" + name + "), n=" + std::to_string(n);
}

template <typename T> const T *orNull(bool present, const std::vector<T> &v) {
  return present ? v.data() : nullptr;
}

} // namespace
} // namespace netc::kgtest

using namespace netc::kgtest;

/// Skips without a usable device; clears what an earlier test left recorded.
class CudaKernel : public ::testing::Test {
protected:
  void SetUp() override {
    if (!deviceProblem().empty())
      GTEST_SKIP() << "no usable CUDA device: " << deviceProblem();
    netc::cuda::detail::takeError();
  }
};

class CudaConv : public CudaKernel {};
class CudaFusedConv : public CudaKernel {};
class CudaDense : public CudaKernel {};
class CudaFusedDense : public CudaKernel {};
class CudaPool : public CudaKernel {};
class CudaChannels : public CudaKernel {};
class CudaFold : public CudaKernel {};
class CudaElementwise : public CudaKernel {};
class CudaLoss : public CudaKernel {};
class CudaOptimizer : public CudaKernel {};
class CudaGather : public CudaKernel {};
class CudaStep : public CudaKernel {};
class CudaErrors : public CudaKernel {};

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
    expectCleanLaunches("element-wise kernels" + shape);
    EXPECT_TRUE(matches("add" + shape, "y", dims, gAdd.download(), add, kExact));
    EXPECT_TRUE(matches("mul" + shape, "y", dims, gMul.download(), mul, kExact));
    EXPECT_TRUE(matches("copy" + shape, "y", dims, gCopy.download(), copy, kExact));
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

//===----------------------------------------------------------------------===//
// softmax, softmax_grad, cross_entropy, count_correct,
// softmax_cross_entropy_grad
//===----------------------------------------------------------------------===//

/// The first and the last index of a row's maximum.
std::pair<int, int> argmaxes(const float *row, int k) {
  int first = 0, last = 0;
  for (int j = 1; j < k; ++j) {
    if (row[j] > row[first])
      first = last = j;
    else if (row[j] == row[first])
      last = j;
  }
  return {first, last};
}

template <int K> void checkLoss(const char *name, const char *params) {
  using Ref = ref::Loss<K>;
  for (const int n : {1, 37, 300}) { // 300: more rows than the one block's threads
    const std::string shape = shapeOf(params, name, n);
    const std::uint64_t seed = seedOf(name) + std::uint64_t(n);
    const Dims dims{n, K};
    const std::size_t count = product(dims);
    const auto logits = uniform(count, seed, -4.f, 4.f), dy = uniform(count, seed + 1);
    const auto labels = netc::kgtest::labels(std::size_t(n), K, seed + 2);
    auto probs = nans(count), dx = nans(count), dlogits = nans(count);
    Ref::softmax(n, logits.data(), probs.data());
    Ref::softmax_grad(n, dy.data(), probs.data(), dx.data());
    Ref::softmax_cross_entropy_grad(n, probs.data(), labels.data(), dlogits.data());

    // cross_entropy on probabilities with some labels' below the 1e-7 clip.
    auto clipped = probs;
    for (int i = 0; i < n; i += 3)
      clipped[std::size_t(i) * K + labels[i]] = i % 2 ? 1e-9f : 0.f;
    const float loss = Ref::cross_entropy(n, clipped.data(), labels.data());
    // count_correct on quantized rows (ties), labels on the first or the
    // last maximum or anywhere: only the first maximum counts.
    const auto votes = quantized(count, seed + 3, 4, 0.25f);
    auto voteLabels = labels;
    for (int i = 0; i < n; ++i) {
      const auto [first, last] = argmaxes(votes.data() + std::size_t(i) * K, K);
      voteLabels[i] = i % 3 == 0 ? first : i % 3 == 1 ? last : voteLabels[i];
    }
    const std::int32_t correct = Ref::count_correct(n, votes.data(), voteLabels.data());

    DeviceBuffer<float> gLogits(logits), gdy(dy), gProbsIn(probs), gClipped(clipped), gVotes(votes),
        gProbs(count), gdx(count), gdLogits(count);
    DeviceBuffer<std::int32_t> gLabels(labels), gVoteLabels(voteLabels);
    const std::vector<netc::cuda::StepArgs> args{sentinelArgs(0), sentinelArgs(1), sentinelArgs(2)};
    DeviceStep step(args, /*cursor=*/1);
    netc::cuda::softmax<K>(n, gLogits, gProbs);
    netc::cuda::softmax_grad<K>(n, gdy, gProbsIn, gdx);
    netc::cuda::softmax_cross_entropy_grad<K>(n, gProbsIn, gLabels, gdLogits);
    netc::cuda::cross_entropy<K>(n, gClipped, gLabels, step.step());
    netc::cuda::count_correct<K>(n, gVotes, gVoteLabels, step.step());
    expectCleanLaunches("softmax and the loss kernels" + shape);
    EXPECT_TRUE(matches("softmax" + shape, "y", dims, gProbs.download(), probs, kForward));
    EXPECT_TRUE(matches("softmax_grad" + shape, "dx", dims, gdx.download(), dx, kForward));
    EXPECT_TRUE(matches("softmax_cross_entropy_grad" + shape, "dlogits", dims, gdLogits.download(),
                        dlogits, kElementwise));

    const auto after = step.args();
    EXPECT_EQ(step.cursor(), 1) << "cross_entropy / count_correct" << shape << " moved the cursor";
    EXPECT_NEAR(after[1].loss, loss, 1e-6 * std::fabs(loss))
        << "cross_entropy" << shape << ": StepArgs[cursor].loss (gpu) against the CPU's loss";
    EXPECT_EQ(after[1].correct, correct)
        << "count_correct" << shape << ": StepArgs[cursor].correct (gpu) against the CPU's count";
    auto expected = args;
    expected[1].loss = after[1].loss;
    expected[1].correct = after[1].correct;
    for (std::size_t k = 0; k < args.size(); ++k)
      EXPECT_TRUE(sameArgs(after[k], expected[k]))
          << "cross_entropy / count_correct" << shape << " wrote into StepArgs[" << k
          << "] beyond loss and correct at the cursor (1)";
  }
}

#define NETC_KG_LOSS_TEST(name, ...)                                                               \
  TEST_F(CudaLoss, name) { checkLoss<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_LOSS_CASES(NETC_KG_LOSS_TEST)

//===----------------------------------------------------------------------===//
// sgd_update, adam_update, sgd_update_all, adam_update_all
//===----------------------------------------------------------------------===//

namespace {

/// Parameter sizes: a bias, lenet5's dense2 weight, and one larger than the
/// *_update_all grid's 1024 x 256 threads, so its grid-stride loop runs.
constexpr std::int64_t kSizes[3] = {10, 840, 300001};

struct SgdConfig {
  float lr, momentum;
  bool nesterov;
};
constexpr SgdConfig kSgdConfigs[] = {
    {0.01f, 0.f, false}, {0.01f, 0.9f, false}, {0.01f, 0.9f, true}};

/// A Step whose args[1] holds the learning rate and t; args[0] others.
DeviceStep optimizerStep(float lr, std::int64_t t) {
  std::vector<netc::cuda::StepArgs> args{sentinelArgs(0), sentinelArgs(1)};
  args[0].learning_rate = lr * 3;
  args[0].t = t + 5;
  args[1].learning_rate = lr;
  args[1].t = t;
  return DeviceStep(args, /*cursor=*/1);
}

std::string sgdName(const SgdConfig &c) {
  return "lr " + std::to_string(c.lr) + " momentum " + std::to_string(c.momentum) +
         (c.nesterov ? " nesterov" : "");
}

} // namespace

TEST_F(CudaOptimizer, sgd_update) {
  for (const SgdConfig &config : kSgdConfigs)
    for (const std::int64_t size : kSizes) {
      const std::string what = "sgd_update size " + std::to_string(size) + " " + sgdName(config);
      const std::uint64_t seed = seedOf(what);
      auto p = uniform(size, seed), velocity = uniform(size, seed + 1);
      const auto g = uniform(size, seed + 2);
      const bool hasVelocity = config.momentum != 0.f; // may be null with momentum 0
      DeviceBuffer<float> gp(p), gg(g), gv(velocity);
      DeviceStep step = optimizerStep(config.lr, 1);
      netc::cuda::sgd_update(size, gp, gg, hasVelocity ? gv.get() : nullptr, step.step(),
                             config.momentum, config.nesterov);
      ref::sgd_update(size, p.data(), g.data(), hasVelocity ? velocity.data() : nullptr, config.lr,
                      config.momentum, config.nesterov);
      expectCleanLaunches(what);
      EXPECT_TRUE(matches(what, "p", Dims{size}, gp.download(), p, kElementwise));
      if (hasVelocity)
        EXPECT_TRUE(matches(what, "velocity", Dims{size}, gv.download(), velocity, kElementwise));
    }
}

TEST_F(CudaOptimizer, adam_update) {
  constexpr float kLr = 0.001f, kBeta1 = 0.9f, kBeta2 = 0.999f, kEps = 1e-7f; // lenet5's
  for (const std::int64_t t : {1, 10, 1000})
    for (const std::int64_t size : kSizes) {
      const std::string what =
          "adam_update size " + std::to_string(size) + " t " + std::to_string(t);
      const std::uint64_t seed = seedOf(what);
      auto p = uniform(size, seed), m = uniform(size, seed + 1, -0.1f, 0.1f),
           v = uniform(size, seed + 2, 0.f, 0.01f);
      const auto g = uniform(size, seed + 3);
      DeviceBuffer<float> gp(p), gg(g), gm(m), gv(v);
      DeviceStep step = optimizerStep(kLr, t);
      netc::cuda::adam_update(size, gp, gg, gm, gv, step.step(), kBeta1, kBeta2, kEps);
      ref::adam_update(size, p.data(), g.data(), m.data(), v.data(), kLr, kBeta1, kBeta2, kEps, t);
      expectCleanLaunches(what);
      EXPECT_TRUE(matches(what, "p", Dims{size}, gp.download(), p, kElementwise));
      EXPECT_TRUE(matches(what, "m", Dims{size}, gm.download(), m, kElementwise));
      EXPECT_TRUE(matches(what, "v", Dims{size}, gv.download(), v, kElementwise));
    }
}

namespace {

/// Three parameters laid out as net-plan-memory might: parameters, gradients
/// and optimizer slots at offsets in three arenas, with gaps between them
/// (which must stay untouched) and the gradients in another order.
struct UpdateLayout {
  netc::cuda::UpdateTable<3> table;
  std::int64_t paramFloats, gradFloats, slotFloats;
};

UpdateLayout updateLayout(bool twoSlots) {
  UpdateLayout layout{};
  std::int64_t param = 3, grad = 5, slot = 7;
  for (int k = 0; k < 3; ++k) {
    const std::int64_t size = kSizes[k];
    layout.table.entries[k].param = param;
    layout.table.entries[k].size = size;
    layout.table.entries[k].slot0 = slot;
    layout.table.entries[k].slot1 = twoSlots ? slot + size + 1 : 0;
    param += size + 13;
    slot += (twoSlots ? 2 * size + 1 : size) + 17;
  }
  for (int k = 2; k >= 0; --k) { // gradients in reverse order
    layout.table.entries[k].grad = grad;
    grad += kSizes[k] + 11;
  }
  layout.paramFloats = param;
  layout.gradFloats = grad;
  layout.slotFloats = slot;
  return layout;
}

} // namespace

TEST_F(CudaOptimizer, sgd_update_all) {
  const UpdateLayout layout = updateLayout(/*twoSlots=*/false);
  for (const SgdConfig &config : kSgdConfigs) {
    const std::string what = "sgd_update_all<3> sizes 10, 840, 300001, " + sgdName(config);
    const std::uint64_t seed = seedOf(what);
    auto P = uniform(layout.paramFloats, seed), S = uniform(layout.slotFloats, seed + 1);
    const auto F = uniform(layout.gradFloats, seed + 2);
    DeviceBuffer<float> gP(P), gF(F), gS(S);
    DeviceStep step = optimizerStep(config.lr, 1);
    netc::cuda::sgd_update_all<3>(layout.table, gP, gF, gS, step.step(), config.momentum,
                                  config.nesterov);
    for (const netc::cuda::UpdateEntry &e : layout.table.entries)
      ref::sgd_update(e.size, P.data() + e.param, F.data() + e.grad,
                      config.momentum != 0.f ? S.data() + e.slot0 : nullptr, config.lr,
                      config.momentum, config.nesterov);
    expectCleanLaunches(what);
    EXPECT_TRUE(matches(what, "P (parameters, gaps included)", Dims{layout.paramFloats},
                        gP.download(), P, kElementwise));
    EXPECT_TRUE(matches(what, "S (velocities, gaps included)", Dims{layout.slotFloats},
                        gS.download(), S, kElementwise));
  }
}

TEST_F(CudaOptimizer, adam_update_all) {
  constexpr float kLr = 0.001f, kBeta1 = 0.9f, kBeta2 = 0.999f, kEps = 1e-7f;
  const UpdateLayout layout = updateLayout(/*twoSlots=*/true);
  for (const std::int64_t t : {1, 1000}) {
    const std::string what = "adam_update_all<3> sizes 10, 840, 300001, t " + std::to_string(t);
    const std::uint64_t seed = seedOf(what);
    // Slots: m in [-0.1, 0.1) would make v negative in slot1; keep both >= 0.
    auto P = uniform(layout.paramFloats, seed),
         S = uniform(layout.slotFloats, seed + 1, 0.f, 0.01f);
    const auto F = uniform(layout.gradFloats, seed + 2);
    DeviceBuffer<float> gP(P), gF(F), gS(S);
    DeviceStep step = optimizerStep(kLr, t);
    netc::cuda::adam_update_all<3>(layout.table, gP, gF, gS, step.step(), kBeta1, kBeta2, kEps);
    for (const netc::cuda::UpdateEntry &e : layout.table.entries)
      ref::adam_update(e.size, P.data() + e.param, F.data() + e.grad, S.data() + e.slot0,
                       S.data() + e.slot1, kLr, kBeta1, kBeta2, kEps, t);
    expectCleanLaunches(what);
    EXPECT_TRUE(matches(what, "P (parameters, gaps included)", Dims{layout.paramFloats},
                        gP.download(), P, kElementwise));
    EXPECT_TRUE(matches(what, "S (m and v, gaps included)", Dims{layout.slotFloats}, gS.download(),
                        S, kElementwise));
  }
}

//===----------------------------------------------------------------------===//
// gather_batch (no CPU twin: a table lookup on the host)
//===----------------------------------------------------------------------===//

template <std::int64_t SIZE, std::int64_t PLANES, int STRIDE>
void checkGather(const char *name, const char *params) {
  constexpr int kSamples = 50, kFirst = 7;
  constexpr std::int64_t kPlane = SIZE / PLANES;
  const std::uint64_t seed = seedOf(name);
  std::vector<std::uint8_t> pixels(std::size_t(kSamples) * SIZE);
  {
    const auto bytes = labels(pixels.size(), 256, seed); // uniform 0..255
    for (std::size_t k = 0; k < pixels.size(); ++k)
      pixels[k] = std::uint8_t(bytes[k]);
  }
  const auto trainLabels = labels(kSamples, 10, seed + 1);
  const auto table = uniform(STRIDE ? std::size_t(PLANES) * STRIDE : 256, seed + 2);
  std::vector<std::int64_t> order(kSamples);
  {
    std::iota(order.begin(), order.end(), 0);
    const auto swaps = labels(kSamples, kSamples, seed + 3); // a fixed shuffle
    for (int k = kSamples - 1; k > 0; --k)
      std::swap(order[k], order[swaps[k] % (k + 1)]);
  }
  for (const int n : {1, 16, kSamples - kFirst}) {
    const std::string what =
        "gather_batch" + shapeOf(params, name, n) + " first " + std::to_string(kFirst);
    std::vector<float> input(std::size_t(n) * SIZE);
    std::vector<std::int32_t> batchLabels(n);
    for (int i = 0; i < n; ++i) {
      const std::int64_t sample = order[kFirst + i];
      batchLabels[i] = trainLabels[sample];
      for (std::int64_t k = 0; k < SIZE; ++k)
        input[i * SIZE + k] = table[(k / kPlane) * STRIDE + pixels[sample * SIZE + k]];
    }
    std::vector<netc::cuda::StepArgs> args{sentinelArgs(0), sentinelArgs(1)};
    args[0].first = 0;
    args[1].first = kFirst;
    DeviceStep step(args, /*cursor=*/1);
    DeviceBuffer<std::uint8_t> gPixels(pixels);
    DeviceBuffer<std::int32_t> gLabels(trainLabels), gBatchLabels(static_cast<std::size_t>(n));
    DeviceBuffer<float> gTable(table), gInput(input.size());
    DeviceBuffer<std::int64_t> gOrder(order);
    netc::cuda::gather_batch<SIZE, PLANES>(n, gPixels, gLabels, gTable, STRIDE, gOrder, step.step(),
                                           gInput, gBatchLabels);
    expectCleanLaunches(what);
    EXPECT_TRUE(matches(what, "input", Dims{n, SIZE}, gInput.download(), input, kExact));
    EXPECT_TRUE(matchesExactly(what, "labels", Dims{n}, gBatchLabels.download(), batchLabels));
  }
}

#define NETC_KG_GATHER_TEST(name, ...)                                                             \
  TEST_F(CudaGather, name) { checkGather<__VA_ARGS__>(#name, #__VA_ARGS__); }
NETC_KG_GATHER_CASES(NETC_KG_GATHER_TEST)

//===----------------------------------------------------------------------===//
// advance_step, and CUDA error reporting
//===----------------------------------------------------------------------===//

TEST_F(CudaStep, advance_step_moves_the_cursor_only) {
  const std::vector<netc::cuda::StepArgs> args{sentinelArgs(0), sentinelArgs(1), sentinelArgs(2),
                                               sentinelArgs(3)};
  DeviceStep step(args, /*cursor=*/0);
  for (int k = 0; k < 3; ++k)
    netc::cuda::advance_step(step.step());
  expectCleanLaunches("advance_step x 3");
  EXPECT_EQ(step.cursor(), 3) << "advance_step x 3 from cursor 0";
  const auto after = step.args();
  for (std::size_t k = 0; k < args.size(); ++k)
    EXPECT_TRUE(sameArgs(after[k], args[k])) << "advance_step changed StepArgs[" << k << "]";
}

TEST_F(CudaErrors, none_recorded_after_clean_launches) {
  // A short forward and loss of lenet5 (its emitted kernels), then the step
  // moved on: nothing may be recorded, and the device reports no error.
  constexpr int n = 4;
  DeviceBuffer<float> x(uniform(std::size_t(n) * 784, 1)), w1(uniform(150, 2)), b1(uniform(6, 3)),
      a1(std::size_t(n) * 6 * 14 * 14), w2(uniform(std::size_t(10) * 1176, 4)), b2(uniform(10, 5)),
      logits(std::size_t(n) * 10), probs(std::size_t(n) * 10);
  DeviceBuffer<std::int32_t> y(labels(n, 10, 6));
  DeviceStep step({sentinelArgs(0), sentinelArgs(1)}, /*cursor=*/0);
  netc::cuda::fused_conv2d<1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 28, 28, 1, 1, 2, 2, 2, 2, 0, 0, 14, 14,
                           true>(n, x, w1, b1, a1, nullptr);
  netc::cuda::fused_dense<1176, 10, 0, true>(n, a1, w2, b2, logits);
  netc::cuda::softmax<10>(n, logits, probs);
  netc::cuda::cross_entropy<10>(n, probs, y, step.step());
  netc::cuda::count_correct<10>(n, probs, y, step.step());
  netc::cuda::advance_step(step.step());
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(netc::cuda::detail::takeError(), "")
      << "launchers recorded an error in a clean sequence";
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(step.cursor(), 1);

  // The recorder keeps the first failure, with its place, until taken.
  EXPECT_FALSE(
      netc::cuda::detail::check(cudaErrorInvalidValue, "cudaMemcpy(a, b)", "First.cu", 12));
  EXPECT_FALSE(
      netc::cuda::detail::check(cudaErrorMemoryAllocation, "cudaMalloc(c)", "Second.cu", 34));
  EXPECT_TRUE(netc::cuda::detail::check(cudaSuccess, "cudaFree(d)", "Third.cu", 56));
  const std::string first = netc::cuda::detail::takeError();
  EXPECT_NE(first.find("First.cu:12: cudaMemcpy(a, b) failed: cudaErrorInvalidValue"),
            std::string::npos)
      << first;
  EXPECT_EQ(netc::cuda::detail::takeError(), "") << "takeError does not clear the error";
}
