#!/usr/bin/env python3
"""Random valid .net models over the whole space the language allows.

    generate_models.py --seed S [--first F] --count N --out DIR [--max-filters M]

writes DIR/gen_S_I.net for I from F (--first, default 0) to F + N - 1: model I
depends on (S, I) alone, so a failing case reproduces with
`--seed S --first I --count 1`. Every model is
valid by construction: the generator tracks each tensor's shape and draws
only arguments that the shape rules of docs/language.md accept (a window no
larger than its padded input, pool pads smaller than the window, ...). The
draws cover every layer kind and argument form: kernels 1-7 (square and
[h, w]), strides 1-3, every padding form (valid, same, one integer, [v, h],
[t, l, b, r]), every activation, max and average pooling with and without
padding, batch norm trainable and frozen, dropout, residual adds, blocks
with defaults, repeat, frozen regions (a base, or between trainable layers)
and frozen layers, chosen layer names; every optimizer
with edge values (SGD with momentum 0 and not, nesterov; Adam at its
defaults and others), every learning-rate schedule, early stopping; inputs
odd and even, square and not, 1 and 3 channels, or flat feature vectors.
"""
import argparse
import os
import random

ACTIVATIONS = ["none", "relu", "sigmoid", "tanh", "linear"]


def out_dim(size, kernel, stride, before, after):
    return (size + before + after - kernel) // stride + 1


