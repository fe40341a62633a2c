//===- Cuda.h - netbench --device cuda: netc's CUDA path against cuDNN -*- C++ -*-===//
//
// The GPU half of netbench, built only where nvcc, cuDNN and cuBLAS were found
// at configure time (NETBENCH_HAVE_CUDA; CudaMain.cu and the files it names).
// In one process, on one GPU and the same data:
//   (a) --layers: each conv layer of the models (Layers.cpp's list) at each
//       batch, forward and backward, as netc's fused kernel (Fused.cuh) and as
//       cuDNN 9 with the algorithms its own search (Find...Ex) ranks fastest
//       (CudaLayers.cu);
//   (b) --model FILE.so: a whole training step of a fat model library (netc's
//       CUDA path, through ModelABI.h) against a cuDNN + cuBLAS implementation
//       of the same network written here (lenet5, mnist_cnn; CudaStep.cu).
// Every output is compared before anything is timed.
//
//===----------------------------------------------------------------------===//

#ifndef NETBENCH_CUDA_H
#define NETBENCH_CUDA_H

#include <vector>

namespace netc::bench {

struct CudaOptions {
  std::vector<int> batches = {32, 128, 512, 2048}; // for the layers
  bool layers = false;                            // run (a)
  std::vector<const char *> models;               // run (b) on each
  int stepBatch = 0;    // (b)'s batch; 0: the model's own (its .net's train.batch)
  int steps = 0;        // (b)'s timed steps per round; 0: as many as fill 0.2 s
  bool tf32 = false;    // let cuDNN and cuBLAS use TF32 tensor cores
};

/// Runs (a) and/or (b); returns the exit code. Without a usable device it
/// prints one line, "no usable CUDA device: ...", and returns 0.
int runCuda(const CudaOptions &opt);

} // namespace netc::bench

#endif // NETBENCH_CUDA_H
