//===- EmitCuda.h - net dialect to a CUDA translation unit ------*- C++ -*-===//
//
// Translates a planned module into the .cu file of the model's CUDA path:
// the functions of net/Runtime/CudaPath.h, each op a launch of a kernel from
// runtime/include/net/Kernels/cuda (same names and template arguments as the
// CPU kernels), every tensor a slot of one device arena. The C++ file of
// emitCpp holds the ABI and dispatches to it when netc links the two
// (NETC_WITH_CUDA). docs/cuda.md describes the whole.
//
//===----------------------------------------------------------------------===//
#ifndef NET_TARGET_CUDA_EMITCUDA_H
#define NET_TARGET_CUDA_EMITCUDA_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::net {

/// Writes the CUDA source of `module`'s device path; reports an error on an
/// op it cannot translate or on a module that was not planned.
LogicalResult emitCuda(ModuleOp module, llvm::raw_ostream &os);

} // namespace mlir::net

#endif // NET_TARGET_CUDA_EMITCUDA_H
