//===- CudaStep.cu - a whole training step: netc's CUDA path vs cuDNN + cuBLAS ===//
//
// One fat model library (netc's output with its CUDA path, loaded through
// ModelABI.h) against the same network written here with cuDNN and cuBLAS,
// on the same GPU, weights and batch:
//
//   conv + bias + relu   cudnnConvolutionBiasActivationForward (the algorithm
//                        the fused call accepts that runs fastest, Cudnn.cuh);
//                        backward cudnnActivationBackward, ...BackwardBias,
//                        ...BackwardFilter, ...BackwardData (not for the first
//                        layer, which gets no input gradient, as in netc)
//   max pooling          cudnnPoolingForward / cudnnPoolingBackward
//   dropout              the mask of Random.h's counter-based stream (the
//                        project's own function, so the masks equal netc's
//                        bit for bit for the same seed: cudnnDropout's own
//                        generator could never match), applied with
//                        cudnnOpTensor (MUL) forward and backward
//   flatten              nothing (NCHW is already (N, C*H*W))
//   dense                cublasSgemm (y = x W^T, dW = dz^T x, dx = dz W),
//                        cudnnAddTensor (bias), cudnnActivationForward (relu,
//                        in place), cudnnConvolutionBackwardBias (db)
//   softmax              cudnnSoftmaxForward (ACCURATE, INSTANCE)
//   loss                 one small kernel: mean cross-entropy (probabilities
//                        clamped at 1e-7, as netc), correct count, and
//                        dlogits = (p - onehot) / n
//   Adam                 one small kernel over every parameter at once (the
//                        parameters, gradients and moments are each one flat
//                        buffer), netc's formula, bias corrections on the host
//                        in double
//
// Relu's backward is given the activation a as both its x and y: relu'(z) =
// [z > 0] = [a > 0], so it is exact, and the fused forward need not keep z.
//
// The networks are written out below from models/lenet5.net and
// models/mnist_cnn.net; the library's netc_model() must agree (parameter
// shapes, input, classes, Adam), or the model is refused with the reason.
//
// Check (one step from the same state, on the same batch and dropout seed):
//   loss within 1e-4 relative; correct count equal (reported, not required);
//   gradients, read back from netc's first Adam moment (m = (1 - beta1) g
//   after one step from zero), within 1e-3 of each tensor's largest |g|
//   (with --tf32: 1e-2 for both);
//   updated weights: within 1e-2 lr where |g| >= 1e-3 max|g| (there Adam's
//   first step is lr * g / (|g| + eps), insensitive to rounding); elsewhere
//   Adam's step is sign-sensitive to rounding (g ~ eps) and only bounded by
//   2 lr, and the elements beyond 1e-2 lr are counted and printed.
// Timing: each side's train step as a user calls it (netc_train_step: the
// batch copied in, forward, loss, backward, update, the loss and correct
// count copied out; the cuDNN side the same, with one synchronous read of the
// two scalars where netc makes two), device events around S steps on the
// legacy default stream, 5 rounds alternating the two sides, the median round.
// Then netc as netrun trains on a GPU: netc_train_steps, 64 steps a call over
// a training set held on the device (one captured step graph replayed per
// batch, one synchronisation per call), per step against the same cuDNN
// figure.
//
//===----------------------------------------------------------------------===//

#include "Cuda.h"
#include "CudaCommon.cuh"
#include "CudaRun.h"
#include "Cudnn.cuh"

#include "net/Kernels/Random.h"
#include "net/Runtime/ModelABI.h"

#include <cstdio>
#include <dlfcn.h>
#include <memory>
#include <random>
#include <type_traits>

