//===- CudaMain.cu - netbench --device cuda: device, versions, dispatch ----===//
//
// It first checks the model libraries (--model), which needs no device: each
// must load and match a network of CudaStep.cu. Then, without a usable device
// (no driver, no GPU), it prints one line, "no usable CUDA device: ...", and
// returns 0, as a skipped comparison does elsewhere in netbench. Otherwise it prints the device, the libraries' versions and the
// napkin FP32 peak, then runs the layers and/or the models' steps.
//
// Peak napkin: SMs x FP32 lanes per SM x 2 flops (FMA) x the boost clock.
// FP32 lanes per SM: 64 on compute capability 7.x and 8.0 (V100, A100), 128
// on 8.6 and later (H100 SXM: 132 x 128 x 2 x 1.98 GHz = 66.9 TFLOP/s). The
// TF32/FP16 tensor cores are not counted: netc's kernels use the CUDA cores.
//
//===----------------------------------------------------------------------===//

#include "Cuda.h"
#include "CudaCommon.cuh"
#include "CudaRun.h"

#include <cstdio>

namespace netc::bench::gpu {

std::string fmtUs(double s) {
  if (s <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, s * 1e6 < 100 ? "%.1f" : "%.0f", s * 1e6);
  return buf;
}

std::string fmtRate(double perCall, double s) {
  if (s <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, perCall / s < 1000 ? "%.1f" : "%.0f", perCall / s);
  return buf;
}

std::string fmtImages(int batch, double s) {
  if (s <= 0)
    return "-";
  const long long v = (long long)(double(batch) / s + 0.5);
  std::string digits = std::to_string(v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

std::string fmtRatio(double num, double den) {
  if (num <= 0 || den <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", num / den);
  return buf;
}

namespace {

DeviceInfo queryDevice() {
  DeviceInfo d;
  NB_CUDA(cudaSetDevice(0));
  cudaDeviceProp prop{};
  NB_CUDA(cudaGetDeviceProperties(&prop, 0));
  d.name = prop.name;
  d.major = prop.major;
  d.minor = prop.minor;
  d.sms = prop.multiProcessorCount;
  int kHz = 0;
  NB_CUDA(cudaDeviceGetAttribute(&kHz, cudaDevAttrClockRate, 0));
  d.clockGHz = kHz * 1e-6;
  const int lanes = (d.major < 8 || (d.major == 8 && d.minor == 0)) ? 64 : 128;
  d.peakGflops = double(d.sms) * lanes * 2 * d.clockGHz;
  return d;
}

} // namespace
} // namespace netc::bench::gpu

namespace netc::bench {

int runCuda(const CudaOptions &opt) {
  using namespace gpu;
  // The libraries first: their metadata needs no device.
  for (const char *model : opt.models) {
    const std::string why = checkModel(model);
    if (!why.empty()) {
      std::printf("error: '%s': %s\n", model, why.c_str());
      return 1;
    }
  }
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    std::printf("no usable CUDA device: cudaGetDeviceCount failed with %s (%s)\n",
                cudaGetErrorName(status), cudaGetErrorString(status));
    return 0;
  }
  if (count == 0) {
    std::printf("no usable CUDA device: cudaGetDeviceCount found none\n");
    return 0;
  }
  int rc = 0;
  try {
    const DeviceInfo dev = queryDevice();
    int runtime = 0, driver = 0;
    NB_CUDA(cudaRuntimeGetVersion(&runtime));
    NB_CUDA(cudaDriverGetVersion(&driver));
    int cublasMajor = 0, cublasMinor = 0, cublasPatch = 0;
    NB_CUBLAS(cublasGetProperty(MAJOR_VERSION, &cublasMajor));
    NB_CUBLAS(cublasGetProperty(MINOR_VERSION, &cublasMinor));
    NB_CUBLAS(cublasGetProperty(PATCH_LEVEL, &cublasPatch));
    const std::size_t cudnn = cudnnGetVersion();
    std::printf("netbench --device cuda: %s (compute capability %d.%d, %d SMs, %.2f GHz boost), "
                "%d of %d device%s\n",
                dev.name.c_str(), dev.major, dev.minor, dev.sms, dev.clockGHz, 1, count,
                count > 1 ? "s" : "");
    std::printf("CUDA runtime %d.%d, driver %d.%d; cuDNN %zu (built against %d.%d.%d); cuBLAS "
                "%d.%d.%d\n",
                runtime / 1000, runtime % 1000 / 10, driver / 1000, driver % 1000 / 10, cudnn,
                CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL, cublasMajor, cublasMinor,
                cublasPatch);
    std::printf("FP32 peak (CUDA cores, napkin): %.1f GFLOP/s\n\n", dev.peakGflops);
    if (cudnn / 10000 != CUDNN_MAJOR) {
      std::printf("error: libcudnn is version %zu, netbench was built against %d.x\n", cudnn,
                  CUDNN_MAJOR);
      return 1;
    }
    if (opt.layers)
      rc |= runCudaLayers(opt, dev);
    for (const char *model : opt.models)
      rc |= runCudaStep(model, opt, dev);
  } catch (const GpuError &e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  return rc;
}

} // namespace netc::bench
