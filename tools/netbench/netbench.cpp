//===- netbench.cpp - netc's kernels against the unfused chain, oneDNN, cuDNN -===//
//
//   netbench [--layers | --resnet] [--step FUSED.so UNFUSED.so] [--model FILE.so]
//            [--batches 1,32,128,512] [--threads 2]
//   netbench --device cuda [--layers] [--model FAT.so]... [--batches 32,128,512,2048]
//            [--step-batch N] [--steps N] [--tf32]
//
// With no verb, --layers. On the CPU (the default device): fused kernels vs
// the unfused chain vs oneDNN, and whole compiled training steps
// (docs/benchmarks.md, "Fusion and oneDNN"). With --device cuda: netc's CUDA
// kernels and a fat model's CUDA training step vs cuDNN + cuBLAS (Cuda.h;
// docs/benchmarks.md, "GPU: netc's kernels against cuDNN").
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Cuda.h"
#include "Dnnl.h"
#include "Layers.h"

#include <cstdio>
#include <cstring>
#include <omp.h>
#include <string>
#include <vector>

using namespace netc::bench;

namespace {

const char *kUsage =
    "usage: netbench [--layers] [--step FUSED.so UNFUSED.so] [--model FILE.so]\n"
    "                [--batches N,N,...] [--threads N]\n"
    "       netbench --device cuda [--layers] [--model FAT.so]... [--batches N,N,...]\n"
    "                [--step-batch N] [--steps N] [--tf32]\n"
    "  --layers        time each conv layer shape: fused vs unfused vs oneDNN (default)\n"
    "  --resnet        --layers on ResNet50's conv shapes at 224 x 224 (stem, 1x1, 3x3,\n"
    "                  strided, shortcut), batches 1,16,64 unless --batches\n"
    "  --step A B      time a whole training step (batch 128) of two model libraries\n"
    "  --model FILE    time the training step of one model library\n"
    "  --batches LIST  batches for --layers (default 1,32,128,512; cuda 32,128,512,2048)\n"
    "  --threads N     OpenMP threads, oneDNN included (default 2)\n"
    "  --device D      cpu (default) or cuda: netc's CUDA kernels vs cuDNN 9 per conv\n"
    "                  layer (--layers, the default), and with --model (repeatable) a\n"
    "                  fat library's CUDA training step vs a cuDNN + cuBLAS network\n"
    "                  (lenet5, mnist_cnn)\n"
    "  --step-batch N  cuda: the training step's batch (default: the model's own)\n"
    "  --steps N       cuda: timed steps a round (default: about 0.2 s worth)\n"
    "  --tf32          cuda: let cuDNN and cuBLAS use TF32 tensor cores (looser checks)\n";

struct Args {
  bool layers = false;
  bool cuda = false;
  bool batchesGiven = false;
  bool stepPair = false; // --step A B
  std::vector<const char *> libraries;
  Options opt;
  CudaOptions cudaOpt;
};

/// A positive integer option; false (with a message) otherwise.
bool parsePositive(const char *option, const char *text, int &out) {
  char *end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end || v < 1 || v > 1 << 20) {
    std::fprintf(stderr, "netbench: %s expects a positive integer, got '%s'\n", option, text);
    return false;
  }
  out = int(v);
  return true;
}

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
    } else if (!std::strcmp(arg, "--resnet")) {
      a.layers = true;
      a.opt.resnet = true;
    } else if (!std::strcmp(arg, "--step")) {
      if (!need(2))
        return false;
      a.libraries = {argv[i + 1], argv[i + 2]};
      a.stepPair = true;
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
      a.batchesGiven = true;
    } else if (!std::strcmp(arg, "--device")) {
      if (!need(1))
        return false;
      const char *d = argv[++i];
      if (std::strcmp(d, "cpu") && std::strcmp(d, "cuda")) {
        std::fprintf(stderr, "netbench: --device expects 'cpu' or 'cuda', got '%s'\n", d);
        return false;
      }
      a.cuda = !std::strcmp(d, "cuda");
    } else if (!std::strcmp(arg, "--step-batch")) {
      if (!need(1) || !parsePositive(arg, argv[++i], a.cudaOpt.stepBatch))
        return false;
    } else if (!std::strcmp(arg, "--steps")) {
      if (!need(1) || !parsePositive(arg, argv[++i], a.cudaOpt.steps))
        return false;
    } else if (!std::strcmp(arg, "--tf32")) {
      a.cudaOpt.tf32 = true;
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
  if (a.cuda && a.stepPair) {
    std::fprintf(stderr, "netbench: --step compares two CPU libraries; with --device cuda use "
                         "--model FAT.so (each against cuDNN)\n");
    return false;
  }
  if (!a.cuda && (a.cudaOpt.stepBatch || a.cudaOpt.steps || a.cudaOpt.tf32)) {
    std::fprintf(stderr, "netbench: --step-batch, --steps and --tf32 go with --device cuda\n");
    return false;
  }
  if (a.opt.resnet && a.cuda) {
    std::fprintf(stderr, "netbench: --resnet is for the CPU layers\n");
    return false;
  }
  if (a.opt.resnet && !a.batchesGiven)
    a.opt.batches = {1, 16, 64};
  a.cudaOpt.layers = a.layers;
  a.cudaOpt.models = a.libraries;
  if (a.batchesGiven)
    a.cudaOpt.batches = a.opt.batches;
  return true;
}

int runDeviceCuda(const Args &a) {
#ifdef NETBENCH_HAVE_CUDA
  return runCuda(a.cudaOpt);
#else
  (void)a;
  std::printf("netbench: built without CUDA (%s): --device cuda is not available\n",
              NETBENCH_NO_CUDA_REASON);
  return 0;
#endif
}

} // namespace

int main(int argc, char **argv) {
  Args a;
  if (!parse(argc, argv, a))
    return 2;
  if (a.cuda)
    return runDeviceCuda(a);
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
