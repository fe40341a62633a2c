//===- ModelLibrary.cpp - The model's shared library from its sources -----===//
//
// What netc runs to turn the generated C++ (and CUDA) into the model's .so:
// the system C++ compiler and nvcc, found with the runtime headers they
// include; the library appears whole or not at all.
//
//===----------------------------------------------------------------------===//

#include "ModelLibrary.h"

#include "Report.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

using netc::driver::fail;
using netc::driver::internalError;

std::string netc::driver::findNvcc() {
  if (const char *env = std::getenv("NETC_NVCC"); env && *env)
    return llvm::sys::fs::can_execute(env) ? env : "";
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/nvcc"))
    return "/usr/local/cuda/bin/nvcc";
  auto found = llvm::sys::findProgramByName("nvcc");
  return found ? *found : "";
}

namespace {

/// argv[0], for finding the runtime headers relative to this executable.
const char *programPath = "netc";

std::string joined(const std::vector<std::string> &parts, const char *separator = " ") {
  std::string text;
  for (const std::string &p : parts)
    text += (text.empty() ? "" : separator) + p;
  return text;
}

/// The runtime headers that generated code includes: $NETC_RUNTIME_INCLUDE
/// when set (an explicit choice, as CXX and NETC_NVCC are, wins), else
/// include/netc beside an installed netc (PREFIX/bin/../include/netc), else
/// the source tree of a developer build. Says where it looked when none
/// holds them, and returns "".
std::string findRuntimeInclude() {
  auto holdsHeaders = [](llvm::StringRef dir) {
    llvm::SmallString<256> marker(dir);
    llvm::sys::path::append(marker, "net", "Runtime", "ModelABI.h");
    return llvm::sys::fs::exists(marker);
  };
  if (const char *env = std::getenv("NETC_RUNTIME_INCLUDE"); env && *env) {
    if (holdsHeaders(env))
      return env;
    fail(std::string("NETC_RUNTIME_INCLUDE is '") + env +
         "', which holds no net/Runtime/ModelABI.h (unset it to use netc's own headers)");
    return "";
  }
  std::vector<std::string> tried;
  std::string self = llvm::sys::fs::getMainExecutable(
      programPath, reinterpret_cast<void *>(&findRuntimeInclude));
  if (!self.empty()) {
    llvm::SmallString<256> installed(llvm::sys::path::parent_path(
        llvm::sys::path::parent_path(self)));
    llvm::sys::path::append(installed, "include", "netc");
    tried.push_back(std::string(installed));
  }
  tried.push_back(NETC_RUNTIME_INCLUDE_DIR);
  for (const std::string &dir : tried)
    if (holdsHeaders(dir))
      return dir;
  fail("the runtime headers (net/Runtime/ModelABI.h) are not in " + joined(tried, " or ") +
       "; reinstall netc, or set NETC_RUNTIME_INCLUDE to the folder that holds them");
  return "";
}

/// The folder of libcudart_static.a beside nvcc's bin/.
std::string cudaLibraryDir(llvm::StringRef nvcc) {
  llvm::SmallString<256> root(llvm::sys::path::parent_path(llvm::sys::path::parent_path(nvcc)));
  for (const char *sub : {"lib64", "targets/x86_64-linux/lib", "lib"}) {
    llvm::SmallString<256> dir(root);
    llvm::sys::path::append(dir, sub);
    llvm::SmallString<256> lib(dir);
    llvm::sys::path::append(lib, "libcudart_static.a");
    if (llvm::sys::fs::exists(lib))
      return std::string(dir);
  }
  return "";
}


/// Runs a compiler with its output into `log`; on failure prints the command
/// and the log's tail and says where the sources are kept.
bool runCompiler(const std::vector<std::string> &args, llvm::StringRef log, llvm::StringRef dir,
                 llvm::StringRef what) {
  std::vector<llvm::StringRef> argRefs(args.begin(), args.end());
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, log, log};
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(args[0], argRefs, std::nullopt, redirects, 0, 0, &error);
  if (rc == 0)
    return true;
  auto text = llvm::MemoryBuffer::getFile(log);
  llvm::errs() << "netc: " << what << " failed on the generated code (exit " << rc
               << (error.empty() ? "" : ", " + error) << ")\n  command: " << joined(args)
               << "\n  sources kept in " << dir << "\n";
  if (text)
    llvm::errs() << (*text)->getBuffer().take_back(4000);
  return false;
}

} // namespace

void netc::driver::setProgramPath(const char *argv0) { programPath = argv0; }

