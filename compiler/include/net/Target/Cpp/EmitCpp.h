//===- EmitCpp.h - net dialect to shape-specialised C++ ---------*- C++ -*-===//
//
// Translates a planned module (after net-autodiff and net-plan-memory) into
// one C++ file implementing the model ABI (runtime/include/net/Runtime/
// ModelABI.h) on the CPU: every op becomes a call of a kernel template from
// runtime/include/net/Kernels with all extents but the batch as template
// arguments, every tensor a pointer into the arena at its planned slot. The
// emitter decides nothing about what to compute; the passes did.
//
//===----------------------------------------------------------------------===//
#ifndef NET_TARGET_CPP_EMITCPP_H
#define NET_TARGET_CPP_EMITCPP_H

#include "net/Analysis/LayerTable.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::net {

/// Writes the C++ source of `module`; reports an error on an op it cannot
/// translate or on a module that was not planned. `layers` is the table of
/// the layers as the user wrote them (built before fusion merged them); when
/// absent it is built from `module`.
LogicalResult emitCpp(ModuleOp module, llvm::raw_ostream &os,
                      const LayerTable *layers = nullptr);

} // namespace mlir::net

#endif // NET_TARGET_CPP_EMITCPP_H
