//===- DeviceMirror.h - a host instance's CUDA path ---------------*- C++ -*-===//
//
// Part of ModelImpl.h (included by it when NETC_WITH_CUDA): how the host
// instance (ModelInstance.h) reaches its CUDA path (CudaPath.h) and keeps its
// parameters and optimizer slots a mirror of the device's.
//
//===----------------------------------------------------------------------===//

#ifndef NET_RUNTIME_DEVICEMIRROR_H
#define NET_RUNTIME_DEVICEMIRROR_H

#include "net/Runtime/CudaPath.h"
#include "net/Runtime/ModelInstance.h"

#include <cstdint>

namespace netc::modelimpl {

// The CUDA path: params and state are the host mirror of the device's. A
// step first uploads what the host may have written (host_dirty);
// netc_param_data and netc_state_data first download what a training step
// changed (device_newer), and mark the mirror dirty since the caller may
// write through the pointer.
inline int deviceResult(netc_instance *I, bool ok) {
  if (ok)
    return NETC_OK;
  if (I->error.empty())
    I->error = "CUDA step failed";
  return NETC_ERROR_DEVICE;
}
inline bool deviceReady(netc_instance *I) {
  if (!I->host_dirty)
    return true;
  if (!netc::cudapath::upload(I->cuda, I->params, I->state, I->error))
    return false;
  I->host_dirty = false;
  return true;
}
/// deviceResult of a training call: it leaves the device's parameters newer,
/// even when it failed part way. A failed data-parallel exchange changed no
/// parameter and not the step count: `stepBefore` is restored and the code
/// says so.
inline int deviceTrained(netc_instance *I, bool ok, int64_t stepBefore) {
  I->device_newer = true;
  if (!ok && netc::cudapath::exchangeFailed(I->cuda)) {
    I->step = stepBefore;
    return NETC_ERROR_EXCHANGE;
  }
  return deviceResult(I, ok);
}
inline bool hostMirror(netc_instance *I) {
  if (I->device_newer && !netc::cudapath::download(I->cuda, I->params, I->state, I->error))
    return false;
  I->device_newer = false;
  I->host_dirty = true;
  return true;
}

} // namespace netc::modelimpl

#endif // NET_RUNTIME_DEVICEMIRROR_H
