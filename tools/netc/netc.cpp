//===- netc.cpp - The netc compiler driver --------------------------------===//
//
// netc FILE.net [-emit=ast|mlir|summary|planned|planned-cuda|cpp|cuda|so] [--no-cuda] [-o OUT] [-D name=value ...]
// netc FILE.onnx [-emit=mlir|summary|planned|cpp|so] [-o OUT]
// netc FILE.net --weights-from PRETRAINED.onnx -o OUT.so
//
// Reads a .net file (or imports an ONNX model), builds the net dialect, the
// training step and the memory plan, and prints what was asked for or
// compiles the model's shared library (`-o model.so`; for an ONNX model also
// its weights, `model.ckpt`). Exit status 1 on an error in the user's input,
// 2 on an internal error (a bug of netc, never the user's).
//
//===----------------------------------------------------------------------===//

#include "net/Analysis/LayerTable.h"
#include "net/Dialect/NetOps.h"
#include "net/Target/CUDA/EmitCuda.h"
#include "net/Target/Cpp/EmitCpp.h"
#include "net/Transforms/Pipeline.h"
#include "net/DSL/AST.h"
#include "net/DSL/Diagnostics.h"
#include "net/DSL/MLIRGen.h"
#include "net/DSL/Parser.h"
#include "net/ONNX/Import.h"
#include "net/ONNX/WeightsFrom.h"
#include "net/Runtime/Checkpoint.h"
#include "net/Version.h"

#include "CommandLineHelp.h"
#include "ModelLibrary.h"
#include "Report.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>
#include <optional>
#include <string>

namespace cl = llvm::cl;
using netc::driver::fail;
using netc::driver::failLines;
using netc::driver::internalError;

namespace {

enum class Emit { Ast, Mlir, Summary, Planned, PlannedCuda, Cpp, Cuda, Library };

cl::OptionCategory netcCategory("netc options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.net|model.onnx>"), cl::Required,
                               cl::cat(netcCategory));
