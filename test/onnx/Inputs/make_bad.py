#!/usr/bin/python3
"""Writes the malformed ONNX models of test/onnx/errors.test: an unsupported
op and attributes (unsupported.onnx) and a Conv whose weight has no
initializer (missing_initializer.onnx). Needs python3-onnx; the files are
committed.

    /usr/bin/python3 make_bad.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(1)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    w = numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "w")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv_grouped", group=2),
        helper.make_node("LeakyRelu", ["c"], ["r"], name="leaky", alpha=0.1),
        helper.make_node("Conv", ["x", "w2"], ["d"], name="conv_dilated", dilations=[2, 2]),
        helper.make_node("GlobalAveragePool", ["d"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["y"], name="flatten"),
    ]
    save(helper.make_graph(nodes, "unsupported", [x], [y], [w, w2]),
         os.path.join(out, "unsupported.onnx"))

    nodes = [
        helper.make_node("Conv", ["x", "w_missing"], ["c"], name="conv1"),
        helper.make_node("GlobalAveragePool", ["c"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["y"], name="flatten"),
    ]
    save(helper.make_graph(nodes, "missing", [x], [y], []),
         os.path.join(out, "missing_initializer.onnx"))


if __name__ == "__main__":
    main()
