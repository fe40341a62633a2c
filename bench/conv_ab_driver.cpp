//===- conv_ab_driver.cpp - two builds of conv_ab.cpp in one process -------===//
//
//   conv_ab_driver BASE.so NEW.so ROUNDS [ARG...]
//
// Loads the two builds (each with its own copy of the kernels and their
// thread team), lets each build the cases ARG names, then ROUNDS times runs
// every case on BASE and right after on NEW, printing "base|LINE" and
// "new|LINE": a slow minute of the machine slows both sides of a pair.
//
//===----------------------------------------------------------------------===//

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace {

struct Build {
  int (*prepare)(int, char **) = nullptr;
  void (*run)(int, char *, int) = nullptr;
};

bool load(const char *path, Build &build) {
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::fprintf(stderr, "conv_ab_driver: cannot load %s: %s\n", path, dlerror());
    return false;
  }
  build.prepare = reinterpret_cast<int (*)(int, char **)>(dlsym(handle, "conv_ab_prepare"));
  build.run = reinterpret_cast<void (*)(int, char *, int)>(dlsym(handle, "conv_ab_run"));
  if (!build.prepare || !build.run) {
    std::fprintf(stderr, "conv_ab_driver: %s is not a build of bench/conv_ab.cpp\n", path);
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 4 || std::atoi(argv[3]) <= 0) {
    std::fprintf(stderr, "usage: conv_ab_driver BASE.so NEW.so ROUNDS [ARG...]\n");
    return 2;
  }
  Build base, fresh;
  if (!load(argv[1], base) || !load(argv[2], fresh))
    return 1;
  const int cases = base.prepare(argc - 4, argv + 4);
  if (cases < 0)
    return 2;
  if (const int other = fresh.prepare(argc - 4, argv + 4); other != cases) {
    std::fprintf(stderr, "conv_ab_driver: %s has %d cases for these arguments, %s has %d\n",
                 argv[1], cases, argv[2], other);
    return 1;
  }
  char line[512];
  for (int round = 0, rounds = std::atoi(argv[3]); round < rounds; ++round)
    for (int index = 0; index < cases; ++index) {
      base.run(index, line, sizeof line);
      std::printf("base|%s\n", line);
      fresh.run(index, line, sizeof line);
      std::printf("new|%s\n", line);
      std::fflush(stdout);
    }
  return 0;
}
