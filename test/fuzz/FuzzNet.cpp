//===- FuzzNet.cpp - libFuzzer target for the .net front end --------------===//
//
// Lexes, parses and elaborates the input as `netc` does, with every message
// dropped. An input that elaborates without an error must give a module that
// passes the verifier.
//
//===----------------------------------------------------------------------===//
#include "FuzzContext.h"

#include "net/DSL/Diagnostics.h"
#include "net/DSL/MLIRGen.h"
#include "net/DSL/Parser.h"

#include "mlir/IR/Verifier.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.net"),
      llvm::SMLoc());
  sourceMgr.setDiagHandler([](const llvm::SMDiagnostic &, void *) {});
  netc::dsl::Diagnostics diags(sourceMgr);
  llvm::StringRef text = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBuffer();

  netc::dsl::Parser parser(text, diags);
  netc::dsl::Module ast = parser.parseModule();
  if (diags.hadError())
    return 0;
  auto module = netc::dsl::mlirGen(netc::fuzz::quietContext(), ast, diags, /*overrides=*/{});
  if (!module || diags.hadError())
    return 0;
  if (mlir::failed(mlir::verify(*module)))
    std::abort(); // elaboration accepted the input but built invalid IR
  return 0;
}