cl::opt<std::string> outputFile("o", cl::desc("write the output to <file> (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(netcCategory));
cl::opt<Emit> emit("emit", cl::desc("what to produce (default: mlir, or so for -o X.so)"), cl::init(Emit::Mlir),
                   cl::values(clEnumValN(Emit::Ast, "ast", "the syntax tree, with locations"),
                              clEnumValN(Emit::Mlir, "mlir", "the net dialect IR"),
                              clEnumValN(Emit::Summary, "summary",
                                         "the layer table: output shapes and parameters"),
                              clEnumValN(Emit::Planned, "planned",
                                         "the IR with training steps and the memory plan"),
                              clEnumValN(Emit::PlannedCuda, "planned-cuda",
                                         "the same, planned for the CUDA path"),
                              clEnumValN(Emit::Cpp, "cpp", "the generated C++ source"),
                              clEnumValN(Emit::Cuda, "cuda",
                                         "the generated CUDA source (the GPU path)"),
                              clEnumValN(Emit::Library, "so",
                                         "the model's shared library (the default for -o X.so)")),
                   cl::cat(netcCategory));
cl::list<std::string> defines("D", cl::desc("set a network parameter (e.g. -D classes=10)"),
                              cl::value_desc("name=value"), cl::Prefix,
                              cl::cat(netcCategory));

cl::opt<unsigned> optLevel("O", cl::Prefix, cl::init(1), cl::value_desc("level"),
                           cl::desc("optimisation: -O1 (default) to -O3 fuse layers, -O0 does not"),
                           cl::cat(netcCategory));
cl::opt<bool> noFuse("no-fuse", cl::desc("do not fuse layers (the same as -O0)"),
                     cl::cat(netcCategory));

cl::opt<std::string> weightsFrom(
    "weights-from",
    cl::desc("fill the .net model's parameters from an ONNX model's initializers, matched by "
             "structure, into model.ckpt beside -o model.so (docs/onnx.md)"),
    cl::value_desc("model.onnx"), cl::cat(netcCategory));

cl::opt<bool> noCuda("no-cuda",
                     cl::desc("build the CPU path only, even when nvcc is found"),
                     cl::cat(netcCategory));

cl::opt<bool> keepTemps("keep-temps",
                        cl::desc("keep the generated sources and say where they are"),
                        cl::cat(netcCategory));

/// Largest .net file accepted: a description, not data.
constexpr uint64_t kMaxInputBytes = 16u << 20;

/// The checkpoint beside a library: model.so -> model.ckpt.
std::string checkpointPathFor(llvm::StringRef library) {
  llvm::SmallString<256> path(library);
  llvm::sys::path::replace_extension(path, "ckpt");
  return std::string(path);
}

/// A network name from a file name: resnet-50.v1.onnx -> resnet_50_v1.
std::string networkNameFor(llvm::StringRef file) {
  std::string name;
  for (char c : llvm::sys::path::stem(file))
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    name = "model_" + name;
  return name;
}

/// Writes `weights` as a checkpoint of `module`'s parameters, in the order
/// the emitted model lists them (a walk of its net.param ops). A `partial`
/// one (--weights-from) may leave parameters out, for `netrun train --weights`.
int writeWeights(mlir::ModuleOp module, std::vector<netc::onnx::Weight> weights,
                 llvm::StringRef path, bool partial) {
  netc::runtime::Checkpoint checkpoint;
  if (auto name = module->getAttrOfType<mlir::StringAttr>("net.network"))
    checkpoint.network = name.str();
  checkpoint.compiler = "netc " NETC_VERSION;
  llvm::StringMap<netc::onnx::Weight *> byName;
  for (netc::onnx::Weight &w : weights)
    byName[w.name] = &w;
  // Every step function declares the parameters it uses; the first
  // declaration of a name sets its place, as in the emitted table.
  llvm::StringSet<> done;
  bool missing = false;
  module.walk([&](mlir::net::ParamOp param) {
    if (!done.insert(param.getName()).second)
      return;
    auto it = byName.find(param.getName());
    if (it == byName.end()) {
      missing = true;
      return;
    }
    netc::onnx::Weight &w = *it->second;
    checkpoint.params.push_back({w.name, w.shape, std::move(w.data)});
  });
  if (missing && !partial)
    return internalError("a parameter of the imported model has no weights");
  if (netc::runtime::Status s = netc::runtime::writeCheckpoint(std::string(path), checkpoint); !s)
    return fail(s.error());
  return 0;
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

/// One run of netc: what it was asked for and what each stage hands on to
/// the next. The diagnostic handler points verifier messages into the .net
/// file, so the source manager outlives the module.
struct Compilation {
  Emit what = Emit::Mlir;
  std::vector<netc::dsl::Override> overrides;
  std::string out;
  llvm::raw_string_ostream os{out};
  llvm::SourceMgr sourceMgr;
  mlir::MLIRContext context;
  std::optional<mlir::SourceMgrDiagnosticHandler> handler;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  // The parameters' values, written beside the library as model.ckpt.
  std::optional<std::vector<netc::onnx::Weight>> weights;
};

/// The option an unknown one likely meant: netc's own (shown by --help)
/// within a few edits, the one of them it begins, or -o for netrun's --out.
std::string likelyOption(llvm::StringRef name) {
  std::vector<llvm::StringRef> shown, begun;
  for (auto &entry : cl::getRegisteredOptions())
    if (entry.second->getOptionHiddenFlag() == cl::NotHidden) {
      shown.push_back(entry.first());
      if (name.size() >= 2 && entry.first().starts_with(name))
        begun.push_back(entry.first());
    }
  // One or two letters are a few edits from every short option.
  std::string near = name.size() > 2 ? netc::dsl::closestMatch(name, shown) : "";
  if (near.empty() && begun.size() == 1)
    near = begun.front().str();
  if (near.empty() && (name == "out" || name == "output"))
    near = "o";
  return near.empty() ? "" : (near.size() == 1 ? "-" : "--") + near;
}

/// Refuses an argument that names no option before LLVM's parser does: its
/// suggestion ranges over LLVM's and MLIR's hidden options too ('--weights':
/// "did you mean '--cfg-weights'?"), this one over netc's own.
int refuseUnknownOptions(int argc, char **argv) {
  llvm::StringMap<cl::Option *> &options = cl::getRegisteredOptions();
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--")
      return 0;
    if (arg.size() < 2 || arg[0] != '-')
      continue;
    auto [name, value] = arg.drop_front(arg.starts_with("--") ? 2 : 1).split('=');
    if (auto known = options.find(name); known != options.end()) {
      // '-o -x.so': the next argument is this option's value, not an option.
      if (value.empty() && known->second->getValueExpectedFlag() == cl::ValueRequired)
        ++i;
      continue;
    }
    // -O1, -Dclasses=10: an option whose value follows its name.
    bool prefixed = llvm::any_of(options, [&](const auto &entry) {
      cl::FormattingFlags format = entry.second->getFormattingFlag();
      return (format == cl::Prefix || format == cl::AlwaysPrefix) && !entry.first().empty() &&
             name.starts_with(entry.first());
    });
    if (prefixed)
      continue;
    std::string near = likelyOption(name);
    return fail("unknown option '" + arg + "'" +
                (near.empty() ? "" : "; did you mean '" + near + "'?") +
                " (netc --help lists the options)");
  }
  return 0;
}

int parseCommandLine(int argc, char **argv) {
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "netc " << NETC_VERSION << " (MLIR " << LLVM_VERSION_STRING << ")\n";
  });
  // -h, as netrun takes it.
  static cl::alias shortHelp("h", cl::desc("the same as --help"),
                             cl::aliasopt(*cl::getRegisteredOptions()["help"]),
                             cl::cat(netcCategory));
  netc::tools::hideForeignOptions({&netcCategory});
  if (int rc = refuseUnknownOptions(argc, argv))
    return rc;
  cl::ParseCommandLineOptions(argc, argv,
                              "netc: compiles .net network descriptions\n\n"
                              "  netc lenet5.net -o lenet5.so\n"
                              "  netc lenet5.net -emit=summary\n"
                              "  netc resnet50_head.net -D classes=10 -emit=mlir\n\n"
                              "  environment: CXX (the C++ compiler, default c++), NETC_MARCH\n"
                              "  (-march, default native), NETC_NVCC (nvcc; a path that does not\n"
                              "  exist builds the CPU path only), NETC_RUNTIME_INCLUDE (the\n"
                              "  runtime headers, default PREFIX/include/netc)\n");
  return 0;
}

