#!/usr/bin/python3
"""Generated models against PyTorch (docs/testing.md).

    test/generated/torch_oracle.py --netc NETC --work DIR
                     [--seed S] [--first I] [--count N] [--batch B] [--steps T]
                     [--max-filters M] [--max-size S]

The generated-model test compares netc's builds with one another; this one
compares them with an implementation that shares nothing with netc. For each
model of generate_models.py (the same seeds and numbering), the forward
graph of its library (the `graph` text, docs/abi.md) is rebuilt op by op in
PyTorch, in float64. Both get the same random parameters (batch-norm
statistics and biases away from their initial values) and random batches
(of 1, 2, 5 or 8 images, drawn per model; netc on 2 threads):

  1. the model with plain SGD at rate 1 and dropout at rate 0:
     `netc_forward` against PyTorch in inference mode (every batch norm on
     its running statistics), the probabilities; one `netc_train_step`
     against PyTorch in training mode (a batch norm with a trained gamma or
     beta on the batch's statistics, the others on their running ones): the
     loss, every trainable parameter after the update (old - gradient, so
     the gradients), every trained batch norm's running statistics, and
     every other parameter unchanged; for a model with a frozen base, the
     same for netrun's feature cache (netc_base_forward, then
     netc_head_train_step on the features);
  2. the model with its own optimizer (dropout at rate 0): T steps, each
     from netc's parameters and optimizer slots before it (so that one
     step's rounding stays out of the next), against the updates
     docs/kernels.md states (SGD, momentum and Nesterov as Keras; Adam as
     PyTorch and Keras 2.11, with netc's step count): the loss, the
     parameters, the slots and the running statistics after each step.

Tolerances (float32 against float64): probabilities within 2e-6 absolute,
losses within 2e-5 relative plus 2e-6, running statistics within 1e-5 of
their largest plus 2e-6; a parameter's change and a slot within 2e-5 of the
tensor's largest plus a floor of 1e-6 plus 1e-5 of the model's largest
gradient (times the rate; Adam's slots: 1e-5 of the largest gradient, or of
its square), the floor's second term times 1/sqrt(epsilon) where a trained
batch norm sees a channel of equal values (behind a convolution that reads
only padding, or dead ReLUs: the norm multiplies rounding by that); Adam's
change of a parameter within 1e-3 of the tensor's largest plus 1e-6, for the
elements whose gradients are not rounding noise (at least 1e-3 of their
tensor's largest, in a tensor whose largest is at least 1e-5 of the model's,
amplified as the floor); the others, whose step float32 rounding decides,
are held to the most an Adam step can move an element (adam_bound). The
largest difference seen, as a share of its tolerance, is printed for each
model.

Needs python3-torch and python3-numpy (setup.sh installs them); without
them it says so and exits 77, which ctest counts as skipped.
"""
import argparse
import ctypes
import os
import re
import subprocess
import sys

SKIP = 77  # ctest's SKIP_RETURN_CODE for this test

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    # Another Python on PATH (a virtual environment) may lack Debian's
    # python3-torch: the system one is tried before giving up.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != \
            os.path.realpath("/usr/bin/python3") and not os.environ.get("TORCH_ORACLE_REEXEC"):
        os.environ["TORCH_ORACLE_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print(f"torch_oracle: skipped: {e} (install python3-torch and python3-numpy; "
          "./setup.sh does)")
    sys.exit(SKIP)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "python"))
import netc_abi  # noqa: E402


class Mismatch(Exception):
    pass


def plain_sgd(text):
    """The .net text with SGD at rate 1 and no dropout, so that one step's
    change of a parameter is minus its gradient and the step is deterministic."""
    text, count = re.subn(r"optimizer = [a-z]+(\([^)]*\))?", "optimizer = sgd(lr = 1)", text)
    if count != 1:
        raise Mismatch("cannot find the model's optimizer to replace")
    return re.sub(r"dropout\([^)]*\)", "dropout(0)", text)


def unescape(name):
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), name)


def parse_graph(text):
    """[(result, kind, layer, operands, attributes)], and the returned value."""
    ops, returned = [], None
    for line in text.strip().splitlines():
        fields = line.split(" ")
        if fields[0] == "return":
            returned = fields[1]
            continue
        result, kind, layer = fields[0], fields[1], unescape(fields[2])
        operands, attributes = [], {}
        for field in fields[3:]:
            if "=" in field:
                key, value = field.split("=", 1)
                attributes[key] = [float(v) for v in value.split(",")]
            else:
                operands.append(unescape(field))
        ops.append((result, kind, layer, operands, attributes))
    return ops, returned


