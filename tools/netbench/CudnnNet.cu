//===- CudnnNet.cu - the cuDNN + cuBLAS network of the whole-step comparison ===//
//
// The layers, buffers and cuDNN searches of a CudnnNet, its forward and
// backward passes, and the kernels cuDNN and cuBLAS do not have (the loss, the
// dropout mask, Adam). What each layer calls: CudnnNet.cuh.
//
//===----------------------------------------------------------------------===//

#include "CudnnNet.cuh"

#include "net/Kernels/Random.h"

#include <cmath>

namespace netc::bench::gpu {
namespace {

//===----------------------------------------------------------------------===//
// Kernels cuDNN and cuBLAS do not have
//===----------------------------------------------------------------------===//

constexpr int kThreads = 256;

unsigned blocksFor(std::int64_t total) {
  return unsigned(std::clamp<std::int64_t>((total + kThreads - 1) / kThreads, 1, 65535 * 4));
}

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

const float kOne = 1.f, kZero = 0.f;

} // namespace

std::string shapeText(const std::vector<std::int64_t> &s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i)
    t += (i ? "," : "") + std::to_string(s[i]);
  return t + "]";
}

//===----------------------------------------------------------------------===//
// The cuDNN + cuBLAS network
//===----------------------------------------------------------------------===//

std::string CudnnNet::build(const std::vector<std::vector<std::int64_t>> &shapes) {
  std::string why = layOut(shapes);
  if (!why.empty())
    return why;
  allocate(shapes);
  prepareLayers();
  return "";
}

std::string CudnnNet::layOut(const std::vector<std::vector<std::int64_t>> &shapes) {
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
  return "";
}

void CudnnNet::allocate(const std::vector<std::vector<std::int64_t>> &shapes) {
  // One flat buffer each for the parameters, gradients and Adam's moments.
  std::size_t total = 0;
  for (const auto &s : shapes) {
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
}

void CudnnNet::prepareLayers() {
  const std::size_t N = std::size_t(n_);
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

} // namespace netc::bench::gpu