namespace netbench::gpu {
namespace {

//===----------------------------------------------------------------------===//
// The networks
//===----------------------------------------------------------------------===//

enum class Kind { Conv, MaxPool, Dropout, Flatten, Dense };

struct LayerDef {
  Kind kind;
  int units = 0; // filters (conv) or outputs (dense)
  int k = 0, pad = 0;
  int act = 0; // Fused.h's codes: 0 none, 1 relu
  float rate = 0;
};

struct NetDef {
  const char *name;
  int c, h, w, classes;
  std::vector<LayerDef> layers; // then softmax + cross-entropy
};

LayerDef conv(int f, int k, int pad) { return {Kind::Conv, f, k, pad, 1, 0}; }
LayerDef maxPool() { return {Kind::MaxPool}; }
LayerDef dropout(float rate) { return {Kind::Dropout, 0, 0, 0, 0, rate}; }
LayerDef flatten() { return {Kind::Flatten}; }
LayerDef dense(int m, int act) { return {Kind::Dense, m, 0, 0, act, 0}; }

const std::vector<NetDef> &networks() {
  static const std::vector<NetDef> nets = {
      // models/lenet5.net: 'same' 5x5 convs with relu, max_pool(2), 120-filter conv3.
      {"lenet5", 1, 28, 28, 10,
       {conv(6, 5, 2), maxPool(), conv(16, 5, 2), maxPool(), conv(120, 5, 2), flatten(),
        dense(84, 1), dense(10, 0)}},
      // models/mnist_cnn.net: Keras' mnist_cnn.py.
      {"mnist_cnn", 1, 28, 28, 10,
       {conv(32, 3, 0), conv(64, 3, 0), maxPool(), dropout(0.25f), flatten(), dense(128, 1),
        dropout(0.5f), dense(10, 0)}},
  };
  return nets;
}

/// The trainable parameters' shapes the definition implies, in netc's order
/// (per conv or dense layer: kernel, then bias).
std::vector<std::vector<std::int64_t>> expectedShapes(const NetDef &def) {
  std::vector<std::vector<std::int64_t>> shapes;
  int c = def.c, h = def.h, w = def.w;
  for (const LayerDef &d : def.layers) {
    if (d.kind == Kind::Conv) {
      shapes.push_back({d.units, c, d.k, d.k});
      shapes.push_back({d.units});
      c = d.units, h = h + 2 * d.pad - d.k + 1, w = w + 2 * d.pad - d.k + 1;
    } else if (d.kind == Kind::MaxPool) {
      h /= 2, w /= 2;
    } else if (d.kind == Kind::Flatten) {
      c = c * h * w, h = 1, w = 1;
    } else if (d.kind == Kind::Dense) {
      shapes.push_back({d.units, c});
      shapes.push_back({d.units});
      c = d.units;
    }
  }
  return shapes;
}

//===----------------------------------------------------------------------===//
// Kernels cuDNN and cuBLAS do not have
//===----------------------------------------------------------------------===//

constexpr int kThreads = 256;

unsigned blocksFor(std::int64_t total) {
  return unsigned(std::clamp<std::int64_t>((total + kThreads - 1) / kThreads, 1, 65535 * 4));
}

struct LossResult {
  float loss;
  int correct;
};

/// One block: loss = mean -log(max(p[label], 1e-7)) summed in double in a
/// fixed tree, correct = first-maximum argmax hits, dlogits = (p - onehot)/n.
__global__ void softmaxCrossEntropy(int n, int classes, const float *__restrict__ probs,
                                    const std::int32_t *__restrict__ labels,
                                    float *__restrict__ dlogits, LossResult *__restrict__ out) {
  __shared__ double loss[kThreads];
  __shared__ int correct[kThreads];
  double l = 0;
  int c = 0;
  const float scale = 1.f / float(n);
  for (int i = threadIdx.x; i < n; i += kThreads) {
    const float *p = probs + std::size_t(i) * classes;
    const int label = labels[i];
    const float pl = p[label];
    l -= log(double(pl > 1e-7f ? pl : 1e-7f));
    int best = 0;
    for (int k = 1; k < classes; ++k)
      if (p[k] > p[best])
        best = k;
    c += best == label;
    for (int k = 0; k < classes; ++k)
      dlogits[std::size_t(i) * classes + k] = (p[k] - (k == label ? 1.f : 0.f)) * scale;
  }
  loss[threadIdx.x] = l;
  correct[threadIdx.x] = c;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) {
      loss[threadIdx.x] += loss[threadIdx.x + stride];
      correct[threadIdx.x] += correct[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    out->loss = n > 0 ? float(loss[0] / n) : 0.f;
    out->correct = correct[0];
  }
}

/// Random.h's dropout_mask, element for element.
__global__ void dropoutMask(std::int64_t total, float rate, std::uint64_t key, float keep,
                            float *__restrict__ mask) {
  for (std::int64_t j = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; j < total;
       j += std::int64_t(gridDim.x) * blockDim.x)
    mask[j] = netc::kernels::detail::uniform01(key, std::uint64_t(j)) >= rate ? keep : 0.f;
}

/// netc's adam_update (Elementwise.cuh), over every parameter in one launch.
__global__ void adam(std::int64_t size, float *__restrict__ p, const float *__restrict__ g,
                     float *__restrict__ m, float *__restrict__ v, float lr, float beta1,
                     float beta2, float eps, float c1, float c2) {
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < size;
       k += std::int64_t(gridDim.x) * blockDim.x) {
    const float mk = beta1 * m[k] + (1.f - beta1) * g[k];
    const float vk = beta2 * v[k] + (1.f - beta2) * g[k] * g[k];
    m[k] = mk;
    v[k] = vk;
    p[k] -= lr * (mk * c1) / (sqrtf(vk * c2) + eps);
  }
}

void checkLaunch(const char *what, const char *file, int line) {
  checkCuda(cudaGetLastError(), what, file, line);
}
#define NB_LAUNCH(name) checkLaunch("launch of " name, __FILE__, __LINE__)

//===----------------------------------------------------------------------===//
// The cuDNN + cuBLAS network
//===----------------------------------------------------------------------===//

struct Adam {
  float lr, beta1, beta2, eps;
};

const float kOne = 1.f, kZero = 0.f;

class CudnnNet {
public:
  /// Builds the layers for batch n; `shapes` are the trainable parameters'
  /// shapes in netc_model() order (checked against the definition).
  CudnnNet(Handles &h, Workspace &ws, const NetDef &def, int n, const Adam &adam)
      : h_(h), ws_(ws), def_(def), n_(n), adam_(adam) {}
  ~CudnnNet() {
    if (mul_)
      cudnnDestroyOpTensorDescriptor(mul_);
  }
  CudnnNet(const CudnnNet &) = delete;
  CudnnNet &operator=(const CudnnNet &) = delete;

  /// Lays out the parameters, allocates every buffer, runs cuDNN's searches.
  /// Returns "" or why the model does not match the definition.
  std::string build(const std::vector<std::vector<std::int64_t>> &shapes);