def pool(x, kind, attributes):
    kh, kw = (int(v) for v in attributes["kernel"])
    sh, sw = (int(v) for v in attributes["strides"])
    top, left, bottom, right = (int(v) for v in attributes["pads"])
    pad = (left, right, top, bottom)
    if kind == "max_pool2d":
        return F.max_pool2d(F.pad(x, pad, value=-float("inf")), (kh, kw), (sh, sw))
    # Padding is left out of the mean (as Keras).
    total = F.avg_pool2d(F.pad(x, pad), (kh, kw), (sh, sw), divisor_override=1)
    ones = torch.ones_like(x[:1, :1])
    count = F.avg_pool2d(F.pad(ones, pad), (kh, kw), (sh, sw), divisor_override=1)
    return total / count


AMPLIFICATION = "#amplification"


def run_graph(ops, returned, x, params, trained_norms, training, running_out):
    """The graph's output for input x; `params` maps names to float64
    tensors. In training, trained batch norms use the batch's statistics and
    their updated running statistics are put into `running_out`."""
    values = {"v0": x}
    for result, kind, layer, operands, attributes in ops:
        if kind == "input":
            continue
        args = [params[o[1:]] if o.startswith("@") else values[o] for o in operands]
        if kind == "conv2d":
            top, left, bottom, right = (int(v) for v in attributes["pads"])
            y = F.conv2d(F.pad(args[0], (left, right, top, bottom)), args[1],
                         stride=tuple(int(v) for v in attributes["strides"]))
        elif kind == "dense":
            y = args[0] @ args[1].t()
        elif kind == "bias_add":
            b = args[1]
            y = args[0] + (b.view(1, -1, 1, 1) if args[0].dim() == 4 else b.view(1, -1))
        elif kind in ("max_pool2d", "avg_pool2d"):
            y = pool(args[0], kind, attributes)
        elif kind == "global_avg_pool":
            y = args[0].mean(dim=(2, 3))
        elif kind == "flatten":
            y = args[0].reshape(args[0].shape[0], -1)
        elif kind == "dropout":
            y = args[0]
        elif kind == "relu":
            y = torch.relu(args[0])
        elif kind == "sigmoid":
            y = torch.sigmoid(args[0])
        elif kind == "tanh":
            y = torch.tanh(args[0])
        elif kind == "softmax":
            y = torch.softmax(args[0], dim=1)
        elif kind == "add":
            y = args[0] + args[1]
        elif kind == "batch_norm":
            x_, gamma, beta, mean, var = args
            eps, momentum = attributes["epsilon"][0], attributes["momentum"][0]
            shape = (1, -1, 1, 1) if x_.dim() == 4 else (1, -1)
            dims = (0, 2, 3) if x_.dim() == 4 else (0,)
            if training and layer in trained_norms:
                batch_mean = x_.mean(dim=dims)
                batch_var = ((x_ - batch_mean.view(shape)) ** 2).mean(dim=dims)
                if bool((batch_var <= 1e-9 * (1 + batch_mean ** 2)).any()):
                    # A channel of equal values: float32 rounding comes out
                    # of this norm multiplied by 1/sqrt(epsilon).
                    running_out[AMPLIFICATION] = max(running_out.get(AMPLIFICATION, 1.0),
                                                     1 / np.sqrt(eps))
                running_out[operands[3][1:]] = (momentum * mean + (1 - momentum)
                                                * batch_mean).detach()
                running_out[operands[4][1:]] = (momentum * var + (1 - momentum)
                                                * batch_var).detach()
                mean, var = batch_mean, batch_var
            y = ((x_ - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)
                 * gamma.view(shape) + beta.view(shape))
        else:
            raise Mismatch(f"the oracle does not know op kind '{kind}' (layer {layer})")
        values[result] = y
    return values[returned], values


