// Synchronous data parallel (Jin et al. 2016): every step each worker computes a gradient on
// its batch, the gradients are averaged with an all-reduce, and every replica applies the mean
// with its own (identical) optimizer, so the replicas stay identical.  Optional gradient
// compression: "wire_format" quantizes each worker's gradient once before the all-reduce.
// Under faults a step is a round of the group (sim/membership.h): a preempted member's gradient
// is lost and the step is redone by the survivors (elastic) or after its replacement (wait); a
// returning worker copies a live replica (parameters and optimizer state).
#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/restart.h"
#include "sim/strategies/catalog.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Ddp final : public Strategy {
 public:
  Ddp(AllreduceAlgo algo, std::string wire_format) : algo_(algo), wire_format_(std::move(wire_format)) {}

  void run(WorkerContext& ctx) override {
    const Workload& w = ctx.scenario().workload;
    runtime::Trainer& trainer = ctx.trainer();
    const std::uint64_t bytes = state_bytes(trainer.params().numel(), w.optimizer);
    long step = 0;
    if (ctx.restarted() && (step = rejoin(ctx, replica_state(ctx, bytes))) < 0) return;
    std::vector<float> saved;  // the gradient before the all-reduce, for a retry (faults only)
    for (; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      if (wire_format_ != "native") apply_wire_format(trainer.grads(), wire_format_);  // e.g. fp16 compression
      const auto members = allreduce_mean_round(ctx, step, trainer.grads(), algo_, saved);
      trainer.optimizer_step(trainer.grads());
      if (ctx.faults_on())
        maybe_checkpoint(ctx, step + 1, members, bytes, [&trainer](Checkpoint& c) { save_replica(trainer, c); });
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
    }
  }

 private:
  AllreduceAlgo algo_;
  std::string wire_format_;  // "native": the workload's wire_bytes_per_param, no quantization
};

}  // namespace

StrategyInfo ddp_strategy() {
  StrategyInfo info{"ddp", "synchronous data parallel: all-reduce of every step's gradients", {}};
  info.knobs = {{"allreduce", KnobType::choice, "ring", 0, 0, false, allreduce_algo_names(), "all-reduce algorithm"},
                {"wire_format", KnobType::choice, "native", 0, 0, false, wire_format_names(),
                 "gradient compression on the wire (native: the workload's wire_bytes_per_param)"}};
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario&) -> std::unique_ptr<Strategy> {
    const auto algo = read_choice(reader, knob_of(knobs, "allreduce"));
    const auto wire = read_choice(reader, knob_of(knobs, "wire_format"));
    return std::make_unique<Ddp>(allreduce_algo_from_name(algo), wire);
  };
  return info;
}

}  // namespace geotrain::sim
