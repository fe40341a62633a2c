//===- NetEnums.td - the fused ops' activation and pooling kinds -*- tablegen -*-===//
//
// One table of the kinds a fused op applies. Their values are the codes the
// kernels take as template arguments (ACT and POOL in net/Kernels/Fused.h
// and net/Kernels/cuda), which net/Kernels/Codes.h names; the emitter
// checks the two agree at compile time.
//
//===----------------------------------------------------------------------===//

#ifndef NET_DIALECT_NETENUMS_TD
#define NET_DIALECT_NETENUMS_TD

include "mlir/IR/EnumAttr.td"

def Net_Activation : I32EnumAttr<"Activation",
    "the activation a fused op applies: none, relu, sigmoid or tanh", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Relu", 1, "relu">,
      I32EnumAttrCase<"Sigmoid", 2, "sigmoid">,
      I32EnumAttrCase<"Tanh", 3, "tanh">
    ]> {
  let cppNamespace = "::mlir::net";
}

def Net_Pool : I32EnumAttr<"Pool",
    "the pooling a fused conv applies: none, max or avg", [
      I32EnumAttrCase<"None", 0, "none">,
      I32EnumAttrCase<"Max", 1, "max">,
      I32EnumAttrCase<"Avg", 2, "avg">
    ]> {
  let cppNamespace = "::mlir::net";
}

#endif // NET_DIALECT_NETENUMS_TD
