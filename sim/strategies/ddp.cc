// Synchronous data parallel (Jin et al. 2016): every step each worker computes a gradient on
// its batch, the gradients are averaged with an all-reduce, and every replica applies the mean
// with its own (identical) optimizer, so the replicas stay identical.
#include "sim/json_reader.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Ddp final : public Strategy {
 public:
  explicit Ddp(AllreduceAlgo algo) : algo_(algo) {}

  void run(WorkerContext& ctx) override {
    const Workload& w = ctx.scenario().workload;
    runtime::Trainer& trainer = ctx.trainer();
    for (int step = 0; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      ctx.allreduce_mean(trainer.grads(), algo_);
      trainer.optimizer_step(trainer.grads());
      ctx.end_step(w.batch_per_worker, loss);
    }
  }

 private:
  AllreduceAlgo algo_;
};

}  // namespace

std::unique_ptr<Strategy> make_ddp(JsonReader& reader, const Scenario&) {
  const auto algo = reader.choice_or("allreduce", "ring", allreduce_algo_names());
  return std::make_unique<Ddp>(allreduce_algo_from_name(algo));
}

}  // namespace geotrain::sim
