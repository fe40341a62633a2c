//===- CudnnNet.cuh - a network in cuDNN and cuBLAS, trained a step at a time -*- CUDA -*-===//
//
// The cuDNN side of the whole-step comparison (CudaStep.cu): a network of
// conv, max pooling, dropout, flatten and dense layers, then softmax and
// cross-entropy, trained with Adam, written with these calls:
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
//===----------------------------------------------------------------------===//

#ifndef NETBENCH_CUDNNNET_CUH
#define NETBENCH_CUDNNNET_CUH

#include "CudaCommon.cuh"
#include "Cudnn.cuh"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace netc::bench::gpu {

//===----------------------------------------------------------------------===//
// A network's definition
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

/// "[6,1,5,5]"
std::string shapeText(const std::vector<std::int64_t> &s);

//===----------------------------------------------------------------------===//
// The cuDNN + cuBLAS network
//===----------------------------------------------------------------------===//

/// What a step returns: the mean loss and the correct count of the batch.
struct LossResult {
  float loss;
  int correct;
};

struct Adam {
  float lr, beta1, beta2, eps;
};

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
  /// The layers with their shapes; "" or why `shapes` do not match them.
  std::string layOut(const std::vector<std::vector<std::int64_t>> &shapes);
  /// The parameters, gradients and moments, and each layer's activations.
  void allocate(const std::vector<std::vector<std::int64_t>> &shapes);
  /// The descriptors and, for the convs, cuDNN's searches.
  void prepareLayers();
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

} // namespace netc::bench::gpu

#endif // NETBENCH_CUDNNNET_CUH