def random_params(info, rng):
    """Parameters away from their initial values: weights by their fans,
    biases and betas small, gammas around 1, running statistics plausible."""
    params = {}
    for i in range(info.num_params):
        p = info.params[i]
        name, shape = p.name.decode(), tuple(p.shape[:p.rank])
        if name.endswith(".moving_variance"):
            values = rng.uniform(0.5, 2.0, shape)
        elif name.endswith(".gamma"):
            values = rng.uniform(0.5, 1.5, shape)
        elif p.init.decode() == "zeros":
            values = rng.uniform(-0.3, 0.3, shape)
        else:
            limit = np.sqrt(6.0 / max(1, p.fan_in + p.fan_out))
            values = rng.uniform(-limit, limit, shape)
        params[name] = values.astype(np.float32)
    return params


def read_params(model, instance):
    info = model.info
    return {info.params[i].name.decode():
            np.ctypeslib.as_array(model.lib.netc_param_data(instance, i),
                                  (info.params[i].size,)).copy()
            for i in range(info.num_params)}


def close(name, ours, theirs, scale_tolerance, absolute_tolerance):
    ours, theirs = np.asarray(ours, np.float64).ravel(), np.asarray(theirs, np.float64).ravel()
    limit = scale_tolerance * np.abs(theirs).max(initial=0) + absolute_tolerance
    worst = np.abs(ours - theirs).max(initial=0)
    if not worst <= limit:
        at = int(np.abs(ours - theirs).argmax())
        raise Mismatch(f"{name}: max |netc - PyTorch| = {worst:.3g} (allowed {limit:.3g}) at "
                       f"element {at}: netc {ours[at]:.9g}, PyTorch {theirs[at]:.9g}")
    return worst / limit if limit > 0 else 0.0


def build(netc, text, work, name):
    """The library of .net `text`, its ops and its returned value."""
    net = os.path.join(work, name + ".net")
    with open(net, "w") as f:
        f.write(text)
    library = os.path.join(work, name + ".so")
    done = subprocess.run([netc, net, "-o", library, "--no-cuda"], capture_output=True, text=True)
    if done.returncode != 0:
        raise Mismatch(f"netc failed:\n{done.stdout}{done.stderr}")
    model = netc_abi.Model(library)
    model.lib.netc_model.restype = ctypes.POINTER(netc_abi.FullModelInfo)
    full = model.lib.netc_model().contents
    if not full.graph:
        raise Mismatch("the library has no graph text")
    model.lib.netc_set_learning_rate.argtypes = [ctypes.c_void_p, ctypes.c_float]
    model.lib.netc_train_step.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int32),
        ctypes.c_int32, ctypes.c_uint64, ctypes.POINTER(ctypes.c_float),
        ctypes.POINTER(ctypes.c_int32)]
    ops, returned = parse_graph(full.graph.decode())
    return model, full, ops, returned


def netc_step(model, instance, x, labels):
    """One netc_train_step: the loss and the correct count."""
    loss, correct = ctypes.c_float(), ctypes.c_int32()
    rc = model.lib.netc_train_step(
        instance, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
        labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), x.shape[0], 7,
        ctypes.byref(loss), ctypes.byref(correct))
    if rc != 0:
        raise Mismatch(f"netc_train_step returned {rc}")
    return loss.value, correct.value


def torch_step(ops, returned, x, labels, params, trained_norms):
    """PyTorch's training forward and backward: the loss, the correct count
    (and how many images are near ties), the trained batch norms' updated
    running statistics; the gradients are left in params[...].grad."""
    running = {}
    out, values = run_graph(ops, returned, torch.tensor(x, dtype=torch.float64), params,
                            trained_norms, True, running)
    target = torch.tensor(labels, dtype=torch.long)
    picked = out[torch.arange(x.shape[0]), target]
    # The loss clips probabilities at 1e-7 as Keras does; its gradient is
    # the softmax's own, (p - onehot) / n, with no clip (docs/kernels.md),
    # taken from the logits so that a probability of 0 gives no infinity.
    last = next(op for op in ops if op[0] == returned)
    if last[1] != "softmax":
        raise Mismatch(f"the graph ends in {last[1]}, not softmax")
    F.cross_entropy(values[last[3][0]], target).backward()
    loss = -torch.log(picked.detach().clamp(min=1e-7)).mean()
    probabilities = out.detach().numpy()
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    near_ties = int((top2[:, 1] - top2[:, 0] < 1e-5).sum())
    amplification = running.pop(AMPLIFICATION, 1.0)
    return (loss.item(), int((probabilities.argmax(1) == labels).sum()), near_ties, running,
            amplification)


def check_correct(ours, theirs, near_ties):
    # The counts may differ by the images whose two most probable classes
    # are closer than the rounding of float32.
    if abs(ours - theirs) > near_ties:
        raise Mismatch(f"correct: netc {ours}, PyTorch {theirs}")


