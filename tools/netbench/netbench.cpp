//===- netbench.cpp - fused kernels vs unfused chain vs oneDNN, on the CPU -===//
//
//   netbench [--layers] [--step FUSED.so UNFUSED.so] [--model FILE.so]
//            [--batches 1,32,128,512] [--threads 2]
//
// With no verb, --layers. See docs/benchmarks.md, "Fusion and oneDNN".
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Dnnl.h"
#include "Layers.h"

#include <cstdio>
#include <cstring>
#include <omp.h>
#include <string>
#include <vector>

using namespace netbench;

namespace {

const char *kUsage =
    "usage: netbench [--layers] [--step FUSED.so UNFUSED.so] [--model FILE.so]\n"
    "                [--batches N,N,...] [--threads N]\n"
    "  --layers        time each conv layer shape: fused vs unfused vs oneDNN (default)\n"
    "  --step A B      time a whole training step (batch 128) of two model libraries\n"
    "  --model FILE    time the training step of one model library\n"
    "  --batches LIST  batches for --layers (default 1,32,128,512)\n"
    "  --threads N     OpenMP threads, oneDNN included (default 2)\n";

struct Args {
  bool layers = false;
  std::vector<const char *> libraries;
  Options opt;
};

bool parseBatches(const char *text, std::vector<int> &out) {
  out.clear();
  for (const char *p = text; *p;) {
    char *end = nullptr;
    long v = std::strtol(p, &end, 10);
    if (end == p || v < 1)
      return false;
    out.push_back(int(v));
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',')
      return false;
  }
  return !out.empty();
}

bool parse(int argc, char **argv, Args &a) {
  for (int i = 1; i < argc; ++i) {
    const char *arg = argv[i];
    auto need = [&](int k) {
      if (i + k < argc)
        return true;
      std::fprintf(stderr, "netbench: %s expects %d argument%s\n", arg, k, k > 1 ? "s" : "");
      return false;
    };
    if (!std::strcmp(arg, "--layers")) {
      a.layers = true;
    } else if (!std::strcmp(arg, "--step")) {
      if (!need(2))
        return false;
      a.libraries = {argv[i + 1], argv[i + 2]};
      i += 2;
    } else if (!std::strcmp(arg, "--model")) {
      if (!need(1))
        return false;
      a.libraries.push_back(argv[++i]);
    } else if (!std::strcmp(arg, "--batches")) {
      if (!need(1) || !parseBatches(argv[++i], a.opt.batches)) {
        std::fprintf(stderr, "netbench: --batches expects positive integers, got '%s'\n",
                     argv[i]);
        return false;
      }
    } else if (!std::strcmp(arg, "--threads")) {
      if (!need(1))
        return false;
      a.opt.threads = std::atoi(argv[++i]);
      if (a.opt.threads < 1) {
        std::fprintf(stderr, "netbench: --threads expects a positive integer, got '%s'\n",
                     argv[i]);
        return false;
      }
    } else if (!std::strcmp(arg, "-h") || !std::strcmp(arg, "--help")) {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "netbench: unknown option '%s'\n%s", arg, kUsage);
      return false;
    }
  }
  if (a.libraries.empty())
    a.layers = true;
  return true;
}

} // namespace

int main(int argc, char **argv) {
  Args a;
  if (!parse(argc, argv, a))
    return 2;
  omp_set_num_threads(a.opt.threads);

  std::string dnnl;
  a.opt.dnnl = dnnlAvailable(dnnl);
  std::printf("netbench: %s; %d threads; load average %.2f\n", cpuModel().c_str(),
              a.opt.threads, loadAverage());
  std::printf("oneDNN: %s\n", a.opt.dnnl ? dnnl.c_str() : ("comparison skipped: " + dnnl).c_str());

  int rc = 0;
  if (a.layers) {
    std::string isa;
    const double peak = measurePeakGflops(a.opt.threads, isa);
    std::printf("peak: %.1f GFLOP/s (%s FMA loop, %d threads)\n\n", peak, isa.c_str(),
                a.opt.threads);
    rc = runLayers(a.opt, peak);
  }
  if (rc == 0 && !a.libraries.empty())
    rc = runSteps(a.libraries.data(), int(a.libraries.size()), a.opt.threads);
  return rc;
}
