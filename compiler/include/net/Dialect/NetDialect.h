//===- NetDialect.h - the net dialect ---------------------------*- C++ -*-===//

#ifndef NET_DIALECT_NETDIALECT_H
#define NET_DIALECT_NETDIALECT_H

#include "mlir/IR/Dialect.h"

/// Declares mlir::net::NetDialect.
#include "net/Dialect/NetOpsDialect.h.inc"

#endif // NET_DIALECT_NETDIALECT_H