def model_setup(info, ops, rng, batch, steps):
    trainable = {info.params[i].name.decode() for i in range(info.num_params)
                 if info.params[i].trainable}
    trained_norms = {layer for _, kind, layer, operands, _ in ops if kind == "batch_norm"
                     and any(o[1:] in trainable for o in operands[1:3])}
    start = random_params(info, rng)
    shape = tuple(info.input_shape[:info.input_rank])
    batches = [(rng.standard_normal((batch,) + shape).astype(np.float32),
                rng.integers(0, info.classes, batch).astype(np.int32)) for _ in range(steps)]
    return trainable, trained_norms, start, batches


def adam_bound(lr, beta1, beta2, t):
    """The most Adam's step t can move an element, whatever the gradients:
    by Cauchy-Schwarz over the two averages, |m| / sqrt(v) <= (1 - beta1) /
    sqrt(1 - beta2) * sqrt(sum over k < t of (beta1^2 / beta2)^k), with the
    bias corrections on top."""
    ratio = beta1 * beta1 / beta2
    total = sum(ratio ** k for k in range(t))
    return lr * (1 - beta1) / (1 - beta1 ** t) * np.sqrt((1 - beta2 ** t) / (1 - beta2) * total)


def max_gradient(params):
    return max([p.grad.abs().max().item() for p in params.values()
                if p.grad is not None and p.grad.numel()], default=0.0)


def torch_params(start, trainable):
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=k in trainable)
            for k, v in start.items()}


def check_gradients(netc, text, work, batch, seed, threads):
    """The forward, and one step of SGD at rate 1: minus the gradients."""
    model, full, ops, returned = build(netc, plain_sgd(text), work, "sgd")
    info = model.info
    trainable, trained_norms, start, batches = model_setup(info, ops,
                                                           np.random.default_rng(seed), batch, 1)
    x, labels = batches[0]
    instance = model.create(batch, threads)
    try:
        model.set_params(instance, start)
        probs = model.forward(instance, x)
        params = torch_params(start, trainable)
        with torch.no_grad():
            want, _ = run_graph(ops, returned, torch.tensor(x, dtype=torch.float64), params,
                                trained_norms, False, {})
        used = close("probabilities", probs, want.numpy(), 0, 2e-6)
        model.lib.netc_set_learning_rate(instance, 1.0)
        steps = [("the step", netc_step(model, instance, x, labels),
                  read_params(model, instance))]
    finally:
        model.destroy(instance)
    if full.feature_size > 0:
        steps.append(("the head's step on cached features",
                      *head_step(model, full, start, x, labels, threads)))

    torch_loss, torch_correct, near_ties, running, amplification = torch_step(
        ops, returned, x, labels, params, trained_norms)
    # The floor grows with the model's largest gradient, and with
    # 1/sqrt(epsilon) where a trained batch norm sees a channel of equal
    # values (behind a conv that reads only padding, or dead ReLUs).
    floor = 1e-6 + 1e-5 * max_gradient(params) * amplification
    for step, (loss, correct), after in steps:
        used = max(used, close(f"loss of {step}", [loss], [torch_loss], 2e-5, 2e-6))
        check_correct(correct, torch_correct, near_ties)
        for name, value in start.items():
            change = after[name] - value.ravel()
            if name in trainable:
                grad = params[name].grad
                want_change = -(grad.numpy() if grad is not None else np.zeros(value.shape))
                used = max(used, close(f"{name} after {step}", change, want_change, 2e-5, floor))
            elif name in running:
                used = max(used, close(f"{name} after {step}", after[name],
                                       running[name].numpy(), 1e-5, 2e-6))
            else:
                close(f"{name} (not trained) after {step}", change, np.zeros(change.shape), 0, 0)
    head = " (and its head on cached features)" if len(steps) > 1 else ""
    return (f"{len(ops) - 1} ops, {len(trainable)} trained parameters, "
            f"{len(trained_norms)} trained batch norms; gradients{head}: the largest difference "
            f"{100 * used:.1f} % of its tolerance")


