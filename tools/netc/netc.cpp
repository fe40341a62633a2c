//===- netc.cpp - The netc compiler driver --------------------------------===//
//
// netc FILE.net [-emit=ast|mlir|summary] [-o OUT] [-D name=value ...]
//
// Reads a .net file, elaborates it into the net dialect and prints what was
// asked for. Exit status 1 on any error in the user's input.
//
//===----------------------------------------------------------------------===//

#include "net/Analysis/LayerTable.h"
#include "net/DSL/AST.h"
#include "net/DSL/Diagnostics.h"
#include "net/DSL/MLIRGen.h"
#include "net/DSL/Parser.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace cl = llvm::cl;

namespace {

enum class Emit { Ast, Mlir, Summary };

cl::OptionCategory netcCategory("netc options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.net>"), cl::Required,
                               cl::cat(netcCategory));
cl::opt<std::string> outputFile("o", cl::desc("write the output to <file> (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(netcCategory));
cl::opt<Emit> emit("emit", cl::desc("what to produce"), cl::init(Emit::Mlir),
                   cl::values(clEnumValN(Emit::Ast, "ast", "the syntax tree, with locations"),
                              clEnumValN(Emit::Mlir, "mlir", "the net dialect IR"),
                              clEnumValN(Emit::Summary, "summary",
                                         "the layer table: output shapes and parameters")),
                   cl::cat(netcCategory));
cl::list<std::string> defines("D", cl::desc("set a network parameter (e.g. -D classes=10)"),
                              cl::value_desc("name=value"), cl::Prefix,
                              cl::cat(netcCategory));

/// Largest .net file accepted: a description, not data.
constexpr uint64_t kMaxInputBytes = 16u << 20;

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "netc") << message << "\n";
  return 1;
}

/// Writes `text` to `path` whole or not at all: a temporary file beside it,
/// then a rename, so a reader never sees half a file.
int writeAtomically(llvm::StringRef path, llvm::StringRef text) {
  if (path == "-") {
    llvm::outs() << text;
    return 0;
  }
  llvm::SmallString<256> temp;
  int fd = -1;
  std::string model = (path + ".tmp-%%%%%%").str();
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, temp))
    return fail("cannot write '" + path + "': " + ec.message());
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << text;
    os.close();
    if (os.has_error()) {
      std::string reason = os.error().message();
      os.clear_error();
      llvm::sys::fs::remove(temp);
      return fail("cannot write '" + path + "': " + reason);
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    return fail("cannot write '" + path + "': " + ec.message());
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "netc " << NETC_VERSION << " (MLIR " << LLVM_VERSION_STRING << ")\n";
  });
  cl::HideUnrelatedOptions({&netcCategory, &cl::getGeneralCategory()});
  cl::ParseCommandLineOptions(argc, argv,
                              "netc: compiles .net network descriptions\n\n"
                              "  netc lenet5.net -emit=summary\n"
                              "  netc resnet50_head.net -D classes=10 -emit=mlir\n");

  std::vector<net::dsl::Override> overrides;
  for (const std::string &d : defines) {
    size_t eq = d.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail("-D expects name=value, got '" + d + "'");
    overrides.push_back({d.substr(0, eq), d.substr(eq + 1)});
  }

  uint64_t size = 0;
  if (inputFile != "-" && !llvm::sys::fs::file_size(inputFile, size) &&
      size > kMaxInputBytes)
    return fail("'" + inputFile + "' is " + llvm::Twine(size >> 20) +
                " MiB; a .net file is at most 16 MiB");
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(inputFile, /*IsText=*/true);
  if (std::error_code ec = buffer.getError())
    return fail("cannot read '" + inputFile + "': " + ec.message());
  if ((*buffer)->getBufferSize() > kMaxInputBytes)
    return fail("'" + inputFile + "' is larger than 16 MiB; a .net file is a short text");

  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  net::dsl::Diagnostics diags(sourceMgr);
  llvm::StringRef text = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBuffer();

  net::dsl::Parser parser(text, diags);
  net::dsl::Module ast = parser.parseModule();
  if (diags.hadError())
    return 1;

  std::string out;
  llvm::raw_string_ostream os(out);
  if (emit == Emit::Ast) {
    net::dsl::dump(ast, sourceMgr, os);
    return writeAtomically(outputFile, out);
  }

  mlir::MLIRContext context;
  // Verifier messages on generated ops point into the .net file too.
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  auto module = net::dsl::mlirGen(context, ast, diags, overrides);
  if (!module || diags.hadError())
    return 1;

  if (emit == Emit::Summary)
    mlir::net::printLayerTable(mlir::net::buildLayerTable(*module), os);
  else
    module->print(os);
  return writeAtomically(outputFile, out);
}