  /// Sets parameter i (trainable order) from the host.
  void setParam(int i, const std::vector<float> &values) {
    NB_CUDA(cudaMemcpy(params_.get() + offsets_[i], values.data(), values.size() * sizeof(float),
                       cudaMemcpyHostToDevice));
  }
  std::vector<float> param(int i) const { return download(params_.get() + offsets_[i], sizes_[i]); }
  std::vector<float> grad(int i) const { return download(grads_.get() + offsets_[i], sizes_[i]); }

  /// One training step on host data, as netc_train_step.
  LossResult step(const float *images, const std::int32_t *labels, std::uint64_t seed);

  std::string describe() const { return description_; }

private:
  struct Layer {
    LayerDef def;
    int c, h, w;    // input
    int oc, oh, ow; // output
    float *in = nullptr, *out = nullptr, *gIn = nullptr, *gOut = nullptr;
    int param = -1; // index of its kernel in the trainable order (bias: +1)
    std::unique_ptr<CudnnConv> conv;
    TensorDesc inDesc, outDesc, biasDesc;
    PoolingDesc pool;
    ActivationDesc act;
    DeviceBuffer z, dz, mask;
    std::size_t outSize() const { return std::size_t(oc) * oh * ow; }
  };

  float *p(int i) const { return params_.get() + offsets_[i]; }
  float *g(int i) const { return grads_.get() + offsets_[i]; }
  void forward(std::uint64_t seed);
  void backward();

  Handles &h_;
  Workspace &ws_;
  const NetDef &def_;
  int n_;
  Adam adam_;
  std::int64_t t_ = 0;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<DeviceBuffer> buffers_; // activations and their gradients
  std::vector<std::size_t> offsets_, sizes_;
  DeviceBuffer params_, grads_, m_, v_, zeros_, probs_, input_;
  DeviceArray<std::int32_t> labels_;
  DeviceArray<LossResult> result_;
  TensorDesc logitsDesc_;
  cudnnOpTensorDescriptor_t mul_ = nullptr;
  std::string description_;
};

std::string shapeText(const std::vector<std::int64_t> &s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i)
    t += (i ? "," : "") + std::to_string(s[i]);
  return t + "]";
}

std::string CudnnNet::build(const std::vector<std::vector<std::int64_t>> &shapes) {
  // Shapes through the layers, and the parameters each one expects.
  std::vector<std::vector<std::int64_t>> expected;
  int c = def_.c, h = def_.h, w = def_.w;
  for (const LayerDef &d : def_.layers) {
    auto L = std::make_unique<Layer>();
    L->def = d;
    L->c = c, L->h = h, L->w = w;
    switch (d.kind) {
    case Kind::Conv:
      L->param = int(expected.size());
      expected.push_back({d.units, c, d.k, d.k});
      expected.push_back({d.units});
      c = d.units, h = h + 2 * d.pad - d.k + 1, w = w + 2 * d.pad - d.k + 1;
      break;
    case Kind::MaxPool:
      h /= 2, w /= 2;
      break;
    case Kind::Dropout:
      break;
    case Kind::Flatten:
      c = c * h * w, h = 1, w = 1;
      break;
    case Kind::Dense:
      if (h != 1 || w != 1)
        return "the definition has a dense layer before flatten";
      L->param = int(expected.size());
      expected.push_back({d.units, c});
      expected.push_back({d.units});
      c = d.units;
      break;
    }
    L->oc = c, L->oh = h, L->ow = w;
    layers_.push_back(std::move(L));
  }
  if (c != def_.classes || h != 1 || w != 1)
    return "the definition does not end in " + std::to_string(def_.classes) + " classes";
  if (shapes.size() != expected.size())
    return "the library has " + std::to_string(shapes.size()) +
           " trainable parameters, the cuDNN network " + std::to_string(expected.size());
  for (std::size_t i = 0; i < shapes.size(); ++i)
    if (shapes[i] != expected[i])
      return "trainable parameter " + std::to_string(i) + " is " + shapeText(shapes[i]) +
             ", the cuDNN network expects " + shapeText(expected[i]);

  // One flat buffer each for the parameters, gradients and Adam's moments.
  std::size_t total = 0;
  for (const auto &s : expected) {
    std::size_t size = 1;
    for (std::int64_t e : s)
      size *= std::size_t(e);
    offsets_.push_back(total);
    sizes_.push_back(size);
    total += size;
  }
  params_.resize(total), grads_.resize(total), m_.resize(total), v_.resize(total);

  // Activations: each layer's output and the gradient there; flatten aliases
  // both to its input's, so the layer after it writes its input gradient
  // where the layer before it reads its output gradient.
  const std::size_t N = std::size_t(n_);
  input_.resize(N * std::size_t(def_.c) * def_.h * def_.w);
  labels_.resize(N);
  result_.resize(1);
  float *in = input_.get(), *gIn = nullptr; // no gradient for the images
  std::size_t zMax = 0;
  for (auto &L : layers_) {
    L->in = in;
    L->gIn = gIn;
    if (L->def.kind == Kind::Flatten) {
      L->out = in;
      L->gOut = gIn;
    } else {
      buffers_.emplace_back(N * L->outSize());
      L->out = buffers_.back().get();
      buffers_.emplace_back(N * L->outSize());
      L->gOut = buffers_.back().get();
    }
    in = L->out;
    gIn = L->gOut;
    if (L->def.kind == Kind::Conv)
      zMax = std::max(zMax, N * L->outSize());
  }
  probs_.resize(N * def_.classes);
  zeros_.resize(std::max<std::size_t>(zMax, 1));
  logitsDesc_.set(n_, def_.classes, 1, 1);
  NB_CUDNN(cudnnCreateOpTensorDescriptor(&mul_));
  NB_CUDNN(cudnnSetOpTensorDescriptor(mul_, CUDNN_OP_TENSOR_MUL, CUDNN_DATA_FLOAT,
                                      CUDNN_NOT_PROPAGATE_NAN));

  // Descriptors and, for the convs, cuDNN's searches on these buffers.
  std::size_t freeBytes = 0, totalBytes = 0;
  NB_CUDA(cudaMemGetInfo(&freeBytes, &totalBytes));
  const std::size_t searchBytes = std::min<std::size_t>(std::size_t(1) << 30, freeBytes / 8);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Layer &L = *layers_[i];
    L.inDesc.set(n_, L.c, L.h, L.w);
    L.outDesc.set(n_, L.oc, L.oh, L.ow);
    switch (L.def.kind) {
    case Kind::Conv: {
      const ConvGeometry geometry{L.c,  L.h,       L.w,  L.oc, L.def.k, L.def.pad,
                                  L.oh, L.ow,      L.def.act, 0,    L.oh,    L.ow};
      L.conv = std::make_unique<CudnnConv>(h_, ws_, geometry, n_);
      L.z.resize(N * L.outSize());
      L.dz.resize(N * L.outSize());
      L.conv->search(L.in, p(L.param), L.z.get(), L.dz.get(), i == 0 ? nullptr : L.gIn,
                     g(L.param), searchBytes);
      description_ += "conv " + std::to_string(L.oc) + ": " +
                      (L.conv->fusedOk() ? "" : "(fused call unusable: " + L.conv->fusedWhy() +
                                                    ") ") +
                      L.conv->describeForward() + "; " + L.conv->describeBackward() + "\n";
      break;
    }
    case Kind::MaxPool:
      NB_CUDNN(cudnnSetPooling2dDescriptor(L.pool.d, CUDNN_POOLING_MAX, CUDNN_NOT_PROPAGATE_NAN,
                                           2, 2, 0, 0, 2, 2));
      break;
    case Kind::Dropout:
      L.mask.resize(N * L.outSize());
      break;
    case Kind::Flatten:
      break;
    case Kind::Dense:
      L.biasDesc.set(1, L.oc, 1, 1);
      NB_CUDNN(cudnnSetActivationDescriptor(L.act.d, activationMode(L.def.act),
                                            CUDNN_NOT_PROPAGATE_NAN, 0.0));
      if (L.def.act)
        L.dz.resize(N * L.outSize());
      break;
    }
  }
  return "";
}

