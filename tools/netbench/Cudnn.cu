//===- Cudnn.cu - one conv layer in cuDNN 9: search, forward, backward ----===//
//
// See Cudnn.cuh. Only host code: every call goes through NB_CUDNN / NB_CUDA,
// except the fused call's trial runs, whose NOT_SUPPORTED / BAD_PARAM mean
// "try the next algorithm" (cuDNN documents per-algorithm restrictions of
// cudnnConvolutionBiasActivationForward).
//
//===----------------------------------------------------------------------===//

#include "Cudnn.cuh"

#include <cstdio>

namespace netc::bench::gpu {

cudnnActivationMode_t activationMode(int act) {
  switch (act) {
  case 1:
    return CUDNN_ACTIVATION_RELU;
  case 2:
    return CUDNN_ACTIVATION_SIGMOID;
  case 3:
    return CUDNN_ACTIVATION_TANH;
  default:
    return CUDNN_ACTIVATION_IDENTITY;
  }
}

const char *activationName(int act) {
  static const char *names[] = {"none", "relu", "sigmoid", "tanh"};
  return act >= 0 && act <= 3 ? names[act] : "?";
}

const char *fwdAlgoName(cudnnConvolutionFwdAlgo_t a) {
  switch (a) {
  case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM:
    return "IMPLICIT_GEMM";
  case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
    return "IMPLICIT_PRECOMP_GEMM";
  case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
    return "GEMM";
  case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT:
    return "DIRECT";
  case CUDNN_CONVOLUTION_FWD_ALGO_FFT:
    return "FFT";
  case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING:
    return "FFT_TILING";
  case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD:
    return "WINOGRAD";
  case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED:
    return "WINOGRAD_NONFUSED";
  default:
    return "?";
  }
}

const char *bwdDataAlgoName(cudnnConvolutionBwdDataAlgo_t a) {
  switch (a) {
  case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0:
    return "ALGO_0";
  case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1:
    return "ALGO_1";
  case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT:
    return "FFT";
  case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING:
    return "FFT_TILING";
  case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD:
    return "WINOGRAD";
  case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED:
    return "WINOGRAD_NONFUSED";
  default:
    return "?";
  }
}

const char *bwdFilterAlgoName(cudnnConvolutionBwdFilterAlgo_t a) {
  switch (a) {
  case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0:
    return "ALGO_0";
  case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1:
    return "ALGO_1";
  case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT:
    return "FFT";
  case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3:
    return "ALGO_3";
  case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED:
    return "WINOGRAD_NONFUSED";
  case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING:
    return "FFT_TILING";
  default:
    return "?";
  }
}

namespace {

const float kOne = 1.f, kZero = 0.f;

/// Whether a searched algorithm may be used: it ran, and (unless TF32 is
/// allowed) under FP32 math.
bool usable(cudnnStatus_t status, cudnnMathType_t math, bool tf32) {
  if (status != CUDNN_STATUS_SUCCESS)
    return false;
  return tf32 || math == CUDNN_FMA_MATH || math == CUDNN_DEFAULT_MATH;
}

/// The math type a convolution descriptor runs an algorithm under.
cudnnMathType_t runMath(cudnnMathType_t searched, bool tf32) {
  return tf32 ? searched : CUDNN_FMA_MATH;
}

/// The fastest of cuDNN's `got` measured results that ran, in the math the
/// run allows, within the workspace offered; throws when none is.
template <typename Perf>
int firstUsable(const std::vector<Perf> &perf, int got, bool tf32, std::size_t searchBytes,
                const char *search) {
  for (int i = 0; i < got; ++i)
    if (usable(perf[i].status, perf[i].mathType, tf32) && perf[i].memory <= searchBytes)
      return i;
  throw GpuError(std::string(search) + " returned no usable algorithm (" + std::to_string(got) +
                 " tried)");
}

} // namespace

CudnnConv::CudnnConv(Handles &handles, Workspace &workspace, const ConvGeometry &g, int n)
    : h_(handles), ws_(workspace), g_(g), n_(n) {
  x_.set(n, g.c, g.h, g.w);
  z_.set(n, g.f, g.oh, g.ow);
  y_.set(n, g.f, g.yh(), g.yw());
  b_.set(1, g.f, 1, 1);
  NB_CUDNN(cudnnSetFilter4dDescriptor(w_.d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g.f, g.c, g.k,
                                      g.k));
  for (ConvDesc *d : {&convFwd_, &convFused_, &convBwdData_, &convBwdFilter_}) {
    NB_CUDNN(cudnnSetConvolution2dDescriptor(d->d, g.pad, g.pad, 1, 1, 1, 1,
                                             CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    NB_CUDNN(cudnnSetConvolutionMathType(d->d, h_.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  }
  int on = 0, oc = 0, oh = 0, ow = 0;
  NB_CUDNN(cudnnGetConvolution2dForwardOutputDim(convFwd_.d, x_.d, w_.d, &on, &oc, &oh, &ow));
  if (on != n || oc != g.f || oh != g.oh || ow != g.ow)
    throw GpuError("cuDNN computes a conv output of " + std::to_string(on) + "x" +
                   std::to_string(oc) + "x" + std::to_string(oh) + "x" + std::to_string(ow) +
                   ", the layer table says " + std::to_string(n) + "x" + std::to_string(g.f) +
                   "x" + std::to_string(g.oh) + "x" + std::to_string(g.ow));
  NB_CUDNN(cudnnSetActivationDescriptor(act_.d, activationMode(g.act), CUDNN_NOT_PROPAGATE_NAN,
                                        /*coef=*/0.0));
  if (g.pool) {
    if (g.poh * 2 != g.oh || g.pow * 2 != g.ow)
      throw GpuError("the 2x2 pooling must tile the conv output (" + std::to_string(g.oh) + "x" +
                     std::to_string(g.ow) + " -> " + std::to_string(g.poh) + "x" +
                     std::to_string(g.pow) + ")");
    NB_CUDNN(cudnnSetPooling2dDescriptor(
        pool_.d, g.pool == 1 ? CUDNN_POOLING_MAX : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING,
        CUDNN_NOT_PROPAGATE_NAN, 2, 2, 0, 0, 2, 2));
  }
}

void CudnnConv::search(const float *x, const float *w, float *z, const float *dz, float *dx,
                       float *dw, std::size_t searchBytes) {
  ws_.reserve(searchBytes);
  std::vector<cudnnConvolutionFwdAlgoPerf_t> ranked = searchForward(x, w, z, searchBytes);
  searchFused(ranked, x, w, z, searchBytes);
  searchBackwardFilter(x, dz, dw, searchBytes);
  // Backward data only where the layer has an input gradient.
  searchedData_ = dx != nullptr;
  if (dx)
    searchBackwardData(w, dz, dx, searchBytes);
  searched_ = true;
}

std::vector<cudnnConvolutionFwdAlgoPerf_t>
CudnnConv::searchForward(const float *x, const float *w, float *z, std::size_t searchBytes) {
  const bool tf32 = h_.tf32;
  int max = 0, got = 0;
  NB_CUDNN(cudnnGetConvolutionForwardAlgorithmMaxCount(h_.cudnn, &max));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(std::max(max, 1));
  NB_CUDNN(cudnnFindConvolutionForwardAlgorithmEx(h_.cudnn, x_.d, x, w_.d, w, convFwd_.d, z_.d, z,
                                                  int(perf.size()), &got, perf.data(),
                                                  ws_.get(), searchBytes));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> ranked; // fastest first
  for (int i = 0; i < got; ++i)
    if (usable(perf[i].status, perf[i].mathType, tf32) && perf[i].memory <= searchBytes)
      ranked.push_back(perf[i]);
  if (ranked.empty())
    throw GpuError("cudnnFindConvolutionForwardAlgorithmEx returned no usable algorithm (" +
                   std::to_string(got) + " tried)");
  fwdAlgo_ = ranked[0].algo;
  fwdBytes_ = ranked[0].memory;
  NB_CUDNN(cudnnSetConvolutionMathType(convFwd_.d, runMath(ranked[0].mathType, tf32)));
  return ranked;
}

void CudnnConv::searchFused(const std::vector<cudnnConvolutionFwdAlgoPerf_t> &ranked,
                            const float *x, const float *w, float *z, std::size_t searchBytes) {
  const bool tf32 = h_.tf32;
  fusedAlgo_ = -1;
  if (g_.act != 0 && g_.act != 1) {
    fusedWhy_ = std::string("cudnnConvolutionBiasActivationForward takes only relu and "
                            "identity, not ") + activationName(g_.act);
    return;
  }
  // Its own output buffer, and z zeroed: z is read (scaled by 0), and the
  // forward search left whatever it left there.
  const std::size_t zCount = std::size_t(n_) * g_.f * g_.oh * g_.ow;
  DeviceBuffer bias(g_.f), out(zCount);
  NB_CUDA(cudaMemset(z, 0, zCount * sizeof(float)));
  EventTimer timer;
  double best = 0;
  std::string tried;
  cudnnMathType_t bestMath{};
  // Every ranked algorithm the fused call accepts, timed on this layer.
  for (const auto &p : ranked) {
    NB_CUDNN(cudnnSetConvolutionMathType(convFused_.d, runMath(p.mathType, tf32)));
    std::size_t bytes = 0;
    NB_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(h_.cudnn, x_.d, w_.d, convFused_.d, z_.d,
                                                     p.algo, &bytes));
    bytes = std::max(bytes, p.memory);
    if (bytes > searchBytes)
      continue;
    auto call = [&] {
      return cudnnConvolutionBiasActivationForward(
          h_.cudnn, &kOne, x_.d, x, w_.d, w, convFused_.d, p.algo, ws_.get(), bytes, &kZero,
          z_.d, z, b_.d, bias.get(), act_.d, z_.d, out.get());
    };
    const cudnnStatus_t s = call();
    if (s == CUDNN_STATUS_NOT_SUPPORTED || s == CUDNN_STATUS_BAD_PARAM) {
      tried += std::string(tried.empty() ? "" : ", ") + fwdAlgoName(p.algo) + ": " +
               cudnnGetErrorString(s);
      continue;
    }
    NB_CUDNN(s);
    auto timed = [&] { NB_CUDNN(call()); };
    const double t = timer.perCall(timed, 5);
    if (fusedAlgo_ < 0 || t < best) {
      best = t;
      fusedAlgo_ = int(p.algo);
      fusedBytes_ = bytes;
      bestMath = p.mathType;
    }
  }
  if (fusedAlgo_ >= 0)
    NB_CUDNN(cudnnSetConvolutionMathType(convFused_.d, runMath(bestMath, tf32)));
  else
    fusedWhy_ = "cudnnConvolutionBiasActivationForward accepted none of the searched "
                "algorithms (" + tried + ")";
}

void CudnnConv::searchBackwardFilter(const float *x, const float *dz, float *dw,
                                     std::size_t searchBytes) {
  const bool tf32 = h_.tf32;
  int max = 0, got = 0;
  NB_CUDNN(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h_.cudnn, &max));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(std::max(max, 1));
  NB_CUDNN(cudnnFindConvolutionBackwardFilterAlgorithmEx(
      h_.cudnn, x_.d, x, z_.d, dz, convBwdFilter_.d, w_.d, dw, int(perf.size()), &got,
      perf.data(), ws_.get(), searchBytes));
  const int i = firstUsable(perf, got, tf32, searchBytes, "cudnnFindConvolutionBackwardFilterAlgorithmEx");
  bwdFilterAlgo_ = perf[i].algo;
  bwdFilterBytes_ = perf[i].memory;
  NB_CUDNN(cudnnSetConvolutionMathType(convBwdFilter_.d, runMath(perf[i].mathType, tf32)));
}

void CudnnConv::searchBackwardData(const float *w, const float *dz, float *dx,
                                   std::size_t searchBytes) {
  const bool tf32 = h_.tf32;
  int max = 0, got = 0;
  NB_CUDNN(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h_.cudnn, &max));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(std::max(max, 1));
  NB_CUDNN(cudnnFindConvolutionBackwardDataAlgorithmEx(
      h_.cudnn, w_.d, w, z_.d, dz, convBwdData_.d, x_.d, dx, int(perf.size()), &got,
      perf.data(), ws_.get(), searchBytes));
  const int i = firstUsable(perf, got, tf32, searchBytes, "cudnnFindConvolutionBackwardDataAlgorithmEx");
  bwdDataAlgo_ = perf[i].algo;
  bwdDataBytes_ = perf[i].memory;
  NB_CUDNN(cudnnSetConvolutionMathType(convBwdData_.d, runMath(perf[i].mathType, tf32)));
}

void CudnnConv::forwardFused(const float *x, const float *w, const float *b, float *zScratch,
                             float *a, float *y) {
  if (!searched_ || fusedAlgo_ < 0)
    throw GpuError("CudnnConv::forwardFused: no algorithm (search first; " + fusedWhy_ + ")");
  // y = act(1 * conv(x) + 0 * z + bias); z is read (scaled by 0), never written.
  NB_CUDNN(cudnnConvolutionBiasActivationForward(
      h_.cudnn, &kOne, x_.d, x, w_.d, w, convFused_.d, cudnnConvolutionFwdAlgo_t(fusedAlgo_),
      ws_.get(), fusedBytes_, &kZero, z_.d, zScratch, b_.d, b, act_.d, z_.d, a));
  if (g_.pool)
    NB_CUDNN(cudnnPoolingForward(h_.cudnn, pool_.d, &kOne, z_.d, a, &kZero, y_.d, y));
}

void CudnnConv::forwardSeparate(const float *x, const float *w, const float *b, float *z,
                                float *a, float *y) {
  if (!searched_)
    throw GpuError("CudnnConv::forwardSeparate: search first");
  NB_CUDNN(cudnnConvolutionForward(h_.cudnn, &kOne, x_.d, x, w_.d, w, convFwd_.d, fwdAlgo_,
                                   ws_.get(), fwdBytes_, &kZero, z_.d, z));
  NB_CUDNN(cudnnAddTensor(h_.cudnn, &kOne, b_.d, b, &kOne, z_.d, z));
  const float *act = z;
  if (g_.act != 0) {
    NB_CUDNN(cudnnActivationForward(h_.cudnn, act_.d, &kOne, z_.d, z, &kZero, z_.d, a));
    act = a;
  }
  if (g_.pool)
    NB_CUDNN(cudnnPoolingForward(h_.cudnn, pool_.d, &kOne, z_.d, act, &kZero, y_.d, y));
}

void CudnnConv::backward(const float *dy, const float *x, const float *w, const float *z,
                         const float *a, const float *y, float *da, float *dz, float *dx,
                         float *dw, float *db) {
  if (!searched_ || (dx && !searchedData_))
    throw GpuError("CudnnConv::backward: search first (with dx when dx is wanted)");
  const float *act = g_.act != 0 ? a : z; // the pooling's input
  const float *gAct = dy;                 // d loss / d act
  if (g_.pool) {
    float *out = g_.act != 0 ? da : dz;
    NB_CUDNN(cudnnPoolingBackward(h_.cudnn, pool_.d, &kOne, y_.d, y, y_.d, dy, z_.d, act,
                                  &kZero, z_.d, out));
    gAct = out;
  }
  const float *gz = gAct;
  if (g_.act != 0) {
    NB_CUDNN(cudnnActivationBackward(h_.cudnn, act_.d, &kOne, z_.d, a, z_.d, gAct, z_.d, z,
                                     &kZero, z_.d, dz));
    gz = dz;
  }
  NB_CUDNN(cudnnConvolutionBackwardBias(h_.cudnn, &kOne, z_.d, gz, &kZero, b_.d, db));
  NB_CUDNN(cudnnConvolutionBackwardFilter(h_.cudnn, &kOne, x_.d, x, z_.d, gz, convBwdFilter_.d,
                                          bwdFilterAlgo_, ws_.get(), bwdFilterBytes_, &kZero,
                                          w_.d, dw));
  if (dx)
    NB_CUDNN(cudnnConvolutionBackwardData(h_.cudnn, &kOne, w_.d, w, z_.d, gz, convBwdData_.d,
                                          bwdDataAlgo_, ws_.get(), bwdDataBytes_, &kZero, x_.d,
                                          dx));
}

std::string CudnnConv::describeForward() const {
  std::string s = fusedAlgo_ >= 0
                      ? std::string("fused ") +
                            fwdAlgoName(cudnnConvolutionFwdAlgo_t(fusedAlgo_))
                      : std::string("fused n/a");
  return s + ", conv " + fwdAlgoName(fwdAlgo_);
}

std::string CudnnConv::describeBackward() const {
  std::string s = std::string("filter ") + bwdFilterAlgoName(bwdFilterAlgo_);
  if (searchedData_)
    s += std::string(", data ") + bwdDataAlgoName(bwdDataAlgo_);
  return s;
}

} // namespace netc::bench::gpu
