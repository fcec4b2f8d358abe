// DiLoCo (Douillard et al. 2023) and Local SGD: every worker takes H inner steps with its own
// optimizer, then the workers all-reduce the outer gradient delta = theta_g - theta_m, apply the
// outer optimizer to the global copy and restart from it.  Local SGD is the same program with
// outer SGD, lr 1, no momentum: plain parameter averaging every H steps.
// Each outer round is a round of the group (sim/resilience/): under faults it counts only the
// workers that finished it; the replica is the global copy and outer optimizer, and a returning
// worker restarts its inner loop from the global copy.
#include "kernels/reduce.h"
#include "sim/collectives/table.h"
#include "sim/json_reader.h"
#include "sim/layer_schedule.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/catalog.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Diloco final : public Strategy {
 public:
  Diloco(int h, OuterConfig outer, std::optional<double> bucket_cap_B, int workers)
      : h_(h), outer_(std::move(outer)), bucket_cap_B_(bucket_cap_B), workers_(workers) {}

  void prepare(World& world) override {
    globals_ = make_global_copies(world, outer_.optimizer);
    deploy_global_copy(world, *globals_[0]);
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    GlobalCopy& global = *globals_[ctx.rank()];
    const Workload& w = ctx.scenario().workload;
    // With overlap the outer gradient is cut into buckets of bucket_cap_MB of its wire bytes.
    std::vector<GradientBucket> buckets;
    if (bucket_cap_B_)
      buckets = gradient_buckets(w.layers, trainer.grads().numel(), wire_bytes_per_value(outer_.wire_format), *bucket_cap_B_);
    for (long step = ctx.start_round() * h_; step < w.steps; ++step) {
      const bool sync = (step + 1) % h_ == 0 || step + 1 == w.steps;
      const long round = step / h_;
      if (sync && buckets.size() > 1) {
        // The round's last inner step streams the outer gradient: the inner optimizer is
        // element-wise, so a bucket's delta is known once its gradients are, and it is reduced
        // while the backward goes on, as DDP's gradient buckets are.
        std::optional<runtime::Tensor> delta;
        const double loss = overlapped_step(ctx, w.batch_per_worker, buckets, outer_.allreduce, [&]() -> runtime::Tensor& {
          trainer.optimizer_step(trainer.grads());
          delta.emplace(global.outer_gradient(trainer, outer_.wire_format));
          return *delta;
        });
        ctx.spend_optimizer_step();
        outer_step(ctx, global, *delta, round, ctx.all_ranks());
        ctx.end_step(w.batch_per_worker, loss, ctx.world_size());
        continue;
      }
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      ctx.optimizer_step(trainer.grads());
      int group = ctx.group_size();
      if (sync) {
        runtime::Tensor delta = global.outer_gradient(trainer, outer_.wire_format);
        const auto members = resilience::allreduce_round(ctx, round, delta, outer_.allreduce);
        outer_step(ctx, global, delta, round, members);
        group = static_cast<int>(members.size());
      }
      ctx.end_step(w.batch_per_worker, loss, group);
    }
  }

  // Each step is compute and an inner optimizer step, and every H-th adds one all-reduce of the
  // whole fleet (or its buckets, timed in one meeting in the collective fidelity) and the outer
  // step.  A lone worker's buckets run on a helper actor, which one actor standing for others
  // may not start.
  bool same_program_on_every_worker() const override {
    return allreduce_entry(outer_.allreduce).schedule != nullptr && (!bucket_cap_B_ || workers_ > 1);
  }
  // The replica: the global copy and the outer optimizer.
  ReplicaState replica(World& world, int rank, long) override { return globals_[rank]->state(world); }
  // A returning worker restarts from the global copy: theta_m = theta_g, a fresh inner optimizer.
  void after_load(WorkerContext& ctx, long, int) override { globals_[ctx.rank()]->restart_inner(ctx.trainer()); }
  // Outer round r ends after inner step (r + 1) x H (the last one at the plan's end).
  long steps_at_round(const World& world, long round) const override {
    return std::min(round * h_, static_cast<long>(world.scenario.workload.steps));
  }

 private:
  int h_;
  OuterConfig outer_;
  std::optional<double> bucket_cap_B_;  // overlap: the outer gradient's bucket cap in bytes
  int workers_;
  std::vector<std::unique_ptr<GlobalCopy>> globals_;  // per worker
};


// The DiLoCo outer loop's knobs: H and the outer loop's (outer optimizer `default_outer`).
std::vector<KnobSpec> diloco_knobs(int default_h, const nlohmann::json& default_outer) {
  std::vector<KnobSpec> knobs = {{"H", KnobType::integer, default_h, 1, 100000000, false, {},
                                  "inner steps between outer syncs", "", KnobRole::sync_period}};
  for (auto& k : outer_knobs(default_outer)) knobs.push_back(std::move(k));
  for (auto& k : overlap_knobs(false)) knobs.push_back(std::move(k));
  return knobs;
}

StrategyInfo diloco_family(std::string name, std::string summary, std::vector<KnobSpec> knobs) {
  StrategyInfo info{std::move(name), std::move(summary), std::move(knobs)};
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& s) -> std::unique_ptr<Strategy> {
    const int h = static_cast<int>(read_integer(reader, knob_of(knobs, "H")));
    OuterConfig outer = parse_outer(reader, knobs);
    return std::make_unique<Diloco>(h, std::move(outer), read_overlap(reader, knobs, s), s.worker_count());
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) { add_outer_state(knobs, b); };
  return info;
}

}  // namespace

StrategyInfo diloco_strategy() {
  // Paper defaults: H = 500, outer Nesterov lr 0.7, momentum 0.9.
  return diloco_family("diloco", "DiLoCo: H local steps, then an outer optimizer step on the mean parameter change",
                       diloco_knobs(500, {{"name", "nesterov"}, {"lr", 0.7}, {"momentum", 0.9}}));
}

StrategyInfo local_sgd_strategy() {
  // Plain periodic averaging: the outer step is SGD with lr 1.
  return diloco_family("local_sgd", "local SGD: H local steps, then the replicas are averaged",
                       diloco_knobs(100, {{"name", "sgd"}, {"lr", 1.0}}));
}

}  // namespace geotrain::sim
