#!/usr/bin/python3
"""Writes residual.onnx and residual_expected.txt, the reference for the ONNX
import test (test/e2e/OnnxImportTest.cpp).

A small residual network of the ops the importer maps (Conv, BatchNormalization,
Relu, MaxPool, Add, AveragePool, GlobalAveragePool, Flatten, Gemm) with fixed
random weights and batch-norm statistics, exported by PyTorch in inference
form with its batch norms kept (not folded into the convolutions), and its
logits for four fixed random images. Needs python3-torch and python3-onnx;
the files it writes are committed, so the tests need neither.

    /usr/bin/python3 make_residual.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
import torch
from torch import nn


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.stem_bn(self.stem(x))))
        y = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(y)) + x)
        x = self.avg(torch.relu(self.down(x)))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(20240601)
    model = Residual()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    images = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        logits = model(images)
    path = os.path.join(out, "residual.onnx")
    # PRESERVE keeps the batch norms as nodes; EVAL would fold them into the
    # convolutions and leave nothing of them to import.
    torch.onnx.export(model, images[:1], path, opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
    onnx.checker.check_model(onnx.load(path))
    # The base alone (the classifier's input as output), as a pretrained
    # model exported without its top for transfer learning.
    model.fc = nn.Identity()
    base = os.path.join(out, "residual_base.onnx")
    torch.onnx.export(model, images[:1], base, opset_version=13,
                      input_names=["image"], output_names=["features"],
                      dynamic_axes={"image": {0: "N"}, "features": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
    probs = torch.softmax(logits, dim=1)
    write_expected(os.path.join(out, "residual_expected.txt"),
                   "make_residual.py: images (4, 3, 16, 16), then logits and "
                   "probabilities (4, 10), one row per line",
                   (("images", images), ("logits", logits), ("probabilities", probs)))


def write_expected(path, comment, tensors):
    """The expected-values file test/e2e/OnnxTest.cpp reads: a comment, then
    per tensor "name rows cols" and one row per line (float32, 9 digits)."""
    with open(path, "w") as f:
        f.write(f"# {comment}\n")
        for name, t in tensors:
            rows = t.reshape(t.shape[0], -1).numpy().astype(np.float32)
            f.write(f"{name} {rows.shape[0]} {rows.shape[1]}\n")
            for row in rows:
                f.write(" ".join(f"{v:.9g}" for v in row) + "\n")


if __name__ == "__main__":
    main()
