//===- NetOps.h - the net dialect ops ---------------------------*- C++ -*-===//

#ifndef NET_DIALECT_NETOPS_H
#define NET_DIALECT_NETOPS_H

#include "net/Dialect/NetDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

/// The fused ops' kinds (Activation, Pool; NetEnums.td).
#include "net/Dialect/NetEnums.h.inc"

/// Declares the op classes (ParamOp, Conv2dOp, ...) in mlir::net.
#define GET_OP_CLASSES
#include "net/Dialect/NetOps.h.inc"

#endif // NET_DIALECT_NETOPS_H