/// Whether a and b name one existing file (through links or other spellings).
bool sameFile(llvm::StringRef a, llvm::StringRef b) {
  bool same = false;
  return !llvm::sys::fs::equivalent(a, b, same) && same;
}

/// Refuses an -o that cannot be written (a folder, or in a folder that does
/// not exist) or that is an input, before any work: a library's build takes
/// seconds to minutes.
int checkOutputPath(Emit what) {
  if (outputFile == "-")
    return 0;
  if (llvm::sys::fs::is_directory(outputFile))
    return fail("cannot write '" + outputFile + "': it is a folder; give a file name");
  llvm::StringRef folder = llvm::sys::path::parent_path(outputFile);
  if (!folder.empty() && !llvm::sys::fs::is_directory(folder))
    return fail("cannot write '" + outputFile + "': there is no folder '" + folder + "'");
  // `netc model.net -o model.net` would replace the description with its IR
  // (compilers refuse an output that is their input).
  const bool writesCheckpoint =
      what == Emit::Library &&
      (!weightsFrom.empty() || llvm::sys::path::extension(inputFile) == ".onnx");
  for (llvm::StringRef input : {llvm::StringRef(inputFile), llvm::StringRef(weightsFrom)}) {
    if (input.empty() || input == "-")
      continue;
    if (sameFile(input, outputFile))
      return fail("-o " + outputFile + " is the input '" + input +
                  "': writing would overwrite it; give another file (e.g. -o model.so)");
    if (writesCheckpoint && sameFile(input, checkpointPathFor(outputFile)))
      return fail("-o " + outputFile + " writes its parameters to " +
                  checkpointPathFor(outputFile) + ", which is the input '" + input +
                  "'; give another file");
  }
  return 0;
}

/// The -D overrides and what to emit, from the parsed options.
int readRequest(Compilation &c) {
  for (const std::string &d : defines) {
    size_t eq = d.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail("-D expects name=value, got '" + d + "'");
    c.overrides.push_back({d.substr(0, eq), d.substr(eq + 1)});
  }
  // `netc model.net -o model.so` builds the library without saying -emit=so.
  c.what = emit;
  if (emit.getNumOccurrences() == 0 && llvm::StringRef(outputFile).ends_with(".so"))
    c.what = Emit::Library;
  if (c.what == Emit::Library && outputFile == "-")
    return fail("-emit=so writes a file: give it with -o model.so");
  if (optLevel > 3)
    return fail("-O" + llvm::Twine(optLevel.getValue()) +
                ": the levels are -O0 (no fusion) to -O3 (-O1 and above fuse layers)");
  return checkOutputPath(c.what);
}