def head_step(model, full, start, x, labels, threads):
    """netrun's feature cache: the frozen base's features by
    netc_base_forward, then netc_head_train_step on them (the same step
    as netc_train_step, up to the rounding of the base's folded batch norms)."""
    floats = ctypes.POINTER(ctypes.c_float)
    model.lib.netc_base_forward.argtypes = [ctypes.c_void_p, floats, ctypes.c_int32, floats]
    model.lib.netc_head_train_step.argtypes = [
        ctypes.c_void_p, floats, ctypes.POINTER(ctypes.c_int32), ctypes.c_int32,
        ctypes.c_uint64, floats, ctypes.POINTER(ctypes.c_int32)]
    n = x.shape[0]
    features = np.zeros((n, full.feature_size), dtype=np.float32)
    instance = model.create(n, threads)
    try:
        model.set_params(instance, start)
        rc = model.lib.netc_base_forward(instance, x.ctypes.data_as(floats), n,
                                         features.ctypes.data_as(floats))
        if rc != 0:
            raise Mismatch(f"netc_base_forward returned {rc}")
        model.lib.netc_set_learning_rate(instance, 1.0)
        loss, correct = ctypes.c_float(), ctypes.c_int32()
        rc = model.lib.netc_head_train_step(
            instance, features.ctypes.data_as(floats),
            labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), n, 7,
            ctypes.byref(loss), ctypes.byref(correct))
        if rc != 0:
            raise Mismatch(f"netc_head_train_step returned {rc}")
        return (loss.value, correct.value), read_params(model, instance)
    finally:
        model.destroy(instance)


def read_state(model, full, instance):
    """The optimizer slots by name (`<param>/adam_m`, `/adam_v`, `/velocity`)."""
    infos = ctypes.cast(full.state, ctypes.POINTER(netc_abi.TensorInfo))
    model.lib.netc_state_data.restype = ctypes.POINTER(ctypes.c_float)
    model.lib.netc_state_data.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    return {infos[i].name.decode():
            np.ctypeslib.as_array(model.lib.netc_state_data(instance, i),
                                  (infos[i].size,)).copy()
            for i in range(full.num_state)}


def check_optimizer(netc, text, work, batch, seed, steps, threads):
    """`steps` steps with the model's own optimizer (dropout at rate 0),
    each from netc's parameters and slots before it, against the updates
    docs/kernels.md states (Keras' SGD with momentum and Nesterov, Adam as
    PyTorch and Keras 2.11 write it). Starting each step from netc's state
    keeps the rounding of one step out of the next."""
    text = re.sub(r"dropout\([^)]*\)", "dropout(0)", text)
    model, full, ops, returned = build(netc, text, work, "own")
    info, setup = model.info, full.train
    trainable, trained_norms, start, batches = model_setup(
        info, ops, np.random.default_rng(seed + 1), batch, steps)
    lr, adam = setup.learning_rate, setup.optimizer == 1
    model.lib.netc_get_step.restype = ctypes.c_int64
    model.lib.netc_get_step.argtypes = [ctypes.c_void_p]
    used = 0.0
    instance = model.create(batch, threads)
    try:
        model.set_params(instance, start)
        for t, (x, labels) in enumerate(batches, 1):
            before, slots = read_params(model, instance), read_state(model, full, instance)
            count = model.lib.netc_get_step(instance) + 1
            loss, correct = netc_step(model, instance, x, labels)
            after, slots_after = read_params(model, instance), read_state(model, full, instance)

            shapes = {k: v.shape for k, v in start.items()}
            params = torch_params({k: v.reshape(shapes[k]) for k, v in before.items()},
                                  trainable)
            torch_loss, torch_correct, near_ties, running, amplification = torch_step(
                ops, returned, x, labels, params, trained_norms)
            used = max(used, close(f"loss of step {t}", [loss], [torch_loss], 2e-5, 2e-6))
            check_correct(correct, torch_correct, near_ties)
            largest = max_gradient(params)
            floor = 1e-6 + 1e-5 * lr * largest * amplification
            for name, p in params.items():
                value = before[name]
                if name in running:
                    used = max(used, close(f"{name} after step {t}", after[name],
                                           running[name].numpy(), 1e-5, 2e-6))
                if name not in trainable:
                    continue
                g = (p.grad if p.grad is not None else torch.zeros_like(p)).numpy().ravel()
                if adam:
                    m = setup.beta1 * slots[name + "/adam_m"] + (1 - setup.beta1) * g
                    v = setup.beta2 * slots[name + "/adam_v"] + (1 - setup.beta2) * g * g
                    want = value - lr * (m / (1 - setup.beta1 ** count)) / (
                        np.sqrt(v / (1 - setup.beta2 ** count)) + setup.epsilon)
                    # Slots of noise gradients are noise: an absolute floor
                    # from the model's largest gradient.
                    for slot, slot_want, slot_floor in (
                            ("/adam_m", m, 1e-5 * largest * amplification),
                            ("/adam_v", v, 1e-5 * (largest * amplification) ** 2)):
                        used = max(used, close(f"{name}{slot} after step {t}",
                                               slots_after[name + slot], slot_want, 2e-5,
                                               slot_floor))
                    # Adam steps about the rate whatever the gradient's size, so
                    # an element whose gradient is rounding noise (under 1e-3 of
                    # its tensor's largest, or in a tensor whose largest is under
                    # 1e-5 of the model's: an exact zero computed in float32)
                    # steps at random: it is held to Adam's bound on a step.
                    top = np.abs(g).max(initial=0)
                    clear = (np.abs(g) >= 1e-3 * top) & (top >= 1e-5 * largest * amplification)
                    bound = adam_bound(lr, setup.beta1, setup.beta2, count)
                    far = np.abs(after[name] - value).max(initial=0)
                    if not far <= bound * 1.001 + 1e-6:
                        raise Mismatch(f"{name}: moved {far:.3g} in Adam step {t}, "
                                       f"more than its bound {bound:.3g}")
                    used = max(used, close(f"{name} after step {t}", (after[name] - value)[clear],
                                           (want - value)[clear], 1e-3, 1e-6))
                    continue
                if setup.momentum == 0:
                    want = value - lr * g
                else:
                    velocity = setup.momentum * slots[name + "/velocity"] - lr * g
                    want = value + (setup.momentum * velocity - lr * g if setup.nesterov
                                    else velocity)
                    used = max(used, close(f"{name}/velocity after step {t}",
                                           slots_after[name + "/velocity"], velocity, 2e-5, floor))
                used = max(used, close(f"{name} after step {t}", after[name] - value,
                                       want - value, 2e-5, floor))
    finally:
        model.destroy(instance)
    kind = "Adam" if adam else ("SGD with Nesterov momentum" if setup.nesterov else
                                "SGD with momentum" if setup.momentum else "SGD")
    return f"{steps} steps of {kind}: the largest difference {100 * used:.1f} % of its tolerance"


