//===- Passes.h - the net dialect's passes ----------------------*- C++ -*-===//

#ifndef NET_TRANSFORMS_PASSES_H
#define NET_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "net/Dialect/NetDialect.h"

namespace mlir::net {

#define GEN_PASS_DECL
#include "net/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "net/Transforms/Passes.h.inc"

} // namespace mlir::net

#endif // NET_TRANSFORMS_PASSES_H
