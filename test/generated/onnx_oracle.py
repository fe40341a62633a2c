#!/usr/bin/python3
"""Random PyTorch networks, exported to ONNX and imported by netc, against
PyTorch itself (docs/testing.md).

    test/generated/onnx_oracle.py --netc NETC --netrun NETRUN --work DIR
                     [--seed S] [--first I] [--count N] [--threads T]
                     [--max-filters M]

Each model is a PyTorch module drawn from the ops docs/onnx.md maps: Conv
with and without bias, square and not, strides 1-3, symmetric and 'same'
padding; BatchNorm2d and BatchNorm1d with random statistics, affine or
not; ReLU, Sigmoid, Tanh as modules and as functions; MaxPool2d and
AvgPool2d with padding (count_include_pad off) and without, ceil_mode on
and off; Dropout; residual joins, plain and with a strided projection
shortcut, either side first; a per-channel constant added;
AdaptiveAvgPool2d(1) and x.mean((2, 3)) with and without keepdim; flatten
in six spellings, the traced `x.view(x.size(0), -1)` among them, and of
(N, C, 1, 1) by two Squeezes; Linear
with and without bias; the end in logits, Softmax or LogSoftmax; on image
or flat inputs. It is exported with a drawn opset (9 to 17), in eval form
(batch norms folded into the convolutions) or preserved-training form
(kept), with constant folding on or off, a fixed or an open batch. Then:

  1. `netc model.onnx -o model.so` must import it and write model.ckpt;
  2. the library, with the parameters read from that checkpoint's bytes
     (this script's own protobuf reader), against the module in float64:
     the probabilities of a random batch (1, 2, 5 or 8 images), within
     2e-6;
  3. one `netc_train_step` of the imported model's Adam: the loss (within
     2e-5 relative plus 2e-6), and each trained parameter's gradient
     (Adam's first slot after step 1 is (1 - beta1) times it) against the
     gradient of the module's parameter holding the same values, as
     stored or transposed (a Gemm's weight), where one does (a batch norm
     folded into a convolution leaves none), within 2e-5 of the tensor's
     largest plus 1e-6 plus 1e-5 of the model's largest gradient; the
     imported batch norms are frozen and must not move. A model with a
     dropout rate above 0 skips this (netc's dropout trains; the module
     runs in eval);
  4. for an export in preserved-training form, the module written as a
     .net network (net_equivalent; not for a per-channel constant, which
     .net has no layer for) must take every parameter from the export by
     `netc same.net --weights-from model.onnx -o same.so`, and its forward
     with the checkpoint written is compared as in 2;
  5. for 1- and 3-channel images, `netrun predict model.so --weights
     model.ckpt` on PGM/PPM files of the model's size: its CSV against the
     module on pixels / 255, within the CSV's 6 decimals.

Needs python3-torch, python3-onnx and python3-numpy (setup.sh installs
them); without them it says so and exits 77, which ctest counts as skipped.
"""
import argparse
import ctypes
import csv
import os
import struct
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_oracle  # noqa: E402  (re-executes under /usr/bin/python3, or exits 77)
from torch_oracle import Mismatch, close, netc_step, read_params, read_state  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

try:
    import onnx  # noqa: E402,F401  (torch.onnx.export's checker)
except ImportError as e:
    print(f"onnx_oracle: skipped: {e} (install python3-onnx; ./setup.sh does)")
    sys.exit(torch_oracle.SKIP)

netc_abi = torch_oracle.netc_abi


# --- the random module -------------------------------------------------------

class Step(nn.Module):
    """One drawn step: `kind` says how forward applies it."""

    def __init__(self, kind, module=None, bias=None, **extra):
        super().__init__()
        self.kind = kind
        self.module = module
        self.bias = bias
        self.extra = extra
        for key, value in extra.items():
            if isinstance(value, nn.Module):
                self.add_module(key, value)


class Generated(nn.Module):
    def __init__(self, steps, softmax_end):
        super().__init__()
        self.steps = nn.ModuleList(steps)
        self.softmax_end = softmax_end

    def logits(self, x):
        for step in self.steps:
            x = apply(step, x)
        return x

    def forward(self, x):
        x = self.logits(x)
        if self.softmax_end == "log":
            return F.log_softmax(x, dim=1)
        return torch.softmax(x, dim=self.softmax_end) if self.softmax_end is not None else x


