//===- LayerTable.cpp - The layer table of a net module -------------------===//

#include "net/Analysis/LayerTable.h"

#include "net/Analysis/GraphText.h"

#include "net/Dialect/NetOps.h"
#include "net/Dialect/Shapes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"

#include <cstdio>

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
  if (auto graph = describeGraph(module); succeeded(graph))
    table.graph = std::move(*graph);
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

namespace {

/// `name(key=value, ...)` of a set-up dictionary, its entries in key order.
std::string callText(StringRef name, DictionaryAttr dict) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << name << "(";
  bool first = true;
  for (NamedAttribute entry : dict) {
    if (entry.getName() == "name")
      continue;
    os << (first ? "" : ", ") << entry.getName().getValue() << "=";
    first = false;
    Attribute value = entry.getValue();
    if (auto f = dyn_cast<FloatAttr>(value))
      os << llvm::format("%g", f.getValueAsDouble());
    else if (auto b = dyn_cast<BoolAttr>(value))
      os << (b.getValue() ? "true" : "false");
    else if (auto i = dyn_cast<IntegerAttr>(value))
      os << i.getInt();
    else if (auto s = dyn_cast<StringAttr>(value))
      os << s.getValue();
  }
  os << ")";
  return text;
}

std::string listText(DenseF64ArrayAttr values) {
  std::string text = "[";
  for (auto [i, v] : llvm::enumerate(values.asArrayRef())) {
    char number[32];
    std::snprintf(number, sizeof(number), "%g", v);
    text += (i ? ", " : "") + std::string(number);
  }
  return text + "]";
}

} // namespace

void mlir::net::printTrainSetup(ModuleOp module, llvm::raw_ostream &os) {
  auto train = module->getAttrOfType<DictionaryAttr>("net.train");
  if (!train)
    return;
  auto optimizer = train.getAs<DictionaryAttr>("optimizer");
  auto optimizerName = optimizer ? optimizer.getAs<StringAttr>("name") : StringAttr();
  os << "Training: "
     << (optimizerName ? callText(optimizerName.getValue(), optimizer) : std::string("?"));
  if (auto batch = train.getAs<IntegerAttr>("batch"))
    os << ", batch " << batch.getInt();
  if (auto epochs = train.getAs<IntegerAttr>("epochs"))
    os << ", " << epochs.getInt() << " epochs";
  os << "\nLearning-rate schedule: ";
  auto schedule = train.getAs<DictionaryAttr>("lr_schedule");
  auto scheduleName = schedule ? schedule.getAs<StringAttr>("name") : StringAttr();
  os << (scheduleName ? callText(scheduleName.getValue(), schedule) : std::string("constant()"))
     << "\nEarly stopping: ";
  if (auto stopping = train.getAs<DictionaryAttr>("early_stopping"))
    os << callText("early_stopping", stopping) << "\n";
  else
    os << "off\n";
  os << "Input normalisation: ";
  auto norm = module->getAttrOfType<DictionaryAttr>("net.input_normalization");
  auto mean = norm ? norm.getAs<DenseF64ArrayAttr>("mean") : DenseF64ArrayAttr();
  auto stddev = norm ? norm.getAs<DenseF64ArrayAttr>("std") : DenseF64ArrayAttr();
  if (mean && stddev)
    os << "(pixel / 255 - mean) / std, mean " << listText(mean) << ", std " << listText(stddev)
       << "\n";
  else
    os << "pixel / 255\n";
}
