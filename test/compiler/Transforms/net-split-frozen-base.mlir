// RUN: net-opt %s -split-input-file -net-split-frozen-base | FileCheck %s

// A frozen conv and pooling under a trained dense head: the base ends at the
// flatten the head reads; the frozen kernel goes with the base, the trained
// weight with the head; @forward stays.

module {
  func.func @forward(%x: tensor<?x1x8x8xf32>) -> tensor<?x2xf32> {
    %k = net.param "conv2d_1.kernel" init("glorot_uniform") frozen : tensor<4x1x3x3xf32>
    %c = net.conv2d %x, %k strides [1, 1] pads [1, 1, 1, 1] : (tensor<?x1x8x8xf32>, tensor<4x1x3x3xf32>) -> tensor<?x4x8x8xf32> loc("conv2d_1")
    %r = net.relu %c : tensor<?x4x8x8xf32> loc("relu_1")
    %g = net.global_avg_pool %r : (tensor<?x4x8x8xf32>) -> tensor<?x4xf32> loc("global_avg_pool_1")
    %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<2x4xf32>
    %y = net.dense %g, %w : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
    %p = net.softmax %y : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// CHECK:       module attributes {net.features = "global_avg_pool_1"}
// CHECK-LABEL: func.func @forward
// CHECK:         net.conv2d
// CHECK:         net.dense
// CHECK-LABEL: func.func @base_forward
// CHECK-SAME:    (%[[X:.*]]: tensor<?x1x8x8xf32>) -> tensor<?x4xf32>
// CHECK-NEXT:    %[[K:.*]] = net.param "conv2d_1.kernel" {{.*}} frozen
// CHECK-NEXT:    %[[C:.*]] = net.conv2d %[[X]], %[[K]]
// CHECK-NEXT:    %[[R:.*]] = net.relu %[[C]]
// CHECK-NEXT:    %[[G:.*]] = net.global_avg_pool %[[R]]
// CHECK-NEXT:    return %[[G]]
// CHECK-LABEL: func.func @head_forward
// CHECK-SAME:    (%[[F:.*]]: tensor<?x4xf32>) -> tensor<?x2xf32>
// CHECK-NEXT:    %[[W:.*]] = net.param "dense_1.kernel"
// CHECK-NEXT:    %[[Y:.*]] = net.dense %[[F]], %[[W]]
// CHECK-NEXT:    %[[P:.*]] = net.softmax %[[Y]]
// CHECK-NEXT:    return %[[P]]

// -----

// Nothing frozen: nothing to split.

// CHECK-LABEL: module {
// CHECK-NOT:   @base_forward
module {
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
    %w = net.param "dense_1.kernel" init("glorot_uniform") : tensor<2x4xf32>
    %y = net.dense %x, %w : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
    %p = net.softmax %y : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}

// -----

// The head reads two frozen tensors (a skip connection around the trained
// layer): no single feature tensor, no split.

// CHECK-LABEL: module {
// CHECK-NOT:   @base_forward
module {
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    %k = net.param "dense_1.kernel" init("glorot_uniform") frozen : tensor<4x4xf32>
    %a = net.dense %x, %k : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %b = net.relu %a : tensor<?x4xf32>
    %w = net.param "dense_2.kernel" init("glorot_uniform") : tensor<4x4xf32>
    %y = net.dense %b, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %s = net.add %y, %a : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
    %p = net.softmax %s : tensor<?x4xf32>
    return %p : tensor<?x4xf32>
  }
}

// -----

// Dropout is random: even with nothing trained behind it, it runs in the
// head, so the features are the frozen layer's output before it.

// CHECK:       module attributes {net.features = "relu_1"}
// CHECK-LABEL: func.func @base_forward
// CHECK-NOT:     net.dropout
// CHECK:         return
// CHECK-LABEL: func.func @head_forward
// CHECK-NEXT:    net.dropout
module {
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
    %k = net.param "dense_1.kernel" init("glorot_uniform") frozen : tensor<4x4xf32>
    %a = net.dense %x, %k : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %b = net.relu %a : tensor<?x4xf32> loc("relu_1")
    %d = net.dropout %b rate 5.000000e-01 : tensor<?x4xf32>
    %w = net.param "dense_2.kernel" init("glorot_uniform") : tensor<2x4xf32>
    %y = net.dense %d, %w : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
    %p = net.softmax %y : tensor<?x2xf32>
    return %p : tensor<?x2xf32>
  }
}
