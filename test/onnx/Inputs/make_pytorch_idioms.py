#!/usr/bin/python3
"""Writes the ONNX models of test/onnx/pytorch-idioms.test: a small network
in the shape of PyTorch's MNIST example (conv, relu, a max pool with
ceil_mode, dropout, then `x.mean((2, 3), keepdim=True)`, two squeezes,
linear) that ends in `F.log_softmax`, exported by PyTorch (idioms.onnx);
a max pool with ceil_mode exported in opset 9, which has no ceil_mode and
gets pads instead, negative where rounding up adds no window
(ceil_opset9.onnx); a LogSoftmax inside a graph (log_softmax_inside.onnx)
and a Squeeze without axes (squeeze_no_axes.onnx), which are refused.
Needs python3-torch and python3-onnx; the files are committed.

    /usr/bin/python3 make_pytorch_idioms.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.dropout = nn.Dropout(0.25)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        x = self.dropout(F.max_pool2d(F.relu(self.conv1(x)), 2, ceil_mode=True))
        x = x.mean((2, 3), keepdim=True).squeeze(3).squeeze(2)
        return F.log_softmax(self.fc(x), dim=1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(20261207)
    model = Small().eval()
    torch.onnx.export(model, torch.randn(1, 1, 9, 9), os.path.join(out, "idioms.onnx"),
                      opset_version=13, input_names=["image"], output_names=["log_probs"],
                      dynamic_axes={"image": {0: "N"}, "log_probs": {0: "N"}})

    pool = nn.Sequential(nn.MaxPool2d(1, stride=3, ceil_mode=True), nn.Flatten(),
                         nn.Linear(7 * 11, 3))
    torch.onnx.export(pool.eval(), torch.randn(1, 1, 21, 31),
                      os.path.join(out, "ceil_opset9.onnx"), opset_version=9,
                      input_names=["image"], output_names=["logits"])

    rng = np.random.default_rng(1)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    w = numpy_helper.from_array(rng.standard_normal((6, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["logits"], name="fc"),
             helper.make_node("LogSoftmax", ["logits"], ["log_probs"], name="log_softmax",
                              axis=1),
             helper.make_node("Relu", ["log_probs"], ["y"], name="relu_after")]
    graph = helper.make_graph(nodes, "log_softmax_inside", [x], [y], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(out, "log_softmax_inside.onnx"))

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["pooled"], name="pool"),
             helper.make_node("Squeeze", ["pooled"], ["y"], name="squeeze_all")]
    graph = helper.make_graph(nodes, "squeeze_no_axes", [x], [y], [])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(out, "squeeze_no_axes.onnx"))


if __name__ == "__main__":
    main()
