//===- FuzzContext.h - One quiet MLIR context for a fuzzing run -*- C++ -*-===//
//
// The front-end targets share one context for the whole run: creating one per
// input would dominate the time. Threading is off, so no pool outlives an
// input, and every diagnostic is dropped.
//
//===----------------------------------------------------------------------===//
#ifndef NET_FUZZ_FUZZCONTEXT_H
#define NET_FUZZ_FUZZCONTEXT_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

namespace netc::fuzz {

inline mlir::MLIRContext &quietContext() {
  static mlir::MLIRContext *ctx = [] {
    auto *c = new mlir::MLIRContext(mlir::MLIRContext::Threading::DISABLED);
    c->getDiagEngine().registerHandler([](mlir::Diagnostic &) { return mlir::success(); });
    return c;
  }();
  return *ctx;
}

} // namespace netc::fuzz

#endif // NET_FUZZ_FUZZCONTEXT_H
