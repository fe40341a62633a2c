#!/usr/bin/python3
"""By-hand check (docs/onnx.md): torchvision's full ResNet50 under the head of
models/resnet50_head.net, seeded (no download: weights=None, batch-norm
statistics measured on data and moved off them, as make_torchvision_resnet.py
does at 1/8 width), exported to ONNX in eval mode, its weights taken into
models/resnet50_head.net by --weights-from, and `netrun predict` on 224x224
PNG images against PyTorch on the same pixels.

    /usr/bin/python3 test/onnx/check_resnet50_head.py build/bin/netc build/bin/netrun [WORK_DIR]
"""
import os
import re
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "Inputs"))
import make_torchvision_resnet as reference  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def main():
    netc, netrun = (os.path.abspath(p) for p in sys.argv[1:3])
    work = sys.argv[3] if len(sys.argv) > 3 else "/tmp/resnet50-head-check"
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(20261205)
    pixels = torch.randint(0, 256, (3, 224, 224, 3), dtype=torch.uint8)
    paths = []
    for i, image in enumerate(pixels):
        path = os.path.join(work, f"image{i}.png")
        Image.fromarray(image.numpy()).save(path)
        paths.append(path)
    # What netrun feeds the network: pixel / 255, then (x - mean) / std.
    x = pixels.permute(0, 3, 1, 2).double() / 255
    x = (x - torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1)) / \
        torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)

    model = reference.narrow_resnet50(width=64, hidden=256)
    reference.settle(model, x.float(), 224)
    with torch.no_grad():
        expected = model.double()(x).numpy()
        model.float()
    onnx_path = os.path.join(work, "resnet50.onnx")
    reference.export(model, x.float(), onnx_path, training=torch.onnx.TrainingMode.PRESERVE,
                     do_constant_folding=False)

    library = os.path.join(work, "head.so")
    subprocess.run([netc, os.path.join(ROOT, "models/resnet50_head.net"), "-D", "classes=10",
                    "--weights-from", onnx_path, "-o", library, "--no-cuda"], check=True)
    out = subprocess.run([netrun, "predict", library, "--weights",
                          os.path.join(work, "head.ckpt"), *paths],
                         check=True, capture_output=True, text=True).stdout
    print(out)
    got = []
    for line in out.splitlines():
        values = re.findall(r"\b(\d+): (\d\.\d+)", line)
        if len(values) == 10:
            got.append([float(v) for _, v in values])
    got = np.array(got)
    assert got.shape == expected.shape, f"netrun printed {got.shape}, expected {expected.shape}"
    diff = np.abs(got - expected).max()
    print(f"max |netrun - PyTorch (float64)| over {expected.size} probabilities: {diff:.2g} "
          f"(netrun prints 4 decimals: 5e-5 is its rounding)")
    print("classes:", got.argmax(1).tolist(), "against", expected.argmax(1).tolist())
    sys.exit(0 if diff <= 1e-4 and (got.argmax(1) == expected.argmax(1)).all() else 1)


if __name__ == "__main__":
    main()
