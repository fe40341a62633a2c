//===- Elementwise.cuh - element-wise kernels, dropout, optimizers -*- CUDA -*-===//
//
// Memory-bound one-pass kernels: bias_add / bias_grad, add, mul, copy, zeros, the
// activations and their gradients (which take the forward output y, as the
// CPU's), dropout_mask, sgd_update and adam_update. The element-wise ones are
// one grid-stride kernel, `map`, specialised by an op code, each thread one
// element: the formulas are those of Activation.h / Elementwise.h in float
// (expf, tanhf), so results match the CPU within an ulp or two.
// dropout_mask calls Random.h's own splitmix64 stream (NETC_HOST_DEVICE), so
// the CPU and GPU masks of a (seed, stream) are identical bit for bit. Its
// seed and the optimizers' learning rate and t are the running step's, read
// on the device (Common.cuh, Step), so a captured step replays for any step.
// bias_grad is one block per channel summing in double in a fixed tree, as
// the batch norm statistics (Norm.cuh).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_ELEMENTWISE_CUH
#define NETC_KERNELS_CUDA_ELEMENTWISE_CUH

#include "net/Kernels/Random.h"
#include "net/Kernels/cuda/Common.cuh"

#include <cmath>

namespace netc::cuda {
namespace detail {

enum MapOp { kZero, kCopy, kAdd, kMul, kRelu, kSigmoid, kTanh, kReluGrad, kSigmoidGrad, kTanhGrad };

/// y[k] = op(a[k], b[k]) for k < total (b unused by the unary ops, a and b
/// by kZero).
template <int OP>
__global__ void map(std::int64_t total, const float *__restrict__ a, const float *__restrict__ b,
                    float *__restrict__ y) {
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < total;
       k += std::int64_t(gridDim.x) * blockDim.x) {
    if constexpr (OP == kZero) {
      y[k] = 0.f;
      continue;
    }
    const float x = a[k];
    if constexpr (OP == kCopy)
      y[k] = x;
    else if constexpr (OP == kAdd)
      y[k] = x + b[k];
    else if constexpr (OP == kMul)
      y[k] = x * b[k];
    else if constexpr (OP == kRelu)
      y[k] = x > 0.f ? x : 0.f;
    else if constexpr (OP == kSigmoid)
      y[k] = 1.f / (1.f + expf(-x));
    else if constexpr (OP == kTanh)
      y[k] = tanhf(x);
    else if constexpr (OP == kReluGrad) // a = dy, b = y
      y[k] = b[k] > 0.f ? x : 0.f;
    else if constexpr (OP == kSigmoidGrad)
      y[k] = x * b[k] * (1.f - b[k]);
    else
      y[k] = x * (1.f - b[k] * b[k]);
  }
}

template <int OP> void launchMap(std::int64_t total, const float *a, const float *b, float *y) {
  if (total <= 0)
    return;
  map<OP><<<blocksFor(total), kThreads>>>(total, a, b, y);
  NETC_CUDA_CHECK_LAUNCH("map");
}

template <int C, int S>
__global__ void biasAdd(std::int64_t total, const float *__restrict__ x, const float *__restrict__ b,
                        float *__restrict__ y) {
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < total;
       k += std::int64_t(gridDim.x) * blockDim.x)
    y[k] = x[k] + b[(k / S) % C];
}

/// db[c] = sum over samples and pixels of dy: block c, double, fixed tree.
template <int C, int S>
__global__ void biasGrad(int n, const float *__restrict__ dy, float *__restrict__ db) {
  __shared__ double shared[kThreads];
  const int c = blockIdx.x;
  double sum = 0;
  for (std::int64_t j = threadIdx.x; j < std::int64_t(n) * S; j += kThreads) {
    const std::int64_t i = j / S, s = j % S;
    sum += dy[(i * C + c) * S + s];
  }
  sum = blockSum(sum, shared);
  if (threadIdx.x == 0)
    db[c] = float(sum);
}

static __global__ void dropoutMask(std::int64_t total, float rate, Step step,
                                   std::uint64_t stream, float keep, float *__restrict__ mask) {
  const std::uint64_t key = netc::kernels::detail::streamKey(step.at().seed, stream);
  for (std::int64_t j = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; j < total;
       j += std::int64_t(gridDim.x) * blockDim.x)
    mask[j] = netc::kernels::detail::uniform01(key, std::uint64_t(j)) >= rate ? keep : 0.f;
}

