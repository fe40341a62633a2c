//===- EmitTables.cpp - the compiled model's tables -----------------------===//
//
// CppEmitter::emitTables: the layout Layout.cpp collected, printed with the
// layer table, the input normalisation, the forward graph and the model's
// netc_model_info (ModelABI.h), field by field.
//
//===----------------------------------------------------------------------===//

#include "CppEmitter.h"

#include "net/Analysis/LayerTable.h"
#include "net/Dialect/NetOps.h"
#include "net/Dialect/Shapes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::net;
using namespace mlir::net::target;

namespace {

/// A C string literal (names come from the .net file: quote what needs it).
std::string quote(StringRef text) {
  std::string s = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      s += '\\';
    s += c;
  }
  return s + "\"";
}

/// A number that reads back as the double `v` (17 significant digits); an
/// integral value prints as an integer (`0`), so never put a suffix after it:
/// floatLiteral is for floats.
std::string number(double v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.17g", v);
  return s;
}

} // namespace

void CppEmitter::emitTables() {
  auto tensorRow = [&](const TensorEntry &e) {
    os << "    {" << quote(e.name) << ", " << e.shape.size() << ", {";
    for (size_t i = 0; i < 4; ++i)
      os << (i ? ", " : "") << (i < e.shape.size() ? e.shape[i] : 0);
    os << "}, " << e.size << ", " << quote(e.init) << ", " << e.fanIn << ", " << e.fanOut
       << ", " << (e.trainable ? 1 : 0) << "},\n";
  };
  os << "const netc_tensor_info kParams[] = {\n";
  for (const TensorEntry &e : params)
    tensorRow(e);
  if (params.empty())
    os << "    {\"\", 0, {0, 0, 0, 0}, 0, \"zeros\", 0, 0, 0},\n";
  os << "};\nconst int64_t kParamOffsets[] = {";
  for (const TensorEntry &e : params)
    os << e.offset << ", ";
  os << "0};\n\n";

  os << "const netc_tensor_info kState[] = {\n";
  for (const TensorEntry &e : state)
    tensorRow(e);
  if (state.empty())
    os << "    {\"\", 0, {0, 0, 0, 0}, 0, \"zeros\", 0, 0, 0},\n";
  os << "};\nconst int64_t kStateOffsets[] = {";
  for (const TensorEntry &e : state)
    os << e.offset << ", ";
  os << "0};\n\n";

  os << "const netc_layer_info kLayers[] = {\n";
  for (const LayerRow &row : table.rows) {
    os << "    {" << quote(row.name) << ", " << quote(row.kind) << ", "
       << quote(row.activation) << ", " << row.outputShape.size() << ", {";
    for (size_t i = 0; i < 4; ++i) {
      int64_t d = i < row.outputShape.size() ? row.outputShape[i] : 0;
      os << (i ? ", " : "") << (ShapedType::isDynamic(d) ? -1 : d);
    }
    os << "}, " << row.trainableParams + row.frozenParams << ", " << row.flops << "},\n";
  }
  os << "};\n\n";

  // The training set-up.
  auto train = module->getAttrOfType<DictionaryAttr>("net.train");
  auto get = [&](DictionaryAttr dict, StringRef key, double fallback) {
    if (!dict)
      return fallback;
    if (auto f = dict.getAs<FloatAttr>(key))
      return f.getValueAsDouble();
    if (auto i = dict.getAs<IntegerAttr>(key))
      return double(i.getInt());
    return fallback;
  };
  DictionaryAttr opt = train ? train.getAs<DictionaryAttr>("optimizer") : DictionaryAttr();
  bool sgd = opt && opt.getAs<StringAttr>("name") && opt.getAs<StringAttr>("name").getValue() == "sgd";
  std::string network = "model";
  if (auto name = module->getAttrOfType<StringAttr>("net.network"))
    network = name.str();

  // The input normalisation, one value per channel (default: pixel / 255).
  size_t channels = inputShape.size() == 3 ? size_t(inputShape[0]) : 1;
  auto norm = module->getAttrOfType<DictionaryAttr>("net.input_normalization");
  auto emitPerChannel = [&](StringRef cname, StringRef key, double fallback) {
    auto values = norm ? norm.getAs<DenseF64ArrayAttr>(key) : DenseF64ArrayAttr();
    os << "const float " << cname << "[] = {";
    for (size_t c = 0; c < channels; ++c)
      os << (c ? ", " : "") << "float("
         << number(values && c < values.size() ? values[c] : fallback) << ")";
    os << "};\n";
  };
  emitPerChannel("kInputMean", "mean", 0.0);
  emitPerChannel("kInputStd", "std", 1.0);
  os << "\n";

  // The schedule and early stopping; what the .net file leaves out takes
  // netrun's defaults (docs/netrun.md).
  DictionaryAttr schedule = train ? train.getAs<DictionaryAttr>("lr_schedule") : DictionaryAttr();
  DictionaryAttr stopping = train ? train.getAs<DictionaryAttr>("early_stopping") : DictionaryAttr();
  std::string scheduleName = "constant";
  if (auto name = schedule ? schedule.getAs<StringAttr>("name") : StringAttr())
    scheduleName = name.str();
  std::replace(scheduleName.begin(), scheduleName.end(), '_', '-'); // netrun's spelling
  std::string monitor = "val_loss";
  if (auto m = stopping ? stopping.getAs<StringAttr>("monitor") : StringAttr())
    monitor = m.str();
  auto flag = [&](DictionaryAttr dict, StringRef key) {
    auto b = dict ? dict.getAs<BoolAttr>(key) : BoolAttr();
    return b && b.getValue() ? 1 : 0;
  };

  // The forward graph for `netrun export`, one literal a line.
  os << "constexpr const char *kGraph =";
  if (table.graph.empty())
    os << " nullptr";
  else
    for (StringRef line : llvm::split(StringRef(table.graph).rtrim('\n'), '\n')) {
      std::string literal = quote(line);
      literal.insert(literal.size() - 1, "\\n");
      os << "\n    " << literal;
    }
  os << ";\n\n";
  // Field by field, by name: a field added to the ABI cannot shift the
  // others (the value-initialised rest is zero). Braced, so that a value a
  // field cannot hold is a narrowing error, not a silent truncation; in a
  // constexpr function, so that kModel is constant data, set before any call.
  auto field = [&](StringRef name, const std::string &value) {
    os << "  m." << name << " = {" << value << "};\n";
  };
  auto text = [](auto value) { return std::to_string(value); };
  os << "constexpr netc_model_info modelInfo() {\n"
     << "  netc_model_info m{};\n";
  field("magic", "NETC_MAGIC");
  field("abi_version", "NETC_ABI_VERSION");
  field("network", quote(network));
  field("compiler", quote("netc " NETC_COMPILER_VERSION));
  field("input_rank", text(inputShape.size()));
  for (size_t i = 0; i < inputShape.size(); ++i)
    field("input_shape[" + text(i) + "]", text(inputShape[i]));
  field("input_mean", "kInputMean");
  field("input_std", "kInputStd");
  field("classes", text(classes));
  field("num_params", text(params.size()));
  field("params", "kParams");
  field("num_state", text(state.size()));
  field("state", "kState");
  field("num_layers", text(table.rows.size()));
  field("layers", "kLayers");
  field("flops_per_image", text(table.flops));
  field("train.optimizer", sgd ? "NETC_OPTIMIZER_SGD" : "NETC_OPTIMIZER_ADAM");
  field("train.learning_rate", number(get(opt, "lr", sgd ? 0.01 : 0.001)));
  field("train.momentum", number(get(opt, "momentum", 0)));
  field("train.nesterov", get(opt, "nesterov", 0) != 0 ? "1" : "0");
  field("train.beta1", number(get(opt, "beta1", 0.9)));
  field("train.beta2", number(get(opt, "beta2", 0.999)));
  field("train.epsilon", number(get(opt, "epsilon", 1e-7)));
  field("train.batch", text(int64_t(get(train, "batch", 32))));
  field("train.epochs", text(int64_t(get(train, "epochs", 1))));
  field("train.lr_schedule", quote(scheduleName));
  field("train.lr_step_size", text(int64_t(get(schedule, "step_size", 10))));
  field("train.lr_gamma", number(get(schedule, "gamma", 0.1)));
  field("train.lr_decay", number(get(schedule, "decay", 0.95)));
  field("train.lr_min", number(get(schedule, "min_lr", 0)));
  field("train.lr_patience", text(int64_t(get(schedule, "patience", 10))));
  field("train.lr_factor", number(get(schedule, "factor", 0.1)));
  field("train.early_stopping", stopping ? "1" : "0");
  field("train.monitor", quote(monitor));
  field("train.patience", text(int64_t(get(stopping, "patience", 0))));
  field("train.min_delta", number(get(stopping, "min_delta", 0)));
  field("train.restore_best_weights", text(flag(stopping, "restore_best_weights")));
  field("devices", "kDevices");
  // The frozen base's features (net-split-frozen-base); size 0 without one.
  field("feature_layer", quote(featureLayer));
  field("feature_rank", text(featureShape.size()));
  for (size_t i = 0; i < featureShape.size(); ++i)
    field("feature_shape[" + text(i) + "]", text(featureShape[i]));
  field("feature_size", text(hasBase ? product(featureShape) : 0));
  field("graph", "kGraph");
  os << "  return m;\n}\n"
     << "constexpr netc_model_info kModel = modelInfo();\n\n";
}
