//===- Kernels.cuh - the CUDA kernel library, all of it ----------*- CUDA -*-===//
//
// What a generated model's .cu includes: netc::cuda, one launcher per CPU
// kernel of net/Kernels/Kernels.h with the same name and signature (device
// pointers; where the CPU kernel takes a scalar that changes every step, the
// running Step instead), and gather_batch for the training set kept on the
// device. docs/cuda.md lists them and what each assumes.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CUDA_KERNELS_CUH
#define NETC_KERNELS_CUDA_KERNELS_CUH

#include "net/Kernels/cuda/Common.cuh"
#include "net/Kernels/cuda/Conv.cuh"
#include "net/Kernels/cuda/Dense.cuh"
#include "net/Kernels/cuda/Elementwise.cuh"
#include "net/Kernels/cuda/Fused.cuh"
#include "net/Kernels/cuda/Gather.cuh"
#include "net/Kernels/cuda/Loss.cuh"
#include "net/Kernels/cuda/Norm.cuh"
#include "net/Kernels/cuda/Pool.cuh"

#endif // NETC_KERNELS_CUDA_KERNELS_CUH