def same_pads(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Model:
    def __init__(self, rng, index, max_filters=8, max_size=33):
        self.rng = rng
        self.index = index
        self.max_filters = max_filters
        self.max_size = max_size
        self.lines = []      # the network body
        self.blocks = []     # block definitions
        self.frozen_open = False
        self.names = 0

    # --- arguments -------------------------------------------------------
    def padding(self, h, w, kh, kw, stride, pool):
        """A padding argument and the pads it gives, or None if none fits."""
        r = self.rng
        limit_h = kh - 1 if pool else kh
        limit_w = kw - 1 if pool else kw
        forms = ["valid", "same", "int", "pair", "four"]
        r.shuffle(forms)
        for form in forms:
            if form == "valid":
                pads = (0, 0, 0, 0)
                text = "valid"
            elif form == "same":
                top, bottom = same_pads(h, kh, stride)
                left, right = same_pads(w, kw, stride)
                pads = (top, left, bottom, right)
                text = "same"
            elif form == "int":
                p = r.randint(0, min(limit_h, limit_w))
                pads = (p, p, p, p)
                text = str(p)
            elif form == "pair":
                v, hz = r.randint(0, limit_h), r.randint(0, limit_w)
                pads = (v, hz, v, hz)
                text = f"[{v}, {hz}]"
            else:
                pads = (r.randint(0, limit_h), r.randint(0, limit_w),
                        r.randint(0, limit_h), r.randint(0, limit_w))
                text = "[" + ", ".join(map(str, pads)) + "]"
            if pool and (max(pads[0], pads[2]) >= kh or max(pads[1], pads[3]) >= kw):
                continue
            oh = out_dim(h, kh, stride, pads[0], pads[2])
            ow = out_dim(w, kw, stride, pads[1], pads[3])
            if oh >= 1 and ow >= 1:
                return text, oh, ow
        return None

    def number(self, low, high):
        v = self.rng.uniform(low, high)
        return f"{v:.3g}"

    # --- layers ----------------------------------------------------------
    def window(self, h, w, draw_kernel, pool):
        """A kernel from draw_kernel(), a stride and a padding that fit the
        input, in up to 20 draws: (kh, kw, stride, padding text, oh, ow), or
        None."""
        for _ in range(20):
            kh, kw = draw_kernel()
            stride = self.rng.randint(1, 3)
            pad = self.padding(h, w, kh, kw, stride, pool=pool)
            if pad:
                return (kh, kw, stride) + pad
        return None

    def window_args(self, stride, usual_stride, padding, stride_odds):
        """The stride and padding arguments, written when they differ from the
        defaults and sometimes when they do not."""
        r = self.rng
        args = []
        if stride != usual_stride or r.random() < stride_odds:
            args.append(f"stride = {stride}")
        if padding != "valid" or r.random() < 0.2:
            args.append(f"padding = {padding}")
        return args

    def conv(self, c, h, w):
        r = self.rng

        def kernel():
            kh = r.randint(1, min(7, h + 2))
            return kh, kh if r.random() < 0.7 else r.randint(1, min(7, w + 2))

        fit = self.window(h, w, kernel, pool=False)
        if fit is None:
            return None
        kh, kw, stride, text, oh, ow = fit
        filters = r.randint(1, self.max_filters)
        args = [str(filters), str(kh) if kh == kw else f"[{kh}, {kw}]"]
        args += self.window_args(stride, 1, text, stride_odds=0.2)
        if r.random() < 0.3:
            args.append(f"bias = {r.choice(['true', 'false'])}")
        act = r.choice(ACTIVATIONS)
        if act != "none" or r.random() < 0.1:
            args.append(f"activation = {act}")
        if r.random() < 0.1 and not self.frozen_open:
            args.append("frozen = true")
        if r.random() < 0.1:
            self.names += 1
            args.append(f'name = "named_{self.names}"')
        return f"conv2d({', '.join(args)})", (filters, oh, ow)

    def pool(self, c, h, w):
        r = self.rng
        kind = r.choice(["max_pool", "avg_pool"])

        def kernel():
            size = r.randint(1, min(4, h, w) if min(h, w) >= 1 else 1)
            return size, size

        fit = self.window(h, w, kernel, pool=True)
        if fit is None:
            return None
        size, _, stride, text, oh, ow = fit
        args = [str(size)] + self.window_args(stride, size, text, stride_odds=0.3)
        return f"{kind}({', '.join(args)})", (c, oh, ow)

    def batch_norm(self):
        r = self.rng
        args = []
        if r.random() < 0.5:
            args.append(f"epsilon = {r.choice(['1e-5', '0.001', '1', '1.001e-5'])}")
        if r.random() < 0.5:
            args.append(f"momentum = {r.choice(['0', '0.9', '0.99', '0.5'])}")
        if r.random() < 0.3 and not self.frozen_open:
            args.append("frozen = true")
        return "batch_norm" + (f"({', '.join(args)})" if args else "")

    def dropout(self):
        return f"dropout({self.rng.choice(['0', '0.1', '0.5', '0.875'])})"

    # --- the network -----------------------------------------------------
    def image_stack(self, c, h, w, depth):
        """Layers on an image tensor; returns the final (c, h, w)."""
        r = self.rng
        for _ in range(depth):
            choice = r.random()
            if choice < 0.35:
                made = self.conv(c, h, w)
            elif choice < 0.5:
                made = self.pool(c, h, w)
            elif choice < 0.6:
                made = (self.batch_norm(), (c, h, w))
            elif choice < 0.67:
                made = (self.dropout(), (c, h, w))
            elif choice < 0.75:
                made = (r.choice(["relu", "sigmoid", "tanh"]), (c, h, w))
            elif choice < 0.87:
                self.residual(c, h, w)
                continue
            else:
                self.block_use(c, h, w)
                continue
            if made is None:
                continue
            layer, (c, h, w) = made
            self.lines.append(f"  x = x -> {layer}")
        return c, h, w

    def frozen_region(self, c, h, w, depth):
        """`frozen { ... }` around `depth` layers; returns the final (c, h, w)."""
        self.lines.append("  frozen {")
        self.frozen_open = True
        c, h, w = self.image_stack(c, h, w, depth)
        self.lines.append("  }")
        self.frozen_open = False
        return c, h, w

    def residual(self, c, h, w):
        """y = x -> conv(c, odd kernel, same) [-> bn]; x = y + x [-> act]."""
        r = self.rng
        k = r.choice([1, 3, 5])
        act = r.choice(ACTIVATIONS)
        bn = " -> batch_norm" if r.random() < 0.5 else ""
        self.lines.append(f"  y = x -> conv2d({c}, {k}, padding = same, activation = {act}){bn}")
        join = r.choice(["y + x", "x + y", "add(y, x)"])
        tail = r.choice(["", " -> relu", " -> tanh"])
        self.lines.append(f"  x = {join}{tail}")

    def block_use(self, c, h, w):
        """A block with a default argument, used under repeat; keeps the shape."""
        r = self.rng
        name = f"unit{len(self.blocks)}"
        k = r.choice([1, 3])
        act = r.choice(ACTIVATIONS)
        self.blocks.append(
            f"block {name}(x, filters, kernel = {k}) {{\n"
            f"  return x -> conv2d(filters, kernel, padding = same, activation = {act})"
            f"{' -> batch_norm' if r.random() < 0.5 else ''}\n}}\n")
        times = r.randint(0, 3)
        self.lines.append(f"  repeat {times} {{")
        self.lines.append(f"    x = x -> {name}({c})")
        self.lines.append("  }")

    def train(self):
        r = self.rng
        lines = ["  train {"]
        if r.random() < 0.5:
            momentum = r.choice(["0", "0", "0.9", "0.5"])
            args = [f"lr = {r.choice(['0.01', '0.1', '1', '0.001'])}"]
            if momentum != "0" or r.random() < 0.5:
                args.append(f"momentum = {momentum}")
            if r.random() < 0.3:
                args.append(f"nesterov = {r.choice(['true', 'false'])}")
            if r.random() < 0.2:
                args = []
            lines.append(f"    optimizer = sgd({', '.join(args)})")
        else:
            if r.random() < 0.4:
                lines.append("    optimizer = adam()")
            else:
                lines.append(f"    optimizer = adam(lr = {self.number(1e-4, 1e-2)}, "
                             f"beta1 = {r.choice(['0.9', '0', '0.5'])}, "
                             f"beta2 = {r.choice(['0.999', '0.9', '0.99'])}, "
                             f"epsilon = {r.choice(['1e-7', '1e-8', '1', '0.001'])})")
        schedule = r.choice(["", "constant", "step(step_size = 2, gamma = 0.5)", "step",
                             "exponential(decay = 0.9)", "exponential", "cosine(min_lr = 1e-5)",
                             "cosine", "one_cycle", "reduce_on_plateau(patience = 1, factor = 0.5)",
                             "reduce_on_plateau()"])
        if schedule:
            lines.append(f"    lr_schedule = {schedule}")
        stopping = r.choice(["", "", "true", "false",
                             "early_stopping(monitor = val_accuracy, patience = 2, "
                             "min_delta = 0.001, restore_best_weights = true)",
                             "early_stopping(monitor = val_loss)"])
        if stopping:
            lines.append(f"    early_stopping = {stopping}")
        lines.append(f"    batch = {r.choice([1, 2, 3, 4, 8, 16])}")
        lines.append(f"    epochs = {r.randint(1, 3)}")
        lines.append("  }")
        return lines

    def build(self):
        r = self.rng
        classes = r.randint(2, 10)
        if r.random() < 0.12:
            features = r.randint(1, 64)
            header = f"  input image[{features}]"
            self.lines.append("  x = image")
            flat = features
        else:
            c = r.choice([1, 3])
            h = r.randint(1, self.max_size)
            w = h if r.random() < 0.7 else r.randint(1, self.max_size)
            header = f"  input image[{c}, {h}, {w}]"
            if r.random() < 0.3:
                std = "[0.5, 0.25, 0.2]" if c == 3 else "0.3"
                header += f"(mean = {'0.5' if c == 1 else '[0.4, 0.5, 0.6]'}, std = {std})"
            self.lines.append("  x = image")
            if r.random() < 0.25:  # a frozen base
                c, h, w = self.frozen_region(c, h, w, r.randint(1, 3))
            c, h, w = self.image_stack(c, h, w, r.randint(0, 6))
            if r.random() < 0.15:
                # A frozen region between trainable layers: the gradient
                # passes through it to the layers before.
                c, h, w = self.frozen_region(c, h, w, r.randint(1, 2))
                c, h, w = self.image_stack(c, h, w, r.randint(0, 2))
            if r.random() < 0.5:
                self.lines.append("  x = x -> global_avg_pool")
                flat = c
            else:
                self.lines.append("  x = x -> flatten")
                flat = c * h * w
        for _ in range(r.randint(0, 2)):
            units = r.randint(1, 32)
            act = r.choice(ACTIVATIONS + ["softmax"])
            extra = ", bias = false" if r.random() < 0.2 else ""
            self.lines.append(f"  x = x -> dense({units}, activation = {act}{extra})")
            if r.random() < 0.3:
                self.lines.append(f"  x = x -> {self.dropout()}")
            if r.random() < 0.2:
                self.lines.append(f"  x = x -> {self.batch_norm()}")
        self.lines.append(f"  x = x -> dense({classes}, activation = softmax)")
        self.lines.append("  output x")
        name = f"gen_{self.index}"
        text = "".join(b + "\n" for b in self.blocks)
        text += f"network {name} {{\n{header}\n" + "\n".join(self.lines) + "\n"
        text += "\n".join(self.train()) + "\n}\n"
        return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-filters", type=int, default=8,
                        help="the most filters a conv2d draws (8; more reaches the kernels "
                             "that vectorise over 16 output channels)")
    parser.add_argument("--max-size", type=int, default=33,
                        help="the largest input height and width (33; more reaches the "
                             "kernels for large planes, as a 224x224 first layer's)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i in range(args.first, args.first + args.count):
        rng = random.Random(f"{args.seed}:{i}")
        text = Model(rng, i, args.max_filters, args.max_size).build()
        path = os.path.join(args.out, f"gen_{args.seed}_{i}.net")
        with open(path + ".tmp", "w") as f:
            wide = f" --max-filters {args.max_filters}" if args.max_filters != 8 else ""
            wide += f" --max-size {args.max_size}" if args.max_size != 33 else ""
            f.write(f"# generate_models.py --seed {args.seed} --first {i} --count 1{wide}\n"
                    + text)
        os.replace(path + ".tmp", path)
        print(path)


if __name__ == "__main__":
    main()
