// Synchronous data parallel (Jin et al. 2016): every step each worker computes a gradient on
// its batch, the gradients are averaged with an all-reduce, and every replica applies the mean
// with its own (identical) optimizer, so the replicas stay identical.  Optional gradient
// compression: "wire_format" quantizes each worker's gradient once before the all-reduce.
// Each step is a round of the group (sim/resilience/): under faults a preempted member's gradient
// is lost and the step is redone by the survivors; the replica is the trainer's parameters and
// optimizer state (the layer's default declaration).
#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Ddp final : public Strategy {
 public:
  Ddp(AllreduceAlgo algo, std::string wire_format) : algo_(algo), wire_format_(std::move(wire_format)) {}

  void run(WorkerContext& ctx) override {
    const Workload& w = ctx.scenario().workload;
    runtime::Trainer& trainer = ctx.trainer();
    for (long step = ctx.start_round(); step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      if (wire_format_ != "native") apply_wire_format(trainer.grads(), wire_format_);  // e.g. fp16 compression
      const auto members = resilience::allreduce_round(ctx, step, trainer.grads(), algo_);
      trainer.optimizer_step(trainer.grads());
      resilience::applied(ctx, step + 1, members);
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
    }
  }

 private:
  AllreduceAlgo algo_;
  std::string wire_format_;  // "native": the workload's wire_bytes_per_param, no quantization
};

}  // namespace

std::unique_ptr<Strategy> make_ddp(JsonReader& reader, const Scenario&) {
  const OnFailure on_failure = parse_on_failure(reader);
  const auto algo = reader.choice_or("allreduce", "ring", allreduce_algo_names());
  const auto wire = reader.choice_or("wire_format", "native", wire_format_names());
  auto ddp = std::make_unique<Ddp>(allreduce_algo_from_name(algo), wire);
  ddp->traits.on_failure = on_failure;
  return ddp;
}

}  // namespace geotrain::sim
