#!/usr/bin/python3
"""By-hand check (docs/onnx.md): torchvision's ResNet50 with fixed random
weights (no download: weights=None, seeded, random batch-norm statistics),
exported to ONNX, imported by netc, run through the model's C ABI with the
ONNX initializers as parameters, and compared with PyTorch's logits.

    /usr/bin/python3 test/onnx/check_resnet50.py build/bin/netc [WORK_DIR]
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tools", "python"))
import netc_abi  # noqa: E402
import resnet50_reference  # noqa: E402


def main():
    netc = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else "/tmp/resnet50-check"
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    images = torch.randn(2, 3, 224, 224)
    model = resnet50_reference.seeded_resnet50(images)
    with torch.no_grad():
        logits = model(images).numpy()
    path = os.path.join(work, "resnet50.onnx")
    resnet50_reference.export_onnx(model, images, path)
    library = os.path.join(work, "resnet50.so")
    subprocess.run([netc, path, "-o", library, "--no-cuda"], check=True)

    model_library = netc_abi.Model(library)
    info = model_library.info
    instance = model_library.create(2, 2)
    model_library.set_params(instance, {t.name: numpy_helper.to_array(t)
                                        for t in onnx.load(path).graph.initializer})
    probs = model_library.forward(instance,
                                  np.ascontiguousarray(images.numpy(), dtype=np.float32))
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