/// Compiles the generated C++ into `path` with the system compiler, and with
/// it, when `cudaSource` is not empty, the CUDA path compiled by `nvcc`: one
/// fat library (real code for sm_80 and sm_90, PTX for compute_90, the CUDA
/// runtime linked statically, so it loads where no CUDA is installed). The
/// library appears whole or not at all: it is linked beside, then renamed.
int netc::driver::buildLibrary(llvm::StringRef source, llvm::StringRef path,
                               llvm::StringRef cudaSource, const std::string &nvcc,
                               bool keepTemps) {
  llvm::SmallString<128> dir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("netc", dir))
    return internalError("cannot create a temporary directory: " + ec.message());
  llvm::SmallString<128> cpp(dir), log(dir), temp;
  llvm::sys::path::append(cpp, "model.cpp");
  llvm::sys::path::append(log, "compiler.log");
  temp = (path + ".tmp").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(cpp, ec);
    if (ec)
      return internalError("cannot write '" + cpp + "': " + ec.message());
    os << source;
  }
  const char *cxxEnv = std::getenv("CXX");
  std::string cxxName = cxxEnv && *cxxEnv ? cxxEnv : "c++";
  auto cxx = llvm::sys::findProgramByName(cxxName);
  if (!cxx)
    return fail("no C++ compiler: '" + cxxName + "' is not on PATH (set CXX, or run ./setup.sh)");
  std::string include = findRuntimeInclude();
  if (include.empty())
    return 1;
  // The host's instructions unless NETC_MARCH names a target (x86-64-v3 for
  // a library built here to run on another machine, tools/gpu-bundle.sh).
  const char *marchEnv = std::getenv("NETC_MARCH");
  const std::string march = "-march=" + std::string(marchEnv && *marchEnv ? marchEnv : "native");
  // -fno-math-errno: std::sqrt in a loop (Adam's update) is a vector square
  // root instead of a scalar call that might set errno, which nothing reads
  // (Adam 4.7x); results are the same, IEEE-rounded either way.
  std::vector<std::string> args = {*cxx, "-std=c++17", "-O3", march, "-fopenmp",
                                   "-fno-math-errno", "-fPIC", "-shared", "-fvisibility=hidden",
                                   "-I" + include, std::string(cpp)};
  llvm::SmallString<128> cu(dir), cuObject(dir);
  llvm::sys::path::append(cu, "model.cu");
  llvm::sys::path::append(cuObject, "model.cu.o");
  std::string cudaCommand;
  if (!cudaSource.empty()) {
    {
      std::error_code ec;
      llvm::raw_fd_ostream os(cu, ec);
      if (ec)
        return internalError("cannot write '" + cu + "': " + ec.message());
      os << cudaSource;
    }
    std::string libDir = cudaLibraryDir(nvcc);
    if (libDir.empty())
      return fail("nvcc is '" + nvcc + "' but no libcudart_static.a is beside it; " +
                  "build with --no-cuda or set NETC_NVCC");
    std::vector<std::string> nvccArgs = {
        nvcc, "-std=c++17", "-O3", "--expt-relaxed-constexpr", "--default-stream", "per-thread",
        "-gencode", "arch=compute_80,code=sm_80",
        "-gencode", "arch=compute_90,code=[sm_90,compute_90]",
        "-Xcompiler", "-fPIC,-fvisibility=hidden", "-diag-suppress", "177",
        "-I" + include, "-c", std::string(cu), "-o", std::string(cuObject)};
    cudaCommand = joined(nvccArgs);
    if (!runCompiler(nvccArgs, log, dir, "nvcc"))
      return internalError("generated CUDA did not compile");
    // cudart_static opens libcuda.so.1 with dlopen at the first CUDA call, so
    // the library loads (and runs on the CPU) where there is no driver.
    args.insert(args.end(), {"-DNETC_WITH_CUDA=1", std::string(cuObject), "-L" + libDir,
                             "-Wl,-Bstatic", "-lcudart_static", "-Wl,-Bdynamic", "-ldl", "-lrt",
                             "-lpthread"});
  }
  args.insert(args.end(), {"-o", std::string(temp)});
  std::string command = joined(args);
  if (!runCompiler(args, log, dir, "the C++ compiler")) {
    llvm::sys::fs::remove(temp);
    return internalError("generated C++ did not compile");
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    return fail("cannot write '" + path + "': " + ec.message());
  }
  if (keepTemps) {
    llvm::errs() << "netc: sources kept in " << dir << " (command: " << command << ")\n";
    if (!cudaCommand.empty())
      llvm::errs() << "netc: CUDA command: " << cudaCommand << "\n";
  } else {
    llvm::sys::fs::remove(cu);
    llvm::sys::fs::remove(cuObject);
    llvm::sys::fs::remove(cpp);
    llvm::sys::fs::remove(log);
    llvm::sys::fs::remove(dir);
  }
  return 0;
}

