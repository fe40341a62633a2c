#!/usr/bin/python3
"""Writes lenet5_golden.txt: five training steps of models/lenet5.net in PyTorch.

The same network as the .net file (NCHW, conv weights [F, C, KH, KW], dense
weights [out, in], so the tensors carry over unchanged), started from weights
given by a formula both sides compute (initial_value: a splitmix64 hash of
the parameter's name and the element's index), and fed the first 80 MNIST training images as five
batches of 16, once with SGD (lr 0.01, momentum 0.9, Keras' form, which equals
PyTorch's for a constant rate) and once with Adam (lr 0.001, epsilon 1e-7).
The file holds the five losses and, for every parameter
after the five steps, its sum, its L2 norm and 64 sampled elements.
test/e2e/GoldenTest.cpp replays the run through the compiled model and
compares; it needs no Python. Run from the repository root after ./setup.sh:

    /usr/bin/python3 test/e2e/golden/make_lenet5_golden.py
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(20261123)
torch.set_num_threads(1)
DATA = "data/mnist/train-images-idx3-ubyte"
LABELS = "data/mnist/train-labels-idx1-ubyte"
BATCH, STEPS, SAMPLES = 16, 5, 64

# Parameter names and shapes as netc names them.
PARAMS = [
    ("conv2d_1.kernel", (6, 1, 5, 5)), ("conv2d_1.bias", (6,)),
    ("conv2d_2.kernel", (16, 6, 5, 5)), ("conv2d_2.bias", (16,)),
    ("conv2d_3.kernel", (120, 16, 5, 5)), ("conv2d_3.bias", (120,)),
    ("dense_1.kernel", (84, 5880)), ("dense_1.bias", (84,)),
    ("dense_2.kernel", (10, 84)), ("dense_2.bias", (10,)),
]


MASK = (1 << 64) - 1


def splitmix64(z):
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def fnv1a(text):
    h = 0xCBF29CE484222325
    for c in text.encode():
        h = ((h ^ c) * 0x100000001B3) & MASK
    return h


def initial_value(name, index, scale):
    """Uniform in [-scale, scale): computed in double, rounded to float once."""
    u = (splitmix64(fnv1a(name) ^ index) >> 40) / float(1 << 24)
    return (2.0 * u - 1.0) * scale


def forward(p, x):
    x = F.max_pool2d(F.relu(F.conv2d(x, p["conv2d_1.kernel"], p["conv2d_1.bias"], padding=2)), 2)
    x = F.max_pool2d(F.relu(F.conv2d(x, p["conv2d_2.kernel"], p["conv2d_2.bias"], padding=2)), 2)
    x = F.relu(F.conv2d(x, p["conv2d_3.kernel"], p["conv2d_3.bias"], padding=2))
    x = torch.flatten(x, 1)
    x = F.relu(F.linear(x, p["dense_1.kernel"], p["dense_1.bias"]))
    return F.softmax(F.linear(x, p["dense_2.kernel"], p["dense_2.bias"]), dim=1)


def read_idx(path, count, item):
    with open(path, "rb") as f:
        data = f.read()
    offset = 16 if item > 1 else 8
    return data[offset:offset + count * item]


def main():
    pixels = read_idx(DATA, BATCH * STEPS, 784)
    labels = read_idx(LABELS, BATCH * STEPS, 1)
    x = torch.tensor(list(pixels), dtype=torch.float32).reshape(-1, 1, 28, 28) / 255.0
    y = torch.tensor(list(labels), dtype=torch.int64)

    initial = {}
    for name, shape in PARAMS:
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        # Biases start non-zero so that their gradients are tested too.
        scale = 0.05 if name.endswith("bias") else (3.0 / fan_in) ** 0.5
        count = 1
        for d in shape:
            count *= d
        values = [initial_value(name, i, scale) for i in range(count)]
        initial[name] = torch.tensor(values, dtype=torch.float32).reshape(shape)

    out = ["# netc golden run of models/lenet5.net, written by make_lenet5_golden.py",
           f"# torch {torch.__version__}; batch {BATCH}, steps {STEPS}"]

    for optimizer in ("sgd", "adam"):
        p = {k: v.clone().requires_grad_(True) for k, v in initial.items()}
        if optimizer == "sgd":
            opt = torch.optim.SGD(p.values(), lr=0.01, momentum=0.9)
        else:
            opt = torch.optim.Adam(p.values(), lr=0.001, betas=(0.9, 0.999), eps=1e-7)
        for step in range(STEPS):
            xb = x[step * BATCH:(step + 1) * BATCH]
            yb = y[step * BATCH:(step + 1) * BATCH]
            probs = forward(p, xb)
            loss = F.nll_loss(torch.log(probs.clamp_min(1e-7)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append("loss %s %d %.9g" % (optimizer, step, loss.item()))
        for name, _ in PARAMS:
            values = p[name].detach().flatten()
            stride = max(1, values.numel() // SAMPLES)
            picks = " ".join("%d:%.9g" % (i, values[i].item())
                             for i in range(0, values.numel(), stride)[:SAMPLES])
            out.append("param %s %s sum %.9g norm %.9g %s" % (
                optimizer, name, values.double().sum().item(),
                values.double().norm().item(), picks))
    with open("test/e2e/golden/lenet5_golden.txt", "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