void CudnnNet::forward(std::uint64_t seed) {
  std::uint64_t stream = 0; // dropout layers in order, as netc numbers them
  for (auto &Lp : layers_) {
    Layer &L = *Lp;
    const std::int64_t outCount = std::int64_t(n_) * std::int64_t(L.outSize());
    switch (L.def.kind) {
    case Kind::Conv:
      if (L.conv->fusedOk())
        L.conv->forwardFused(L.in, p(L.param), p(L.param + 1), zeros_.get(), L.out, L.out);
      else
        L.conv->forwardSeparate(L.in, p(L.param), p(L.param + 1), L.z.get(), L.out, L.out);
      break;
    case Kind::MaxPool:
      NB_CUDNN(cudnnPoolingForward(h_.cudnn, L.pool.d, &kOne, L.inDesc.d, L.in, &kZero,
                                   L.outDesc.d, L.out));
      break;
    case Kind::Dropout: {
      const std::uint64_t key = netc::kernels::detail::streamKey(seed, stream++);
      const float keep = L.def.rate < 1.f ? 1.f / (1.f - L.def.rate) : 0.f;
      dropoutMask<<<blocksFor(outCount), kThreads>>>(outCount, L.def.rate, key, keep,
                                                     L.mask.get());
      NB_LAUNCH("dropoutMask");
      NB_CUDNN(cudnnOpTensor(h_.cudnn, mul_, &kOne, L.inDesc.d, L.in, &kOne, L.outDesc.d,
                             L.mask.get(), &kZero, L.outDesc.d, L.out));
      break;
    }
    case Kind::Flatten:
      break;
    case Kind::Dense: {
      const int M = L.oc, K = L.c;
      // Row-major y[n][M] = x[n][K] W[M][K]^T is column-major y^T = W x^T.
      NB_CUBLAS(cublasSgemm(h_.cublas, CUBLAS_OP_T, CUBLAS_OP_N, M, n_, K, &kOne, p(L.param), K,
                            L.in, K, &kZero, L.out, M));
      NB_CUDNN(cudnnAddTensor(h_.cudnn, &kOne, L.biasDesc.d, p(L.param + 1), &kOne, L.outDesc.d,
                              L.out));
      if (L.def.act)
        NB_CUDNN(cudnnActivationForward(h_.cudnn, L.act.d, &kOne, L.outDesc.d, L.out, &kZero,
                                        L.outDesc.d, L.out));
      break;
    }
    }
  }
}

