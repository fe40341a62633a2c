#!/usr/bin/python3
"""Writes the references for torchvision's ResNet50 through netc
(test/e2e/OnnxTest.cpp, docs/onnx.md):

- narrow_resnet50.onnx: torchvision's ResNet50 (its own Bottleneck blocks,
  v1.5: the stride on the 3x3, [3, 4, 6, 3] blocks) at 1/8 of its width
  (stem 8, stages 8-16-32-64, 256 features), under the head of
  models/resnet50_head.net (Linear 256-16, ReLU, Dropout, Linear 16-10,
  Softmax), seeded, with non-trivial batch-norm statistics, exported in eval
  mode with its batch norms kept as nodes. models/resnet50_head.net with
  `-D size=64 -D classes=10 -D width=8 -D hidden=16` takes its weights with
  --weights-from and must give its probabilities.
- narrow_resnet50_plain.onnx: the same network untrained, exported with
  torch.onnx.export's defaults (batch norms folded, equal constants
  deduplicated into shared initializers and Identity nodes).
- narrow_resnet50_expected.txt: 4 images (3, 64, 64), then the trained
  network's logits and probabilities, then the untrained one's
  (plain_logits, plain_probabilities).

Needs python3-torch, python3-torchvision and python3-onnx; the files it writes
are committed, so the tests need none of them.

    /usr/bin/python3 make_torchvision_resnet.py [OUT_DIR]
"""
import os
import sys

import onnx
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import Bottleneck

from make_residual import write_expected

WIDTH, HIDDEN, CLASSES, SIZE = 8, 16, 10, 64


def narrow_resnet50(width=WIDTH, hidden=HIDDEN):
    """torchvision's ResNet50, its forward and blocks untouched, with the stem
    and the stages built at `width` instead of 64 by its own _make_layer,
    under resnet50_head.net's head."""
    model = torchvision.models.resnet50(weights=None)
    if width != 64:
        model.inplanes = width
        model.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        model.bn1 = nn.BatchNorm2d(width)
        model.layer1 = model._make_layer(Bottleneck, width, 3)
        model.layer2 = model._make_layer(Bottleneck, 2 * width, 4, stride=2)
        model.layer3 = model._make_layer(Bottleneck, 4 * width, 6, stride=2)
        model.layer4 = model._make_layer(Bottleneck, 8 * width, 3, stride=2)
    model.fc = nn.Sequential(nn.Linear(8 * width * Bottleneck.expansion, hidden), nn.ReLU(),
                             nn.Dropout(0.5), nn.Linear(hidden, CLASSES), nn.Softmax(dim=1))
    return model


def settle(model, images, size):
    """Batch-norm parameters and running statistics a trained network could
    have, and a classifier whose logits span about +-4 on `images`."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.momentum = None  # a plain average over the calibration passes
        # Running statistics measured on the data, as training leaves them
        # (random ones blow up over 53 layers), then moved off them a little.
        model.train()
        model(torch.randn(16, 3, size, size))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean += 0.1 * m.running_var.sqrt() * torch.randn_like(m.running_mean)
                m.running_var *= torch.empty_like(m.running_var).uniform_(0.7, 1.3)
                m.momentum = 0.1
                # An eighth of the channels with variances near epsilon, where
                # 1e-5 against Keras' 1.001e-5 shows, gamma scaled so that
                # their outputs keep their size.
                k = max(1, m.num_features // 8)
                small = torch.empty(k).uniform_(1e-7, 1e-6)
                m.weight[:k] *= ((small + m.eps) / (m.running_var[:k] + m.eps)).sqrt()
                m.running_var[:k] = small
    model.eval()
    with torch.no_grad():
        # Random weights give logits far apart, whose softmax is one-hot: the
        # last layer is scaled so that they span about +-4.
        logits = model.fc[:4](torch.flatten(model.avgpool(nn.Sequential(
            *list(model.children())[:-2])(images)), 1))
        scale = 4 / logits.abs().max()
        model.fc[3].weight *= scale
        model.fc[3].bias *= scale


def export(model, images, path, **options):
    torch.onnx.export(model, images[:1], path, opset_version=13, input_names=["image"],
                      output_names=["probabilities"],
                      dynamic_axes={"image": {0: "N"}, "probabilities": {0: "N"}}, **options)
    onnx.checker.check_model(onnx.load(path))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(20261204)
    images = torch.randn(4, 3, SIZE, SIZE)

    model = narrow_resnet50()
    settle(model, images, SIZE)
    with torch.no_grad():
        probs32 = model(images)
        # The reference is computed in float64: PyTorch's float32 result is
        # itself that far from it (printed), and the test's tolerance is
        # stated against it.
        probs = model.double()(images.double())
        model.float()
        assert torch.isfinite(probs).all(), "the reference network overflows"
        logits = torch.log(probs)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps = 1.001e-5
        keras_eps = model.double()(images.double())
        model.float()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps = 1e-5
        print(f"PyTorch float32 against float64: {(probs32.double() - probs).abs().max():.2g}; "
              f"epsilon 1.001e-5 moves the probabilities by {(keras_eps - probs).abs().max():.2g}")
    # PRESERVE keeps the batch norms as nodes; EVAL would fold them.
    export(model, images, os.path.join(out, "narrow_resnet50.onnx"),
           training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)

    # Untrained, exported as a user types it: every default.
    torch.manual_seed(1)
    plain = narrow_resnet50().eval()
    with torch.no_grad():
        plain_probs = plain.double()(images.double())
        plain.float()
    plain_path = os.path.join(out, "narrow_resnet50_plain.onnx")
    export(plain, images, plain_path)
    graph = onnx.load(plain_path).graph
    uses = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    initializers = {t.name for t in graph.initializer}
    identities = [n for n in graph.node if n.op_type == "Identity" and n.input[0] in initializers]
    shared = [name for name in initializers if uses.get(name, 0) > 1]
    print(f"{plain_path}: {len(identities)} Identity nodes over initializers, "
          f"{len(shared)} initializers read by several nodes")
    assert identities or shared, "the exporter shared nothing: the file tests nothing"

    write_expected(os.path.join(out, "narrow_resnet50_expected.txt"),
                   "make_torchvision_resnet.py: images (4, 3, 64, 64), then logits and "
                   "probabilities (4, 10), one row per line",
                   (("images", images), ("logits", logits), ("probabilities", probs),
                    ("plain_logits", torch.log(plain_probs)),
                    ("plain_probabilities", plain_probs)))


if __name__ == "__main__":
    main()
