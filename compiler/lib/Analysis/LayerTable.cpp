//===- LayerTable.cpp - The layer table of a net module -------------------===//

#include "net/Analysis/LayerTable.h"

#include "net/Dialect/NetOps.h"
#include "net/Dialect/Shapes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"

using namespace mlir;
using namespace mlir::net;

namespace {

std::string layerNameOf(Operation *op) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  return op->getName().stripDialect().str();
}

/// Elements of a tensor type; per sample skips a leading batch dimension.
int64_t elementCount(Type type, bool perSample = false) {
  auto shaped = cast<RankedTensorType>(type);
  int64_t n = 1;
  for (auto [i, d] : llvm::enumerate(shaped.getShape()))
    if (!(perSample && i == 0))
      n *= d;
  return n;
}

/// Groups thousands: 1234567 -> "1,234,567".
std::string withCommas(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

} // namespace

LayerTable mlir::net::buildLayerTable(ModuleOp module) {
  LayerTable table;
  if (auto name = module->getAttrOfType<StringAttr>("net.network"))
    table.network = name.str();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return table;
  if (forward.getNumArguments() == 1) {
    auto shape = cast<RankedTensorType>(forward.getArgument(0).getType()).getShape();
    table.inputShape.assign(shape.begin(), shape.end());
  }
  for (Operation &op : forward.getBody().front()) {
    if (isa<func::ReturnOp>(op))
      continue;
    std::string name = layerNameOf(&op);
    if (table.rows.empty() || table.rows.back().name != name) {
      table.rows.push_back(LayerRow{});
      table.rows.back().name = name;
    }
    LayerRow &row = table.rows.back();
    if (auto param = dyn_cast<ParamOp>(op)) {
      int64_t n = elementCount(param.getType());
      (param.getFrozen() ? row.frozenParams : row.trainableParams) += n;
      continue;
    }
    if (isa<ReluOp, SigmoidOp, TanhOp, SoftmaxOp>(op) && !row.kind.empty()) {
      row.activation = op.getName().stripDialect().str();
    } else if (!isa<BiasAddOp>(op) || row.kind.empty()) {
      row.kind = op.getName().stripDialect().str();
    }
    auto shape = cast<RankedTensorType>(op.getResult(0).getType()).getShape();
    row.outputShape.assign(shape.begin(), shape.end());
    if (auto conv = dyn_cast<Conv2dOp>(op)) {
      auto w = cast<RankedTensorType>(conv.getWeight().getType()).getShape();
      row.flops += 2 * w[1] * w[2] * w[3] * elementCount(conv.getType(), /*perSample=*/true);
    } else if (auto dense = dyn_cast<DenseOp>(op)) {
      auto w = cast<RankedTensorType>(dense.getWeight().getType()).getShape();
      row.flops += 2 * w[0] * w[1];
    }
  }
  for (const LayerRow &row : table.rows) {
    table.trainableParams += row.trainableParams;
    table.frozenParams += row.frozenParams;
    table.flops += row.flops;
  }
  return table;
}

void mlir::net::printLayerTable(const LayerTable &table, llvm::raw_ostream &os) {
  size_t nameWidth = 28;
  for (const LayerRow &row : table.rows)
    nameWidth = std::max(nameWidth, row.name.size() + row.kind.size() + 4);
  std::string rule(nameWidth + 40, '_');
  std::string doubleRule(nameWidth + 40, '=');
  os << "Network: " << table.network << "   input "
     << shapes::format(table.inputShape) << "\n";
  os << rule << "\n";
  os << llvm::left_justify("Layer (type)", nameWidth)
     << llvm::left_justify("Output Shape", 24) << "Param #\n";
  os << doubleRule << "\n";
  for (const LayerRow &row : table.rows) {
    std::string kind = row.kind;
    if (!row.activation.empty())
      kind += "+" + row.activation;
    os << llvm::left_justify(row.name + " (" + kind + ")", nameWidth)
       << llvm::left_justify(shapes::format(row.outputShape), 24)
       << withCommas(row.trainableParams + row.frozenParams)
       << (row.frozenParams && !row.trainableParams ? " (frozen)" : "") << "\n";
  }
  os << doubleRule << "\n";
  os << "Total params: " << withCommas(table.trainableParams + table.frozenParams)
     << "\nTrainable params: " << withCommas(table.trainableParams)
     << "\nNon-trainable params: " << withCommas(table.frozenParams)
     << "\nForward FLOPs per image: " << withCommas(table.flops) << "\n";
  os << rule << "\n";
}
