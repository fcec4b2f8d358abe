// Collective algorithms over a group of workers, one algorithm per file; the all-reduces are
// dispatched through their table (table.h).  Every member of `group` (worker ranks, in ring
// order) calls the same function with a tensor of the same numel.
// The *_sum functions leave the element-wise sum; WorkerContext::allreduce_mean divides (the ring
// divides inside: ring_allreduce_mean).
// Real tensors carry values, phantom tensors carry only bytes; the traffic is identical.
// Written against the worker context (sim/context.h); this header needs only its name.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/quantize.h"
#include "runtime/tensor.h"
#include "sim/collectives/group.h"

namespace geotrain::sim {

class WorkerContext;

class Platform;

// Chunk `index` of `parts` near-equal chunks of [0, numel): the first numel % parts chunks are
// one value longer.
struct ChunkRange {
  std::size_t begin = 0;
  std::size_t count = 0;
};
ChunkRange chunk_range(std::size_t numel, int parts, int index);

// Ring reduce-scatter: 2 neighbours, n-1 steps of one chunk each.  Afterwards member i holds
// the sum of chunk (i + 1) mod n.
void ring_reduce_scatter_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group);
// Ring all-gather of chunks: member i starts owning chunk (i + offset) mod n; afterwards every
// member holds every chunk.  n-1 steps.
void ring_allgather_chunks(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                           int offset);
// Ring all-reduce = reduce-scatter + all-gather: 2(n-1) steps of S/n bytes.
void ring_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group);
// The same leaving the mean, sum x (1/n) in fp32: each member scales the chunk it completes once,
// before the all-gather, so every member ends with what a scale pass after the sum would give.
void ring_allreduce_mean(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group);
// Binary-tree all-reduce: reduce to group[0] along a binary heap, then broadcast back.
void tree_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group);
// Binary-tree broadcast from group[0].
void tree_broadcast(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group);
// Butterfly all-reduce (Hivemind's): member i owns a part of the vector sized by weights[i];
// all-to-all reduce-scatter of the parts, then all-to-all gather.  weights: one per member, > 0.
void butterfly_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                             const std::vector<double>& weights);
// Hivemind's averager: the same exchange, leaving sum_j weight_j x t_j / sum_j weight_j.  Each
// member's `weight` (its sample count) travels beside its values as metadata; the owner of a part
// averages it in fp32 (in group order), rounds the average through `format` (what goes back on
// the wire, so every member ends with the same values), and sends it back with the total weight.
// Returns the total weight (0: no member brought any, and t is left all zeros).  The values of t
// should already be in `format` (the sender's compression); bytes as butterfly_allreduce_sum.
double butterfly_allreduce_weighted_mean(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                                         const std::vector<double>& part_weights, double weight,
                                         kernels::WireFormat format);
// The parts: consecutive ranges of [0, numel) proportional to the weights.
std::vector<ChunkRange> weighted_chunks(std::size_t numel, const std::vector<double>& weights);
// Hivemind's bandwidth-weighted butterfly: the butterfly over group.order with each member's
// part sized by its NIC bandwidth (weighted_butterfly.cc).
void weighted_butterfly_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t, const AllreduceGroup& group);
// The same exchange as Hivemind's averager: butterfly_allreduce_weighted_mean with those parts.
double weighted_butterfly_weighted_mean(WorkerContext& ctx, runtime::Tensor& t, const AllreduceGroup& group,
                                        double weight, kernels::WireFormat format);
// Its weights: the NIC bandwidth of each member of `order`, bytes/s.
std::vector<double> nic_weights(const Platform& platform, const std::vector<int>& order);
// Hierarchical all-reduce: ring reduce to one leader per region, ring all-reduce among the
// leaders, scatter + ring all-gather back inside each region.  `regions`: the groups of each
// region (leader first), regions in ring order.
void hierarchical_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t,
                                const std::vector<std::vector<int>>& regions);