/// The ONNX front end: the imported module and its weights.
int importOnnx(Compilation &c) {
  if (c.what == Emit::Ast)
    return fail("-emit=ast applies to .net files; an ONNX model has no syntax tree");
  if (!c.overrides.empty())
    return fail("-D applies to .net files; an ONNX model has no parameters to set");
  auto imported = netc::onnx::importModel(c.context, inputFile, networkNameFor(inputFile));
  if (!imported)
    return failLines(imported.takeError());
  if (imported->endsInLogSoftmax && c.what == Emit::Library)
    llvm::WithColor::note(llvm::errs(), "netc")
        << inputFile << ": the graph ends in LogSoftmax; the model returns its exponent, "
        << "the probabilities, and trains with cross-entropy (docs/onnx.md)\n";
  else if (imported->appendedSoftmax && c.what == Emit::Library)
    llvm::WithColor::note(llvm::errs(), "netc")
        << inputFile << ": the graph ends in logits; a softmax is appended, so the model "
        << "returns probabilities and trains with cross-entropy (docs/onnx.md)\n";
  c.module = std::move(imported->module);
  c.weights = std::move(imported->weights);
  return 0;
}

/// The .net front end: parses the file and elaborates it into the module;
/// for -emit=ast it prints the syntax tree instead and stops there.
int elaborateNet(Compilation &c) {
  uint64_t size = 0;
  if (inputFile != "-" && !llvm::sys::fs::file_size(inputFile, size) && size > kMaxInputBytes)
    return fail("'" + inputFile + "' is " + llvm::Twine(size >> 20) +
                " MiB; a .net file is at most 16 MiB");
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(inputFile, /*IsText=*/true);
  if (std::error_code ec = buffer.getError())
    return fail("cannot read '" + inputFile + "': " + ec.message());
  if ((*buffer)->getBufferSize() > kMaxInputBytes)
    return fail("'" + inputFile + "' is larger than 16 MiB; a .net file is a short text");

  c.sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  netc::dsl::Diagnostics diags(c.sourceMgr);
  llvm::StringRef text = c.sourceMgr.getMemoryBuffer(c.sourceMgr.getMainFileID())->getBuffer();

  netc::dsl::Parser parser(text, diags);
  netc::dsl::Module ast = parser.parseModule();
  if (diags.hadError())
    return 1;
  if (c.what == Emit::Ast) {
    netc::dsl::dump(ast, c.sourceMgr, c.os);
    return 0;
  }
  // Verifier messages on generated ops point into the .net file too.
  c.handler.emplace(c.sourceMgr, &c.context);
  c.module = netc::dsl::mlirGen(c.context, ast, diags, c.overrides);
  if (!c.module || diags.hadError())
    return 1;
  return 0;
}

/// --weights-from: the .net model's parameters from an ONNX model's
/// initializers, matched by structure.
int matchPretrainedWeights(Compilation &c) {
  if (c.weights)
    return fail("--weights-from applies to .net files; an ONNX model brings its own weights");
  if (c.what != Emit::Library)
    return fail("--weights-from writes model.ckpt beside the library: give -o model.so");
  auto pretrained = netc::onnx::importModel(c.context, weightsFrom, "pretrained");
  if (!pretrained)
    return failLines(pretrained.takeError());
  auto matched = netc::onnx::matchWeights(*c.module, *pretrained, weightsFrom);
  if (!matched)
    return failLines(matched.takeError());
  size_t kept = 0;
  for (const std::string &line : matched->report)
    if (llvm::StringRef(line).contains(" left to its initializer")) {
      llvm::WithColor::note(llvm::errs(), "netc") << line << "\n";
      ++kept;
    }
  llvm::WithColor::note(llvm::errs(), "netc")
      << matched->weights.size() << " parameters from " << weightsFrom << ", " << kept
      << " left to their initializers\n";
  c.weights = std::move(matched->weights);
  return 0;
}

using Target = mlir::net::NetPipelineOptions::Target;

/// Runs net-pipeline for one target. The passes report what they cannot do
/// for this model (a trainable batch norm, no softmax before the loss) at
/// its .net line: the user's to change.
mlir::LogicalResult plan(mlir::MLIRContext &context, mlir::ModuleOp module, Target target) {
  mlir::PassManager pm(&context);
  if (mlir::failed(mlir::applyPassManagerCLOptions(pm))) {
    fail("bad pass manager options");
    return mlir::failure();
  }
  mlir::net::NetPipelineOptions pipeline;
  pipeline.fuse = optLevel > 0 && !noFuse;
  pipeline.target = target;
  mlir::net::buildNetPipeline(pm, pipeline);
  return pm.run(module);
}

