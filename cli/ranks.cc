// Ranks over MPI when built with it (cli/ranks.h), else one rank.
#include "cli/ranks.h"

#include <cstdlib>
#include <stdexcept>

#ifdef GEOTRAIN_WITH_MPI
#include <mpi.h>
#endif

namespace geotrain::cli {

bool built_with_mpi() {
#ifdef GEOTRAIN_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(variable) != nullptr) return true;
  return false;
}

bool launched_without_mpi() {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!size) size = std::getenv("PMI_SIZE");
  return !built_with_mpi() && size != nullptr && std::atoi(size) > 1;
}

#ifdef GEOTRAIN_WITH_MPI

namespace {
void check(int code, const char* what) {
  if (code != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}
}  // namespace

Ranks::Ranks() {
  if (!launched_by_mpi()) return;
  check(MPI_Init(nullptr, nullptr), "MPI_Init");
  joined_ = true;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

Ranks::~Ranks() {
  if (joined_) MPI_Finalize();
}

std::vector<std::uint64_t> Ranks::broadcast(std::vector<std::uint64_t> values) const {
  if (!joined_) return values;
  unsigned long long count = values.size();
  check(MPI_Bcast(&count, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
  values.resize(count);
  check(MPI_Bcast(values.data(), static_cast<int>(count), MPI_UINT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return values;
}

std::vector<std::uint64_t> Ranks::gather(const std::vector<std::uint64_t>& values) const {
  if (!joined_) return values;
  const int mine = static_cast<int>(values.size());
  std::vector<int> counts(lead() ? size_ : 0), offsets(lead() ? size_ : 0);
  check(MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  int total = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) offsets[r] = total, total += counts[r];
  std::vector<std::uint64_t> all(static_cast<std::size_t>(total));
  check(MPI_Gatherv(values.data(), mine, MPI_UINT64_T, all.data(), counts.data(), offsets.data(), MPI_UINT64_T, 0,
                    MPI_COMM_WORLD),
        "MPI_Gatherv");
  return all;
}

int Ranks::max(int value) const {
  if (!joined_) return value;
  int most = value;
  check(MPI_Allreduce(&value, &most, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  return most;
}

#else

Ranks::Ranks() = default;
Ranks::~Ranks() = default;
std::vector<std::uint64_t> Ranks::broadcast(std::vector<std::uint64_t> values) const { return values; }
std::vector<std::uint64_t> Ranks::gather(const std::vector<std::uint64_t>& values) const { return values; }
int Ranks::max(int value) const { return value; }

#endif

}  // namespace geotrain::cli
