//===- CudaRun.h - the parts of netbench --device cuda, for CudaMain.cu -*- C++ -*-===//

#ifndef NETBENCH_CUDARUN_H
#define NETBENCH_CUDARUN_H

#include "Cuda.h"

#include <string>

namespace netc::bench::gpu {

/// The device the run measures (device 0), as printed in the header.
struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0, sms = 0;
  double clockGHz = 0;
  double peakGflops = 0; // FP32 FMA on the CUDA cores (napkin, see CudaMain.cu)
};

/// (a): per conv layer, netc's fused kernels vs cuDNN (CudaLayers.cu).
int runCudaLayers(const CudaOptions &opt, const DeviceInfo &dev);

/// (b): one model library's training step vs the cuDNN + cuBLAS network of
/// the same name (CudaStep.cu).
int runCudaStep(const char *library, const CudaOptions &opt, const DeviceInfo &dev);

/// Whether `library` loads and matches one of those networks: "" or why not.
/// Needs no device, so it runs before the device check.
std::string checkModel(const char *library);

} // namespace netc::bench::gpu

#endif // NETBENCH_CUDARUN_H
