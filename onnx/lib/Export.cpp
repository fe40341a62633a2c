//===- Export.cpp - A trained model as an ONNX file -----------------------===//
//
// One ONNX node per net op, as the exported rows of net/ONNX/OpMapping.h
// name it, except where ONNX joins what net keeps apart: a bias_add right
// after the conv2d or dense it belongs to becomes that Conv's or Gemm's bias
// input, and global_avg_pool, whose ONNX form keeps the 1x1 spatial dims, is
// followed by a Flatten.
//
//===----------------------------------------------------------------------===//

#include "net/ONNX/Export.h"
#include "net/ONNX/OpMapping.h"

#include <onnx/onnx_pb.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

using namespace netc::runtime;
using netc::onnx::AttributeKind;
using netc::onnx::AttributeMapping;
using netc::onnx::OpMapping;

namespace {

/// One line of the graph description.
struct Op {
  std::string result;   // v3, or "" for return
  std::string kind;     // conv2d, ..., input, return
  std::string layer;
  std::vector<std::string> operands; // vN or @param
  std::map<std::string, std::string> attrs;
};

std::string unescape(const std::string &field) {
  if (field == "%")
    return "";
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '%' && i + 2 < field.size()) {
      out += char(std::stoi(field.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += field[i];
    }
  }
  return out;
}

Result<std::vector<Op>> parseGraph(const std::string &text) {
  using R = Result<std::vector<Op>>;
  std::vector<Op> ops;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;)
      f.push_back(w);
    if (f.empty())
      continue;
    Op op;
    if (f[0] == "return") {
      if (f.size() != 2)
        return R::failure("malformed graph line '" + line + "'");
      op.kind = "return";
      op.operands.push_back(f[1]);
      ops.push_back(op);
      continue;
    }
    if (f.size() < 3)
      return R::failure("malformed graph line '" + line + "'");
    op.result = f[0];
    op.kind = f[1];
    op.layer = unescape(f[2]);
    for (size_t i = 3; i < f.size(); ++i) {
      size_t eq = f[i].find('=');
      if (eq != std::string::npos)
        op.attrs[f[i].substr(0, eq)] = f[i].substr(eq + 1);
      else
        op.operands.push_back(f[i][0] == '@' ? "@" + unescape(f[i].substr(1)) : f[i]);
    }
    ops.push_back(op);
  }
  return R::success(std::move(ops));
}

/// A graph line the exporter can name what is wrong with.
struct MalformedGraph : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<int64_t> ints(const std::string &list) {
  std::vector<int64_t> out;
  std::istringstream s(list);
  for (std::string v; std::getline(s, v, ',');)
    out.push_back(std::stoll(v));
  return out;
}

class Exporter {
public:
  explicit Exporter(const Instance &instance) : instance(instance), info(instance.info()) {}
  Status run(const std::string &path);

private:
  /// The model's header, its input and its output, and one or more nodes
  /// per op; false for an op without an ONNX form. Throws (std::out_of_range,
  /// std::invalid_argument) on a malformed description.
  void startModel();
  bool exportOp(const Op &op);
  ::onnx::NodeProto *node(std::string_view type, const Op &op, const std::string &output);
  void attr(::onnx::NodeProto *n, std::string_view name, const std::vector<int64_t> &v);
  void attr(::onnx::NodeProto *n, std::string_view name, int64_t v);
  void attr(::onnx::NodeProto *n, std::string_view name, float v);
  /// The ONNX name of an operand; parameters become initializers on first use.
  std::string operand(const std::string &name);
  void tensorInfo(::onnx::ValueInfoProto *v, const std::string &name,
                  const std::vector<int64_t> &dims);

  const Instance &instance;
  const netc_model_info &info;
  ::onnx::ModelProto model;
  ::onnx::GraphProto *graph = nullptr;
  std::map<std::string, std::string> values; // vN -> ONNX name
  std::map<std::string, int32_t> paramIndex;
  std::map<std::string, bool> added;
  std::map<std::string, int> nodeNames;
  /// Uses of each value, so a bias_add joins its conv only when it is the sole user.
  std::map<std::string, int> uses;
  /// The Conv and Gemm nodes by their result, which a bias_add may join.
  std::map<std::string, ::onnx::NodeProto *> producers;
};

