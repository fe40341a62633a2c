//===- Distributed.h - netrun under mpirun ----------------------*- C++ -*-===//
//
// netrun train started by mpirun trains one model data-parallel over the
// ranks (docs/distributed.md). netrun links no MPI: the ranks come from
// libnetrun-mpi.so (tools/netrun/mpi), opened here only when mpirun's
// environment says it started this process.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_TOOLS_NETRUN_DISTRIBUTED_H
#define NETC_TOOLS_NETRUN_DISTRIBUTED_H

#include "net/Runtime/Collective.h"
#include "net/Runtime/Status.h"

#include <cstdint>
#include <memory>

namespace netc::runtime::cli {

/// Whether an MPI launcher (mpirun, mpiexec, srun with PMIx) started this
/// process: Open MPI's OMPI_COMM_WORLD_SIZE or PMIx's PMIX_RANK is set.
bool launchedByMpi();

/// The rank count Open MPI's mpirun announced (OMPI_COMM_WORLD_SIZE); 0 when
/// no launcher said.
int32_t launchedRanks();

/// The ranks of this run, from libnetrun-mpi.so beside netrun (lib/netc
/// of its prefix, or lib/ of the build tree), with collectives that wait at most `timeoutSeconds`. Refuses,
/// saying why, when this netrun was built without MPI or the library does
/// not load.
Result<std::unique_ptr<Collective>> openMpiRanks(double timeoutSeconds);

} // namespace netc::runtime::cli

#endif // NETC_TOOLS_NETRUN_DISTRIBUTED_H
