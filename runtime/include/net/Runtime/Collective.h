//===- Collective.h - The ranks of a data-parallel run ----------*- C++ -*-===//
//
// What data-parallel training (docs/distributed.md) needs from the processes
// it runs on: their count, this one's rank, and collectives over them. The
// runtime trains through this interface and links no MPI; netrun loads its
// Open MPI implementation (libnetrun-mpi.so) only when mpirun started it.
// Every call is made from the training thread, in the same order on every
// rank. A collective that does not complete within the implementation's
// timeout (a rank died or hangs) ends the whole run with a message; it
// never returns a partial result.
//
//===----------------------------------------------------------------------===//

#ifndef NET_RUNTIME_COLLECTIVE_H
#define NET_RUNTIME_COLLECTIVE_H

#include "net/Runtime/Status.h"

#include <cstdint>
#include <string>

namespace netc::runtime {

class Collective {
public:
  virtual ~Collective() = default;
  virtual int32_t rank() const = 0;
  virtual int32_t size() const = 0;
  /// "Open MPI 4.1.4: 2 ranks on 1 host"
  virtual std::string describe() const = 0;

  /// Starts summing `count` floats over the ranks, in place; the values
  /// must not be touched until waitAll() returns. Every rank obtains the
  /// same bits.
  virtual Status startSum(float *values, int64_t count) = 0;
  /// Completes every sum started since the last waitAll().
  virtual Status waitAll() = 0;
  /// Sums `count` doubles over the ranks, in place.
  virtual Status sum(double *values, int64_t count) = 0;
  /// Rank `root`'s `bytes` bytes into every rank's `data`.
  virtual Status broadcast(void *data, int64_t bytes, int32_t root) = 0;
  /// Each rank's `bytes` bytes at `mine`, in rank order, into every rank's
  /// `all` (size() * bytes).
  virtual Status allGather(const void *mine, void *all, int64_t bytes) = 0;
  /// Rank r's counts[r] floats, in rank order, into every rank's `all`.
  virtual Status allGatherFloats(const float *mine, float *all, const int64_t *counts) = 0;
  /// Ends every rank's process with `exitCode`: what one rank does when it
  /// fails alone, so that the others do not wait for it.
  [[noreturn]] virtual void abort(int exitCode) = 0;
};

} // namespace netc::runtime

#endif // NET_RUNTIME_COLLECTIVE_H
