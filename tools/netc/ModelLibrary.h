//===- ModelLibrary.h - The model's shared library from its sources -*- C++ -*-===//

#ifndef NETC_DRIVER_MODELLIBRARY_H
#define NETC_DRIVER_MODELLIBRARY_H

#include "llvm/ADT/StringRef.h"

#include <string>

namespace netc::driver {

/// argv[0]: the runtime headers are looked for beside this executable.
void setProgramPath(const char *argv0);

/// nvcc, for the model's CUDA path: $NETC_NVCC when set (a path that does not
/// exist hides nvcc, which is how the CPU-only build is tested), else
/// /usr/local/cuda/bin/nvcc, else nvcc on PATH. Empty when there is none.
std::string findNvcc();

/// Compiles `source` (and `cudaSource` with `nvcc`, when not empty) into the
/// shared library `path`, written whole or not at all. Returns netc's exit
/// status (0, 1 for the user's error, 2 for netc's own), having said why.
/// `keepTemps`: keep the sources and say where they are.
int buildLibrary(llvm::StringRef source, llvm::StringRef path, llvm::StringRef cudaSource,
                 const std::string &nvcc, bool keepTemps);

} // namespace netc::driver

#endif // NETC_DRIVER_MODELLIBRARY_H
