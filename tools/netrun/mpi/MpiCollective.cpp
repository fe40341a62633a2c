//===- MpiCollective.cpp - libnetrun-mpi.so: ranks over Open MPI ----------===//
//
// The Collective (net/Runtime/Collective.h) of a run that mpirun started.
// netrun opens this library (Distributed.cpp) only under mpirun, so netrun
// itself links no MPI and runs where none is installed. Every collective is
// started non-blocking and polled against a deadline: a rank that died is
// reported by mpirun, which ends the job; a rank that hangs is caught here,
// and the run ends with MPI_Abort and a message naming the rank that waited
// and for what.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Collective.h"

// The C API only: Open MPI's C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using netc::runtime::Collective;
using netc::runtime::Status;

namespace {

class MpiCollective final : public Collective {
public:
  explicit MpiCollective(double timeoutSeconds) : timeout(timeoutSeconds) {
    MPI_Comm_rank(MPI_COMM_WORLD, &myRank);
    MPI_Comm_size(MPI_COMM_WORLD, &worldSize);
  }
  ~MpiCollective() override {
    if (!pending.empty())
      (void)waitAll();
    MPI_Finalize();
  }

  int32_t rank() const override { return myRank; }
  int32_t size() const override { return worldSize; }
  std::string describe() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string text(version, size_t(length));
    if (size_t end = text.find_first_of(",\n"); end != std::string::npos)
      text.resize(end);
    return text + ": " + std::to_string(worldSize) + (worldSize == 1 ? " rank" : " ranks");
  }

  Status startSum(float *values, int64_t count) override {
    for (int64_t done = 0; done < count; done += kChunk) {
      MPI_Request request;
      MPI_Iallreduce(MPI_IN_PLACE, values + done, int(std::min(kChunk, count - done)), MPI_FLOAT,
                     MPI_SUM, MPI_COMM_WORLD, &request);
      pending.push_back(request);
    }
    // Lets the earlier sums progress while the backward goes on.
    int done = 0;
    MPI_Testall(int(pending.size()), pending.data(), &done, MPI_STATUSES_IGNORE);
    return Status::success();
  }

  Status waitAll() override {
    Status s = complete(pending, "the sum of a step's gradients");
    pending.clear();
    return s;
  }

  Status sum(double *values, int64_t count) override {
    std::vector<MPI_Request> requests(1);
    MPI_Iallreduce(MPI_IN_PLACE, values, int(count), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD,
                   &requests[0]);
    return complete(requests, "a sum of the step's figures");
  }

  Status broadcast(void *data, int64_t bytes, int32_t root) override {
    std::vector<MPI_Request> requests;
    for (int64_t done = 0; done < bytes; done += kChunk) {
      requests.emplace_back();
      MPI_Ibcast(static_cast<char *>(data) + done, int(std::min(kChunk, bytes - done)), MPI_BYTE,
                 root, MPI_COMM_WORLD, &requests.back());
    }
    return complete(requests, "a broadcast of rank " + std::to_string(root) + "'s parameters");
  }

  Status allGather(const void *mine, void *all, int64_t bytes) override {
    if (bytes > INT_MAX)
      return Status::failure("an all-gather of " + std::to_string(bytes) +
                             " bytes a rank; at most " + std::to_string(INT_MAX));
    std::vector<MPI_Request> requests(1);
    MPI_Iallgather(mine, int(bytes), MPI_BYTE, all, int(bytes), MPI_BYTE, MPI_COMM_WORLD,
                   &requests[0]);
    return complete(requests, "an all-gather");
  }

  Status allGatherFloats(const float *mine, float *all, const int64_t *counts) override {
    std::vector<int> sizes(static_cast<size_t>(worldSize)), offsets(sizes.size());
    int64_t offset = 0;
    for (int r = 0; r < worldSize; ++r) {
      if (counts[r] > INT_MAX || offset > INT_MAX)
        return Status::failure("an all-gather of " + std::to_string(offset + counts[r]) +
                               " floats; at most " + std::to_string(INT_MAX));
      sizes[size_t(r)] = int(counts[r]);
      offsets[size_t(r)] = int(offset);
      offset += counts[r];
    }
    std::vector<MPI_Request> requests(1);
    MPI_Iallgatherv(mine, sizes[size_t(myRank)], MPI_FLOAT, all, sizes.data(), offsets.data(),
                    MPI_FLOAT, MPI_COMM_WORLD, &requests[0]);
    return complete(requests, "an all-gather of features");
  }

  [[noreturn]] void abort(int exitCode) override {
    MPI_Abort(MPI_COMM_WORLD, exitCode);
    std::_Exit(exitCode); // MPI_Abort does not return; this says so to the compiler
  }

private:
  // Elements a request: MPI counts are ints.
  static constexpr int64_t kChunk = int64_t(1) << 30;

  /// Polls `requests` until all complete or the timeout passes; then ends
  /// the whole job, saying what this rank waited for.
  Status complete(std::vector<MPI_Request> &requests, const std::string &what) {
    if (requests.empty())
      return Status::success();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
    for (long polls = 0;; ++polls) {
      int done = 0;
      MPI_Testall(int(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE);
      if (done)
        return Status::success();
      // Short waits are spun; long ones let the other ranks have the cores.
      if (polls > 10000)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (std::chrono::steady_clock::now() > deadline)
        break;
    }
    std::fprintf(stderr,
                 "netrun: rank %d: %s got no answer from the other ranks within %g s (a rank "
                 "died or hangs); ending the run (--mpi-timeout sets the wait; the last "
                 "checkpoint is whole)\n",
                 myRank, what.c_str(), timeout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 3);
    return Status::failure(what + ": no answer");
  }

  double timeout;
  int myRank = 0, worldSize = 1;
  std::vector<MPI_Request> pending; // the sums startSum began
};

} // namespace

/// Initialises MPI and returns the run's ranks, or null with the reason in
/// `error`. netrun deletes the object, which finalises MPI.
extern "C" __attribute__((visibility("default"))) Collective *
netrun_mpi_open(double timeoutSeconds, char *error, size_t errorSize) {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::snprintf(error, errorSize, "MPI_Init_thread failed");
    return nullptr;
  }
  // The library's default handler aborts; a failed call is then never
  // returned to us half-done.
  return new MpiCollective(timeoutSeconds);
}
