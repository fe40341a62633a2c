// RUN: net-opt %s -split-input-file -net-fuse-dense-bias-act | FileCheck %s

// dense + bias + relu, then dense + bias before the softmax: the softmax
// stays, since the loss differentiates it together with itself.
// CHECK-LABEL: func.func @head
// CHECK:         %[[H:.*]] = net.fused_dense %{{.*}}, %{{.*}}, %{{.*}} activation relu : (tensor<?x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<?x32xf32>
// CHECK:         %[[L:.*]] = net.fused_dense %[[H]], %{{.*}}, %{{.*}} activation none
// CHECK-NEXT:    net.softmax %[[L]]
// CHECK-NOT:     net.dense
func.func @head(%x: tensor<?x64xf32>) -> tensor<?x10xf32> {
  %w = net.param "d1.kernel" init("glorot_uniform") : tensor<32x64xf32>
  %d = net.dense %x, %w : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %b = net.param "d1.bias" init("zeros") : tensor<32xf32>
  %a = net.bias_add %d, %b : (tensor<?x32xf32>, tensor<32xf32>) -> tensor<?x32xf32>
  %r = net.relu %a : tensor<?x32xf32>
  %w2 = net.param "d2.kernel" init("glorot_uniform") : tensor<10x32xf32>
  %d2 = net.dense %r, %w2 : (tensor<?x32xf32>, tensor<10x32xf32>) -> tensor<?x10xf32>
  %b2 = net.param "d2.bias" init("zeros") : tensor<10xf32>
  %a2 = net.bias_add %d2, %b2 : (tensor<?x10xf32>, tensor<10xf32>) -> tensor<?x10xf32>
  %p = net.softmax %a2 : tensor<?x10xf32>
  return %p : tensor<?x10xf32>
}

// -----

// A dense output read twice, and a frozen/trainable mix, stay unfused; a
// dense without bias fuses with its activation.
// CHECK-LABEL: func.func @negative_cases
// CHECK:         %[[D:.*]] = net.dense
// CHECK:         net.bias_add %[[D]]
// CHECK:         net.add
// CHECK:         net.dense
// CHECK-NEXT:    net.param "frozen.bias"
// CHECK-NEXT:    net.bias_add
// CHECK:         net.fused_dense %{{.*}}, %{{.*}} activation tanh : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
func.func @negative_cases(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = net.param "d.kernel" init("glorot_uniform") : tensor<8x8xf32>
  %d = net.dense %x, %w : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %b = net.param "d.bias" init("zeros") : tensor<8xf32>
  %a = net.bias_add %d, %b : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %s = net.add %a, %d : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %w2 = net.param "frozen.kernel" init("glorot_uniform") frozen : tensor<8x8xf32>
  %d2 = net.dense %s, %w2 : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %b2 = net.param "frozen.bias" init("zeros") : tensor<8xf32>
  %a2 = net.bias_add %d2, %b2 : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %w3 = net.param "nobias.kernel" init("glorot_uniform") : tensor<8x8xf32>
  %d3 = net.dense %a2, %w3 : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %t = net.tanh %d3 : tensor<?x8xf32>
  return %t : tensor<?x8xf32>
}
