//===- NetDialect.cpp - the net dialect -----------------------------------===//

#include "net/Dialect/NetDialect.h"
#include "net/Dialect/NetOps.h"

using namespace mlir;
using namespace mlir::net;

#include "net/Dialect/NetOpsDialect.cpp.inc"
#include "net/Dialect/NetEnums.cpp.inc"

void NetDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "net/Dialect/NetOps.cpp.inc"
      >();
}
