//===- EmitCuda.cpp - net dialect to the model's CUDA path ----------------===//
//
// The device side of a compiled model: the shared op-to-kernel mapping
// (Target/Common/StepEmitter.h) with this file's hooks for the device
// instance, where the step's scalars live on the device (k::Step), each
// net.update_group is one launch over a table, and the data-parallel steps'
// exchange goes through host memory. This file prints the
// prologue and NetcDeviceModel, what the fixed CUDA path
// (net/Runtime/CudaPathImpl.cuh, included at the end) runs on: the device
// instance, the copies in and out, error collection, the training set on the
// device and its captured step graph live there.
//
//===----------------------------------------------------------------------===//

#include "net/Target/CUDA/EmitCuda.h"

#include "../Common/StepEmitter.h"

#include "net/Version.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::net;
using namespace mlir::net::target;

namespace {

class CudaEmitter final : public StepEmitter {
public:
  CudaEmitter(ModuleOp module, raw_ostream &os) : StepEmitter(module, os) {}
  LogicalResult emit();

private:
  void emitPrologue();
  /// NetcDeviceModel and the include of the fixed CUDA path.
  void emitEntryPoints();

  StringRef targetName() const override { return "CUDA"; }
  void emitSignature(StringRef name, StepKind kind) override {
    // The inputs are already in I->input and I->labels (copied in or
    // gathered on the device).
    os << "void run_" << name << "(Instance *I, int n"
       << (kind == StepKind::Forward ? ", float *out" : "") << ") {\n";
  }
  void emitTargetLocals(StepKind kind) override {
    os << "  const float *const in0 = I->input;\n";
    if (kind != StepKind::Forward)
      os << "  const int32_t *const labels = I->labels;\n";
  }
  void emitForwardResult(Value result) override { // host pointers out
    os << "  NETC_CUDA_CHECK(cudaMemcpy(out, " << ref(result) << ", sizeof(float) * "
       << perSample(result) << " * n, cudaMemcpyDeviceToHost));\n";
  }
  // The loss and correct count accumulate in I->run.
  void emitStepResults(Value, Value) override {}
  void emitReduction(StringRef kernel, Value probs, Value labels, Value,
                     StringRef) override {
    os << "  k::" << kernel << targs({shapeOf(probs)[1]}) << "(n, " << ref(probs) << ", "
       << ref(labels) << ", I->run);\n";
  }
  LogicalResult emitUpdateGroup(UpdateGroupOp group) override;
  // The exchange works on host memory: each value is staged at its
  // parameter's offset (CudaInstance.cuh).
  void emitExchangeStart(int64_t param, const std::string &values, int64_t size) override {
    os << "  if (!netc::cudapath::exchangeStart(I, " << param << ", "
       << params[size_t(param)].offset << ", " << values << ", " << size << ")) return;\n";
  }
  void emitExchangeWait() override {
    os << "  if (!netc::cudapath::exchangeWait(I)) return;\n";
  }
  // The seed, learning rate and step count are I->run's, on the device.
  StringRef dropoutSeed() const override { return "I->run"; }
  StringRef learningRate() const override { return "I->run"; }
  StringRef adamStepArgument() const override { return ""; }
};

/// One launch for the group: k::sgd_update_all or k::adam_update_all over a
/// table of {param, grad, slot0, slot1, size} offsets. A gradient outside
/// the arena's fixed section (none that net-plan-memory makes) has its own
/// launch.
LogicalResult CudaEmitter::emitUpdateGroup(UpdateGroupOp group) {
  std::vector<std::string> entries;
  for (Operation &update : group.getBody().front()) {
    auto sgd = dyn_cast<SgdUpdateOp>(update);
    Value param = sgd ? sgd.getParam() : cast<AdamUpdateOp>(update).getParam();
    Value grad = sgd ? sgd.getGrad() : cast<AdamUpdateOp>(update).getGrad();
    std::optional<int64_t> gradOffset = fixedOffset(grad);
    if (!gradOffset) {
      if (failed(emitUpdate(&update)))
        return failure();
      continue;
    }
    StringRef name = param.getDefiningOp<ParamOp>().getName();
    std::string slots = sgd ? std::to_string(stateOffset(name, "velocity")) + ", 0"
                            : std::to_string(stateOffset(name, "adam_m")) + ", " +
                                  std::to_string(stateOffset(name, "adam_v"));
    entries.push_back("{" + std::to_string(paramOffset(name)) + ", " +
                      std::to_string(*gradOffset) + ", " + slots + ", " +
                      std::to_string(product(shapeOf(param))) + "}");
  }
  if (entries.empty())
    return success();
  std::string table = "k::UpdateTable<" + std::to_string(entries.size()) + ">{{";
  for (size_t e = 0; e < entries.size(); ++e)
    table += (e ? ", " : "") + entries[e];
  table += "}}";
  Operation &first = group.getBody().front().front();
  if (auto sgd = dyn_cast<SgdUpdateOp>(first))
    os << "  k::sgd_update_all<" << entries.size() << ">(" << table << ", P, F, S, I->run, "
       << floatLiteral(sgd.getMomentum()) << ", " << (sgd.getNesterov() ? "true" : "false")
       << ");\n";
  else if (auto adam = dyn_cast<AdamUpdateOp>(first))
    os << "  k::adam_update_all<" << entries.size() << ">(" << table << ", P, F, S, I->run, "
       << floatLiteral(adam.getBeta1()) << ", " << floatLiteral(adam.getBeta2()) << ", "
       << floatLiteral(adam.getEpsilon()) << ");\n";
  return success();
}

void CudaEmitter::emitPrologue() {
  std::string network = "model";
  if (auto name = module->getAttrOfType<StringAttr>("net.network"))
    network = name.str();
  os << "// Generated by netc " NETC_VERSION " for the network '" << network
     << "': its CUDA path.\n"
     << "// Do not edit: recompile the .net file.\n"
     << "//\n"
     << "// The functions of net/Runtime/CudaPath.h on the device: every op a launch\n"
     << "// of a kernel of net/Kernels/cuda (the CPU kernels' names and template\n"
     << "// arguments), every tensor a slot of one device arena planned by\n"
     << "// net-plan-memory. A step's scalars live on the device (k::Step), so a\n"
     << "// training step over the training set held here is captured once as a CUDA\n"
     << "// graph and replayed; every CUDA call is checked (NETC_CUDA_CHECK) and a\n"
     << "// call fails with the first error, its file and line.\n\n"
     << "#include \"net/Runtime/CudaInstance.cuh\"\n\n"
     << "#include <cstdint>\n\n"
     << "namespace {\n"
     << "using netc::cudapath::Instance;\n"
     << "namespace k = netc::cuda;\n\n"
     << "// Floats per sample of the arena (the step functions' activations).\n"
     << "constexpr int64_t kArenaPerSample = " << arenaPerSample << ";\n\n";
}

void CudaEmitter::emitEntryPoints() {
  auto flag = [](bool b) { return b ? "true" : "false"; };
  const int64_t inputSize = this->inputSize();
  const int64_t featureSize = hasBase ? product(featureShape) : 0;
  os << "/// What net/Runtime/CudaPathImpl.cuh implements CudaPath.h over.\n"
     << "struct NetcDeviceModel {\n"
     << "  static constexpr int64_t kArenaPerSample = ::kArenaPerSample;\n"
     << "  static constexpr int64_t kArenaFixed = " << arenaFixed << ";\n"
     << "  static constexpr int64_t kParamFloats = " << paramFloats << ";\n"
     << "  static constexpr int64_t kStateFloats = " << stateFloats << ";\n"
     << "  static constexpr int64_t kInputSize = " << inputSize << "; // per sample, in "
     << inputPlanes() << " planes\n"
     << "  static constexpr int64_t kInputPlanes = " << inputPlanes() << ";\n"
     << "  static constexpr int64_t kFeatureSize = " << featureSize << "; // per sample\n"
     << "  static constexpr int64_t kInputFloats = " << std::max(inputSize, featureSize)
     << "; // of the input buffer, per sample\n"
     << "  static constexpr bool kHasTrain = " << flag(hasTrain) << ";\n"
     << "  static constexpr bool kHasBase = " << flag(hasBase) << ";\n"
     << "  static void forward(Instance *I, int n, float *out) { run_forward(I, n, out); }\n"
     << "  static void evalStep(Instance *I, int n) { run_eval_step(I, n); }\n";
  os << "  static constexpr bool kHasExchanged = " << flag(hasExchanged) << ";\n";
  if (hasTrain)
    os << "  static void trainStep(Instance *I, int n) { run_train_step(I, n); }\n";
  if (hasExchanged)
    os << "  static void trainStepExchanged(Instance *I, int n) {\n"
       << "    run_train_step_exchanged(I, n);\n  }\n";
  if (hasExchanged && hasBase)
    os << "  static void headTrainStepExchanged(Instance *I, int n) {\n"
       << "    run_head_train_step_exchanged(I, n);\n  }\n";
  if (hasBase)
    os << "  static void baseForward(Instance *I, int n, float *out) {\n"
       << "    run_base_forward(I, n, out);\n  }\n"
       << "  static void headEvalStep(Instance *I, int n) { run_head_eval_step(I, n); }\n"
       << "  static void headTrainStep(Instance *I, int n) { run_head_train_step(I, n); }\n";
  os << "};\n\n"
     << "} // namespace\n\n"
     << "// CudaPath.h's functions, the same code for every model.\n"
     << "#include \"net/Runtime/CudaPathImpl.cuh\"\n";
}

LogicalResult CudaEmitter::emit() {
  if (failed(collect()))
    return failure();
  emitPrologue();
  if (failed(emitFunctions()))
    return failure();
  emitEntryPoints();
  return success();
}

} // namespace

LogicalResult mlir::net::emitCuda(ModuleOp module, raw_ostream &os) {
  return CudaEmitter(module, os).emit();
}
