//===- net-opt.cpp - mlir-opt for the net dialect -------------------------===//
//
// Parses, verifies, transforms and prints net-dialect IR; the driver of the
// lit tests of the dialect and its passes.
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetDialect.h"
#include "net/Transforms/Passes.h"
#include "net/Transforms/Pipeline.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::net::registerNetPasses();
  mlir::net::registerNetPipeline();

  mlir::DialectRegistry registry;
  registry.insert<mlir::net::NetDialect, mlir::func::FuncDialect>();

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "net dialect optimizer driver\n", registry));
}
