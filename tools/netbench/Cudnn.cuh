//===- Cudnn.cuh - one conv layer (+ bias, activation, pooling) in cuDNN 9 -*- CUDA -*-===//
//
// The cuDNN side of the GPU comparison, shared by the per-layer benchmark
// (CudaLayers.cu) and the whole step (CudaStep.cu, CudnnNet.cu). A layer is a 2-D
// cross-correlation, stride 1, square kernel, symmetric zero padding, FP32
// NCHW (the project's layout, so no transposes on either side), bias,
// activation, and an optional 2x2 stride-2 pooling (max, or average
// excluding padding: there is none here):
//
//   forward, fused:    cudnnConvolutionBiasActivationForward (conv + bias +
//                      activation in one call, `a`), then cudnnPoolingForward;
//   forward, separate: cudnnConvolutionForward (z), cudnnAddTensor (bias, in
//                      place), cudnnActivationForward (a), cudnnPoolingForward;
//   backward:          cudnnPoolingBackward (da), cudnnActivationBackward
//                      (dz), cudnnConvolutionBackwardBias (db),
//                      cudnnConvolutionBackwardFilter (dw),
//                      cudnnConvolutionBackwardData (dx, when asked).
//
// Algorithms: cudnnFind...AlgorithmEx measures every algorithm on the real
// buffers and returns them fastest first; the separate forward and the
// backward take the first that succeeded. The fused call is documented to
// support only some algorithms with some activations (IMPLICIT_PRECOMP_GEMM is
// the one always accepted), so the fused forward tries the ranked list in
// order and keeps the first algorithm the call accepts; with an activation it
// does not support at all (it takes only RELU and IDENTITY), `fusedOk()` is
// false and only the separate form runs.
//
// Math: by default every convolution descriptor is CUDNN_FMA_MATH, i.e. FP32
// on the CUDA cores as netc's kernels compute, so outputs can be compared at
// FP32 tolerances; with tf32, CUDNN_DEFAULT_MATH lets cuDNN use TF32 tensor
// cores (Ampere and later), each algorithm running under the math type its
// search reported.
//
//===----------------------------------------------------------------------===//

#ifndef NETBENCH_CUDNN_CUH
#define NETBENCH_CUDNN_CUH

#include "CudaCommon.cuh"

#include <string>
#include <vector>

namespace netc::bench::gpu {

/// A conv layer's geometry and epilogue (stride 1, square kernel; pooling
/// 2x2 stride 2). act: 0 none, 1 relu, 2 sigmoid, 3 tanh (Fused.h's codes).
struct ConvGeometry {
  int c, h, w, f, k, pad, oh, ow;
  int act;
  int pool; // 0 none, 1 max, 2 average
  int poh, pow;
  int yh() const { return pool ? poh : oh; }
  int yw() const { return pool ? pow : ow; }
};

/// Owning wrappers of the descriptors.
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc() { NB_CUDNN(cudnnCreateTensorDescriptor(&d)); }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc &) = delete;
  TensorDesc &operator=(const TensorDesc &) = delete;
  void set(int n, int c, int h, int w) {
    NB_CUDNN(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  }
};
struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc() { NB_CUDNN(cudnnCreateFilterDescriptor(&d)); }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc &) = delete;
  FilterDesc &operator=(const FilterDesc &) = delete;
};
struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc() { NB_CUDNN(cudnnCreateConvolutionDescriptor(&d)); }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
  ConvDesc(const ConvDesc &) = delete;
  ConvDesc &operator=(const ConvDesc &) = delete;
};
struct ActivationDesc {
  cudnnActivationDescriptor_t d = nullptr;
  ActivationDesc() { NB_CUDNN(cudnnCreateActivationDescriptor(&d)); }
  ~ActivationDesc() { cudnnDestroyActivationDescriptor(d); }
  ActivationDesc(const ActivationDesc &) = delete;
  ActivationDesc &operator=(const ActivationDesc &) = delete;
};
struct PoolingDesc {
  cudnnPoolingDescriptor_t d = nullptr;
  PoolingDesc() { NB_CUDNN(cudnnCreatePoolingDescriptor(&d)); }
  ~PoolingDesc() { cudnnDestroyPoolingDescriptor(d); }
  PoolingDesc(const PoolingDesc &) = delete;
  PoolingDesc &operator=(const PoolingDesc &) = delete;
};

