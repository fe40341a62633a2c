//===- NetDialect.td - the net dialect ---------------------*- tablegen -*-===//
//
// The `net` dialect describes a neural network as a graph of layer-level ops
// on ranked f32 tensors. Dim 0 is the batch and may be dynamic; every other
// dim is static, so shapes are fully known once the batch is fixed.
//
//===----------------------------------------------------------------------===//

#ifndef NET_DIALECT_NETDIALECT_TD
#define NET_DIALECT_NETDIALECT_TD

include "mlir/IR/OpBase.td"

def Net_Dialect : Dialect {
  let name = "net";
  let cppNamespace = "::mlir::net";
  let summary = "layer-level neural network ops";
  let description = [{
    The `net` dialect is what the netc front end produces and what the graph
    passes (fusion, autodiff, memory planning) rewrite. Images are NCHW,
    dense activations are [N, features]; all data tensors are f32 and
    ranked, with a possibly dynamic batch (dim 0) and static other dims.
  }];
}

/// Base class of every op in the dialect.
class Net_Op<string mnemonic, list<Trait> traits = []>
    : Op<Net_Dialect, mnemonic, traits>;

#endif // NET_DIALECT_NETDIALECT_TD
