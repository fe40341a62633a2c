#!/usr/bin/env python3
"""The generated-model test: random valid models (generate_models.py), each
compiled and run against its own other forms (docs/testing.md).

    run_generated.py --netc NETC --netrun NETRUN --check CHECK --work DIR
                     [--seed S] [--first I] [--count N] [--jobs J]
                     [--cuda-every K] [--nvcc PATH] [--emu-every K --emu-nvcc PATH]
                     [--portable-every K] [--portable-march ARCH]

For each model:
  1. netc builds it with the default pipeline and with -O0 (C++ only), and
     every K-th model also with its CUDA path where nvcc is found (the whole
     fat library, as a user gets it); nothing may end in 'internal error';
  2. generated-model-check trains both builds 3 steps from the same
     parameters on the same batch: finite losses, the same losses and
     probabilities (docs/testing.md states the tolerance); every K-th model
     is also built for a portable target (NETC_MARCH=x86-64-v3: AVX2, no
     AVX-512) and trained against the default build the same way;
  3. netrun exports the trained model to ONNX, the ONNX checker reads it
     (full_check, where python3-onnx is installed), netc imports it, and the
     import computes the model's probabilities.

A failure prints the step, the command and its output, and the one line
that reproduces the model; the exit status is 1 if any model failed.
"""
import argparse
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Failure(Exception):
    pass


def run(step, command, cwd, timeout=600, env=None):
    """Runs `command`; a non-zero exit, a timeout or 'internal error' in its
    output is a Failure. The command runs in a process group of its own, so a
    timeout also ends what it started (the C++ compiler, nvcc)."""
    try:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
    except OSError as e:
        raise Failure(f"{step}: cannot run {command[0]}: {e}")
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise Failure(f"{step}: timed out after {timeout} s: {' '.join(command)}")
    if "internal error" in output:
        raise Failure(f"{step}: 'internal error' in the output of {' '.join(command)}:\n{output}")
    if process.returncode != 0:
        raise Failure(f"{step}: exit {process.returncode}: {' '.join(command)}\n{output}")
    return output


def check_onnx(path):
    """The ONNX checker's full check, by the first Python that has python3-onnx
    (Debian's /usr/bin/python3 where another Python runs this script)."""
    code = "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)"
    for python in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        if not os.path.exists(python):
            continue
        # Run from the model's folder: `python -c` imports from the current
        # folder first, and the repository's root has an onnx/ of its own.
        where = os.path.dirname(path)
        if subprocess.run([python, "-c", "import onnx.checker"], capture_output=True,
                          cwd=where).returncode != 0:
            continue
        done = subprocess.run([python, "-c", code, path], capture_output=True, text=True,
                              cwd=where)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
            raise Failure(f"ONNX checker: {lines[-1]}")
        return "passed"
    return "skipped (no python3-onnx)"


