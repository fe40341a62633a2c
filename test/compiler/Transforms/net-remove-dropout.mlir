// RUN: net-opt %s -net-remove-dropout | FileCheck %s

// Dropout leaves @forward (inference); the training step keeps its mask.
// CHECK-LABEL: func.func @forward
// CHECK-SAME:    (%[[X:.*]]: tensor<?x8xf32>)
// CHECK-NEXT:    %[[R:.*]] = net.relu %[[X]]
// CHECK-NEXT:    return %[[R]]
// CHECK-LABEL: func.func @train_step
// CHECK:         net.dropout_mask
func.func @forward(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %d = net.dropout %x rate 5.000000e-01 : tensor<?x8xf32>
  %r = net.relu %d : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}
func.func @train_step(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %m = net.dropout_mask rate 5.000000e-01 stream 0 : tensor<?x8xf32>
  %d = net.mul %x, %m : tensor<?x8xf32>
  return %d : tensor<?x8xf32>
}
