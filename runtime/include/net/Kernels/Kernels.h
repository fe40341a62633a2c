//===- Kernels.h - the whole CPU kernel library -----------------*- C++ -*-===//
//
// What generated code includes. Each header opens with what its kernels
// compute and how they are shaped; Reference.h holds the plain versions the
// tests compare against (generated code does not include it).
//
//===----------------------------------------------------------------------===//

#ifndef NETC_KERNELS_KERNELS_H
#define NETC_KERNELS_KERNELS_H

#include "net/Kernels/Activation.h"
#include "net/Kernels/Common.h"
#include "net/Kernels/Conv.h"
#include "net/Kernels/Dense.h"
#include "net/Kernels/Elementwise.h"
#include "net/Kernels/Gemm.h"
#include "net/Kernels/Loss.h"
#include "net/Kernels/Norm.h"
#include "net/Kernels/Optimizer.h"
#include "net/Kernels/Pool.h"
#include "net/Kernels/Random.h"
#include "net/Kernels/Fused.h"

#endif // NETC_KERNELS_KERNELS_H
