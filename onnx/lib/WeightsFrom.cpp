//===- WeightsFrom.cpp - ONNX weights for a .net model's parameters -------===//
//
// Two graphs of the same structure are walked in the same order, and every
// op of the ONNX model must meet an op of the .net model that computes the
// same function: same kind, same attributes (strides, pads, kernel, epsilon),
// parameters in the same operand with the same shape. Only then are the
// initializers paired with the parameters. Shapes alone are not enough:
// ResNet v1 and v1.5 have the same parameter shapes and stride differently.
//
//===----------------------------------------------------------------------===//

#include "net/ONNX/WeightsFrom.h"

#include "net/Dialect/NetOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

using namespace netc::onnx;

namespace {

/// A parameter reached by the walk: its op and the part it plays.
struct Slot {
  mlir::net::ParamOp param;
  std::string role; // "conv2d operand 1"
};

/// What the walk reaches: the ops that compute, in post-order, and the
/// parameters in the order their ops read them.
struct Walk {
  std::vector<mlir::Operation *> ops;
  std::vector<Slot> params;
  /// Each op's place in `ops`: where an operand comes from, so that two
  /// graphs wired differently (a shortcut from another layer) differ.
  llvm::DenseMap<mlir::Operation *, int64_t> place;
};

std::string dims(llvm::ArrayRef<int64_t> shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

/// Ops that leave the values as they are at inference: a view, and dropout
/// (which an ONNX export in eval mode leaves out).
bool keepsValues(mlir::Operation *op) {
  return llvm::isa<mlir::net::FlattenOp, mlir::net::DropoutOp, mlir::func::ReturnOp>(op);
}

/// Attributes that change training only: batch norm's momentum (the running
/// averages' update) and dropout's rate.
bool trainingOnly(llvm::StringRef attribute) {
  return attribute == "momentum" || attribute == "rate";
}

/// The parameters and the computing ops of `@forward` in the order a
/// post-order walk from the output reaches them, operands first to last: the
/// order is the same for two graphs of the same structure whatever order
/// their ops are listed in.
Walk walkOrder(mlir::ModuleOp module) {
  Walk out;
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
          out.params.push_back({param, op->getName().stripDialect().str() + " operand " +
                                           std::to_string(index)});
        continue;
      }
      mlir::Operation *def = operand.getDefiningOp();
      if (def && seen.insert(def).second)
        stack.push_back({def, 0});
      continue;
    }
    if (!keepsValues(op)) {
      out.place[op] = int64_t(out.ops.size());
      out.ops.push_back(op);
    }
    stack.pop_back();
  }
  return out;
}

llvm::ArrayRef<int64_t> shapeOf(mlir::Value v) {
  return llvm::cast<mlir::RankedTensorType>(v.getType()).getShape();
}

std::string layerOf(mlir::Operation *op) {
  if (auto name = llvm::dyn_cast<mlir::NameLoc>(op->getLoc()))
    return name.getName().str();
  return op->getName().stripDialect().str();
}

/// An attribute as the error shows it: `[2, 2]`, `1e-05`.
std::string show(mlir::Attribute attr) {
  if (auto array = llvm::dyn_cast<mlir::DenseI64ArrayAttr>(attr))
    return dims(array.asArrayRef());
  if (auto f = llvm::dyn_cast<mlir::FloatAttr>(attr)) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", f.getValueAsDouble());
    return text;
  }
  std::string s;
  llvm::raw_string_ostream os(s);
  os << attr;
  return s;
}

/// The op's inherent attribute `name`, null where it has none.
mlir::Attribute inherent(mlir::Operation *op, mlir::StringAttr name) {
  return op->getInherentAttr(name.getValue()).value_or(mlir::Attribute());
}

/// Two attributes of one name that make the op compute the same function.
/// Numbers compare in float32, the precision both models compute in (an
/// ONNX epsilon is a float32; a .net one is written as a double).
bool sameValue(mlir::Attribute a, mlir::Attribute b) {
  auto fa = llvm::dyn_cast_or_null<mlir::FloatAttr>(a);
  auto fb = llvm::dyn_cast_or_null<mlir::FloatAttr>(b);
  if (fa && fb)
    return static_cast<float>(fa.getValueAsDouble()) == static_cast<float>(fb.getValueAsDouble());
  return a == b;
}

/// The op, its attributes and the shapes of its parameters, as an error names
/// them: `conv2d 'stage_2/conv2d_1' (strides [2, 2], pads [0, 0, 0, 0],
/// weight [128, 256, 1, 1])`.
std::string describe(mlir::Operation *op) {
  std::string text = op->getName().stripDialect().str() + " '" + layerOf(op) + "'";
  std::vector<std::string> parts;
  for (mlir::StringAttr name : op->getName().getAttributeNames())
    if (!trainingOnly(name.getValue()))
      if (mlir::Attribute attr = inherent(op, name))
        parts.push_back(name.getValue().str() + " " + show(attr));
  for (auto [index, operand] : llvm::enumerate(op->getOperands()))
    if (operand.getDefiningOp<mlir::net::ParamOp>())
      parts.push_back("operand " + std::to_string(index) + " " + dims(shapeOf(operand)));
  if (parts.empty())
    return text;
  text += " (";
  for (auto [i, part] : llvm::enumerate(parts))
    text += (i ? ", " : "") + part;
  return text + ")";
}