/// SGD on elements [0, size) of one parameter, strided over the grid's x
/// (the single-parameter and the all-parameter kernels).
__device__ inline void sgdRange(std::int64_t size, float *__restrict__ p,
                                const float *__restrict__ g, float *__restrict__ velocity,
                                float lr, float momentum, bool nesterov) {
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < size;
       k += std::int64_t(gridDim.x) * blockDim.x) {
    if (momentum == 0.f) {
      p[k] -= lr * g[k];
      continue;
    }
    const float v = momentum * velocity[k] - lr * g[k];
    velocity[k] = v;
    p[k] += nesterov ? momentum * v - lr * g[k] : v;
  }
}

/// Adam on elements [0, size) of one parameter, likewise; the bias
/// corrections in double, as the CPU computes them.
__device__ inline void adamRange(std::int64_t size, float *__restrict__ p,
                                 const float *__restrict__ g, float *__restrict__ m,
                                 float *__restrict__ v, Step step, float beta1, float beta2,
                                 float eps) {
  const StepArgs &args = step.at();
  const float lr = args.learning_rate;
  const float c1 = float(1.0 / (1.0 - pow(double(beta1), double(args.t))));
  const float c2 = float(1.0 / (1.0 - pow(double(beta2), double(args.t))));
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < size;
       k += std::int64_t(gridDim.x) * blockDim.x) {
    const float mk = beta1 * m[k] + (1.f - beta1) * g[k];
    const float vk = beta2 * v[k] + (1.f - beta2) * g[k] * g[k];
    m[k] = mk;
    v[k] = vk;
    p[k] -= lr * (mk * c1) / (sqrtf(vk * c2) + eps);
  }
}

static __global__ void sgd(std::int64_t size, float *__restrict__ p, const float *__restrict__ g,
                           float *__restrict__ velocity, Step step, float momentum,
                           bool nesterov) {
  sgdRange(size, p, g, velocity, step.at().learning_rate, momentum, nesterov);
}

static __global__ void adam(std::int64_t size, float *__restrict__ p, const float *__restrict__ g,
                            float *__restrict__ m, float *__restrict__ v, Step step,
                            float beta1, float beta2, float eps) {
  adamRange(size, p, g, m, v, step, beta1, beta2, eps);
}

} // namespace detail

template <int C, int S> void bias_add(int n, const float *x, const float *b, float *y) {
  static_assert(C > 0 && S > 0, "bias_add: empty extents");
  const std::int64_t total = std::int64_t(n) * C * S;
  if (total <= 0)
    return;
  detail::biasAdd<C, S><<<detail::blocksFor(total), detail::kThreads>>>(total, x, b, y);
  NETC_CUDA_CHECK_LAUNCH("bias_add");
}

template <int C, int S> void bias_grad(int n, const float *dy, float *db) {
  static_assert(C > 0 && S > 0, "bias_grad: empty extents");
  detail::biasGrad<C, S><<<C, detail::kThreads>>>(n, dy, db);
  NETC_CUDA_CHECK_LAUNCH("bias_grad");
}

template <int E> void add(int n, const float *a, const float *b, float *y) {
  detail::launchMap<detail::kAdd>(std::int64_t(n) * E, a, b, y);
}
template <int E> void mul(int n, const float *a, const float *b, float *y) {
  detail::launchMap<detail::kMul>(std::int64_t(n) * E, a, b, y);
}
template <int E> void copy(int n, const float *x, float *y) {
  if (x != y)
    detail::launchMap<detail::kCopy>(std::int64_t(n) * E, x, nullptr, y);
}
template <int E> void zeros(float *y) {
  static_assert(E > 0, "zeros: an empty tensor");
  detail::launchMap<detail::kZero>(E, nullptr, nullptr, y);
}
template <int E> void relu(int n, const float *x, float *y) {
  detail::launchMap<detail::kRelu>(std::int64_t(n) * E, x, nullptr, y);
}
template <int E> void sigmoid(int n, const float *x, float *y) {
  detail::launchMap<detail::kSigmoid>(std::int64_t(n) * E, x, nullptr, y);
}
template <int E> void tanh(int n, const float *x, float *y) {
  detail::launchMap<detail::kTanh>(std::int64_t(n) * E, x, nullptr, y);
}
template <int E> void relu_grad(int n, const float *dy, const float *y, float *dx) {
  detail::launchMap<detail::kReluGrad>(std::int64_t(n) * E, dy, y, dx);
}
template <int E> void sigmoid_grad(int n, const float *dy, const float *y, float *dx) {
  detail::launchMap<detail::kSigmoidGrad>(std::int64_t(n) * E, dy, y, dx);
}
template <int E> void tanh_grad(int n, const float *dy, const float *y, float *dx) {
  detail::launchMap<detail::kTanhGrad>(std::int64_t(n) * E, dy, y, dx);
}

