//===- EmitCpp.cpp - net dialect to shape-specialised C++ -----------------===//
//
// Prints what depends on the model: its tables (parameters, optimizer slots,
// layers, the train set-up), one run_<name> function per step function of
// the module, and NetcCompiledModel, the constants and entry points that the
// fixed ABI code (net/Runtime/ModelImpl.h, included at the end) runs on.
// The tables are EmitTables.cpp's; the step functions are the shared
// mapping's (Target/Common), with this file's hooks for the host instance.
//
//===----------------------------------------------------------------------===//

#include "net/Target/Cpp/EmitCpp.h"
#include "CppEmitter.h"

#include "net/Version.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"

#include <algorithm>
#include <string>

using namespace mlir;
using namespace mlir::net;
using namespace mlir::net::target;

void CppEmitter::emitSignature(StringRef name, StepKind kind) {
  if (kind == StepKind::Forward)
    os << "void run_" << name << "(netc_instance *I, const float *in0, int n, float *out) {\n";
  else
    os << "void run_" << name << "(netc_instance *I, const float *in0, const int32_t *labels, "
       << "int n, " << (kind == StepKind::Train ? "uint64_t seed, " : "")
       << "float *loss, int32_t *correct) {\n";
}

void CppEmitter::emitTargetLocals(StepKind kind) {
  if (kind == StepKind::Train)
    os << "  const int64_t t = ++I->step; // Adam's bias correction counts from 1\n";
}

void CppEmitter::emitForwardResult(Value result) {
  os << "  k::copy" << targs({perSample(result)}) << "(n, " << ref(result) << ", out);\n";
}

void CppEmitter::emitStepResults(Value loss, Value correct) {
  os << "  *loss = " << ref(loss) << ";\n"
     << "  *correct = " << ref(correct) << ";\n";
}

void CppEmitter::emitReduction(StringRef kernel, Value probs, Value labels, Value result,
                               StringRef cType) {
  os << "  const " << cType << " " << ref(result) << " = k::" << kernel
     << targs({shapeOf(probs)[1]}) << "(n, " << ref(probs) << ", " << ref(labels) << ");\n";
}

/// One call per parameter costs the CPU nothing a table would save.
LogicalResult CppEmitter::emitUpdateGroup(UpdateGroupOp group) {
  for (Operation &update : group.getBody().front())
    if (failed(emitUpdate(&update)))
      return failure();
  return success();
}

void CppEmitter::emitExchangeStart(int64_t param, const std::string &values, int64_t size) {
  os << "  if (!netc::exchangeStart(I, " << param << ", " << values << ", " << size
     << ")) return;\n";
}

void CppEmitter::emitExchangeWait() { os << "  if (!netc::exchangeWait(I)) return;\n"; }

