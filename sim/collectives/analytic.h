// The "collective" fidelity (scenario network.fidelity): a collective is not run as SimGrid
// flows.  Its members meet; the last one to arrive does the math for all of them and times the
// algorithm's schedule (collectives.h) on the scenario's topology with a closed-form model; every
// member leaves at the same simulated time.  Far fewer simulation events than message fidelity,
// and on an uncontended network the same time (tests/analytic_collectives_test.cc).
//
// What it leaves out: collectives do not share links with each other or with other traffic
// (point-to-point messages still are flows), a link is shared equally among the flows crossing it
// (SimGrid shares max-min: a flow held back elsewhere leaves the rest of a link to the others), a
// member that arrives early does not start its part of the algorithm early, and all members
// leave together, when the last flow ends.
#pragma once
#include <optional>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/tensor.h"
#include "sim/collectives/algo.h"
#include "sim/collectives/collectives.h"
#include "sim/platform.h"

namespace geotrain::sim {

class WorkerContext;

// Simulated seconds of `schedule` on `platform`, from the start to the last flow's end
// (schedule_time.cc).  A flow starts as Flow says (collectives.h), pays its route's latency, then
// moves its bytes at a rate that changes whenever a flow starts or stops moving on a resource it
// crosses: the smallest of the sender's NIC (up), the receiver's NIC (down) and every WAN hop of
// the route (per direction), each divided equally among the flows moving across it at that
// moment, whatever their phase, and of the route's TCP window cap.
// Schedules whose phases do not overlap (on each resource a phase's flows move only after the
// earlier phases' flows there ended: rings, trees, gathers) are timed phase by phase, one phase's
// flows listed at a time; the others event by event; both give the same bits where both apply.
double schedule_time_s(const Platform& platform, const Schedule& schedule);
// The phase-by-phase clock alone: nothing when two phases overlap on a resource (tests).
std::optional<double> phase_by_phase_time_s(const Platform& platform, const Schedule& schedule);
// The same clock, event by event for every schedule (tests compare the two).
double flow_by_flow_time_s(const Platform& platform, const Schedule& schedule);

// The mean a ring all-reduce over members in this order leaves, bit for bit, written into every
// member's tensor: chunk c summed from member c on around the ring, scaled in the last addition
// (ring_allreduce.cc).  Tensors: real, the same numel.
void ring_order_mean(const std::vector<runtime::Tensor*>& members);
// The same without the scaling: the sum ring_allreduce_sum leaves.
void ring_order_sum(const std::vector<runtime::Tensor*>& members);

// When a bucketed meeting's first launch started and each bucket's collective ended.
struct BucketTimes {
  double first_launch_s = 0;
  std::vector<double> ends_s;
};

// The meeting points of one simulation.  SimGrid runs one actor at a time: no locking.
class AnalyticCollectives {
 public:
  // The mean (or the sum) of `t` over `group`, timed by the schedule of `algo`'s table row
  // (table.h).  REQUIRES: the row has a schedule.
  void allreduce(WorkerContext& ctx, runtime::Tensor& t, AllreduceAlgo algo, const AllreduceGroup& group, bool mean);
  // Tree broadcast of the tensor of group[0] to every member.
  void broadcast(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group);
  // Ring all-gather of `ring` (member at ring position p holds chunk p): every member ends with
  // every chunk.
  void allgather(WorkerContext& ctx, runtime::Tensor& ring, const std::vector<int>& order);
  // The gradient buckets of one overlapped step (sim/layer_schedule.h) in one meeting: a member
  // arrives when its backward is done, with its buckets' tensors (`parts`, in launch order) and
  // the times they were ready (`ready_s`).  Bucket k's all-reduce (mean, `algo`'s schedule)
  // is launched at the latest member's ready time of bucket k or at the end of bucket k-1's,
  // whichever is later (one stream), starts after the launch cost (collective_launch_s), and takes
  // its closed-form time; every member leaves when the last one ends.  Its spans are recorded as
  // overlapped.  Returns when the first bucket's launch started and when each bucket's all-reduce
  // ended.  REQUIRES: every member brings the same sizes.
  BucketTimes bucketed_allreduce(WorkerContext& ctx, const std::vector<runtime::Tensor*>& parts,
                          const std::vector<double>& ready_s, AllreduceAlgo algo, const AllreduceGroup& group);
  // The same for ring all-gathers (allgather()'s `rings`, one per bucket, members in `order`):
  // one meeting, bucket k's all-gather launched at the latest member's ready_s[k] or at the end
  // of bucket k-1's.
  BucketTimes bucketed_allgather(WorkerContext& ctx, const std::vector<runtime::Tensor*>& rings,
                                               const std::vector<double>& ready_s, const std::vector<int>& order);

