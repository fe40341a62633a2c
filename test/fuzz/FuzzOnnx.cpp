//===- FuzzOnnx.cpp - libFuzzer target for the ONNX importer --------------===//
//
// Imports the input as an ONNX model as `netc model.onnx` does. An input that
// imports must give a module that passes the verifier and whose weights fill
// its parameters exactly. --weights-from's matcher then runs on the model
// against itself, so that the sanitizers see its walk over every graph the
// importer accepts; its acceptance is a weak check (both walks are the same).
//
//===----------------------------------------------------------------------===//
#include "FuzzContext.h"
#include "TempFile.h"

#include "net/Dialect/NetOps.h"
#include "net/ONNX/Import.h"
#include "net/ONNX/WeightsFrom.h"

#include "mlir/IR/Verifier.h"

#include <cstdio>
#include <cstdlib>

namespace {

[[noreturn]] void broken(const char *what) {
  std::fprintf(stderr, "fuzz-onnx: %s\n", what);
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  netc::fuzz::TempFile file(data, size, ".onnx");
  auto imported = netc::onnx::importModel(netc::fuzz::quietContext(), file.path(), "fuzz");
  if (!imported) {
    llvm::consumeError(imported.takeError());
    return 0;
  }
  if (mlir::failed(mlir::verify(*imported->module)))
    broken("the importer accepted the file but built invalid IR");
  size_t params = 0;
  imported->module->walk([&](mlir::net::ParamOp param) {
    ++params;
    int64_t elements = 1;
    for (int64_t d : llvm::cast<mlir::RankedTensorType>(param.getType()).getShape())
      elements *= d;
    auto it = llvm::find_if(imported->weights, [&](const netc::onnx::Weight &w) {
      return w.name == param.getName();
    });
    if (it == imported->weights.end() || int64_t(it->data.size()) != elements)
      broken("a parameter has no weight of its size");
  });
  if (params != imported->weights.size())
    broken("weights and parameters differ in number");
  auto matched = netc::onnx::matchWeights(*imported->module, *imported, file.path());
  if (!matched) {
    llvm::consumeError(matched.takeError());
    broken("--weights-from refuses a model's own weights");
  }
  return 0;
}
