//===- Codes.h - the fused kernels' activation and pooling codes -*- C++ -*-===//
//
// The ACT and POOL template arguments of the fused kernels, on the CPU
// (Fused.h) and on the GPU (cuda/Fused.cuh, cuda/Dense.cuh). The net
// dialect declares the same kinds with these values (NetEnums.td), and the
// emitter checks at its own compile time that the two agree, so generated
// code passes the dialect's value as the code.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_CODES_H
#define NETC_KERNELS_CODES_H

namespace netc {

enum FusedActivation : int { kActNone = 0, kActRelu = 1, kActSigmoid = 2, kActTanh = 3 };

enum FusedPool : int { kPoolNone = 0, kPoolMax = 1, kPoolAvg = 2 };

} // namespace netc

#endif // NETC_KERNELS_CODES_H