/// The activation mode for a Fused.h code (IDENTITY for 0).
cudnnActivationMode_t activationMode(int act);
const char *activationName(int act);
const char *fwdAlgoName(cudnnConvolutionFwdAlgo_t a);
const char *bwdDataAlgoName(cudnnConvolutionBwdDataAlgo_t a);
const char *bwdFilterAlgoName(cudnnConvolutionBwdFilterAlgo_t a);

/// A workspace shared by every layer of a process, grown on demand.
class Workspace {
public:
  void *get() const { return buffer_.get(); }
  std::size_t bytes() const { return buffer_.bytes(); }
  void reserve(std::size_t bytes) {
    if (bytes > buffer_.bytes())
      buffer_.resize(bytes);
  }

private:
  DeviceArray<unsigned char> buffer_;
};

class CudnnConv {
public:
  /// Descriptors for batch n; no algorithm chosen yet.
  CudnnConv(Handles &handles, Workspace &workspace, const ConvGeometry &g, int n);

  /// Runs the algorithm searches on these buffers (their contents are
  /// overwritten: z, dx, dw). `searchBytes` bounds the workspace offered.
  /// dx may be null: no backward-data search (the layer gets no dx).
  void search(const float *x, const float *w, float *z, const float *dz, float *dx, float *dw,
              std::size_t searchBytes);

  bool fusedOk() const { return fusedAlgo_ >= 0; }
  /// a = act(conv(x, w) + b) in one cuDNN call, then y = pool(a) (y == a
  /// without pooling). zScratch: an [n,F,OH,OW] buffer of zeros, which the
  /// call reads as its z input (scaled by 0) and does not write.
  void forwardFused(const float *x, const float *w, const float *b, float *zScratch, float *a,
                    float *y);
  /// z = conv(x, w) + b, a = act(z), y = pool(a) (y == a without pooling;
  /// a == z without an activation).
  void forwardSeparate(const float *x, const float *w, const float *b, float *z, float *a,
                       float *y);
  /// From the separate forward's z, a, y: db, dw and (if dx) dx. da: scratch
  /// [n,F,OH,OW] (unused without pooling), dz: [n,F,OH,OW].
  void backward(const float *dy, const float *x, const float *w, const float *z, const float *a,
                const float *y, float *da, float *dz, float *dx, float *dw, float *db);

  /// "fwd IMPLICIT_PRECOMP_GEMM (fused) / FFT (conv); bwd data ..., filter ...".
  std::string describeForward() const;
  std::string describeBackward() const;
  /// Why the fused call was not usable ("" when it is).
  const std::string &fusedWhy() const { return fusedWhy_; }

private:
  /// The plain forward's algorithms that fit, fastest first; the first is
  /// chosen.
  std::vector<cudnnConvolutionFwdAlgoPerf_t> searchForward(const float *x, const float *w,
                                                           float *z, std::size_t searchBytes);
  /// The fastest of `ranked` that the fused call accepts, or why none.
  void searchFused(const std::vector<cudnnConvolutionFwdAlgoPerf_t> &ranked, const float *x,
                   const float *w, float *z, std::size_t searchBytes);
  void searchBackwardFilter(const float *x, const float *dz, float *dw, std::size_t searchBytes);
  void searchBackwardData(const float *w, const float *dz, float *dx, std::size_t searchBytes);

  Handles &h_;
  Workspace &ws_;
  ConvGeometry g_;
  int n_;
  TensorDesc x_, z_, y_, b_;
  FilterDesc w_;
  ConvDesc convFwd_, convFused_, convBwdData_, convBwdFilter_;
  ActivationDesc act_;
  PoolingDesc pool_;
  cudnnConvolutionFwdAlgo_t fwdAlgo_{};
  int fusedAlgo_ = -1; // cudnnConvolutionFwdAlgo_t, -1: the fused call is not used
  cudnnConvolutionBwdDataAlgo_t bwdDataAlgo_{};
  cudnnConvolutionBwdFilterAlgo_t bwdFilterAlgo_{};
  std::size_t fwdBytes_ = 0, fusedBytes_ = 0, bwdDataBytes_ = 0, bwdFilterBytes_ = 0;
  bool searched_ = false, searchedData_ = false;
  std::string fusedWhy_;
};

} // namespace netc::bench::gpu

#endif // NETBENCH_CUDNN_CUH
