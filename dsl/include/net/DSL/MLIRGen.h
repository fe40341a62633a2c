//===- MLIRGen.h - Elaborating a .net AST into the net dialect --*- C++ -*-===//
//
// Elaboration runs the network description: it evaluates constants and
// arithmetic, expands blocks and `repeat`, names every layer and parameter,
// infers every shape, and builds one `func.func @forward` of `net` ops, each
// located at the .net line that produced it. Every error is reported through
// Diagnostics at that line; elaboration goes on past an error, so independent
// mistakes are all reported in one run.
//
//===----------------------------------------------------------------------===//
#ifndef NET_DSL_MLIRGEN_H
#define NET_DSL_MLIRGEN_H

#include "net/DSL/AST.h"
#include "net/DSL/Diagnostics.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <utility>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace netc::dsl {

/// A `-D name=value` override of a network parameter.
struct Override {
  std::string name;
  std::string value;
};

/// Builds the module, or returns null after reporting every error found.
/// `filename` is used for the locations attached to the ops.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context,
                                          const Module &module,
                                          Diagnostics &diags,
                                          llvm::ArrayRef<Override> overrides);

} // namespace netc::dsl

#endif // NET_DSL_MLIRGEN_H
