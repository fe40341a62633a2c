#!/usr/bin/python3
"""Writes shared.onnx: a small untrained network exported with
torch.onnx.export's defaults, so that the exporter folds the batch norms and
shares equal constants (the zero biases) between nodes and behind Identity
nodes, and shared_direct.onnx, the same with one initializer read by two
Conv nodes, and shared_collision.onnx, where another initializer bears the
name the copy would take (import.test; all are seeds of fuzz-onnx). Needs python3-torch and
python3-onnx; the file is committed.

    /usr/bin/python3 make_shared.py [OUT_DIR]
"""
import os
import sys

import onnx
import torch
from torch import nn


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).eval()
    path = os.path.join(out, "shared.onnx")
    torch.onnx.export(model, torch.randn(1, 1, 8, 8), path, opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}})
    graph = onnx.load(path).graph
    uses = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    shared = [t.name for t in graph.initializer if uses.get(t.name, 0) > 1]
    identities = [n.output[0] for n in graph.node if n.op_type == "Identity"]
    print(f"{path}: shared {shared}, Identity outputs {identities}")
    assert identities, "the exporter wrote no Identity: the file tests nothing"
    # The same graph with the Identity nodes taken out and their readers
    # reading the initializer itself, as other exporter versions write it:
    # one initializer read by two Conv nodes.
    model_proto = onnx.load(path)
    graph = model_proto.graph
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}
    kept = [n for n in graph.node if n.op_type != "Identity"]
    del graph.node[:]
    for node in kept:
        for i, name in enumerate(node.input):
            node.input[i] = alias.get(name, name)
        graph.node.append(node)
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, os.path.join(out, "shared_direct.onnx"))
    # The same with another initializer named as the shared one's first copy
    # would be (NAME.2): the copy must take another name.
    shared_name = [t.name for t in graph.initializer
                   if sum(name == t.name for n in graph.node for name in n.input) > 1][0]
    weight = [n for n in graph.node if n.op_type == "Conv"][1].input[1]
    taken = shared_name + ".2"
    for t in graph.initializer:
        if t.name == weight:
            t.name = taken
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == weight:
                node.input[i] = taken
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, os.path.join(out, "shared_collision.onnx"))


if __name__ == "__main__":
    main()
