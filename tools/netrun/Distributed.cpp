//===- Distributed.cpp - netrun under mpirun ------------------------------===//

#include "Distributed.h"

#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace netc::runtime;

bool cli::launchedByMpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

int32_t cli::launchedRanks() {
  const char *size = std::getenv("OMPI_COMM_WORLD_SIZE");
  return size ? int32_t(std::atoi(size)) : 0;
}

namespace {

/// The folder of the running netrun, from /proc/self/exe.
std::string executableFolder() {
  std::vector<char> path(4096);
  ssize_t length = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (length <= 0)
    return ".";
  std::string text(path.data(), size_t(length));
  size_t slash = text.rfind('/');
  return slash == std::string::npos ? "." : text.substr(0, slash);
}

} // namespace

Result<std::unique_ptr<Collective>> cli::openMpiRanks(double timeoutSeconds) {
  using R = Result<std::unique_ptr<Collective>>;
  const std::string folder = executableFolder();
  // Installed (PREFIX/lib/netc), then the build tree (build/lib).
  const std::vector<std::string> candidates = {folder + "/../lib/netc/libnetrun-mpi.so",
                                               folder + "/../lib/libnetrun-mpi.so"};
  std::string why;
  for (const std::string &path : candidates) {
    if (::access(path.c_str(), F_OK) != 0)
      continue;
    // RTLD_GLOBAL: Open MPI loads its components as plugins that look up
    // libmpi's symbols globally.
    void *library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
      why = ::dlerror(); // names the file
      continue;
    }
    using Open = Collective *(*)(double, char *, size_t);
    auto open = reinterpret_cast<Open>(::dlsym(library, "netrun_mpi_open"));
    if (!open)
      return R::failure(path + ": exports no netrun_mpi_open");
    char error[512] = {};
    Collective *ranks = open(timeoutSeconds, error, sizeof(error));
    if (!ranks)
      return R::failure(path + ": " + error);
    // The library stays loaded for the life of the process: MPI finalises
    // when the ranks are destroyed, and cannot be initialised again.
    return R::success(std::unique_ptr<Collective>(ranks));
  }
  if (!why.empty())
    return R::failure("started by mpirun, but the MPI support did not load: " + why);
  return R::failure("started by mpirun, but this netrun was built without MPI support "
                    "(libnetrun-mpi.so is not in " + folder + "/../lib/netc; install "
                    "libopenmpi-dev and rebuild: docs/distributed.md)");
}
