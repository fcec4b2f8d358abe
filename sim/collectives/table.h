// The table of all-reduce algorithms, one row per algorithm (as nccl-tests keeps one entry per
// collective): its name, its recorder label, its message-level program, its closed-form
// schedule for the "collective" fidelity and its bytes accounting.  The worker context
// (allreduce_mean / allreduce_sum) and the collective fidelity (analytic.h) dispatch through
// it; nothing else knows the algorithms one by one.
// Adding an algorithm: one file with its program (and schedule), one row in table.cc
// (docs/COLLECTIVES.md walks through the weighted butterfly).
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/tensor.h"
#include "sim/collectives/algo.h"
#include "sim/collectives/collectives.h"

namespace geotrain::sim {

class Platform;

struct AllreduceEntry {
  // Scenario input ("allreduce": name) and the algorithm of the recorder's collectives[] rows
  // and trace spans ("allreduce/<label>").
  const char* name;
  const char* label;
  // Message-level program: every member calls it; leaves the element-wise sum in `t`.
  // REQUIRES: at least 2 members.
  void (*sum)(WorkerContext& ctx, runtime::Tensor& t, const AllreduceGroup& group);
  // Optional: leaves the mean itself (the ring scales inside, once per chunk).  Null: the
  // context runs `sum` and scales by 1/n.
  void (*mean)(WorkerContext& ctx, runtime::Tensor& t, const AllreduceGroup& group);
  // Optional: a weighted mean, sum_j weight_j x t_j / sum_j weight_j, where each member brings
  // its own `weight` and the values travel (and every partial result is rounded) in `format`;
  // returns the total weight (0: nobody brought any, t left all zeros).  Null: the algorithm has
  // no weighted mean (Hivemind's averager has one: weighted_butterfly).
  double (*weighted_mean)(WorkerContext& ctx, runtime::Tensor& t, const AllreduceGroup& group, double weight,
                          kernels::WireFormat format);
  // Optional: the algorithm's flows, for the "collective" fidelity (analytic.h).  Null: the
  // algorithm runs as messages in both fidelities.
  Schedule (*schedule)(const Platform& platform, const runtime::Tensor& t, const AllreduceGroup& group);
  // The size the recorder keys the call by (collectives[].size_B: bytes per rank, as
  // nccl-tests counts an all-reduce's buffer).
  std::uint64_t (*size_B)(const runtime::Tensor& t);
};

// The rows, in the order of allreduce_algo_names(); row 0 is the ring.
const std::vector<AllreduceEntry>& allreduce_table();
const AllreduceEntry& allreduce_entry(AllreduceAlgo algo);

// Bytes accounting of every row so far: the whole tensor in its wire format.
std::uint64_t whole_tensor_wire_B(const runtime::Tensor& t);

}  // namespace geotrain::sim