def one_model(args, index, nvcc):
    name = f"gen_{args.seed}_{index}"
    work = os.path.join(args.work, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    run("generate_models.py", [sys.executable, os.path.join(HERE, "generate_models.py"),
                               "--seed", str(args.seed), "--first", str(index), "--count", "1",
                               "--out", work], work)
    source = os.path.join(work, name + ".net")
    started = time.time()
    notes = []
    with_cuda = nvcc is not None and args.cuda_every > 0 and index % args.cuda_every == 0
    env = dict(os.environ)
    build = [args.netc, source, "-o", "default.so"]
    if with_cuda:
        env["NETC_NVCC"] = nvcc
        notes.append("CUDA path built")
    else:
        build.append("--no-cuda")
    run("netc (default pipeline)", build, work, env=env)
    run("netc -O0", [args.netc, source, "-O0", "-o", "unfused.so", "--no-cuda"], work)
    run("train: default against -O0", [args.check, "train", "default.so", "unfused.so",
                                        "trained.ckpt"], work)
    if args.portable_every > 0 and index % args.portable_every == 1 % args.portable_every:
        portable_env = dict(os.environ, NETC_MARCH=args.portable_march)
        run(f"netc (NETC_MARCH={args.portable_march})",
            [args.netc, source, "-o", "portable.so", "--no-cuda"], work, env=portable_env)
        run(f"train: default against {args.portable_march}",
            [args.check, "train", "default.so", "portable.so", "portable.ckpt"], work)
        notes.append(f"{args.portable_march} build")
    if args.emu_nvcc and args.emu_every > 0 and index % args.emu_every == 0:
        emu_env = dict(os.environ, NETC_NVCC=args.emu_nvcc)
        run("netc (the CUDA emulator's nvcc)", [args.netc, source, "-o", "emulated.so"], work,
            env=emu_env)
        run("devices: CPU against emulated CUDA", [args.check, "devices", "emulated.so"], work)
        notes.append("CPU against emulated CUDA")
    run("netrun export", [args.netrun, "export", "default.so", "--weights", "trained.ckpt",
                          "--onnx", "model.onnx"], work)
    notes.append("ONNX checker " + check_onnx(os.path.join(work, "model.onnx")))
    run("netc model.onnx", [args.netc, "model.onnx", "-o", "imported.so", "--no-cuda"], work)
    run("forward: model against its ONNX export imported",
        [args.check, "forward", "default.so", "trained.ckpt", "imported.so", "imported.ckpt"],
        work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return f"{name}: ok in {time.time() - started:.0f} s ({', '.join(notes)})"


def find_nvcc(given):
    if given:
        return given if os.path.exists(given) else None
    for candidate in ("/usr/local/cuda/bin/nvcc", shutil.which("nvcc")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--netc", required=True)
    parser.add_argument("--netrun", required=True)
    parser.add_argument("--check", required=True, help="generated-model-check")
    parser.add_argument("--work", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cuda-every", type=int, default=6,
                        help="build every K-th model with its CUDA path (0: none)")
    parser.add_argument("--nvcc", help="nvcc to use (default: as netc finds it)")
    parser.add_argument("--emu-every", type=int, default=0,
                        help="run every K-th model's CUDA path under the emulator (0: none)")
    parser.add_argument("--emu-nvcc", help="the CUDA emulator's nvcc stand-in")
    parser.add_argument("--portable-every", type=int, default=0,
                        help="also build every K-th model for --portable-march (0: none)")
    parser.add_argument("--portable-march", default="x86-64-v3",
                        help="the -march of the portable builds (NETC_MARCH)")
    parser.add_argument("--keep", action="store_true", help="keep each model's folder")
    args = parser.parse_args()
    args.netc, args.netrun, args.check = (os.path.abspath(p) for p in
                                          (args.netc, args.netrun, args.check))
    os.makedirs(args.work, exist_ok=True)
    nvcc = find_nvcc(args.nvcc)
    if args.emu_nvcc:
        args.emu_nvcc = os.path.abspath(args.emu_nvcc)
        if not os.path.exists(args.emu_nvcc):
            print(f"run_generated.py: {args.emu_nvcc} not built; no emulated CUDA runs")
            args.emu_nvcc = None
    if args.cuda_every > 0 and nvcc is None:
        print("run_generated.py: nvcc not found; the CUDA paths are not built (C++ only)")
    failures = 0
    indices = range(args.first, args.first + args.count)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(one_model, args, i, nvcc): i for i in indices}
        for future in concurrent.futures.as_completed(futures):
            i = futures[future]
            try:
                print(future.result(), flush=True)
            except Failure as e:
                failures += 1
                print(f"gen_{args.seed}_{i}: FAILED at {e}\n  reproduce: "
                      f"{os.path.join(HERE, 'generate_models.py')} --seed {args.seed} "
                      f"--first {i} --count 1 --out DIR", flush=True)
    print(f"run_generated.py: {args.count - failures} of {args.count} models passed "
          f"(seed {args.seed}, models {args.first} to {args.first + args.count - 1})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