::onnx::NodeProto *Exporter::node(std::string_view type, const Op &op,
                                  const std::string &output) {
  auto *n = graph->add_node();
  n->set_op_type(std::string(type));
  // A layer of several ops (dense + relu) names its nodes layer, layer/2, ...
  int count = ++nodeNames[op.layer];
  n->set_name(count == 1 ? op.layer : op.layer + "/" + std::to_string(count));
  n->add_output(output);
  return n;
}

void Exporter::attr(::onnx::NodeProto *n, std::string_view name,
                    const std::vector<int64_t> &v) {
  auto *a = n->add_attribute();
  a->set_name(std::string(name));
  a->set_type(::onnx::AttributeProto_AttributeType_INTS);
  for (int64_t x : v)
    a->add_ints(x);
}

void Exporter::attr(::onnx::NodeProto *n, std::string_view name, int64_t v) {
  auto *a = n->add_attribute();
  a->set_name(std::string(name));
  a->set_type(::onnx::AttributeProto_AttributeType_INT);
  a->set_i(v);
}

void Exporter::attr(::onnx::NodeProto *n, std::string_view name, float v) {
  auto *a = n->add_attribute();
  a->set_name(std::string(name));
  a->set_type(::onnx::AttributeProto_AttributeType_FLOAT);
  a->set_f(v);
}

std::string Exporter::operand(const std::string &name) {
  if (name.empty() || name[0] != '@')
    return values.at(name);
  std::string param = name.substr(1);
  int32_t i = paramIndex.at(param);
  if (!added[param]) {
    added[param] = true;
    const netc_tensor_info &p = info.params[i];
    auto *t = graph->add_initializer();
    t->set_name(param);
    t->set_data_type(::onnx::TensorProto_DataType_FLOAT);
    for (int32_t d = 0; d < p.rank; ++d)
      t->add_dims(p.shape[d]);
    // raw_data is little-endian float32, as every host netc builds for.
    t->set_raw_data(instance.param(i), size_t(p.size) * sizeof(float));
  }
  return param;
}

void Exporter::tensorInfo(::onnx::ValueInfoProto *v, const std::string &name,
                          const std::vector<int64_t> &dims) {
  v->set_name(name);
  auto *t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(::onnx::TensorProto_DataType_FLOAT);
  auto *shape = t->mutable_shape();
  shape->add_dim()->set_dim_param("N");
  for (int64_t d : dims)
    shape->add_dim()->set_dim_value(d);
}

void Exporter::startModel() {
  model.set_ir_version(7); // the IR of opset 13
  model.set_producer_name("netrun");
  model.set_producer_version(info.compiler ? info.compiler : "");
  auto *opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(netc::onnx::kExportOpset);
  graph = model.mutable_graph();
  graph->set_name(info.network);
}

