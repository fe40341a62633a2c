#!/usr/bin/python3
"""The PyTorch side of bench/train_vs_pytorch.sh.

The networks of models/lenet5.net, models/lenet5_classic.net and
models/mnist_cnn.net, layer for layer, with the optimizer of each file's train
block; trained for the given epochs on MNIST preloaded as a float tensor, and
timed over the training loop only (no data loading, no validation), after one
warm-up batch whose effect on the parameters and optimizer is undone.

  pytorch_models.py train MODEL --data DIR --batch N [--epochs 1] [--limit N] [--threads 2]
  pytorch_models.py latency MODEL [--iterations 10000] [--threads 2]

Prints `key=value` lines (images_per_second, accuracy, peak_rss_mib, ...) for
the script to collect. Run it with MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ raised (the script does) so that glibc keeps the large
activation buffers between batches instead of unmapping and re-faulting them.
"""

import argparse
import gzip
import os
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError:
    sys.exit("pytorch_models.py: error: torch is missing; "
             "apt-get install python3-torch libopenblas0-openmp")


def glorot_zero_(module):
    """Keras' initialisers, as netc's: Glorot uniform kernels, zero biases."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


def lenet5():
    """models/lenet5.net: 'same' 5x5 convs 6, 16, 120 with ReLU, 2x2 max pools,
    dense 84 ReLU, dense 10 (softmax in the loss)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),     # 6x14x14
        nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),    # 16x7x7
        nn.Conv2d(16, 120, 5, padding=2), nn.ReLU(),                   # 120x7x7
        nn.Flatten(),                                                  # 5880
        nn.Linear(5880, 84), nn.ReLU(),
        nn.Linear(84, 10))


def lenet5_classic():
    """models/lenet5_classic.net (act = relu): 'same' 5x5 conv 6, 2x2 avg pool,
    valid 5x5 conv 16, 2x2 avg pool, dense 120, 84, 10."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),     # 6x14x14
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),               # 16x5x5
        nn.Flatten(),                                                  # 400
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def mnist_cnn():
    """models/mnist_cnn.net: valid 3x3 convs 32, 64 with ReLU, 2x2 max pool,
    dropout 0.25, dense 128 ReLU, dropout 0.5, dense 10."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(),                                # 32x26x26
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),              # 64x12x12
        nn.Dropout(0.25),
        nn.Flatten(),                                                  # 9216
        nn.Linear(9216, 128), nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, 10))


# The train blocks: Keras' Adam defaults (eps 1e-7, not PyTorch's 1e-8);
# Keras' SGD momentum (v = m v - lr g) equals PyTorch's for a constant lr.
MODELS = {
    "lenet5": (lenet5, lambda p: torch.optim.Adam(p, lr=0.001, betas=(0.9, 0.999), eps=1e-7)),
    "lenet5_classic": (lenet5_classic, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    "mnist_cnn": (mnist_cnn, lambda p: torch.optim.Adam(p, lr=0.001, betas=(0.9, 0.999), eps=1e-7)),
}


def read_idx(path):
    """An IDX file (plain or .gz) as a uint8 tensor of its shape."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            raw = bytearray(f.read())
    else:  # read in place: no second copy of the 47 MB file in the peak
        raw = bytearray(os.path.getsize(path))
        with open(path, "rb", buffering=0) as f:
            f.readinto(raw)
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        sys.exit(f"pytorch_models.py: error: {path}: not an unsigned-byte IDX file")
    rank = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    data = torch.frombuffer(raw, dtype=torch.uint8, offset=4 + 4 * rank)
    return data.reshape(shape)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def blas_libraries():
    """The BLAS and OpenMP libraries mapped into this process."""
    names = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if any(k in path for k in ("blas", "lapack", "gomp", "libomp", "mkl")):
                names.add(path)
    return ",".join(sorted(names)) or "none"


def report(**values):
    for key, value in values.items():
        print(f"{key}={value}")
    sys.stdout.flush()


def train(args):
    build, make_optimizer = MODELS[args.model]
    torch.manual_seed(args.seed)
    images = read_idx(os.path.join(args.data, "train-images-idx3-ubyte"))
    labels = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte"))
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    # Preloaded as floats, as netrun's /255 (netrun converts one batch at a time).
    x_all = images.to(torch.float32).div_(255.0).reshape(-1, 1, 28, 28)
    y_all = labels.to(torch.int64)
    del images, labels
    count = x_all.shape[0]
    # On a GPU the whole set is moved there first (as netrun holds it there)
    # and cuDNN picks its fastest algorithms for these shapes.
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        x_all, y_all = x_all.to(device), y_all.to(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    model = build().to(device)
    model.apply(glorot_zero_)
    optimizer = make_optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()  # log-softmax + NLL on the logits, mean over the batch

    def step(xb, yb):
        optimizer.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        optimizer.step()
        return loss.detach(), (logits.detach().argmax(1) == yb).sum()

    # One warm-up batch (oneDNN primitive creation, first-touch of buffers),
    # then the parameters and optimizer are put back as they were.
    model.train()
    saved_model = {k: v.clone() for k, v in model.state_dict().items()}
    for _ in range(3 if device.type == "cuda" else 1):
        step(x_all[:args.batch], y_all[:args.batch])
    model.load_state_dict(saved_model)
    optimizer = make_optimizer(model.parameters())

    total_seconds = 0.0
    for epoch in range(args.epochs):
        order = torch.randperm(count, device=device)
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        sync()
        start = time.perf_counter()
        for first in range(0, count, args.batch):
            index = order[first:first + args.batch]
            xb, yb = x_all[index], y_all[index]
            loss, hits = step(xb, yb)
            loss_sum += loss.double() * xb.shape[0]
            correct += hits
        sync()
        seconds = time.perf_counter() - start
        total_seconds += seconds
        print(f"pytorch {args.model} epoch {epoch + 1}/{args.epochs} - {seconds:.1f}s - "
              f"loss: {loss_sum.item() / count:.4f} - accuracy: {correct.item() / count:.4f} - "
              f"{count / seconds:,.0f} images/s", file=sys.stderr)
    report(images_per_second=f"{count * args.epochs / total_seconds:.1f}",
           accuracy=f"{correct.item() / count:.4f}",
           loss=f"{loss_sum.item() / count:.4f}",
           seconds=f"{total_seconds:.2f}",
           peak_rss_mib=f"{peak_rss_mib():.1f}",
           threads=torch.get_num_threads(),
           device=(torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"),
           blas=blas_libraries())


def latency(args):
    build, _ = MODELS[args.model]
    torch.manual_seed(args.seed)
    model = build()
    model.apply(glorot_zero_)
    model.eval()
    x = torch.rand(1, 1, 28, 28)
    times = []
    with torch.no_grad():
        for _ in range(100):  # warm-up
            torch.softmax(model(x), dim=1)
        for _ in range(args.iterations):
            start = time.perf_counter_ns()
            torch.softmax(model(x), dim=1)  # netc_forward returns probabilities too
            times.append(time.perf_counter_ns() - start)
    report(median_us=f"{statistics.median(times) / 1000:.1f}",
           min_us=f"{min(times) / 1000:.1f}",
           threads=torch.get_num_threads())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("verb", choices=["train", "latency"])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (train only)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.verb == "train":
        report(startup_rss_mib=f"{peak_rss_mib():.1f}")
        train(args)
    else:
        latency(args)


if __name__ == "__main__":
    main()