void CppEmitter::emitModelTraits() {
  auto flag = [](bool b) { return b ? "true" : "false"; };
  os << "/// What net/Runtime/ModelImpl.h implements the C ABI over.\n"
     << "struct NetcCompiledModel {\n"
     << "  // Floats per sample and fixed floats of the arena; of the parameters and\n"
     << "  // the optimizer's slots.\n"
     << "  static constexpr int64_t kArenaPerSample = ::kArenaPerSample;\n"
     << "  static constexpr int64_t kArenaFixed = " << arenaFixed << ";\n"
     << "  static constexpr int64_t kParamFloats = " << paramFloats << ";\n"
     << "  static constexpr int64_t kStateFloats = " << stateFloats << ";\n"
     << "  // Batch norms folded into their convolutions, kept between calls.\n"
     << "  static constexpr int64_t kFoldedFloats = " << foldedFloats << ";\n"
     << "  // Values of one input sample, in kInputPlanes planes (the channels).\n"
     << "  static constexpr int64_t kInputSize = " << inputSize() << ";\n"
     << "  static constexpr int64_t kInputPlanes = " << inputPlanes() << ";\n"
     << "  static constexpr bool kHasTrain = " << flag(hasTrain) << ";\n"
     << "  static constexpr bool kHasBase = " << flag(hasBase) << ";\n"
     << "  // Data-parallel copies of the training steps (net-exchange-gradients).\n"
     << "  static constexpr bool kHasExchanged = " << flag(hasExchanged) << ";\n"
     << "  static constexpr const netc_model_info *kInfo = &kModel;\n"
     << "  static constexpr const int64_t *kParamOffsets = ::kParamOffsets;\n"
     << "  static constexpr const int64_t *kStateOffsets = ::kStateOffsets;\n"
     << "  static void forward(netc_instance *I, const float *in, int n, float *out) {\n"
     << "    run_forward(I, in, n, out);\n  }\n"
     << "  static void evalStep(netc_instance *I, const float *in, const int32_t *labels, int n,\n"
     << "                       float *loss, int32_t *correct) {\n"
     << "    run_eval_step(I, in, labels, n, loss, correct);\n  }\n";
  if (hasTrain)
    os << "  static void trainStep(netc_instance *I, const float *in, const int32_t *labels, "
          "int n,\n"
       << "                        uint64_t seed, float *loss, int32_t *correct) {\n"
       << "    run_train_step(I, in, labels, n, seed, loss, correct);\n  }\n";
  if (hasExchanged)
    os << "  static void trainStepExchanged(netc_instance *I, const float *in,\n"
       << "                                 const int32_t *labels, int n, uint64_t seed,\n"
       << "                                 float *loss, int32_t *correct) {\n"
       << "    run_train_step_exchanged(I, in, labels, n, seed, loss, correct);\n  }\n";
  if (hasBase && hasExchanged)
    os << "  static void headTrainStepExchanged(netc_instance *I, const float *in,\n"
       << "                                     const int32_t *labels, int n, uint64_t seed,\n"
       << "                                     float *loss, int32_t *correct) {\n"
       << "    run_head_train_step_exchanged(I, in, labels, n, seed, loss, correct);\n  }\n";
  if (hasBase)
    os << "  static void baseForward(netc_instance *I, const float *in, int n, float *out) {\n"
       << "    run_base_forward(I, in, n, out);\n  }\n"
       << "  static void headEvalStep(netc_instance *I, const float *in, const int32_t *labels,\n"
       << "                           int n, float *loss, int32_t *correct) {\n"
       << "    run_head_eval_step(I, in, labels, n, loss, correct);\n  }\n"
       << "  static void headTrainStep(netc_instance *I, const float *in, const int32_t *labels,\n"
       << "                            int n, uint64_t seed, float *loss, int32_t *correct) {\n"
       << "    run_head_train_step(I, in, labels, n, seed, loss, correct);\n  }\n";
  os << "};\n\n"
     << "} // namespace\n\n"
     << "// The C ABI (net/Runtime/ModelABI.h), the same code for every model.\n"
     << "#include \"net/Runtime/ModelImpl.h\"\n";
}

LogicalResult CppEmitter::emit() {
  if (failed(collect()))
    return failure();
  std::string network = "model";
  if (auto name = module->getAttrOfType<StringAttr>("net.network"))
    network = name.str();
  os << "// Generated by netc " NETC_VERSION " for the network '" << network
     << "'. Do not edit: recompile the .net file.\n"
     << "//\n"
     << "// Every extent but the batch is a template argument of the kernels in\n"
     << "// net/Kernels; every tensor is a slot of one arena planned by\n"
     << "// net-plan-memory, so a step allocates nothing.\n\n"
     << "#include \"net/Kernels/Kernels.h\"\n"
     << "#include \"net/Runtime/ModelInstance.h\"\n\n"
     << "#include <cstdint>\n\n"
     << "namespace {\n"
     << "namespace k = netc::kernels;\n\n"
     << "// Floats per sample of the arena (the step functions' activations).\n"
     << "constexpr int64_t kArenaPerSample = " << arenaPerSample << ";\n"
     << "constexpr uint32_t kDevices =\n"
     << "    (1u << NETC_DEVICE_CPU) | (NETC_WITH_CUDA ? 1u << NETC_DEVICE_CUDA : 0u);\n\n";
  emitTables();
  if (failed(emitFunctions()))
    return failure();
  emitModelTraits();
  return success();
}

LogicalResult mlir::net::emitCpp(ModuleOp module, raw_ostream &os, const LayerTable *layers) {
  return CppEmitter(module, os, layers).emit();
}