bool Exporter::exportOp(const Op &op) {
  const std::string &k = op.kind;
  if (k == "input") {
    values[op.result] = op.layer;
    tensorInfo(graph->add_input(), op.layer,
               std::vector<int64_t>(info.input_shape, info.input_shape + info.input_rank));
    return true;
  }
  if (k == "return") {
    std::string out = values.at(op.operands[0]);
    tensorInfo(graph->add_output(), out, {info.classes});
    return true;
  }
  std::string out = op.layer + ":" + op.result.substr(1);
  values[op.result] = out;
  auto in = [&](size_t i) { return operand(op.operands.at(i)); };
  const OpMapping *row = netc::onnx::exportedAs(k);
  if (!row)
    return false;
  if (op.operands.size() != size_t(row->operands))
    throw MalformedGraph("layer '" + op.layer + "' (" + k + ") has " +
                         std::to_string(op.operands.size()) + " operands, " + k + " takes " +
                         std::to_string(row->operands));
  if (row == &netc::onnx::kBiasAdd) {
    auto producer = producers.find(op.operands[0]);
    if (producer != producers.end() && uses[op.operands[0]] == 1 &&
        producer->second->input_size() == 2) {
      // The conv or dense it follows takes the bias and gives this result.
      producer->second->add_input(in(1));
      producer->second->set_output(0, out);
      return true;
    }
  }
  ::onnx::NodeProto *n = nullptr;
  if (row == &netc::onnx::kGlobalAveragePool) {
    auto *pool = node(row->onnx, op, out + "/1x1");
    pool->add_input(in(0));
    n = node(netc::onnx::kFlatten.onnx, op, out);
    n->add_input(out + "/1x1");
    attr(n, netc::onnx::kFlatten.fixed.onnx, netc::onnx::kFlatten.fixed.value);
  } else if (row == &netc::onnx::kDropout) {
    // The rate as Dropout's ratio input (opset 12+); ONNX runtimes
    // apply it only in training mode, as net does.
    const AttributeMapping &rate = netc::onnx::kDropoutRate;
    auto *ratio = graph->add_initializer();
    ratio->set_name(out + "/" + std::string(rate.onnx));
    ratio->set_data_type(::onnx::TensorProto_DataType_FLOAT);
    ratio->add_float_data(std::stof(op.attrs.at(std::string(rate.net))));
    n = node(row->onnx, op, out);
    n->add_input(in(0));
    n->add_input(ratio->name());
  } else {
    n = node(row->onnx, op, out);
    for (size_t i = 0; i < op.operands.size(); ++i)
      n->add_input(in(i));
    if (row == &netc::onnx::kConv) {
      const netc_tensor_info &w = info.params[paramIndex.at(op.operands[1].substr(1))];
      attr(n, netc::onnx::kConvKernelShape, std::vector<int64_t>{w.shape[2], w.shape[3]});
    }
    for (const AttributeMapping &a : row->attributes) {
      if (a.net.empty())
        continue;
      const std::string &text = op.attrs.at(std::string(a.net));
      if (a.kind == AttributeKind::Ints)
        attr(n, a.onnx, ints(text));
      else
        attr(n, a.onnx, std::stof(text));
    }
    if (!row->fixed.onnx.empty())
      attr(n, row->fixed.onnx, row->fixed.value);
  }
  if (row == &netc::onnx::kConv || row == &netc::onnx::kGemm)
    producers[op.result] = n;
  return true;
}

/// Writes `bytes` to a temporary file beside `path`, then renames it.
Status writeAtomically(const std::string &bytes, const std::string &path) {
  std::string temp = path + ".tmp";
  {
    std::ofstream file(temp, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), std::streamsize(bytes.size()));
    file.close();
    if (!file) {
      std::remove(temp.c_str());
      return Status::failure(path + ": cannot write: " + std::strerror(errno));
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    return Status::failure(path + ": cannot write: " + why);
  }
  return Status::success();
}

Status Exporter::run(const std::string &path) {
  if (!info.graph)
    return Status::failure(instance.model().path() +
                           ": the library describes no graph (it was built by a netc that "
                           "could not describe one of its ops); it cannot be exported");
  Result<std::vector<Op>> ops = parseGraph(info.graph);
  if (!ops)
    return Status::failure(instance.model().path() + ": " + ops.error);
  for (int32_t i = 0; i < info.num_params; ++i)
    paramIndex[info.params[i].name] = i;
  startModel();
  for (const Op &op : *ops)
    for (const std::string &v : op.operands)
      ++uses[v];

  try {
    for (const Op &op : *ops)
      if (!exportOp(op))
        return Status::failure(instance.model().path() + ": layer '" + op.layer + "' (" +
                               op.kind + ") has no ONNX export");
  } catch (const MalformedGraph &e) {
    return Status::failure(instance.model().path() +
                           ": the library's graph description is malformed: " + e.what());
  } catch (const std::exception &) {
    return Status::failure(instance.model().path() + ": the library's graph description is "
                                                     "malformed");
  }

  std::string bytes;
  if (!model.SerializeToString(&bytes))
    return Status::failure(path + ": cannot serialise the model (over 2 GiB?)");
  return writeAtomically(bytes, path);
}

} // namespace

Status netc::onnx::exportModel(const Instance &instance, const std::string &path) {
  return Exporter(instance).run(path);
}
