//===- WeightsFrom.cpp - ONNX weights for a .net model's parameters -------===//

#include "net/ONNX/WeightsFrom.h"

#include "net/Dialect/NetOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

using namespace net::onnx;

namespace {

/// A parameter reached by the walk: its op and the part it plays.
struct Slot {
  mlir::net::ParamOp param;
  std::string role; // "conv2d operand 1"
};

std::string dims(llvm::ArrayRef<int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

/// The parameters of `@forward` in the order a post-order walk from the
/// output reaches them, operands first to last: the order is the same for
/// two graphs of the same structure whatever order their ops are listed in.
std::vector<Slot> walkOrder(mlir::ModuleOp module) {
  std::vector<Slot> out;
  auto forward = module.lookupSymbol<mlir::func::FuncOp>("forward");
  if (!forward)
    return out;
  llvm::DenseSet<mlir::Operation *> seen;
  // An explicit stack: ResNet-sized graphs would recurse a thousand deep.
  std::vector<std::pair<mlir::Operation *, unsigned>> stack;
  auto ret = forward.getBody().front().getTerminator();
  stack.push_back({ret, 0});
  while (!stack.empty()) {
    auto &[op, next] = stack.back();
    if (next < op->getNumOperands()) {
      mlir::Value operand = op->getOperand(next);
      unsigned index = next++;
      if (auto param = operand.getDefiningOp<mlir::net::ParamOp>()) {
        if (seen.insert(param).second)
          out.push_back({param, op->getName().stripDialect().str() + " operand " +
                                    std::to_string(index)});
        continue;
      }
      mlir::Operation *def = operand.getDefiningOp();
      if (def && seen.insert(def).second)
        stack.push_back({def, 0});
      continue;
    }
    stack.pop_back();
  }
  return out;
}

llvm::ArrayRef<int64_t> shapeOf(mlir::net::ParamOp p) {
  return llvm::cast<mlir::RankedTensorType>(p.getType()).getShape();
}

} // namespace

llvm::Expected<MatchedWeights> net::onnx::matchWeights(mlir::ModuleOp model,
                                                       const ImportedModel &onnx,
                                                       llvm::StringRef path) {
  std::vector<Slot> ours = walkOrder(model), theirs = walkOrder(*onnx.module);
  llvm::StringMap<const Weight *> values;
  for (const Weight &w : onnx.weights)
    values[w.name] = &w;
  MatchedWeights result;
  std::vector<std::string> problems;
  for (size_t i = 0; i < ours.size(); ++i) {
    std::string name = ours[i].param.getName().str();
    auto shape = shapeOf(ours[i].param);
    if (i >= theirs.size()) {
      result.report.push_back(name + " " + dims(shape) + " left to its initializer (" +
                              ours[i].param.getInit().str() + "): " + path.str() +
                              " has no parameter in its place");
      continue;
    }
    std::string theirName = theirs[i].param.getName().str();
    auto theirShape = shapeOf(theirs[i].param);
    if (ours[i].role != theirs[i].role) {
      problems.push_back(path.str() + ": parameter '" + name + "' (" + ours[i].role +
                         ") meets initializer '" + theirName + "' (" + theirs[i].role +
                         "): the graphs differ in structure here");
      continue;
    }
    if (shape != theirShape) {
      problems.push_back(path.str() + ": parameter '" + name + "' has shape " + dims(shape) +
                         ", initializer '" + theirName + "' in its place has " +
                         dims(theirShape));
      continue;
    }
    const Weight *w = values.lookup(theirName);
    if (!w) {
      problems.push_back(path.str() + ": initializer '" + theirName + "' has no values");
      continue;
    }
    result.weights.push_back(Weight{name, w->shape, w->data});
    result.report.push_back(name + " <- " + theirName + " " + dims(shape));
  }
  for (size_t i = ours.size(); i < theirs.size(); ++i)
    problems.push_back(path.str() + ": initializer '" + theirs[i].param.getName().str() +
                       "' " + dims(shapeOf(theirs[i].param)) +
                       " has no parameter in the model's place for it");
  if (!problems.empty()) {
    std::string text;
    for (const std::string &p : problems)
      text += (text.empty() ? "" : "\n") + p;
    return llvm::createStringError(llvm::inconvertibleErrorCode(), text);
  }
  return result;
}