void CudnnNet::backward() {
  for (std::size_t i = layers_.size(); i-- > 0;) {
    Layer &L = *layers_[i];
    float *gIn = i == 0 ? nullptr : L.gIn; // the images get no gradient
    switch (L.def.kind) {
    case Kind::Conv:
      // Relu's x is given as a (see the file comment) when z was not kept.
      L.conv->backward(L.gOut, L.in, p(L.param), L.conv->fusedOk() ? L.out : L.z.get(), L.out,
                       L.out, /*da=*/nullptr, L.dz.get(), gIn, g(L.param), g(L.param + 1));
      break;
    case Kind::MaxPool:
      NB_CUDNN(cudnnPoolingBackward(h_.cudnn, L.pool.d, &kOne, L.outDesc.d, L.out, L.outDesc.d,
                                    L.gOut, L.inDesc.d, L.in, &kZero, L.inDesc.d, gIn));
      break;
    case Kind::Dropout:
      NB_CUDNN(cudnnOpTensor(h_.cudnn, mul_, &kOne, L.outDesc.d, L.gOut, &kOne, L.outDesc.d,
                             L.mask.get(), &kZero, L.inDesc.d, gIn));
      break;
    case Kind::Flatten:
      break;
    case Kind::Dense: {
      const int M = L.oc, K = L.c;
      const float *dz = L.gOut;
      if (L.def.act) {
        NB_CUDNN(cudnnActivationBackward(h_.cudnn, L.act.d, &kOne, L.outDesc.d, L.out,
                                         L.outDesc.d, L.gOut, L.outDesc.d, L.out, &kZero,
                                         L.outDesc.d, L.dz.get()));
        dz = L.dz.get();
      }
      // dW[M][K] = dz^T x: column-major dW^T (K x M) = x^T (K x n) . dz (n x M).
      NB_CUBLAS(cublasSgemm(h_.cublas, CUBLAS_OP_N, CUBLAS_OP_T, K, M, n_, &kOne, L.in, K, dz, M,
                            &kZero, g(L.param), K));
      NB_CUDNN(cudnnConvolutionBackwardBias(h_.cudnn, &kOne, L.outDesc.d, dz, &kZero,
                                            L.biasDesc.d, g(L.param + 1)));
      // dx[n][K] = dz W: column-major dx^T (K x n) = W^T (K x M) . dz^T (M x n).
      if (gIn)
        NB_CUBLAS(cublasSgemm(h_.cublas, CUBLAS_OP_N, CUBLAS_OP_N, K, n_, M, &kOne, p(L.param),
                              K, dz, M, &kZero, gIn, K));
      break;
    }
    }
  }
}

LossResult CudnnNet::step(const float *images, const std::int32_t *labels, std::uint64_t seed) {
  NB_CUDA(cudaMemcpy(input_.get(), images, input_.bytes(), cudaMemcpyHostToDevice));
  NB_CUDA(cudaMemcpy(labels_.get(), labels, labels_.bytes(), cudaMemcpyHostToDevice));
  forward(seed);
  Layer &last = *layers_.back();
  NB_CUDNN(cudnnSoftmaxForward(h_.cudnn, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE,
                               &kOne, logitsDesc_.d, last.out, &kZero, logitsDesc_.d,
                               probs_.get()));
  softmaxCrossEntropy<<<1, kThreads>>>(n_, def_.classes, probs_.get(), labels_.get(), last.gOut,
                                       result_.get());
  NB_LAUNCH("softmaxCrossEntropy");
  backward();
  ++t_;
  const float c1 = float(1.0 / (1.0 - std::pow(double(adam_.beta1), double(t_))));
  const float c2 = float(1.0 / (1.0 - std::pow(double(adam_.beta2), double(t_))));
  const std::int64_t size = std::int64_t(params_.size());
  adam<<<blocksFor(size), kThreads>>>(size, params_.get(), grads_.get(), m_.get(), v_.get(),
                                      adam_.lr, adam_.beta1, adam_.beta2, adam_.eps, c1, c2);
  NB_LAUNCH("adam");
  LossResult r{};
  NB_CUDA(cudaMemcpy(&r, result_.get(), sizeof r, cudaMemcpyDeviceToHost));
  return r;
}

//===----------------------------------------------------------------------===//
// The model library
//===----------------------------------------------------------------------===//

struct Api {
  decltype(&netc_model) model;
  decltype(&netc_create) create;
  decltype(&netc_destroy) destroy;
  decltype(&netc_param_data) paramData;
  decltype(&netc_state_data) stateData;
  decltype(&netc_train_step) trainStep;
  decltype(&netc_last_error) lastError;
  decltype(&netc_set_train_data) setTrainData;
  decltype(&netc_train_steps) trainSteps;
};

/// Loads the library; "" or why not.
std::string load(const char *path, Api &api) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    return std::string("cannot load it: ") + dlerror();
  bool ok = true;
  auto sym = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    ok = ok && fn;
  };
  sym(api.model, "netc_model");
  sym(api.create, "netc_create");
  sym(api.destroy, "netc_destroy");
  sym(api.paramData, "netc_param_data");
  sym(api.stateData, "netc_state_data");
  sym(api.trainStep, "netc_train_step");
  sym(api.lastError, "netc_last_error");
  sym(api.setTrainData, "netc_set_train_data");
  sym(api.trainSteps, "netc_train_steps");
  if (!ok)
    return "it does not export the netc model ABI";
  const netc_model_info *info = api.model();
  if (info->magic != NETC_MAGIC || info->abi_version != NETC_ABI_VERSION)
    return "it has ABI version " + std::to_string(info->abi_version) + ", netbench expects " +
           std::to_string(NETC_ABI_VERSION);
  if (!(info->devices & (1u << NETC_DEVICE_CUDA)))
    return "it has no CUDA path (netc found no nvcc when it built it)";
  return "";
}