def apply(step, x):
    kind, e = step.kind, step.extra
    if kind == "module":
        return step.module(x)
    if kind == "relu_fn":
        return F.relu(x)
    if kind == "sigmoid_fn":
        return torch.sigmoid(x)
    if kind == "tanh_fn":
        return torch.tanh(x)
    if kind == "residual":
        y = e["main"](x)
        shortcut = e["shortcut"](x) if "shortcut" in e else x
        out = y + shortcut if e["main_first"] else shortcut + y
        return torch.relu(out) if e["relu_after"] else out
    if kind == "channel_bias":
        return step.bias + x if e["bias_first"] else x + step.bias
    if kind == "mean":
        return x.mean((2, 3), keepdim=e["keep"])
    if kind == "flatten":
        how = e["how"]
        if how == "torch.flatten":
            return torch.flatten(x, 1)
        if how == "view":
            return x.view(-1, e["features"])
        if how == "reshape":
            return x.reshape(x.shape[0], e["features"])
        if how == "squeeze":
            return x.squeeze(3).squeeze(2) if x.dim() == 4 else x
        if how == "squeeze_both":
            return torch.squeeze(x, 3).squeeze(-1) if x.dim() == 4 else x
        if how == "view_size":
            return x.view(x.size(0), -1)
        if how == "reshape_product":
            return x.reshape(-1, x.size(1) * x.size(2) * x.size(3) if x.dim() == 4 else x.size(1))
        return nn.Flatten()(x)
    raise ValueError(kind)


