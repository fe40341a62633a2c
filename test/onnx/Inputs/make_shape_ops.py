#!/usr/bin/python3
"""Writes the ONNX models of test/onnx/shape-ops.test: PyTorch's traced
`x.view(x.size(0), -1)` as shape arithmetic (Shape, Gather, Mul, Unsqueeze,
Concat, Cast, Squeeze) into a Reshape, and a Linear without bias as MatMul
over Transpose(weight), in opset 11 (Unsqueeze's axes an attribute) and 13
(an input); and shape_ops_bad.onnx, the same ops on what cannot be
evaluated at import. Needs python3-onnx; the files are committed.

    /usr/bin/python3 make_shape_ops.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def traced(opset):
    """conv -> Reshape(c, [N, C*H*W] from c's shape) -> MatMul(Transpose(fc))."""
    rng = np.random.default_rng(opset)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])
    weights = {"conv.weight": (3, 2, 3, 3), "fc.weight": (5, 48)}
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
             for name, shape in weights.items()]
    inits += [ints("zero", 0), ints("dims", [1, 2, 3])]

    def unsqueeze(src, dst):
        if opset >= 13:
            return helper.make_node("Unsqueeze", [src, "axis0"], [dst])
        return helper.make_node("Unsqueeze", [src], [dst], axes=[0])

    nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv",
                              pads=[1, 1, 1, 1]),
             helper.make_node("Shape", ["c"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero"], ["n_scalar"], axis=0),
             helper.make_node("Gather", ["shape", "dims"], ["chw"]),
             helper.make_node("Gather", ["chw", "zero"], ["ch"])]
    # c * h * w from the three gathered sizes, one Mul at a time.
    nodes += [helper.make_node("Gather", ["chw", ints_name], [out])
              for ints_name, out in (("one", "hh"), ("two", "ww"))]
    inits += [ints("one", 1), ints("two", 2)]
    nodes += [helper.make_node("Mul", ["ch", "hh"], ["chh"]),
              helper.make_node("Mul", ["chh", "ww"], ["features"]),
              helper.make_node("Cast", ["features"], ["features64"], to=TensorProto.INT64)]
    if opset >= 13:
        inits.append(ints("axis0", [0]))
    # n -> [n] -> n, as an exporter's Squeeze of a size written as 1-d.
    squeeze = (helper.make_node("Squeeze", ["n0", "axis0"], ["n"]) if opset >= 13
               else helper.make_node("Squeeze", ["n0"], ["n"], axes=[0]))
    nodes += [unsqueeze("n_scalar", "n0"), squeeze,
              unsqueeze("n", "n1"), unsqueeze("features64", "f1"),
              helper.make_node("Concat", ["n1", "f1"], ["target"], axis=0),
              helper.make_node("Reshape", ["c", "target"], ["flat"], name="flatten"),
              helper.make_node("Transpose", ["fc.weight"], ["fc.weight_t"], perm=[1, 0]),
              helper.make_node("MatMul", ["flat", "fc.weight_t"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "shape_ops", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def bad():
    """Each op on what cannot be evaluated at import, one error each."""
    rng = np.random.default_rng(3)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 32])
    w = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"),
             ints("zero", 0), ints("two", [2]), ints("minus_one", [-1]), ints("axis0", [0]),
             ints("five", [5])]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["c", "c"], ["squared"], name="square_values"),
             helper.make_node("Transpose", ["c"], ["ct"], name="transpose_values",
                              perm=[0, 1, 3, 2]),
             helper.make_node("Shape", ["c"], ["shape"], name="shape"),
             helper.make_node("Gather", ["shape", "zero"], ["n"], name="batch"),
             helper.make_node("Unsqueeze", ["n", "axis0"], ["n1"], name="batch_1d"),
             helper.make_node("Mul", ["n1", "two"], ["n2"], name="twice_the_batch"),
             helper.make_node("Gather", ["shape", "five"], ["g5"], name="gather_out_of_range"),
             helper.make_node("Concat", ["n2", "minus_one"], ["target"], name="target"),
             helper.make_node("Reshape", ["c", "target"], ["y"], name="flatten")]
    graph = helper.make_graph(nodes, "shape_ops_bad", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for opset in (11, 13):
        onnx.save(traced(opset), os.path.join(out, f"shape_ops_{opset}.onnx"))
    onnx.save(bad(), os.path.join(out, "shape_ops_bad.onnx"))


if __name__ == "__main__":
    main()
