#!/usr/bin/python3
"""ResNet50 inference on the CPU: netc against PyTorch eager and frozen
TorchScript, with the same network and weights.

torchvision's ResNet50 (seeded random weights, tools/python/resnet50_reference.py)
is exported to ONNX, compiled by netc (--no-cuda) and run through the model's
C ABI with the ONNX initializers as its parameters. At each batch the three
agree on the probabilities of the same random images before anything is
timed; then rounds time one call of each in turn until every side has run
for --seconds, and the medians are printed with their ratios.

    /usr/bin/python3 bench/resnet50_vs_pytorch.py [--netc build/bin/netc]
        [--threads 2] [--batches 1,16] [--seconds 20] [--work DIR]

Needs Debian's python3-torch, python3-torchvision and python3-onnx.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "python"))
import netc_abi  # noqa: E402
import resnet50_reference  # noqa: E402

# glibc unmaps and re-faults PyTorch's large buffers every call unless its
# thresholds are raised (bench/README.md); set before Python starts.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "1000000000", "MALLOC_TRIM_THRESHOLD_": "1000000000"}

# Probabilities agree within this, netc's float32 against PyTorch's.
TOLERANCE = 1e-4


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--netc", default=os.path.join(HERE, "..", "build", "bin", "netc"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="timed seconds per side and batch (default 20)")
    parser.add_argument("--work", default="/tmp/netc-resnet50-bench")
    args = parser.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    if args.threads < 1 or any(b < 1 for b in args.batches) or args.seconds <= 0:
        parser.error("--threads, --batches and --seconds must be positive")
    if not os.access(args.netc, os.X_OK):
        parser.error(f"{args.netc} is not an executable netc (build it, or pass --netc PATH)")
    return args


def compile_with_netc(netc, model, images, work):
    path = os.path.join(work, "resnet50.onnx")
    resnet50_reference.export_onnx(model, images, path)
    library = os.path.join(work, "resnet50.so")
    start = time.monotonic()
    if subprocess.run([netc, path, "-o", library, "--no-cuda"]).returncode != 0:
        sys.exit(f"resnet50_vs_pytorch: netc failed on {path} (its message is above)")
    print(f"netc compiled {path} in {time.monotonic() - start:.1f} s")
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    return netc_abi.Model(library), weights


def timed_rounds(sides, seconds):
    """Median seconds per call of each side, calls interleaved round by round."""
    times = {name: [] for name in sides}
    spent = 0.0
    while spent < seconds or min(len(t) for t in times.values()) < 3:
        for name, call in sides.items():
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
            times[name].append(elapsed)
        spent += max(t[-1] for t in times.values())
    return {name: statistics.median(t) for name, t in times.items()}, len(times["netc"])


def main():
    args = parse_args()
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **MALLOC_ENV})
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    calibration = torch.randn(2, 3, 224, 224)
    model = resnet50_reference.seeded_resnet50(calibration)
    library, weights = compile_with_netc(args.netc, model, calibration, args.work)

    print(f"torch {torch.__version__}, {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.2f}")
    rows = []
    for batch in args.batches:
        images = torch.randn(batch, 3, 224, 224)
        x = np.ascontiguousarray(images.numpy(), dtype=np.float32)
        instance = library.create(batch, args.threads)
        library.set_params(instance, weights)
        out = library.forward(instance, x)
        with torch.inference_mode():
            eager_p = torch.softmax(model(images), 1).numpy()
        frozen = torch.jit.freeze(torch.jit.trace(model, images))
        with torch.inference_mode():
            for _ in range(3):  # the profiling executor specialises on its first calls
                frozen_p = torch.softmax(frozen(images), 1).numpy()
        for name, p in (("eager", eager_p), ("TorchScript", frozen_p)):
            difference = np.abs(out - p).max()
            if not difference <= TOLERANCE:
                sys.exit(f"batch {batch}: netc's probabilities differ from PyTorch {name}'s "
                         f"by {difference:.3g} (tolerance {TOLERANCE})")
        print(f"batch {batch}: probabilities agree (max difference "
              f"{np.abs(out - eager_p).max():.2g} eager, {np.abs(out - frozen_p).max():.2g} "
              f"TorchScript)")

        def run_eager():
            with torch.inference_mode():
                model(images)

        def run_frozen():
            with torch.inference_mode():
                frozen(images)

        medians, rounds = timed_rounds(
            {"netc": lambda: library.forward(instance, x, out), "eager": run_eager,
             "TorchScript": run_frozen}, args.seconds)
        library.destroy(instance)
        rows.append((batch, medians, rounds))
        print(f"batch {batch}: {rounds} rounds, load average {os.getloadavg()[0]:.2f}")

    print()
    print("| batch | netc ms | PyTorch eager ms | frozen TorchScript ms | netc images/s "
          "| TorchScript images/s | netc speed / eager | netc speed / TorchScript "
          "| aim (>= 1.5x TorchScript) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for batch, m, _ in rows:
        ratio = m["TorchScript"] / m["netc"]
        print(f"| {batch} | {m['netc'] * 1e3:.1f} | {m['eager'] * 1e3:.1f} | "
              f"{m['TorchScript'] * 1e3:.1f} | {batch / m['netc']:.1f} | "
              f"{batch / m['TorchScript']:.1f} | {m['eager'] / m['netc']:.2f}x | "
              f"{ratio:.2f}x | {'met' if ratio >= 1.5 else 'not met'} |")


if __name__ == "__main__":
    main()
