//===- GraphText.cpp - The forward graph as text for the runtime ----------===//

#include "net/Analysis/GraphText.h"

#include "net/Dialect/NetOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstdio>

using namespace mlir;
using namespace mlir::net;

namespace {

std::string escape(StringRef name) {
  std::string out;
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte == '%' || byte == 0x7f) {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", byte);
      out += hex;
    } else {
      out += c;
    }
  }
  return out.empty() ? "%" : out; // "%" alone stands for an empty name
}

std::string list(ArrayRef<int64_t> values) {
  std::string out;
  for (int64_t v : values)
    out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", v);
  return text;
}

std::string layerOf(Operation *op) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  return op->getName().stripDialect().str();
}

} // namespace

FailureOr<std::string> mlir::net::describeGraph(ModuleOp module) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.getNumArguments() != 1)
    return failure();
  DenseMap<Value, std::string> names;
  std::string text;
  int next = 0;
  auto define = [&](Value v) {
    names[v] = "v" + std::to_string(next++);
    return names[v];
  };
  auto inputName = forward.getArgAttrOfType<StringAttr>(0, "net.input");
  text += define(forward.getArgument(0)) + " input " +
          escape(inputName ? inputName.getValue() : "input") + "\n";
  for (Operation &op : forward.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      if (ret.getNumOperands() != 1)
        return failure();
      text += "return " + names.lookup(ret.getOperand(0)) + "\n";
      continue;
    }
    if (auto param = dyn_cast<ParamOp>(op)) {
      names[param.getResult()] = "@" + escape(param.getName());
      continue;
    }
    if (op.getNumResults() != 1)
      return failure();
    std::string line = op.getName().stripDialect().str() + " " + escape(layerOf(&op));
    for (Value operand : op.getOperands()) {
      auto it = names.find(operand);
      if (it == names.end())
        return failure();
      line += " " + it->second;
    }
    std::string attrs;
    bool known = true;
    TypeSwitch<Operation *>(&op)
        .Case([&](Conv2dOp conv) {
          attrs = " strides=" + list(conv.getStrides()) + " pads=" + list(conv.getPads());
        })
        .Case<MaxPool2dOp, AvgPool2dOp>([&](auto pool) {
          attrs = " kernel=" + list(pool.getKernel()) + " strides=" + list(pool.getStrides()) +
                  " pads=" + list(pool.getPads());
        })
        .Case([&](BatchNormOp bn) {
          attrs = " epsilon=" + number(bn.getEpsilon().convertToDouble()) +
                  " momentum=" + number(bn.getMomentum().convertToDouble());
        })
        .Case([&](DropoutOp d) { attrs = " rate=" + number(d.getRate().convertToDouble()); })
        .Case<DenseOp, BiasAddOp, ReluOp, SigmoidOp, TanhOp, SoftmaxOp, GlobalAvgPoolOp,
              FlattenOp, AddOp>([](Operation *) {})
        .Default([&](Operation *) { known = false; });
    if (!known)
      return failure();
    text += define(op.getResult(0)) + " " + line + attrs + "\n";
  }
  return text;
}
