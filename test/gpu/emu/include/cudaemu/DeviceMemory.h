//===- cudaemu/DeviceMemory.h - device memory and errors ---*- C++ -*-===//
//
// The registry of allocations, the checks of a copy's sides, the memcheck's
// opening and closing of allocations, and the sticky last error.
// A part of the emulated cuda_runtime.h, which includes its parts in order
// after the standard headers and the sanitizers' macros; not included alone.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_CUDAEMU_DEVICEMEMORY_H
#define NETC_CUDAEMU_DEVICEMEMORY_H

namespace cudaemu {
namespace detail {

/// Device memory: start -> size of every allocation of this process.
struct Memory {
  std::mutex lock;
  std::map<std::uintptr_t, std::size_t> allocations;
  std::size_t used = 0;
  int kernelsRunning = 0; // on all host threads; device memory is open while any runs
};

inline Memory &memory() {
  static Memory m; // allocations are shared by the host threads, as on a GPU
  return m;
}

inline std::size_t memoryLimit() {
  if (const char *env = std::getenv("NETC_CUDAEMU_MEMORY"); env && *env)
    return std::size_t(std::strtoull(env, nullptr, 10));
  return std::size_t(16) << 30;
}

/// The allocation p lies in, or null; the caller holds memory().lock.
inline const std::pair<const std::uintptr_t, std::size_t> *allocationAt(const void *p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  const Memory &m = memory();
  auto it = m.allocations.upper_bound(address);
  if (it == m.allocations.begin())
    return nullptr;
  --it;
  return address < it->first + std::max<std::size_t>(it->second, 1) ? &*it : nullptr;
}

/// Whether [p, p + bytes) lies inside one allocation; `touches` says
/// whether p lies in any.
inline bool insideDevice(const void *p, std::size_t bytes, bool *touches = nullptr) {
  const auto *allocation = allocationAt(p);
  if (touches)
    *touches = allocation != nullptr;
  return allocation &&
         reinterpret_cast<std::uintptr_t>(p) + bytes <= allocation->first + allocation->second;
}

/// The bytes cudaMalloc reserves for `bytes`: rounded up to its 256-byte
/// alignment, at least one unit.
inline std::size_t reservedBytes(std::size_t bytes) {
  return (std::max<std::size_t>(bytes, 1) + 255) / 256 * 256;
}

/// Under AddressSanitizer, opens the `bytes` asked for of the allocation at
/// `start` to the code about to run (open), or closes its whole reservation
/// again. Whole allocations, for a granule of shadow memory cannot be closed
/// in part.
inline void setReservationOpen(std::uintptr_t start, std::size_t bytes, bool open) {
  const auto *p = reinterpret_cast<const void *>(start);
  if (open)
    unpoison(p, bytes);
  else
    poison(p, reservedBytes(bytes));
}

/// setReservationOpen for the allocation p lies in, if any; a close waits
/// while a kernel on another host thread may be using it. The caller holds
/// memory().lock.
inline void setAllocationOpen(const void *p, bool open) {
#ifdef NETC_CUDAEMU_ASAN
  if (!open && memory().kernelsRunning)
    return;
  if (const auto *allocation = allocationAt(p))
    setReservationOpen(allocation->first, allocation->second, open);
#else
  (void)p, (void)open;
#endif
}

/// Every allocation opened for a kernel, or closed after it, so the host
/// touching device memory and a kernel reading past an allocation's end are
/// both reported.
inline void setDeviceMemoryOpen(bool open) {
#ifdef NETC_CUDAEMU_ASAN
  Memory &m = memory();
  std::lock_guard<std::mutex> hold(m.lock);
  // Host threads may run kernels at once: the first opens, the last closes.
  if (open ? m.kernelsRunning++ != 0 : --m.kernelsRunning != 0)
    return;
  for (const auto &[start, bytes] : m.allocations)
    setReservationOpen(start, bytes, open);
#else
  (void)open;
#endif
}

inline cudaError_t fail(cudaError_t error) {
  if (state().lastError == cudaSuccess)
    state().lastError = error;
  return error;
}

/// A call a stream capture does not allow: it breaks the capture, as on a GPU.
inline bool refusedWhileCapturing() {
  State &s = state();
  if (!s.capturing)
    return false;
  s.captureBroken = true;
  return true;
}

} // namespace detail
} // namespace cudaemu

#endif // NETC_CUDAEMU_DEVICEMEMORY_H
