// Synchronous data parallel (Jin et al. 2016): every step each worker computes a gradient on
// its batch, the gradients are averaged with an all-reduce, and every replica applies the mean
// with its own (identical) optimizer, so the replicas stay identical.  Optional gradient
// compression: "wire_format" sizes the all-reduce's messages, and every partial sum is rounded
// through it before each hop (the complete sum once), as a compressed all-reduce must.
// Each step is a round of the group (sim/resilience/): under faults a preempted member's gradient
// is lost and the step is redone by the survivors; the replica is the trainer's parameters and
// optimizer state (the layer's default declaration).
// With "overlap" (sim/layer_schedule.h) the all-reduce is split into buckets of bucket_cap_MB in
// reverse layer order, reduced while the backward goes on, as PyTorch DDP does; one bucket, or
// overlap off, is the atomic step: compute, then one all-reduce; under faults the buckets'
// all-reduces are the step's round, run on the worker's stream beside the backward and retried
// with the survivors.  With "optimizer_in_backward"
// (PyTorch's DDP optimizer-overlap hook) each bucket's parameters are stepped once it is reduced.
#include "kernels/reduce.h"
#include "sim/compute_model.h"
#include "sim/collectives/table.h"
#include "sim/json_reader.h"
#include "sim/layer_schedule.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/catalog.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Ddp final : public Strategy {
 public:
  Ddp(AllreduceAlgo algo, MessageFormat wire_format, std::optional<double> bucket_cap_B, bool optimizer_in_backward,
      int workers)
      : algo_(algo), wire_format_(wire_format), bucket_cap_B_(bucket_cap_B), optimizer_in_backward_(optimizer_in_backward),
        workers_(workers) {}

  void run(WorkerContext& ctx) override {
    const Workload& w = ctx.scenario().workload;
    runtime::Trainer& trainer = ctx.trainer();
    std::vector<GradientBucket> buckets;  // the cap counts bytes on the wire, after compression
    if (bucket_cap_B_) {
      if (wire_format_) set_allreduce_wire_format(trainer.grads(), *wire_format_);
      buckets = gradient_buckets(w.layers, trainer.grads().numel(), trainer.grads().wire_bytes_per_value(), *bucket_cap_B_);
    }
    // In the backward: the optimizer's time is spent bucket by bucket in the overlapped step.
    const bool in_backward = optimizer_in_backward_ && buckets.size() > 1;
    const double in_backward_s = in_backward ? optimizer_step_s(ctx.scenario(), *ctx.info().type) : 0;
    for (long step = ctx.start_round(); step < w.steps; ++step) {
      double loss = 0;
      const std::vector<int>& members = averaged_gradient_round(ctx, step, buckets, algo_, [&]() -> runtime::Tensor& {
        if (wire_format_) set_allreduce_wire_format(trainer.grads(), *wire_format_);  // e.g. int8 compression
        return trainer.grads();
      }, loss, in_backward_s);
      if (in_backward) trainer.optimizer_step(trainer.grads());  // its time was spent
      else ctx.optimizer_step(trainer.grads());
      resilience::applied(ctx, step + 1, members);
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
    }
  }

  // Each step is compute, one all-reduce of the whole fleet (or its buckets, timed in one meeting
  // in the collective fidelity: sim/layer_schedule.cc), an optimizer step.  A lone worker's
  // buckets run on a helper actor, which one actor standing for others may not start.
  bool same_program_on_every_worker() const override {
    return allreduce_entry(algo_).schedule != nullptr && (!bucket_cap_B_ || workers_ > 1);
  }

 private:
  AllreduceAlgo algo_;
  MessageFormat wire_format_;  // native: the workload's wire_bytes_per_param, no quantization
  std::optional<double> bucket_cap_B_;  // overlap: the gradient's bucket cap in bytes
  bool optimizer_in_backward_;          // overlap: each bucket's parameters stepped once it is reduced
  int workers_;
};

}  // namespace

StrategyInfo ddp_strategy() {
  StrategyInfo info{"ddp", "synchronous data parallel: all-reduce of every step's gradients", {}};
  info.knobs = {{"allreduce", KnobType::choice, "ring", 0, 0, false, allreduce_algo_names(), "all-reduce algorithm"},
                {"wire_format", KnobType::choice, "native", 0, 0, false, message_format_names(),
                 "gradient compression on the wire (native: the workload's wire_bytes_per_param)"}};
  for (auto& k : overlap_knobs(true, true)) info.knobs.push_back(std::move(k));
  info.knobs.push_back({"optimizer_in_backward", KnobType::boolean, false, 0, 0, false, {},
                        "with overlap: step each bucket's parameters as soon as its all-reduce ends, beside the rest of "
                        "the backward (PyTorch DDP's optimizer-overlap hook); false: one optimizer step after the last bucket"});
  info.on_failure = true;
  info.overlaps_under_faults = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& s) -> std::unique_ptr<Strategy> {
    const auto algo = read_choice(reader, knob_of(knobs, "allreduce"));
    const MessageFormat wire = message_format_from_name(read_choice(reader, knob_of(knobs, "wire_format")));
    const std::optional<double> bucket_cap_B = read_overlap(reader, knobs, s, {}, /*under_faults=*/true);
    const bool in_backward = read_boolean(reader, knob_of(knobs, "optimizer_in_backward"));
    if (in_backward && !bucket_cap_B) reader.fail("optimizer_in_backward", "expected false without overlap (the optimizer steps after the one all-reduce)");
    if (in_backward && s.workload.optimizer.clip_norm > 0)
      reader.fail("optimizer_in_backward",
                  "expected false with the optimizer's clip_norm > 0 (a bucket's step cannot wait for the norm of the whole gradient)");
    return std::make_unique<Ddp>(allreduce_algo_from_name(algo), wire, bucket_cap_B, in_backward, s.worker_count());
  };
  return info;
}

}  // namespace geotrain::sim