 private:
  struct Meeting;
  struct BucketMeeting;
  struct Timing {
    double seconds = 0;
    std::uint64_t peak_phase_B = 0;   // the busiest phase's bytes: what is in flight at most
    // The flows summed per (source region, destination region): bytes and count, metered once per
    // call.  Only sums are kept: a ring of M workers has 2M(M-1) flows (2e8 at 10,000).
    std::map<std::pair<int, int>, std::pair<std::uint64_t, std::uint64_t>> by_regions;
  };
  // The members of one call as the keys of meetings and timings: the whole fleet as no list at
  // all (its group is built once: no copy, no comparison of 10,000 ranks per member), others by
  // their ranks in order.
  struct Members {
    const std::vector<int>& order;
    bool whole = false;
    int me = -1;  // this member's position in order
    std::vector<int> key() const { return whole ? std::vector<int>() : order; }
  };
  static Members members_of(const AllreduceGroup& group, int rank) {
    return {group.order, group.whole, group.position_of(rank)};
  }
  static Members members_of(const std::vector<int>& order, int rank) {
    return {order, false, static_cast<int>(std::find(order.begin(), order.end(), rank) - order.begin())};
  }
  // Blocks until every member (this one among them) arrived with its tensor; the last one runs
  // `math` over the tensors (in order) and meters `timing`'s flows; all leave at arrival of the
  // last + timing.seconds.
  template <class Math>
  void meet(WorkerContext& ctx, int op, const Members& members, runtime::Tensor& t, const Timing& timing, Math math);
  // What a bucketed meeting runs: its kind (an all-reduce row or kAllgather: timings and
  // meetings are keyed by it), its name in the trace and statistics, a bucket's bytes there.
  struct BucketKind {
    int op = 0;
    std::string collective, algorithm;
    std::function<std::uint64_t(const runtime::Tensor&)> size_B;
  };
  // The meeting of bucketed_allreduce() and bucketed_allgather(): `make(t)` is a bucket's schedule,
  // `math(members' tensors)` its values (real runs).
  template <class MakeSchedule, class Math>
  BucketTimes bucketed(WorkerContext& ctx, const BucketKind& kind, const Members& members,
                                     const std::vector<runtime::Tensor*>& parts, const std::vector<double>& ready_s,
                                     MakeSchedule make, Math math);
  // The timing of `schedule` for a call of kind `op` over `order` on tensors like `t` (cached:
  // most runs repeat one collective over the same members).
  template <class MakeSchedule>
  const Timing& timing(WorkerContext& ctx, int op, const Members& members, const runtime::Tensor& t,
                       MakeSchedule make);

  // Open meetings by (message channel, kind, members): an overlapped collective meets apart.
  std::map<std::tuple<int, int, std::vector<int>>, std::shared_ptr<Meeting>> open_;
  std::map<std::tuple<int, std::vector<int>, std::size_t, double>, Timing> timings_;
  std::map<std::pair<int, std::vector<int>>, std::shared_ptr<BucketMeeting>> open_buckets_;
};

}  // namespace geotrain::sim