def conv_out(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def pool_out(size, kernel, stride, pad, ceil):
    """PyTorch's pooled size: rounded up with ceil_mode, less a last window
    that would start in the padding after the input."""
    if not ceil:
        return conv_out(size, kernel, stride, pad)
    out = -(-(size + 2 * pad - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= size + pad else out


class Generator:
    def __init__(self, rng, max_filters):
        self.r = rng
        self.max_filters = max_filters
        self.has_dropout = False

    def activation(self):
        r = self.r
        kind = r.choice(["relu", "sigmoid", "tanh"])
        if r.random() < 0.5:
            return Step("module", {"relu": nn.ReLU(inplace=r.random() < 0.3),
                                   "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh()}[kind])
        return Step(kind + "_fn")

    def batch_norm(self, channels, two_d):
        r = self.r
        cls = nn.BatchNorm2d if two_d else nn.BatchNorm1d
        bn = cls(channels, eps=r.choice([1e-5, 1e-3, 0.1]), momentum=r.choice([0.1, 0.01, 0.5]),
                 affine=r.random() < 0.8)
        with torch.no_grad():
            bn.running_mean.uniform_(-0.3, 0.3)
            bn.running_var.uniform_(0.5, 2.0)
            if bn.affine:
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.3, 0.3)
        return Step("module", bn)

    def conv(self, c, h, w, filters=None, odd_same=False, stride=None):
        """A Conv2d that fits (c, h, w): (module, (filters, oh, ow)), or None."""
        r = self.r
        filters = filters or r.randint(1, self.max_filters)
        bias = r.random() < 0.7
        if odd_same:
            k = r.choice([1, 3, 5])
            s = stride or 1
            conv = nn.Conv2d(c, filters, k, stride=s, padding=k // 2, bias=bias)
            return conv, (filters, conv_out(h, k, s, k // 2), conv_out(w, k, s, k // 2))
        for _ in range(20):
            kh = r.randint(1, 7)
            kw = kh if r.random() < 0.7 else r.randint(1, 7)
            s = r.randint(1, 3)
            form = r.random()
            if form < 0.15 and kh % 2 and kw % 2:
                # 'same' at stride 1 (PyTorch 1.13 exports padding='same' as
                # no opset can, so as the numbers it stands for).
                s, ph, pw = 1, kh // 2, kw // 2
                padding = (ph, pw)
            elif form < 0.6:
                ph = pw = r.randint(0, min(kh, kw))
                padding = ph
            else:
                ph, pw = r.randint(0, kh), r.randint(0, kw)
                padding = (ph, pw)
            oh, ow = conv_out(h, kh, s, ph), conv_out(w, kw, s, pw)
            if oh >= 1 and ow >= 1:
                kernel = kh if kh == kw and r.random() < 0.5 else (kh, kw)
                conv = nn.Conv2d(c, filters, kernel, stride=s, padding=padding, bias=bias)
                return conv, (filters, oh, ow)
        return None

    def pool(self, c, h, w):
        r = self.r
        for _ in range(20):
            k = r.randint(1, 4)
            s = r.choice([None, 1, 2, 3])
            p = r.randint(0, k // 2)
            stride = s or k
            ceil = r.random() < 0.3
            if h + 2 * p < k or w + 2 * p < k:
                continue
            oh, ow = pool_out(h, k, stride, p, ceil), pool_out(w, k, stride, p, ceil)
            if oh < 1 or ow < 1:
                continue
            if r.random() < 0.5:
                return nn.MaxPool2d(k, stride=s, padding=p, ceil_mode=ceil), (c, oh, ow)
            # Padding is left out of the mean (net's and Keras' rule), so
            # a padded average pool must say count_include_pad=False.
            include = p == 0 and r.random() < 0.5
            return (nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil,
                                 count_include_pad=include), (c, oh, ow))
        return None

    def residual(self, c, h, w):
        r = self.r
        projected = r.random() < 0.4
        if projected:
            filters, stride = r.randint(1, self.max_filters), r.randint(1, 3)
        else:
            filters, stride = c, 1
        main_conv, (oc, oh, ow) = self.conv(c, h, w, filters=filters, odd_same=True,
                                            stride=stride)
        main = [Step("module", main_conv)]
        if r.random() < 0.5:
            main.append(self.batch_norm(oc, True))
        if r.random() < 0.5:
            main.append(self.activation())
        extra = {"main": nn.Sequential(*[s.module if s.kind == "module" else _Fn(s)
                                         for s in main]),
                 "main_first": r.random() < 0.6, "relu_after": r.random() < 0.5}
        if projected:
            shortcut = [nn.Conv2d(c, filters, 1, stride=stride, bias=r.random() < 0.5)]
            if r.random() < 0.5:
                shortcut.append(self.batch_norm(filters, True).module)
            extra["shortcut"] = nn.Sequential(*shortcut)
        return Step("residual", **extra), (oc, oh, ow)

    def image_stack(self, c, h, w, depth):
        r = self.r
        steps = []
        for _ in range(depth):
            choice = r.random()
            made = None
            if choice < 0.35:
                fit = self.conv(c, h, w)
                if fit:
                    made = (Step("module", fit[0]), fit[1])
            elif choice < 0.5:
                fit = self.pool(c, h, w)
                if fit:
                    made = (Step("module", fit[0]), fit[1])
            elif choice < 0.62:
                made = (self.batch_norm(c, True), (c, h, w))
            elif choice < 0.67:
                rate = r.choice([0.0, 0.25])
                self.has_dropout |= rate > 0
                made = (Step("module", nn.Dropout(rate)), (c, h, w))
            elif choice < 0.77:
                made = (self.activation(), (c, h, w))
            elif choice < 0.92:
                made = self.residual(c, h, w)
            else:
                shape = r.choice([(1, c, 1, 1), (c, 1, 1)])
                bias = nn.Parameter(torch.empty(shape).uniform_(-0.5, 0.5))
                made = (Step("channel_bias", bias=bias, bias_first=r.random() < 0.5), (c, h, w))
            if made:
                step, (c, h, w) = made
                steps.append(step)
        return steps, (c, h, w)

    def build(self):
        """(module, input shape without the batch)."""
        r = self.r
        classes = r.randint(2, 10)
        steps = []
        if r.random() < 0.12:
            features = r.randint(1, 64)
            shape = (features,)
        else:
            c = r.choice([1, 3])
            h = r.randint(1, 33)
            w = h if r.random() < 0.7 else r.randint(1, 33)
            shape = (c, h, w)
            stack, (c, h, w) = self.image_stack(c, h, w, r.randint(1, 7))
            steps += stack
            if r.random() < 0.4:
                steps.append(Step("module", nn.AdaptiveAvgPool2d(1)) if r.random() < 0.5
                             else Step("mean", keep=r.random() < 0.5))
                h = w = 1
            features = c * h * w
            spellings = ["torch.flatten", "nn.Flatten", "view", "reshape", "view_size",
                         "reshape_product"]
            if h == w == 1:
                spellings += ["squeeze", "squeeze_both"]
            how = r.choice(spellings)
            steps.append(Step("flatten", how=how, features=features))
        for _ in range(r.randint(0, 2)):
            units = r.randint(1, 32)
            steps.append(Step("module", nn.Linear(features, units, bias=r.random() < 0.8)))
            features = units
            if r.random() < 0.3:
                steps.append(self.batch_norm(features, False))
            if r.random() < 0.6:
                steps.append(self.activation())
            if r.random() < 0.2:
                rate = r.choice([0.0, 0.5])
                self.has_dropout |= rate > 0
                steps.append(Step("module", nn.Dropout(rate)))
        steps.append(Step("module", nn.Linear(features, classes, bias=r.random() < 0.8)))
        softmax_end = r.choice([None, None, 1, -1, "log"])
        model = Generated(steps, softmax_end)
        with torch.no_grad():
            # Biases away from zero, so that no two initializers are equal
            # and every parameter is told apart by its values.
            for name, p in model.named_parameters():
                if name.endswith("bias") and p.dim() == 1:
                    p.uniform_(-0.3, 0.3)
        return model.eval(), shape


class _Fn(nn.Module):
    """A functional activation step inside a Sequential."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def forward(self, x):
        return apply(self.step, x)


# --- the same network in .net ------------------------------------------------

class Inexpressible(Exception):
    pass


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def net_layer(module, c, h, w):
    """The .net layer of one module on (c, h, w): (text, (c, h, w))."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        sh, sw = module.stride
        ph, pw = module.padding
        if sh != sw:
            raise Inexpressible("a stride that differs by axis")
        text = (f"conv2d({module.out_channels}, [{kh}, {kw}], stride = {sh}, "
                f"padding = [{ph}, {pw}], bias = {'true' if module.bias is not None else 'false'})")
        return text, (module.out_channels, conv_out(h, kh, sh, ph), conv_out(w, kw, sw, pw))
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k, s, p = module.kernel_size, module.stride, module.padding
        ceil = module.ceil_mode
        oh, ow = pool_out(h, k, s, p, ceil), pool_out(w, k, s, p, ceil)
        # ceil_mode's windows past the input are more padding at the bottom
        # and right (docs/onnx.md).
        bottom = max(0, (oh - 1) * s + k - h - 2 * p) + p
        right = max(0, (ow - 1) * s + k - w - 2 * p) + p
        kind = "max_pool" if isinstance(module, nn.MaxPool2d) else "avg_pool"
        return (f"{kind}({k}, stride = {s}, padding = [{p}, {p}, {bottom}, {right}])",
                (c, oh, ow))
    if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return f"batch_norm(epsilon = {module.eps!r})", (c, h, w)
    if isinstance(module, nn.ReLU):
        return "relu", (c, h, w)
    if isinstance(module, nn.Sigmoid):
        return "sigmoid", (c, h, w)
    if isinstance(module, nn.Tanh):
        return "tanh", (c, h, w)
    if isinstance(module, nn.Dropout):
        return f"dropout({module.p})", (c, h, w)
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return "global_avg_pool", (c, None, None)
    if isinstance(module, nn.Linear):
        bias = "true" if module.bias is not None else "false"
        return f"dense({module.out_features}, bias = {bias})", (module.out_features, None, None)
    if isinstance(module, _Fn):
        return module.step.kind[:-len("_fn")], (c, h, w)
    raise Inexpressible(f"no .net layer for {type(module).__name__}")


def net_chain(modules, dims):
    """A Sequential's layers as one .net chain, and the shape after them."""
    texts = []
    for module in modules:
        text, dims = net_layer(module, *dims)
        texts.append(text)
    return " -> ".join(texts), dims


def net_equivalent(model, shape):
    """The module as a .net network whose ops meet the export's place by
    place (docs/onnx.md, --weights-from), or Inexpressible."""
    lines = []
    c, h, w = shape if len(shape) == 3 else (shape[0], None, None)
    for step in model.steps:
        e = step.extra
        if step.kind == "module":
            text, (c, h, w) = net_layer(step.module, c, h, w)
            lines.append(f"  x = x -> {text}")
        elif step.kind.endswith("_fn"):
            lines.append(f"  x = x -> {step.kind[:-len('_fn')]}")
        elif step.kind == "mean":
            lines.append("  x = x -> global_avg_pool")
            h = w = None
        elif step.kind == "flatten":
            if h is not None:
                lines.append("  x = x -> flatten")
                c, h, w = c * h * w, None, None
        elif step.kind == "residual":
            main, dims = net_chain(e["main"], (c, h, w))
            lines.append(f"  y = x -> {main}")
            side = "x"
            if "shortcut" in e:
                lines.append(f"  z = x -> {net_chain(e['shortcut'], (c, h, w))[0]}")
                side = "z"
            lines.append(f"  x = {f'y + {side}' if e['main_first'] else f'{side} + y'}"
                         f"{' -> relu' if e['relu_after'] else ''}")
            c, h, w = dims
        else:
            raise Inexpressible(f"no .net layer for a {step.kind.replace('_', ' ')}")
    header = f"[{', '.join(map(str, shape))}]"
    return ("network same {\n"
            f"  input image{header}\n  x = image\n" + "\n".join(lines) +
            "\n  x = x -> softmax\n  output x\n}\n")


# --- export ------------------------------------------------------------------

def export(model, shape, path, rng):
    """Exports with drawn options; returns them as text."""
    opset = rng.choice([9, 10, 11, 12, 13, 14, 15, 16, 17])
    mode = rng.choice(["EVAL", "PRESERVE"])
    folding = rng.random() < 0.5
    open_batch = rng.random() < 0.7
    batch = rng.randint(1, 3)
    names = {"input_names": [rng.choice(["image", "input", "x.1"])],
             "output_names": [rng.choice(["logits", "output", "probs"])]}
    dynamic = ({names["input_names"][0]: {0: "N"}, names["output_names"][0]: {0: "N"}}
               if open_batch else None)
    example = torch.randn((batch,) + shape)
    torch.onnx.export(model, example, path, opset_version=opset,
                      training=getattr(torch.onnx.TrainingMode, mode),
                      do_constant_folding=folding, dynamic_axes=dynamic, **names)
    return (f"opset {opset}, {mode.lower()} form, constant folding "
            f"{'on' if folding else 'off'}, batch {'open' if open_batch else batch}"), mode


# --- netc's checkpoint ---------------------------------------------------------

def _varint(data, at):
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _fields(data):
    """(field number, wire type, value) of a protobuf message's wire form."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = data[at:at + size], at + size
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        else:
            raise Mismatch(f"checkpoint: wire type {wire} unexpected")
        yield number, wire, value


def read_checkpoint(path):
    """The parameters of a netrun checkpoint (runtime/proto/checkpoint.proto)
    by name, read from the wire format so that this check shares no code
    with netc."""
    with open(path, "rb") as f:
        data = f.read()
    inner = next((v for n, w, v in _fields(data) if n == 4 and w == 2), None)
    if inner is None:
        raise Mismatch(f"{path}: no Checkpoint inside the CheckpointFile")
    params = {}
    for number, wire, value in _fields(inner):
        if number != 3 or wire != 2:
            continue
        name, shape, floats = None, [], []
        for n, w, v in _fields(value):
            if n == 1:
                name = v.decode()
            elif n == 2 and w == 0:
                shape.append(v)
            elif n == 2 and w == 2:
                at = 0
                while at < len(v):
                    d, at = _varint(v, at)
                    shape.append(d)
            elif n == 3 and w == 2:
                floats.extend(struct.unpack(f"<{len(v) // 4}f", v))
            elif n == 3 and w == 5:
                floats.append(struct.unpack("<f", v)[0])
        params[name] = np.array(floats, dtype=np.float32).reshape(shape)
    return params


# --- the checks ----------------------------------------------------------------

def import_model(netc, path, library):
    done = subprocess.run([netc, path, "-o", library, "--no-cuda"], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise Mismatch(f"netc refused the export:\n{done.stdout}{done.stderr}")
    checkpoint = os.path.splitext(library)[0] + ".ckpt"
    if not os.path.exists(checkpoint):
        raise Mismatch(f"netc wrote no {checkpoint}")
    return checkpoint


def check_forward(model, library, params, x, threads):
    """The probabilities of batch x through the library, against the module."""
    lib = netc_abi.Model(library)
    instance = lib.create(x.shape[0], threads)
    try:
        lib.set_params(instance, params)
        probs = lib.forward(instance, x)
    finally:
        lib.destroy(instance)
    with torch.no_grad():
        logits = model.double().logits(torch.tensor(x, dtype=torch.float64))
        want = torch.softmax(logits, dim=1).numpy()
    used = close("probabilities", probs, want, 0, 2e-6)
    return used


def matching_parameter(value, torch_params):
    """The module's parameter holding exactly `value` (as stored, or
    transposed for a 2-d weight): (name, transposed), or None."""
    found = []
    for name, p in torch_params.items():
        t = p.detach().to(torch.float32).numpy()
        if t.shape == value.shape and np.array_equal(t, value):
            found.append((name, False))
        elif t.ndim == 2 and t.T.shape == value.shape and np.array_equal(t.T, value):
            found.append((name, True))
    return found[0] if len(found) == 1 else None


def check_training(model, library, params, x, labels, threads):
    """One step of the imported model's Adam: the loss and the gradients."""
    lib = netc_abi.Model(library)
    lib.lib.netc_model.restype = ctypes.POINTER(netc_abi.FullModelInfo)
    full = lib.lib.netc_model().contents
    setup = full.train
    if setup.optimizer != 1:
        raise Mismatch(f"an imported model trains with Adam (docs/onnx.md); optimizer "
                       f"{setup.optimizer}")
    lib.lib.netc_train_step.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int32),
        ctypes.c_int32, ctypes.c_uint64, ctypes.POINTER(ctypes.c_float),
        ctypes.POINTER(ctypes.c_int32)]
    info = lib.info
    instance = lib.create(x.shape[0], threads)
    try:
        lib.set_params(instance, params)
        loss, _ = netc_step(lib, instance, x, labels)
        after, slots = read_params(lib, instance), read_state(lib, full, instance)
    finally:
        lib.destroy(instance)

    model = model.double()
    model.zero_grad()
    logits = model.logits(torch.tensor(x, dtype=torch.float64))
    target = torch.tensor(labels, dtype=torch.long)
    F.cross_entropy(logits, target).backward()
    probs = torch.softmax(logits.detach(), 1)
    want_loss = -torch.log(probs[torch.arange(len(labels)), target].clamp(min=1e-7)).mean()
    used = close("loss", [loss], [want_loss.item()], 2e-5, 2e-6)
    torch_params = dict(model.named_parameters())
    largest = max([p.grad.abs().max().item() for p in torch_params.values()
                   if p.grad is not None and p.grad.numel()], default=0.0)
    compared = 0
    for i in range(info.num_params):
        p = info.params[i]
        name = p.name.decode()
        value = params[name]
        if not p.trainable:
            close(f"{name} (frozen) after the step", after[name], value.ravel(), 0, 0)
            continue
        gradient = slots[name + "/adam_m"] / (1 - setup.beta1)
        match = matching_parameter(value, torch_params)
        if match is None:
            continue
        torch_name, transposed = match
        grad = torch_params[torch_name].grad
        want = (grad if grad is not None else torch.zeros(value.shape)).numpy()
        want = want.T if transposed else want
        used = max(used, close(f"gradient of {name} ({torch_name})", gradient, want, 2e-5,
                               1e-6 + 1e-5 * largest))
        compared += 1
    trainable = sum(1 for i in range(info.num_params) if info.params[i].trainable)
    return used, f"{compared}/{trainable} trained parameters' gradients"


def check_weights_from(args, model, shape, path, work, x):
    """The module written in .net (net_equivalent) takes the export's weights
    by `netc X.net --weights-from model.onnx`: every parameter filled, and
    its forward with the checkpoint written against the module's."""
    try:
        text = net_equivalent(model, shape)
    except Inexpressible as e:
        return 0.0, f"--weights-from not compared ({e})"
    net = os.path.join(work, "same.net")
    with open(net, "w") as f:
        f.write(text)
    library = os.path.join(work, "same.so")
    done = subprocess.run([args.netc, net, "--weights-from", path, "-o", library, "--no-cuda"],
                          capture_output=True, text=True)
    if done.returncode != 0 or "left to its initializer" in done.stderr:
        raise Mismatch(f"netc --weights-from refused the export for\n{text}"
                       f"{done.stdout}{done.stderr}")
    used = check_forward(model, library, read_checkpoint(os.path.splitext(library)[0] + ".ckpt"),
                         x, args.threads)
    return used, "--weights-from into the .net form"


def write_image(path, pixels):
    """A binary PGM (one channel) or PPM (three), pixels (C, H, W) uint8."""
    c, h, w = pixels.shape
    with open(path, "wb") as f:
        f.write(f"{'P5' if c == 1 else 'P6'}\n{w} {h}\n255\n".encode())
        f.write(np.ascontiguousarray(pixels.transpose(1, 2, 0)).tobytes())


def check_predict(model, netrun, library, checkpoint, shape, work, rng):
    """netrun predict on image files against the module on pixels / 255."""
    pixels = rng.integers(0, 256, (3,) + shape, dtype=np.uint8)
    files = []
    for i, image in enumerate(pixels):
        files.append(os.path.join(work, f"image_{i}.{'pgm' if shape[0] == 1 else 'ppm'}"))
        write_image(files[-1], image)
    table = os.path.join(work, "predictions.csv")
    done = subprocess.run([netrun, "predict", library, "--weights", checkpoint, "--threads", "2",
                           "--csv", table] + files, capture_output=True, text=True)
    if done.returncode != 0:
        raise Mismatch(f"netrun predict failed:\n{done.stdout}{done.stderr}")
    with open(table) as f:
        rows = list(csv.DictReader(f))
    with torch.no_grad():
        x = torch.tensor(pixels, dtype=torch.float64) / 255
        want = torch.softmax(model.double().logits(x), 1).numpy()
    got = np.array([[float(row[f"p_{k}"]) for k in range(want.shape[1])] for row in rows])
    return close("netrun predict's probabilities", got, want, 0, 1.5e-6)


def check_one(args, seed, index, work):
    import random
    rng = random.Random(f"{seed}:{index}")
    torch.manual_seed(rng.randrange(1 << 30))
    generator = Generator(rng, args.max_filters)
    model, shape = generator.build()
    path = os.path.join(work, "model.onnx")
    form, mode = export(model, shape, path, rng)
    library = os.path.join(work, "model.so")
    checkpoint = import_model(args.netc, path, library)
    params = read_checkpoint(checkpoint)

    data = np.random.default_rng(seed * 1000 + index)
    batch = int(data.choice([1, 2, 5, 8]))
    x = data.standard_normal((batch,) + shape).astype(np.float32)
    labels = data.integers(0, model.steps[-1].module.out_features, batch).astype(np.int32)
    used = check_forward(model, library, params, x, args.threads)
    summary = f"{form}; batch {batch}"
    if generator.has_dropout:
        summary += "; training not compared (dropout)"
    else:
        trained, what = check_training(model, library, params, x, labels, args.threads)
        used = max(used, trained)
        summary += "; " + what
    if mode == "PRESERVE":
        # An eval-form export folds batch norms into the convolutions, which
        # a .net network written from the module would not meet.
        taken, what = check_weights_from(args, model, shape, path, work, x)
        used = max(used, taken)
        summary += "; " + what
    if len(shape) == 3 and shape[0] in (1, 3):
        used = max(used, check_predict(model, args.netrun, library, checkpoint, shape, work,
                                       data))
        summary += "; netrun predict"
    return f"{summary}: the largest difference {100 * used:.1f} % of its tolerance"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--netc", required=True)
    parser.add_argument("--netrun", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2,
                        help="netc's CPU threads (results are the same for any count)")
    parser.add_argument("--max-filters", type=int, default=8,
                        help="the most filters a convolution draws")
    args = parser.parse_args()
    args.netc, args.netrun = os.path.abspath(args.netc), os.path.abspath(args.netrun)
    torch.set_num_threads(1)
    # The exporter warns about what these models do on purpose (an open
    # batch in a traced view, a fixed batch exported).
    warnings.filterwarnings("ignore")
    failed = 0
    for i in range(args.first, args.first + args.count):
        name = f"onnx_{args.seed}_{i}"
        work = os.path.join(args.work, name)
        os.makedirs(work, exist_ok=True)
        try:
            print(f"{name}: ok ({check_one(args, args.seed, i, work)})", flush=True)
        except Mismatch as e:
            failed += 1
            print(f"{name}: FAILED: {e}\n  reproduce: onnx_oracle.py --seed {args.seed} "
                  f"--first {i} --count 1 --max-filters {args.max_filters}", flush=True)
    print(f"{args.count - failed}/{args.count} exported models agree with PyTorch")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
