// The ranks of a sweep run under MPI (`mpirun -n K geotrain sweep ...`, or srun in a Slurm job):
// each rank runs its share of the points, rank 0 writes the tables.  MPI is optional: built when
// CMake finds it (GEOTRAIN_WITH_MPI), and joined only when the process was started by an MPI
// launcher; otherwise this process is the one rank of one.
#pragma once
#include <cstdint>
#include <vector>

namespace geotrain::cli {

class Ranks {
 public:
  Ranks();  // joins the launcher's job (MPI_Init) when there is one
  ~Ranks();  // MPI_Finalize
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool lead() const { return rank_ == 0; }
  // Rank 0's `values`, on every rank.
  std::vector<std::uint64_t> broadcast(std::vector<std::uint64_t> values) const;
  // Every rank's `values` concatenated in rank order on rank 0 (empty elsewhere).
  std::vector<std::uint64_t> gather(const std::vector<std::uint64_t>& values) const;
  // The largest `value` of all ranks, on every rank.
  int max(int value) const;

 private:
  int rank_ = 0, size_ = 1;
  bool joined_ = false;
};

// True when this geotrain was built with MPI.
bool built_with_mpi();
// True when an MPI launcher (Open MPI's mpirun, or a PMI/PMIx one such as srun) started this
// process.
bool launched_by_mpi();
// True when a launcher started several processes but this geotrain has no MPI: each would run
// the whole job alone.
bool launched_without_mpi();

}  // namespace geotrain::cli