/// Where a computed operand comes from: the place of the op that computes
/// it, seen through flatten and dropout, or kFromInput for the network's input.
constexpr int64_t kFromInput = -1;
int64_t sourceOf(const Walk &walk, mlir::Value value) {
  mlir::Operation *def = value.getDefiningOp();
  while (def && keepsValues(def) && def->getNumOperands() > 0) {
    value = def->getOperand(0);
    def = value.getDefiningOp();
  }
  return def ? walk.place.lookup(def) : kFromInput;
}

std::string describeSource(const Walk &walk, int64_t source) {
  if (source == kFromInput)
    return "the network's input";
  return "the output of '" + layerOf(walk.ops[size_t(source)]) + "'";
}

/// Why two ops in one place compute different functions, or "" if they do
/// not. Activation shapes are not compared: weights from a 224x224 network
/// serve the same network on 96x96 images.
std::string difference(const Walk &ourWalk, mlir::Operation *ours, const Walk &theirWalk,
                       mlir::Operation *theirs) {
  if (ours->getName() != theirs->getName())
    return ours->getName().stripDialect().str() + " against " +
           theirs->getName().stripDialect().str();
  for (mlir::StringAttr name : ours->getName().getAttributeNames()) {
    if (trainingOnly(name.getValue()))
      continue;
    mlir::Attribute a = inherent(ours, name), b = inherent(theirs, name);
    if (!sameValue(a, b))
      return name.getValue().str() + " " + (a ? show(a) : "unset") + " against " +
             (b ? show(b) : "unset");
  }
  if (ours->getNumOperands() != theirs->getNumOperands())
    return "different operand counts";
  for (unsigned i = 0; i < ours->getNumOperands(); ++i) {
    mlir::Value ourOperand = ours->getOperand(i), theirOperand = theirs->getOperand(i);
    bool ourParam = ourOperand.getDefiningOp<mlir::net::ParamOp>() != nullptr;
    bool theirParam = theirOperand.getDefiningOp<mlir::net::ParamOp>() != nullptr;
    if (ourParam != theirParam)
      return "operand " + std::to_string(i) + " is a parameter in one and computed in the other";
    if (ourParam) {
      if (shapeOf(ourOperand) != shapeOf(theirOperand))
        return "operand " + std::to_string(i) + " " + dims(shapeOf(ourOperand)) + " against " +
               dims(shapeOf(theirOperand));
      continue;
    }
    int64_t ourSource = sourceOf(ourWalk, ourOperand);
    int64_t theirSource = sourceOf(theirWalk, theirOperand);
    if (ourSource != theirSource)
      return "operand " + std::to_string(i) + " is " + describeSource(ourWalk, ourSource) +
             " against " + describeSource(theirWalk, theirSource);
  }
  return "";
}

/// Compares the ONNX model's ops with the .net model's, place by place, up to
/// the ONNX model's last op (a softmax the importer appended left out): the
/// .net model may go on past it with a new head. The first difference is
/// reported; everything after it would follow from it.
std::optional<std::string> firstDifference(const Walk &ours, const Walk &theirs,
                                           const ImportedModel &onnx, llvm::StringRef path) {
  size_t count = theirs.ops.size();
  if (onnx.appendedSoftmax && count && llvm::isa<mlir::net::SoftmaxOp>(theirs.ops.back()))
    --count;
  for (size_t i = 0; i < count; ++i) {
    if (i >= ours.ops.size())
      return path.str() + ": the model ends where node '" + layerOf(theirs.ops[i]) +
             "' computes " + describe(theirs.ops[i]);
    std::string why = difference(ours, ours.ops[i], theirs, theirs.ops[i]);
    if (!why.empty())
      return path.str() + ": the model's " + describe(ours.ops[i]) + " meets node " +
             describe(theirs.ops[i]) + " in its place: they compute different functions (" +
             why + ")";
  }
  return std::nullopt;
}

} // namespace

llvm::Expected<MatchedWeights> netc::onnx::matchWeights(mlir::ModuleOp model,
                                                       const ImportedModel &onnx,
                                                       llvm::StringRef path) {
  Walk ourWalk = walkOrder(model), theirWalk = walkOrder(*onnx.module);
  std::vector<Slot> &ours = ourWalk.params, &theirs = theirWalk.params;
  llvm::StringMap<const Weight *> values;
  for (const Weight &w : onnx.weights)
    values[w.name] = &w;
  MatchedWeights result;
  std::vector<std::string> problems;
  if (auto difference = firstDifference(ourWalk, theirWalk, onnx, path))
    problems.push_back(*difference);
  for (size_t i = 0; i < ours.size(); ++i) {
    std::string name = ours[i].param.getName().str();
    auto shape = shapeOf(ours[i].param->getResult(0));
    if (i >= theirs.size()) {
      result.report.push_back(name + " " + dims(shape) + " left to its initializer (" +
                              ours[i].param.getInit().str() + "): " + path.str() +
                              " has no parameter in its place");
      continue;
    }
    std::string theirName = theirs[i].param.getName().str();
    auto theirShape = shapeOf(theirs[i].param->getResult(0));
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
                       "' " + dims(shapeOf(theirs[i].param->getResult(0))) +
                       " has no parameter in the model's place for it");
  if (!problems.empty()) {
    std::string text;
    for (const std::string &p : problems)
      text += (text.empty() ? "" : "\n") + p;
    return llvm::createStringError(llvm::inconvertibleErrorCode(), text);
  }
  return result;
}