// --- Schedules, for the "collective" fidelity (sim/collectives/analytic.h) ---
// An algorithm's traffic as phases of flows, node to node, in the order its message-level code
// sends them (each algorithm file gives its own).  A flow starts once its sender is done with
// every flow of earlier phases it sends or receives, and so is its receiver, unless the receiver
// posted that receive up front (`receiver_posted`, e.g. a tree parent waiting for its children).
// Flows moving at the same time share the links they cross, whatever their phase (analytic.h).
struct Flow {
  int src = 0;
  int dst = 0;
  std::uint64_t bytes = 0;
  bool receiver_posted = false;
};
// One step of a ring, held as one entry rather than its n flows (a ring of n members has n(n-1)
// flows per pass: 2e8 over 10,000 workers): in step `step`, member i of `ring` sends its
// successor chunk (i + first - step) mod n of the tensor.  The chunks are chunk_range's: the
// first `large_chunks` carry large_B bytes on the wire, the rest small_B.
struct RingStep {
  std::shared_ptr<const std::vector<int>> ring;
  int step = 0;
  int first = 0;
  int large_chunks = 0;
  std::uint64_t small_B = 0;
  std::uint64_t large_B = 0;
  int size() const { return static_cast<int>(ring->size()); }
  Flow flow(int i) const;  // member i's
};
// The flows moving in one phase, in order: explicit flows and ring steps, each ring step's
// flows where it was added (member 0 first).
class Phase {
 public:
  Phase() = default;
  Phase(std::initializer_list<Flow> flows) : flows_(flows) {}
  void push_back(const Flow& f) { flows_.push_back(f); }
  void add_ring_step(RingStep step) { steps_.push_back({flows_.size(), std::move(step)}); }
  // `other`'s flows after these.
  void append(const Phase& other);
  // Flows in all, ring steps counted member by member.
  std::size_t size() const;
  bool empty() const { return size() == 0; }
  // Calls f(flow) for every flow, in order.
  template <class F>
  void for_each(F f) const {
    std::size_t next = 0;
    for (const auto& [at, step] : steps_) {
      for (; next < at; ++next) f(flows_[next]);
      for (int i = 0; i < step.size(); ++i) f(step.flow(i));
    }
    for (; next < flows_.size(); ++next) f(flows_[next]);
  }
  // Every flow in order, written over `out`.
  void expand(std::vector<Flow>& out) const;
  // The k-th flow in that order (REQUIRES: k < size()); walks the ring steps, not the flows.
  Flow at(std::size_t k) const;

 private:
  std::vector<Flow> flows_;
  std::vector<std::pair<std::size_t, RingStep>> steps_;  // each after that many of flows_
};
using Schedule = std::vector<Phase>;

// Phase k of `part` joins phase k of `into` (algorithms running side by side, e.g. one ring per
// region); `into` grows when `part` is longer.
void run_alongside(Schedule& into, const Schedule& part);
// Appends `next` after `into` (one algorithm after the other).
void run_after(Schedule& into, const Schedule& next);

// ring_reduce_scatter_sum, ring_allgather_chunks and the ring all-reduce (the tensor gives the
// chunk sizes and their wire bytes).
Schedule ring_reduce_scatter_schedule(const runtime::Tensor& t, const std::vector<int>& group);
Schedule ring_allgather_schedule(const runtime::Tensor& t, const std::vector<int>& group, int offset);
Schedule ring_allreduce_schedule(const runtime::Tensor& t, const std::vector<int>& group);
// The binary tree: a member sends up once its subtree is reduced (phases by height), the
// broadcast goes down level by level.
Schedule tree_allreduce_schedule(const runtime::Tensor& t, const std::vector<int>& group);
Schedule tree_broadcast_schedule(const runtime::Tensor& t, const std::vector<int>& group);
Schedule hierarchical_allreduce_schedule(const runtime::Tensor& t, const std::vector<std::vector<int>>& regions);
Schedule butterfly_allreduce_schedule(const runtime::Tensor& t, const std::vector<int>& group,
                                      const std::vector<double>& weights);

}  // namespace geotrain::sim