/// The CPU's dropout_mask (Random.h), element for element.
/// The seed is the running step's (Step), read on the device.
template <int E> void dropout_mask(int n, float rate, Step step, std::uint64_t stream, float *mask) {
  const std::int64_t total = std::int64_t(n) * E;
  if (total <= 0)
    return;
  const float keep = rate < 1.f ? 1.f / (1.f - rate) : 0.f;
  detail::dropoutMask<<<detail::blocksFor(total), detail::kThreads>>>(total, rate, step, stream,
                                                                      keep, mask);
  NETC_CUDA_CHECK_LAUNCH("dropout_mask");
}

/// The learning rate is the running step's (Step), read on the device.
inline void sgd_update(std::int64_t size, float *p, const float *g, float *velocity, Step step,
                       float momentum, bool nesterov) {
  if (size <= 0)
    return;
  detail::sgd<<<detail::blocksFor(size), detail::kThreads>>>(size, p, g, velocity, step,
                                                             momentum, nesterov);
  NETC_CUDA_CHECK_LAUNCH("sgd_update");
}

/// The learning rate and t are the running step's (Step), read on the device.
inline void adam_update(std::int64_t size, float *p, const float *g, float *m, float *v,
                        Step step, float beta1, float beta2, float eps) {
  if (size <= 0)
    return;
  detail::adam<<<detail::blocksFor(size), detail::kThreads>>>(size, p, g, m, v, step, beta1,
                                                              beta2, eps);
  NETC_CUDA_CHECK_LAUNCH("adam_update");
}

/// One parameter of a multi-tensor update, as offsets in floats: into the
/// parameters, into the arena's fixed section (its gradient, which
/// net-plan-memory keeps live to the end of the step) and into the optimizer
/// state (SGD's velocity is slot0; Adam's m and v are slot0 and slot1).
struct UpdateEntry {
  std::int64_t param, grad, slot0, slot1, size;
};
template <int COUNT> struct UpdateTable {
  UpdateEntry entries[COUNT];
};

namespace detail {

/// blockIdx.y picks the parameter; its blocks stride over its elements with
/// sgd's and adam's own formulas (the kernels above, element for element).
template <int COUNT>
__global__ void sgdAll(UpdateTable<COUNT> table, float *P, const float *F, float *S, Step step,
                       float momentum, bool nesterov) {
  const UpdateEntry e = table.entries[blockIdx.y];
  sgdRange(e.size, P + e.param, F + e.grad, S + e.slot0, step.at().learning_rate, momentum,
           nesterov);
}

template <int COUNT>
__global__ void adamAll(UpdateTable<COUNT> table, float *P, const float *F, float *S, Step step,
                        float beta1, float beta2, float eps) {
  const UpdateEntry e = table.entries[blockIdx.y];
  adamRange(e.size, P + e.param, F + e.grad, S + e.slot0, S + e.slot1, step, beta1, beta2, eps);
}

/// Blocks along x: enough for the largest parameter (the grid-stride loops
/// cover the rest).
template <int COUNT> dim3 updateGrid(const UpdateTable<COUNT> &table) {
  std::int64_t largest = 1;
  for (const UpdateEntry &e : table.entries)
    largest = e.size > largest ? e.size : largest;
  return dim3(blocksFor(largest) < 1024u ? blocksFor(largest) : 1024u, COUNT);
}

} // namespace detail

// The table travels as a kernel parameter: up to 32 KB from CUDA 12.1 on
// Volta and later, so about 800 parameters.
#define NETC_CHECK_UPDATE_TABLE(COUNT)                                                       \
  static_assert(COUNT > 0 && COUNT <= 65535 && sizeof(UpdateTable<COUNT>) <= 32000,          \
                "update tables hold 1 to about 800 parameters")

/// sgd_update of every parameter of the step in one launch.
template <int COUNT>
void sgd_update_all(const UpdateTable<COUNT> &table, float *P, const float *F, float *S,
                    Step step, float momentum, bool nesterov) {
  NETC_CHECK_UPDATE_TABLE(COUNT);
  detail::sgdAll<COUNT><<<detail::updateGrid(table), detail::kThreads>>>(table, P, F, S, step,
                                                                         momentum, nesterov);
  NETC_CUDA_CHECK_LAUNCH("sgd_update_all");
}

/// adam_update of every parameter of the step in one launch.
template <int COUNT>
void adam_update_all(const UpdateTable<COUNT> &table, float *P, const float *F, float *S,
                     Step step, float beta1, float beta2, float eps) {
  NETC_CHECK_UPDATE_TABLE(COUNT);
  detail::adamAll<COUNT><<<detail::updateGrid(table), detail::kThreads>>>(table, P, F, S, step,
                                                                          beta1, beta2, eps);
  NETC_CUDA_CHECK_LAUNCH("adam_update_all");
}

} // namespace netc::cuda

#endif // NETC_KERNELS_CUDA_ELEMENTWISE_CUH
