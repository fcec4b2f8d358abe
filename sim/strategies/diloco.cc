// DiLoCo (Douillard et al. 2023) and Local SGD: every worker takes H inner steps with its own
// optimizer, then the workers all-reduce the outer gradient delta = theta_g - theta_m, apply the
// outer optimizer to the global copy and restart from it.  Local SGD is the same program with
// outer SGD, lr 1, no momentum: plain parameter averaging every H steps.
// Each outer round is a round of the group (sim/resilience/): under faults it counts only the
// workers that finished it; the replica is the global copy and outer optimizer, and a returning
// worker restarts its inner loop from the global copy.
#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Diloco final : public Strategy {
 public:
  Diloco(int h, OuterConfig outer) : h_(h), outer_(std::move(outer)) {}

  void prepare(World& world) override {
    globals_ = make_global_copies(world, outer_.optimizer);
    deploy_global_copy(world, *globals_[0]);
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    GlobalCopy& global = *globals_[ctx.rank()];
    const Workload& w = ctx.scenario().workload;
    for (long step = ctx.start_round() * h_; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      trainer.optimizer_step(trainer.grads());
      int group = ctx.group_size();
      if ((step + 1) % h_ == 0 || step + 1 == w.steps) {
        runtime::Tensor delta = global.outer_gradient(trainer, outer_.wire_format);
        const long round = step / h_;
        const auto members = resilience::allreduce_round(ctx, round, delta, outer_.allreduce);
        global.step(delta);
        global.merge_into(trainer, 0.0);
        resilience::applied(ctx, round + 1, members);
        group = static_cast<int>(members.size());
      }
      ctx.end_step(w.batch_per_worker, loss, group);
    }
  }

  // The replica: the global copy and the outer optimizer.
  ReplicaState replica(World& world, int rank, long) override { return globals_[rank]->state(world); }
  // A returning worker restarts from the global copy: theta_m = theta_g, a fresh inner optimizer.
  void after_load(WorkerContext& ctx, long, int) override { globals_[ctx.rank()]->restart_inner(ctx.trainer()); }

 private:
  int h_;
  OuterConfig outer_;
  std::vector<std::unique_ptr<GlobalCopy>> globals_;  // per worker
};


}  // namespace

std::unique_ptr<Strategy> make_diloco(JsonReader& reader, const Scenario&) {
  const OnFailure on_failure = parse_on_failure(reader);
  // Paper defaults: H = 500, outer Nesterov lr 0.7, momentum 0.9.
  const int h = static_cast<int>(reader.integer_or("H", 500, 1, 100000000));
  auto diloco = std::make_unique<Diloco>(h, parse_outer(reader, nesterov_spec(0.7, 0.9)));
  diloco->traits.on_failure = on_failure;
  return diloco;
}

std::unique_ptr<Strategy> make_local_sgd(JsonReader& reader, const Scenario&) {
  const OnFailure on_failure = parse_on_failure(reader);
  runtime::OptimizerSpec averaging;
  averaging.name = "sgd";
  averaging.lr = 1.0;
  const int h = static_cast<int>(reader.integer_or("H", 100, 1, 100000000));
  auto local_sgd = std::make_unique<Diloco>(h, parse_outer(reader, averaging));
  local_sgd->traits.on_failure = on_failure;
  return local_sgd;
}

}  // namespace geotrain::sim
