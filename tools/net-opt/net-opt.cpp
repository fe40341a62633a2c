//===- net-opt.cpp - mlir-opt for the net dialect -------------------------===//
//
// Parses, verifies, transforms and prints net-dialect IR; the driver of the
// lit tests of the dialect and its passes.
//
//===----------------------------------------------------------------------===//

#include "net/Dialect/NetDialect.h"
#include "net/Transforms/Passes.h"
#include "net/Transforms/Pipeline.h"

#include "CommandLineHelp.h"

#include "mlir/Debug/Counter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

namespace {

/// What `net-opt --help` lists besides the passes, the input and -o (which
/// MlirOptMain registers after this runs): what the lit tests and a reader of
/// the passes use. The rest of MLIR's and LLVM's options are under
/// --help-hidden.
constexpr llvm::StringRef kShownOptions[] = {
    "net-pipeline",           // the option that lists every registered pass
    "pass-pipeline",          "split-input-file",        "verify-diagnostics",
    "mlir-print-ir-after-all", "mlir-print-ir-before-all", "mlir-print-debuginfo",
    "mlir-timing",            "show-dialects"};

} // namespace

int main(int argc, char **argv) {
  mlir::registerCSEPass();
  mlir::net::registerNetPasses();
  mlir::net::registerNetPipeline();

  mlir::DialectRegistry registry;
  registry.insert<mlir::net::NetDialect, mlir::func::FuncDialect>();

  // MLIR's options, registered here (MlirOptMain registers them again,
  // which is a no-op) so that they exist when the unrelated ones are hidden.
  mlir::MlirOptMainConfig::registerCLOptions(registry);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  mlir::tracing::DebugCounter::registerCLOptions();
  netc::tools::hideForeignOptions({}, kShownOptions);

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "net dialect optimizer driver\n", registry));
}
