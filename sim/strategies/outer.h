// The outer loop shared by DiLoCo, Streaming DiLoCo and PALSGD: a global copy theta_g of (a
// range of) the parameters, the outer gradient delta = theta_g - theta_m, and the outer optimizer
// step theta_g = OuterOpt(theta_g, mean delta).  Size-only runs keep sizes, skip the math.
#pragma once
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/quantize.h"
#include "runtime/optimizer.h"
#include "runtime/tensor.h"
#include "runtime/trainer.h"
#include "sim/collectives/collectives.h"
#include "sim/context.h"
#include "sim/json_reader.h"
#include "sim/layer_schedule.h"
#include "sim/resilience/replica.h"
#include "sim/scenario.h"
#include "sim/catalog.h"
#include "sim/wire_format.h"

namespace geotrain::sim {

struct OuterConfig {
  runtime::OptimizerSpec optimizer;    // Nesterov by default (DiLoCo); SGD lr 1 = averaging
  AllreduceAlgo allreduce = allreduce_algo_from_name("ring");
  kernels::WireFormat wire_format = kernels::WireFormat::fp32;  // how outer gradients travel
};

// The knobs of the outer loop: "outer" (an optimizer object; `default_outer` when absent),
// "allreduce" and "wire_format" of the outer gradients.
std::vector<KnobSpec> outer_knobs(const nlohmann::json& default_outer);
// Reads them.  REQUIRES: `knobs` holds outer_knobs()'s knobs.
OuterConfig parse_outer(JsonReader& reader, const std::vector<KnobSpec>& knobs);
// Adds the outer copy theta_g and its optimizer's state (knobs: the strategy with its defaults).
void add_outer_state(const nlohmann::json& knobs, StateBytes& state);

// The global copy of some of the parameters and its outer optimizer: of one range
// [begin, begin+count), or of several, in order (a strided Streaming DiLoCo fragment: a range per
// layer it holds), kept end to end in theta_g.
class GlobalCopy {
 public:
  GlobalCopy(const runtime::Trainer& trainer, ChunkRange range, const runtime::OptimizerSpec& outer)
      : GlobalCopy(trainer, std::vector<ChunkRange>{range}, outer) {}
  // REQUIRES: `ranges` non-empty, ascending, not overlapping.
  GlobalCopy(const runtime::Trainer& trainer, std::vector<ChunkRange> ranges, const runtime::OptimizerSpec& outer);
  // The values it covers (all ranges).
  std::size_t count() const { return count_; }
  const std::vector<ChunkRange>& ranges() const { return ranges_; }
  const runtime::Tensor& params() const { return theta_g_; }
  // delta = theta_g - theta_m over the range, in `wire_format` (real values pass through the
  // format's quantization once, at the sender; the sum is kept in fp32).
  runtime::Tensor outer_gradient(const runtime::Trainer& trainer, kernels::WireFormat wire_format) const;
  // theta_g = OuterOpt(theta_g, delta).
  void step(const runtime::Tensor& mean_delta);
  // theta_g = theta_m over the range (a fresh start, e.g. after a warm-up).
  void reset_from(const runtime::Trainer& trainer);
  // theta_m[range] = alpha * theta_m[range] + (1 - alpha) * theta_g   (alpha = 0: overwrite).
  void merge_into(runtime::Trainer& trainer, double alpha) const;
  // The outer optimizer (its moments are part of the state a returning worker reloads).
  const runtime::Optimizer& optimizer() const { return outer_; }
  // The replica state it holds (sim/resilience/replica.h): theta_g, which starts as the initial
  // parameters' ranges, and the outer optimizer; sized as the ranges' values and moments.
  ReplicaState state(const World& world);
  // A returning worker's restart from it: theta_m[range] = theta_g, a fresh inner optimizer.
  void restart_inner(runtime::Trainer& trainer) const;
  // The outer optimizer starts afresh (its moments at zero).
  void reset_outer() { outer_.reset(); }

 private:
  // Calls f(parameters' span over range r, theta_g's span for it) for each range, in order.
  template <class P, class G, class F>
  void each_range(std::span<P> params, std::span<G> theta_g, F f) const {
    std::size_t at = 0;
    for (const ChunkRange& r : ranges_) {
      f(params.subspan(r.begin, r.count), theta_g.subspan(at, r.count));
      at += r.count;
    }
  }

  std::vector<ChunkRange> ranges_;
  std::size_t count_ = 0;
  runtime::Tensor theta_g_;
  runtime::Optimizer outer_;
  std::vector<float> initial_;  // the initial parameters' ranges end to end (several ranges only)
};

// DiLoCo's outer step (DiLoCo, PALSGD): theta_g = OuterOpt(theta_g, mean delta); theta_m = theta_g;
// round `round` applied by `members`.
void outer_step(WorkerContext& ctx, GlobalCopy& global, const runtime::Tensor& mean_delta, long round,
                const std::vector<int>& members);

// One global copy of parameters [0, N) per worker, created from each worker's trainer.
std::vector<std::unique_ptr<GlobalCopy>> make_global_copies(const World& world, const runtime::OptimizerSpec& outer);
// Makes worker 0's global copy the deployed model (all workers hold the same one).
void deploy_global_copy(World& world, const GlobalCopy& worker0);

// The layer-schedule knobs (sim/layer_schedule.h) of strategies whose all-reduces may overlap
// the backward: "overlap" and "bucket_cap_MB".  `on_by_workload`: overlap defaults to on for
// transformer and layers workloads (DDP, as PyTorch DDP), in runs without faults unless
// `under_faults` (the strategy overlaps under faults: DDP); else to off.
std::vector<KnobSpec> overlap_knobs(bool on_by_workload, bool under_faults = false);
// Reads them: the bucket cap in bytes when overlap is on, nullopt when it is off.  Asking for
// overlap with compute_time "measured", or with faults unless `under_faults` (the strategy's
// step under faults is overlapped_group_step()), is bad input.  `unsupported` (non-empty):
// this run of the strategy has no overlapped step (e.g. an asynchronous mode); overlap is off by
// default and asking for it is bad input, the message says "expected false <unsupported>".
std::optional<double> read_overlap(JsonReader& reader, const std::vector<KnobSpec>& knobs, const Scenario& s,
                                   std::string_view unsupported = {}, bool under_faults = false);

// A data-parallel step's averaging (DDP, PacTrain): the tensor `reduced()` makes of this step's
// gradient (the gradient itself, or a tensor derived from it, e.g. PacTrain's kept entries), as
// the mean over the fleet.  With more than one bucket, the overlapped step (sim/layer_schedule.h);
// else the atomic step: the gradient, then one all-reduce
// as a round of the group (sim/resilience/); with buckets under faults, the buckets' all-reduces
// are the round (overlapped_group_step()).  Returns the round's members, the loss in `loss`.
// optimizer_in_backward_s > 0: the overlapped step's optimizer runs in the backward
// (overlapped_step()).
const std::vector<int>& averaged_gradient_round(WorkerContext& ctx, long step, const std::vector<GradientBucket>& buckets,
                                                AllreduceAlgo algo, const ReducedTensor& reduced, double& loss,
                                                double optimizer_in_backward_s = 0);

}  // namespace geotrain::sim