/// -emit=planned-cuda and -emit=cuda: the CUDA plan of the module, and its
/// source.
int emitCudaSource(Compilation &c) {
  if (mlir::failed(plan(c.context, *c.module, Target::Cuda)))
    return 1;
  if (c.what == Emit::PlannedCuda) {
    c.module->print(c.os);
    return writeAtomically(outputFile, c.out);
  }
  if (mlir::failed(mlir::net::emitCuda(*c.module, c.os)))
    return internalError("the CUDA emitter failed (the message above says on what)");
  return writeAtomically(outputFile, c.out);
}

/// The library from the C++ source in c.out, with the CUDA path planned on
/// `cudaModule` when `nvcc` is not empty, then the weights beside it if any.
int buildModelLibrary(Compilation &c, mlir::OwningOpRef<mlir::ModuleOp> cudaModule,
                      const std::string &nvcc) {
  if (nvcc.empty()) {
    if (!noCuda)
      llvm::errs() << "netc: nvcc not found; building the CPU path only\n";
    if (int rc = netc::driver::buildLibrary(c.out, outputFile, "", "", keepTemps))
      return rc;
  } else {
    if (mlir::failed(plan(c.context, *cudaModule, Target::Cuda)))
      return 1;
    std::string cudaOut;
    llvm::raw_string_ostream cudaOs(cudaOut);
    if (mlir::failed(mlir::net::emitCuda(*cudaModule, cudaOs)))
      return internalError("the CUDA emitter failed (the message above says on what)");
    if (int rc = netc::driver::buildLibrary(c.out, outputFile, cudaOut, nvcc, keepTemps))
      return rc;
  }
  if (!c.weights)
    return 0;
  return writeWeights(*c.module, std::move(*c.weights), checkpointPathFor(outputFile),
                      /*partial=*/!weightsFrom.empty());
}

/// -emit=planned, -emit=cpp and the library: the CPU plan and its C++.
int planAndEmitCpp(Compilation &c) {
  // The layers as written, before fusion merges them: the model's layer table.
  mlir::net::LayerTable layers = mlir::net::buildLayerTable(*c.module);
  // The CUDA path joins the library when nvcc is here (docs/cuda.md), with a
  // plan of its own made from the same elaborated module.
  std::string nvcc = c.what == Emit::Library && !noCuda ? netc::driver::findNvcc() : "";
  mlir::OwningOpRef<mlir::ModuleOp> cudaModule;
  if (!nvcc.empty())
    cudaModule = c.module->clone();
  if (mlir::failed(plan(c.context, *c.module, Target::Cpu)))
    return 1;
  if (c.what == Emit::Planned) {
    c.module->print(c.os);
    return writeAtomically(outputFile, c.out);
  }
  if (mlir::failed(mlir::net::emitCpp(*c.module, c.os, &layers)))
    return internalError("the C++ emitter failed (the message above says on what)");
  if (c.what == Emit::Cpp)
    return writeAtomically(outputFile, c.out);
  return buildModelLibrary(c, std::move(cudaModule), nvcc);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  netc::driver::setProgramPath(argv[0]);
  if (int rc = parseCommandLine(argc, argv))
    return rc;
  Compilation c;
  // An error a pass reports on an operation is the user's to read at the
  // model's line: without this MLIR follows it with the whole function's IR.
  c.context.printOpOnDiagnostic(false);
  if (int rc = readRequest(c))
    return rc;

  bool isOnnx = llvm::sys::path::extension(inputFile) == ".onnx";
  if (int rc = isOnnx ? importOnnx(c) : elaborateNet(c))
    return rc;
  if (c.what == Emit::Ast)
    return writeAtomically(outputFile, c.out);
  if (!weightsFrom.empty())
    if (int rc = matchPretrainedWeights(c))
      return rc;

  switch (c.what) {
  case Emit::Summary:
    mlir::net::printLayerTable(mlir::net::buildLayerTable(*c.module), c.os);
    mlir::net::printTrainSetup(*c.module, c.os);
    return writeAtomically(outputFile, c.out);
  case Emit::Mlir:
    c.module->print(c.os);
    return writeAtomically(outputFile, c.out);
  case Emit::Cuda:
  case Emit::PlannedCuda:
    return emitCudaSource(c);
  default:
    return planAndEmitCpp(c);
  }
}