struct Instance {
  Api &api;
  netc_instance *inst = nullptr;
  explicit Instance(Api &a) : api(a) {}
  ~Instance() {
    if (inst)
      api.destroy(inst);
  }
};

/// Adam's step where the gradient is not negligible: see the file comment.
struct WeightCheck {
  double maxSignificant = 0; // max |dp| where |g| >= 1e-3 max|g|, in units of lr
  double maxOther = 0;       // elsewhere, in units of lr
  std::size_t otherBeyond = 0, others = 0;
};

WeightCheck checkWeights(const std::vector<float> &pa, const std::vector<float> &pb,
                         const std::vector<float> &g, float lr) {
  WeightCheck c;
  double gMax = 0;
  for (float x : g)
    gMax = std::max(gMax, double(std::fabs(x)));
  for (std::size_t j = 0; j < pa.size(); ++j) {
    const double d = std::isfinite(pa[j]) && std::isfinite(pb[j])
                         ? std::fabs(double(pa[j]) - double(pb[j])) / lr
                         : INFINITY;
    if (std::fabs(g[j]) >= 1e-3 * gMax) {
      c.maxSignificant = std::max(c.maxSignificant, d);
    } else {
      ++c.others;
      c.maxOther = std::max(c.maxOther, d);
      c.otherBeyond += d > 1e-2;
    }
  }
  return c;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

} // namespace

namespace {

/// The trainable parameters' indices and shapes, in the library's order.
void trainableParams(const netc_model_info *info, std::vector<int> &indices,
                     std::vector<std::vector<std::int64_t>> &shapes) {
  for (int i = 0; i < info->num_params; ++i)
    if (info->params[i].trainable) {
      indices.push_back(i);
      shapes.emplace_back(info->params[i].shape, info->params[i].shape + info->params[i].rank);
    }
}

/// Loads the library and matches it with a written network; "" or why not.
/// Needs no device: netc_model() is metadata.
std::string matchModel(const char *library, Api &api, const NetDef *&def) {
  std::string why = load(library, api);
  if (!why.empty())
    return why;
  const netc_model_info *info = api.model();
  def = nullptr;
  for (const NetDef &d : networks())
    if (info->network == std::string(d.name))
      def = &d;
  if (!def)
    return std::string("it is the network '") + info->network +
           "'; the cuDNN implementation has lenet5 and mnist_cnn";
  if (info->train.optimizer != NETC_OPTIMIZER_ADAM)
    return "it trains with SGD; the cuDNN implementation has Adam only";
  if (info->input_rank != 3 || info->input_shape[0] != def->c ||
      info->input_shape[1] != def->h || info->input_shape[2] != def->w ||
      info->classes != def->classes)
    return "its input or classes differ from the cuDNN network's";
  std::vector<int> indices;
  std::vector<std::vector<std::int64_t>> shapes;
  trainableParams(info, indices, shapes);
  const std::vector<std::vector<std::int64_t>> expected = expectedShapes(*def);
  if (shapes.size() != expected.size())
    return "it has " + std::to_string(shapes.size()) + " trainable parameters, the cuDNN "
           "network " + std::to_string(expected.size());
  for (std::size_t i = 0; i < shapes.size(); ++i)
    if (shapes[i] != expected[i])
      return std::string("its parameter '") + info->params[indices[i]].name + "' is " +
             shapeText(shapes[i]) + ", the cuDNN network expects " + shapeText(expected[i]);
  return "";
}

} // namespace

std::string checkModel(const char *library) {
  Api api{};
  const NetDef *def = nullptr;
  return matchModel(library, api, def);
}

