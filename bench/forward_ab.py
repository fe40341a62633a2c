#!/usr/bin/python3
"""Two builds of one model's forward, timed in turns: A/B of the CPU kernels
on a whole network.

Both libraries get the same parameters (an ONNX file's initializers) and the
same random images; their outputs must agree before anything is timed. Then
rounds call each once in turn until each has run for --seconds, and the
medians (and new / base) are printed per batch.

    /usr/bin/python3 bench/forward_ab.py BASE.so NEW.so --onnx MODEL.onnx
        [--batches 1,16] [--threads 2] [--seconds 10]

Build BASE.so from another revision's kernels with the same netc:
    git archive REV runtime/include | tar -x -C /tmp/base
    NETC_RUNTIME_INCLUDE=/tmp/base/runtime/include build/bin/netc MODEL.onnx -o BASE.so --no-cuda
(bench/resnet50_vs_pytorch.py leaves ResNet50's ONNX in its --work folder.)
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "python"))
import netc_abi  # noqa: E402

# Outputs of the two builds agree within this (their sums may be ordered
# differently).
TOLERANCE = 1e-4


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("new")
    parser.add_argument("--onnx", required=True, help="the model whose initializers both get")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    try:
        args.batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        parser.error(f"--batches: '{args.batches}' is not a comma-separated list of numbers")
    if args.threads < 1 or any(b < 1 for b in args.batches) or args.seconds <= 0:
        parser.error("--threads, --batches and --seconds must be positive")
    for path in (args.base, args.new, args.onnx):
        if not os.path.isfile(path):
            parser.error(f"{path}: no such file")
    return args


def main():
    args = parse_args()
    try:
        weights = {t.name: numpy_helper.to_array(t)
                   for t in onnx.load(args.onnx).graph.initializer}
    except Exception as error:  # onnx raises several types for a bad file
        sys.exit(f"forward_ab: {args.onnx}: not a readable ONNX model ({error})")
    try:
        libraries = {"base": netc_abi.Model(args.base), "new": netc_abi.Model(args.new)}
    except (OSError, AttributeError) as error:
        sys.exit(f"forward_ab: not a netc model library: {error}")
    rng = np.random.default_rng(1)
    print(f"base {args.base}, new {args.new}; {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| batch | base ms | new ms | new speed / base | rounds |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for batch in args.batches:
        instances, outputs, images = {}, {}, None
        for name, library in libraries.items():
            try:
                instances[name] = library.create(batch, args.threads)
                library.set_params(instances[name], weights)
            except (RuntimeError, ValueError) as error:
                sys.exit(f"forward_ab: {getattr(args, name)}: {error}")
            if images is None:
                info = library.info
                shape = [batch] + [int(info.input_shape[d]) for d in range(info.input_rank)]
                images = rng.standard_normal(shape).astype(np.float32)
            outputs[name] = library.forward(instances[name], images)
        difference = float(np.abs(outputs["base"] - outputs["new"]).max())
        if not difference <= TOLERANCE:
            sys.exit(f"batch {batch}: the outputs differ by {difference:.3g} "
                     f"(tolerance {TOLERANCE})")
        times = {name: [] for name in libraries}
        spent = 0.0
        while spent < args.seconds or len(times["new"]) < 3:
            for name, library in libraries.items():
                start = time.perf_counter()
                library.forward(instances[name], images, outputs[name])
                times[name].append(time.perf_counter() - start)
            spent += max(t[-1] for t in times.values())
        base, new = (statistics.median(times[n]) for n in ("base", "new"))
        print(f"| {batch} | {base * 1e3:.1f} | {new * 1e3:.1f} | {base / new:.2f}x | "
              f"{len(times['new'])} |")
        for name, library in libraries.items():
            library.destroy(instances[name])


if __name__ == "__main__":
    main()
