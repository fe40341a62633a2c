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
#include "net/Runtime/ModelABI.h"
#include "net/Runtime/TrainSettings.h"
#include "net/Version.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Format.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::net;
using namespace mlir::net::target;
namespace settings = ::netc::settings;

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

/// The offset of netc_train_setup's field `name`, for the fields of the
/// settings' table and the three outside it; a row naming no field of the
/// struct does not compile.
size_t trainFieldOffset(StringRef name) {
#define NETC_TRAIN_FIELD(Field)                                                        \
  if (name == #Field)                                                                  \
    return offsetof(netc_train_setup, Field);
#define NETC_TRAIN_SETTING(Id, NetName, Flag, Metavar, Verbs, Field, ...) NETC_TRAIN_FIELD(Field)
#define NETC_OPTIMIZER_SETTING(Optimizer, NetName, Field, ...) NETC_TRAIN_FIELD(Field)
#include "net/Runtime/TrainSettings.def"
  NETC_TRAIN_FIELD(optimizer)
  NETC_TRAIN_FIELD(lr_schedule)
  NETC_TRAIN_FIELD(early_stopping)
#undef NETC_TRAIN_FIELD
  assert(false && "a field of netc_train_setup outside the settings' table");
  return 0;
}

/// The fields of netc_train_setup for the module's `net.train` (field,
/// initialiser), in the struct's order. What the .net file leaves out takes
/// the table's defaults (TrainSettings.def), which are netrun's.
std::vector<std::pair<std::string, std::string>> trainSetupFields(ModuleOp module) {
  auto train = module->getAttrOfType<DictionaryAttr>("net.train");
  auto text = [](auto value) { return std::to_string(value); };
  auto get = [&](DictionaryAttr dict, StringRef key, double fallback) {
    if (!dict)
      return fallback;
    if (auto f = dict.getAs<FloatAttr>(key))
      return f.getValueAsDouble();
    if (auto i = dict.getAs<IntegerAttr>(key))
      return double(i.getInt());
    return fallback;
  };
  auto part = [&](StringRef key) {
    return train ? train.getAs<DictionaryAttr>(key) : DictionaryAttr();
  };
  DictionaryAttr opt = part("optimizer");
  DictionaryAttr schedule = part("lr_schedule");
  DictionaryAttr stopping = part("early_stopping");
  auto optName = opt ? opt.getAs<StringAttr>("name") : StringAttr();
  bool sgd = optName && optName.getValue() == "sgd";
  StringRef optimizer = sgd ? "sgd" : "adam";
  std::string scheduleName = "constant";
  if (auto name = schedule ? schedule.getAs<StringAttr>("name") : StringAttr())
    scheduleName = name.str();
  std::replace(scheduleName.begin(), scheduleName.end(), '_', '-'); // netrun's spelling

  std::vector<std::pair<std::string, std::string>> fields = {
      {"optimizer", sgd ? "NETC_OPTIMIZER_SGD" : "NETC_OPTIMIZER_ADAM"},
      {"lr_schedule", quote(scheduleName)},
      {"early_stopping", stopping ? "1" : "0"}};
  // The optimizer's arguments, each field once: the model's optimizer's
  // value or default, else the default of the optimizer that has the field.
  for (const auto &arg : settings::kOptimizerSettings) {
    if (llvm::any_of(fields, [&](const auto &f) { return f.first == arg.field; }))
      continue;
    const settings::OptimizerSetting *row = &arg;
    for (const auto &other : settings::kOptimizerSettings)
      if (optimizer == other.optimizer && StringRef(arg.field) == other.field)
        row = &other;
    double value = get(opt, row->netName, row->fallback);
    fields.push_back({arg.field, row->type == settings::Type::Bool ? (value != 0 ? "1" : "0")
                                                                   : number(value)});
  }
  for (const settings::Setting &s : settings::kSettings) {
    // The learning rate, set by the optimizer's call, is the optimizer's.
    if (!*s.netName)
      continue;
    DictionaryAttr dict = s.group == settings::Group::Run        ? train
                          : s.group == settings::Group::Schedule ? schedule
                                                                 : stopping;
    std::string value;
    switch (s.type) {
    case settings::Type::Int:
      value = text(int64_t(get(dict, s.netName, s.fallback)));
      break;
    case settings::Type::Real:
      value = number(get(dict, s.netName, s.fallback));
      break;
    case settings::Type::Bool: {
      auto b = dict ? dict.getAs<BoolAttr>(s.netName) : BoolAttr();
      value = (b ? b.getValue() : s.fallback != 0) ? "1" : "0";
      break;
    }
    case settings::Type::Choice: {
      auto c = dict ? dict.getAs<StringAttr>(s.netName) : StringAttr();
      value = quote(c ? c.getValue().str() : settings::defaultText(s));
      break;
    }
    }
    fields.push_back({s.field, value});
  }
  llvm::stable_sort(fields, [](const auto &a, const auto &b) {
    return trainFieldOffset(a.first) < trainFieldOffset(b.first);
  });
  return fields;
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
  emitInputAndGraph();
  emitModelInfo();
}

void CppEmitter::emitInputAndGraph() {
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
}

void CppEmitter::emitModelInfo() {
  std::string network = "model";
  if (auto name = module->getAttrOfType<StringAttr>("net.network"))
    network = name.str();
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
  field("compiler", quote("netc " NETC_VERSION));
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
  for (const auto &[name, value] : trainSetupFields(module))
    field("train." + name, value);
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