int runCudaStep(const char *library, const CudaOptions &opt, const DeviceInfo &dev) {
  (void)dev;
  Api api{};
  const NetDef *def = nullptr;
  std::string why = matchModel(library, api, def);
  if (!why.empty()) {
    std::printf("error: '%s': %s\n", library, why.c_str());
    return 1;
  }
  const netc_model_info *info = api.model();
  const int batch = opt.stepBatch > 0 ? opt.stepBatch : info->train.batch > 0 ? info->train.batch : 128;
  // netc emits the hyper-parameters as float literals; the same floats here.
  const Adam adamSetup{float(info->train.learning_rate), float(info->train.beta1),
                       float(info->train.beta2), float(info->train.epsilon)};
  std::printf("\ntraining step: %s ('%s'), batch %d; Adam lr %g beta1 %g beta2 %g eps %g\n",
              library, info->network, batch, adamSetup.lr, adamSetup.beta1, adamSetup.beta2,
              adamSetup.eps);

  // The trainable parameters, in the library's order.
  std::vector<int> trainable;
  std::vector<std::vector<std::int64_t>> shapes;
  trainableParams(info, trainable, shapes);

  // netc's instance.
  Instance netc(api);
  char err[1024] = "";
  netc.inst = api.create(NETC_DEVICE_CUDA, batch, /*threads=*/1, err, sizeof err);
  if (!netc.inst) {
    std::printf("error: '%s': netc_create(NETC_DEVICE_CUDA) failed: %s\n", library, err);
    return 1;
  }

  Handles handles(opt.tf32);
  Workspace workspace;
  CudnnNet net(handles, workspace, *def, batch, adamSetup);
  why = net.build(shapes);
  if (!why.empty()) {
    std::printf("error: '%s' does not match the cuDNN network '%s': %s\n", library, def->name,
                why.c_str());
    return 1;
  }
  std::printf("cuDNN algorithms (searched at batch %d):\n%s", batch, net.describe().c_str());

  // The same weights (Glorot-uniform kernels as the library's initialisers,
  // small nonzero biases so that their gradients matter) in both.
  std::mt19937_64 rng(7);
  for (std::size_t t = 0; t < trainable.size(); ++t) {
    const netc_tensor_info &pi = info->params[trainable[t]];
    const bool bias = pi.rank == 1;
    const float limit = bias ? 0.05f : float(std::sqrt(6.0 / double(pi.fan_in + pi.fan_out)));
    std::uniform_real_distribution<float> u(-limit, limit);
    std::vector<float> values(std::size_t(pi.size));
    for (float &v : values)
      v = u(rng);
    float *d = api.paramData(netc.inst, trainable[t]);
    std::copy(values.begin(), values.end(), d);
    net.setParam(int(t), values);
  }
  // One batch of random images in [0, 1) with valid labels; one dropout seed.
  const std::size_t perImage = std::size_t(def->c) * def->h * def->w;
  const std::vector<float> images = uniform(perImage * batch, 0.f, 1.f, 11);
  std::vector<std::int32_t> labels(batch);
  for (std::int32_t &l : labels)
    l = std::int32_t(rng() % std::uint64_t(def->classes));
  const std::uint64_t seed = 1234;

  // --- one step each, compared -------------------------------------------------
  float netcLoss = 0;
  std::int32_t netcCorrect = 0;
  bool netcOk = api.trainStep(netc.inst, images.data(), labels.data(), batch, seed, &netcLoss,
                              &netcCorrect) == NETC_OK;
  if (!netcOk)
    std::printf("error: netc_train_step failed: %s\n", api.lastError(netc.inst));
  const LossResult mine = net.step(images.data(), labels.data(), seed);
  std::printf("check step 1: loss netc %.6f, cuDNN %.6f; correct netc %d, cuDNN %d\n", netcLoss,
              mine.loss, netcCorrect, mine.correct);
  bool agree = netcOk;
  if (netcOk) {
    const double lossRel = std::fabs(double(netcLoss) - mine.loss) / std::max(1e-30, std::fabs(double(mine.loss)));
    const double lossTol = opt.tf32 ? 1e-2 : 1e-4;
    const bool lossOk = std::isfinite(netcLoss) && lossRel <= lossTol;
    std::printf("  loss: rel %.2e %s\n", lossRel, lossOk ? "ok" : "DISAGREES");
    if (netcCorrect != mine.correct)
      std::printf("  correct counts differ (a tie or a near-tie in the probabilities decides "
                  "it; not a failure by itself)\n");
    agree = agree && lossOk;
    const double gradTol = opt.tf32 ? 1e-2 : 1e-3;
    for (std::size_t t = 0; t < trainable.size(); ++t) {
      const netc_tensor_info &pi = info->params[trainable[t]];
      // netc's gradient, from Adam's first moment after one step from zero.
      int mIndex = -1;
      const std::string mName = std::string(pi.name) + "/adam_m";
      for (int s = 0; s < info->num_state; ++s)
        if (mName == info->state[s].name)
          mIndex = s;
      const std::vector<float> gMine = net.grad(int(t)), pMine = net.param(int(t));
      const float *pNetc = api.paramData(netc.inst, trainable[t]);
      if (!pNetc) {
        std::printf("  %-24s netc_param_data failed: %s\n", pi.name, api.lastError(netc.inst));
        agree = false;
        continue;
      }
      const std::vector<float> pn(pNetc, pNetc + pi.size);
      std::string gradText = "no '" + mName + "' slot: gradient not compared";
      bool gradOk = true;
      if (mIndex >= 0) {
        const float *m = api.stateData(netc.inst, mIndex);
        std::vector<float> gn(std::size_t(pi.size));
        for (std::size_t j = 0; j < gn.size(); ++j)
          gn[j] = float(double(m[j]) / (1.0 - double(adamSetup.beta1)));
        const Agreement ga = compare(gn, gMine);
        gradOk = ga.ok(gradTol);
        gradText = "grad " + describe(ga, gradTol, gn, gMine);
      }
      const WeightCheck wc = checkWeights(pn, pMine, gMine, adamSetup.lr);
      const bool weightOk = wc.maxSignificant <= 1e-2 && wc.maxOther <= 2.0 + 1e-3;
      std::printf("  %-24s %s; weights max |diff| %.1e lr where |g| >= 1e-3 max|g|, %.1e lr "
                  "elsewhere (%zu of %zu beyond 1e-2 lr) %s\n",
                  pi.name, gradText.c_str(), wc.maxSignificant, wc.maxOther, wc.otherBeyond,
                  wc.others, weightOk ? "ok" : "DISAGREE");
      agree = agree && gradOk && weightOk;
    }
  }
  if (!agree)
    std::printf("netc's step disagrees with the cuDNN network's (or failed): netc not timed\n");

  // --- timing ----------------------------------------------------------------------
  // Both sides train on, each with its own run of dropout seeds.
  std::uint64_t netcSeed = seed + 1, cudnnSeed = seed + 1;
  int status = NETC_OK;
  float lastNetc = 0, lastCudnn = 0;
  auto netcStep = [&] {
    std::int32_t correct = 0;
    status |= api.trainStep(netc.inst, images.data(), labels.data(), batch, netcSeed++,
                            &lastNetc, &correct);
  };
  auto cudnnStep = [&] { lastCudnn = net.step(images.data(), labels.data(), cudnnSeed++).loss; };
  EventTimer timer;
  for (int i = 0; i < 3; ++i) {
    if (agree)
      netcStep();
    cudnnStep();
  }
  int steps = opt.steps;
  if (steps <= 0) {
    const double once = timer.perCall(cudnnStep, 3);
    steps = int(std::clamp(0.2 / std::max(once, 1e-6), 10.0, 2000.0));
  }
  std::vector<double> netcRounds, cudnnRounds;
  for (int round = 0; round < 5; ++round) {
    if (agree)
      netcRounds.push_back(timer.perCall(netcStep, steps));
    cudnnRounds.push_back(timer.perCall(cudnnStep, steps));
  }
  if (status != NETC_OK) {
    std::printf("error: netc_train_step failed while timed: %s\n", api.lastError(netc.inst));
    return 1;
  }
  const double tNetc = agree ? median(netcRounds) : 0, tCudnn = median(cudnnRounds);
  std::printf("%d steps a round, 5 rounds alternating, median round (device events); last "
              "loss on the repeated batch: netc %.4f, cuDNN %.4f\n\n",
              steps, lastNetc, lastCudnn);
  std::printf("| model | batch | netc us/step | cuDNN+cuBLAS us/step | netc images/s | "
              "cuDNN+cuBLAS images/s | cuDNN us / netc us |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::printf("| %s | %d | %s | %s | %s | %s | %s |\n", info->network, batch,
              fmtUs(tNetc).c_str(), fmtUs(tCudnn).c_str(), fmtImages(batch, tNetc).c_str(),
              fmtImages(batch, tCudnn).c_str(), fmtRatio(tCudnn, tNetc).c_str());
  if (!agree)
    return 1;

  // netc's runs of steps (netc_train_steps), as netrun trains on a GPU: the
  // training set held on the device, one captured step graph replayed per
  // batch, one synchronisation per call of kRun steps. Random bytes: the
  // time of a step does not depend on the pixels.
  constexpr int kRun = 64;
  std::int64_t inputSize = 1;
  for (int d = 0; d < info->input_rank; ++d)
    inputSize *= info->input_shape[d];
  const std::int64_t samples = std::int64_t(kRun) * batch;
  std::vector<std::uint8_t> pixels(static_cast<size_t>(samples * inputSize));
  std::vector<std::int32_t> runLabels(static_cast<size_t>(samples));
  std::mt19937 gen(seed);
  for (std::uint8_t &v : pixels)
    v = std::uint8_t(gen() & 255u);
  for (std::int32_t &v : runLabels)
    v = std::int32_t(gen() % std::uint32_t(info->classes));
  std::vector<float> table(256);
  for (int p = 0; p < 256; ++p)
    table[size_t(p)] = float(p) / 255.0f;
  std::vector<std::int64_t> order(static_cast<size_t>(samples));
  for (std::int64_t i = 0; i < samples; ++i)
    order[size_t(i)] = i;
  std::vector<std::uint64_t> seeds(kRun);
  std::vector<float> rates(kRun, float(info->train.learning_rate)), losses(kRun);
  std::vector<std::int32_t> corrects(kRun);
  if (api.setTrainData(netc.inst, pixels.data(), runLabels.data(), samples, table.data(), 1) !=
      NETC_OK) {
    std::printf("error: netc_set_train_data failed: %s\n", api.lastError(netc.inst));
    return 1;
  }
  auto netcRun = [&] {
    for (std::uint64_t &v : seeds)
      v = netcSeed++;
    status |= api.trainSteps(netc.inst, order.data(), samples, seeds.data(), rates.data(),
                             losses.data(), corrects.data());
  };
  netcRun(); // captures the step graph
  std::vector<double> runRounds;
  for (int round = 0; round < 5; ++round)
    runRounds.push_back(timer.perCall(netcRun, 1) / kRun);
  if (status != NETC_OK) {
    std::printf("error: netc_train_steps failed while timed: %s\n", api.lastError(netc.inst));
    return 1;
  }
  const double tRun = median(runRounds);
  std::printf("| %s, netc_train_steps (%d steps a call, graph replay) | %d | %s | %s | %s | %s | "
              "%s |\n",
              info->network, kRun, batch, fmtUs(tRun).c_str(), fmtUs(tCudnn).c_str(),
              fmtImages(batch, tRun).c_str(), fmtImages(batch, tCudnn).c_str(),
              fmtRatio(tCudnn, tRun).c_str());
  return 0;
}

} // namespace netbench::gpu
