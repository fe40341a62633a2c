#!/usr/bin/python3
"""By-hand check (docs/onnx.md): torchvision's ResNet50 with fixed random
weights (no download: weights=None, seeded, random batch-norm statistics),
exported to ONNX, imported by netc, run through the model's C ABI with the
ONNX initializers as parameters, and compared with PyTorch's logits.

    /usr/bin/python3 test/onnx/check_resnet50.py build/bin/netc [WORK_DIR]
"""
import ctypes
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torchvision


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * 4), ("size", ctypes.c_int64),
                ("init", ctypes.c_char_p), ("fan_in", ctypes.c_int64),
                ("fan_out", ctypes.c_int64), ("trainable", ctypes.c_int32)]


class ModelInfo(ctypes.Structure):  # the leading fields of netc_model_info
    _fields_ = [("magic", ctypes.c_uint32), ("abi_version", ctypes.c_uint32),
                ("network", ctypes.c_char_p), ("compiler", ctypes.c_char_p),
                ("input_rank", ctypes.c_int32), ("input_shape", ctypes.c_int64 * 3),
                ("input_mean", ctypes.POINTER(ctypes.c_float)),
                ("input_std", ctypes.POINTER(ctypes.c_float)), ("classes", ctypes.c_int32), ("num_params", ctypes.c_int32),
                ("params", ctypes.POINTER(TensorInfo))]


def main():
    netc = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else "/tmp/resnet50-check"
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        # Random weights give logits in the hundreds, whose softmax is one-hot:
        # the classifier is scaled so that they span about +-4, where the
        # probabilities (and log p, the logits up to a constant) say something.
        scale = 4 / model(images).abs().max()
        model.fc.weight *= scale
        model.fc.bias *= scale
        logits = model(images).numpy()
    path = os.path.join(work, "resnet50.onnx")
    torch.onnx.export(model, images[:1], path, opset_version=13, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    library = os.path.join(work, "resnet50.so")
    subprocess.run([netc, path, "-o", library, "--no-cuda"], check=True)

    lib = ctypes.CDLL(library)
    lib.netc_model.restype = ctypes.POINTER(ModelInfo)
    lib.netc_create.restype = ctypes.c_void_p
    lib.netc_create.argtypes = [ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                ctypes.c_char_p, ctypes.c_size_t]
    lib.netc_param_data.restype = ctypes.POINTER(ctypes.c_float)
    lib.netc_param_data.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    lib.netc_forward.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                 ctypes.c_int32, ctypes.POINTER(ctypes.c_float)]
    info = lib.netc_model().contents
    error = ctypes.create_string_buffer(256)
    instance = lib.netc_create(0, 2, 0, error, 256)
    assert instance, error.value
    weights = {t.name: numpy_helper.to_array(t)
               for t in onnx.load(path).graph.initializer}
    for i in range(info.num_params):
        p = info.params[i]
        values = np.ascontiguousarray(weights[p.name.decode()], dtype=np.float32).ravel()
        assert values.size == p.size, p.name
        ctypes.memmove(lib.netc_param_data(instance, i), values.ctypes.data, values.nbytes)
    x = np.ascontiguousarray(images.numpy(), dtype=np.float32)
    probs = np.zeros((2, info.classes), dtype=np.float32)
    rc = lib.netc_forward(instance, x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), 2,
                          probs.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
    assert rc == 0
    want = torch.softmax(torch.from_numpy(logits), 1).numpy()
    ours = np.log(np.maximum(probs, 1e-38))
    ours -= ours.mean(1, keepdims=True)
    theirs = logits - logits.mean(1, keepdims=True)
    print(f"resnet50: {info.num_params} parameters; max |p - p_torch| = "
          f"{np.abs(probs - want).max():.3g}; max |centred logit difference| = "
          f"{np.abs(ours - theirs).max():.3g} (logits span {theirs.min():.3g}..{theirs.max():.3g}); "
          f"argmax agrees: {bool((probs.argmax(1) == logits.argmax(1)).all())}")


if __name__ == "__main__":
    main()
