// Which all-reduce algorithm: a row of the algorithm table (sim/collectives/table.h), by name.
// A leaf header, so that the worker context and the strategies can name an algorithm without
// including the collectives' code (which is written against the worker context).
#pragma once
#include <compare>
#include <string>
#include <vector>

namespace geotrain::sim {

// Copyable handle of an algorithm; compare handles, never rows.
struct AllreduceAlgo {
  int row = 0;  // index into allreduce_table(); row 0 is the ring
  auto operator<=>(const AllreduceAlgo&) const = default;
};

// The algorithm's name in scenarios ("ring", "tree", ...).
const char* allreduce_algo_name(AllreduceAlgo algo);
// Every row's name, in table order; also used to validate scenario input.
const std::vector<std::string>& allreduce_algo_names();
AllreduceAlgo allreduce_algo_from_name(const std::string& name);  // REQUIRES: a valid name

}  // namespace geotrain::sim