def check_model(netc, source, work, batch, seed, steps, threads):
    with open(source) as f:
        text = f.read()
    if batch == 0:
        batch = int(np.random.default_rng(seed + 2).choice([1, 2, 5, 8]))
    return (f"batch {batch}; " + check_gradients(netc, text, work, batch, seed, threads) + "; "
            + check_optimizer(netc, text, work, batch, seed, steps, threads))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--netc", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--batch", type=int, default=0,
                        help="images a batch (0: 1, 2, 5 or 8, drawn for each model)")
    parser.add_argument("--threads", type=int, default=2,
                        help="netc's CPU threads (results are the same for any count)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--max-filters", type=int, default=8,
                        help="generate_models.py's: above 15 the models reach the kernels "
                             "that vectorise over output channels")
    parser.add_argument("--max-size", type=int, default=33,
                        help="generate_models.py's: the largest input height and width")
    args = parser.parse_args()
    netc = os.path.abspath(args.netc)
    os.makedirs(args.work, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, "generate_models.py"), "--seed",
                    str(args.seed), "--first", str(args.first), "--count", str(args.count),
                    "--max-filters", str(args.max_filters), "--max-size", str(args.max_size),
                    "--out", args.work],
                   check=True, capture_output=True)
    torch.set_num_threads(1)
    failed = 0
    for i in range(args.first, args.first + args.count):
        name = f"gen_{args.seed}_{i}"
        work = os.path.join(args.work, name)
        os.makedirs(work, exist_ok=True)
        try:
            summary = check_model(netc, os.path.join(args.work, name + ".net"), work,
                                  args.batch, args.seed * 1000 + i, args.steps,
                                  args.threads)
            print(f"{name}: ok ({summary})", flush=True)
        except Mismatch as e:
            failed += 1
            print(f"{name}: FAILED: {e}\n  reproduce: generate_models.py --seed {args.seed} "
                  f"--first {i} --count 1 --max-filters {args.max_filters} "
                  f"--max-size {args.max_size}", flush=True)
    print(f"{args.count - failed}/{args.count} models agree with PyTorch")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
