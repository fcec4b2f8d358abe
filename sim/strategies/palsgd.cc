// PALSGD, pseudo-asynchronous Local SGD (Naganuma et al. 2025): after an optional DDP warm-up,
// each inner step of each worker is, with probability p, a pull toward the stale global copy
//   theta_m -= (lr/p) * eta * (theta_m - theta_g)      (no backward pass, no compute time)
// and otherwise an inner optimizer step with learning rate lr/(1-p).  Every H steps the workers
// all-reduce delta = theta_g - theta_m and take an outer (Nesterov) step, as DiLoCo does.
// Each warm-up step and each outer round is a round of the group (sim/resilience/; rounds 0..W-1
// are the W warm-up steps, outer round j is round W + j): a warm-up step behaves as DDP's, an
// outer round as DiLoCo's.
// With "overlap" (off by default, as DiLoCo's) the warm-up steps are DDP's overlapped steps and a
// round's last inner step streams the outer gradient in buckets while its backward goes on, as
// DiLoCo's; a worker whose last inner step is a pull (no backward) sends its buckets at once.
#include <optional>

#include "kernels/reduce.h"
#include "runtime/ops.h"
#include "sim/json_reader.h"
#include "sim/catalog.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Palsgd final : public Strategy {
 public:
  Palsgd(int h, double p, double eta, int warmup, OuterConfig outer, std::optional<double> bucket_cap_B)
      : h_(h), p_(p), eta_(eta), warmup_(warmup), outer_(std::move(outer)), bucket_cap_B_(bucket_cap_B) {}

  void prepare(World& world) override {
    globals_ = make_global_copies(world, outer_.optimizer);
    deploy_global_copy(world, *globals_[0]);
    warmup_ = std::min(warmup_, world.scenario.workload.steps);
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    GlobalCopy& global = *globals_[ctx.rank()];
    const Workload& w = ctx.scenario().workload;
    // With overlap, the warm-up's gradients and each round's outer gradient in buckets of
    // bucket_cap_MB of their wire bytes, as DDP's and DiLoCo's.
    std::vector<GradientBucket> grad_buckets, outer_buckets;
    if (bucket_cap_B_) {
      const std::size_t n = trainer.grads().numel();
      grad_buckets = gradient_buckets(w.layers, n, trainer.grads().wire_bytes_per_value(), *bucket_cap_B_);
      outer_buckets = gradient_buckets(w.layers, n, wire_bytes_per_value(outer_.wire_format), *bucket_cap_B_);
    }
    const long start = ctx.start_round();
    long step = start < warmup_ ? start : warmup_ + (start - warmup_) * h_;
    for (; step < warmup_; ++step) {  // plain DDP
      double loss = 0;
      const auto& members = averaged_gradient_round(
          ctx, step, grad_buckets, outer_.allreduce, [&]() -> runtime::Tensor& { return trainer.grads(); }, loss);
      ctx.optimizer_step(trainer.grads());
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
      if (step + 1 == warmup_) global.reset_from(trainer);  // DDP replicas are identical: the mean is any one
      resilience::applied(ctx, step + 1, members);
    }
    const double pull = w.optimizer.lr / p_ * eta_;  // only used when p > 0
    for (; step < w.steps; ++step) {
      const bool pulls = p_ > 0 && ctx.rng().uniform() < p_;
      const bool sync = (step - warmup_ + 1) % h_ == 0 || step + 1 == w.steps;
      const long round = warmup_ + (step - warmup_) / h_;
      if (sync && outer_buckets.size() > 1) {
        overlapped_sync(ctx, global, outer_buckets, pulls, pull, round);
        continue;
      }
      if (pulls) {
        pull_toward(trainer, global, pull);
        ctx.end_step(0, 0, ctx.group_size());
      } else {
        const double loss = ctx.compute_gradient(w.batch_per_worker);
        ctx.optimizer_step(trainer.grads(), 1.0 / (1.0 - p_));
        ctx.end_step(w.batch_per_worker, loss, ctx.group_size());
      }
      if (sync) {
        runtime::Tensor delta = global.outer_gradient(trainer, outer_.wire_format);
        const auto members = resilience::allreduce_round(ctx, round, delta, outer_.allreduce);
        outer_step(ctx, global, delta, round, members);
      }
    }
  }

  // The replica at round `round`: in the warm-up a DDP replica (parameters and inner optimizer),
  // afterwards the global copy and the outer optimizer.
  ReplicaState replica(World& world, int rank, long round) override {
    return round < warmup_ ? Strategy::replica(world, rank, round) : globals_[rank]->state(world);
  }
  // In the warm-up the outer optimizer starts fresh (as everyone's at the end of the warm-up);
  // afterwards theta_m = theta_g and a fresh inner optimizer.
  // One round per warm-up step, then one per H steps (the last one at the plan's end).
  long steps_at_round(const World& world, long round) const override {
    if (round <= warmup_) return round;
    return std::min(warmup_ + (round - warmup_) * h_, static_cast<long>(world.scenario.workload.steps));
  }
  void after_load(WorkerContext& ctx, long round, int) override {
    GlobalCopy& global = *globals_[ctx.rank()];
    if (round < warmup_) global.reset_outer();
    else global.restart_inner(ctx.trainer());
  }

 private:
  // A round's last inner step with overlap: an inner step streams the outer gradient in buckets
  // while its backward goes on (DiLoCo's overlapped sync); a pull step has no backward, so its
  // delta is ready at once and joins the same buckets' all-reduces.  Then the outer step.
  void overlapped_sync(WorkerContext& ctx, GlobalCopy& global, const std::vector<GradientBucket>& buckets, bool pulls,
                       double pull, long round) {
    runtime::Trainer& trainer = ctx.trainer();
    const int batch = ctx.scenario().workload.batch_per_worker;
    std::optional<runtime::Tensor> delta;
    if (pulls) {
      pull_toward(trainer, global, pull);
      delta.emplace(global.outer_gradient(trainer, outer_.wire_format));
      overlapped_allreduce_now(ctx, *delta, buckets, outer_.allreduce);
      ctx.end_step(0, 0, ctx.group_size());
    } else {
      const double loss = overlapped_step(ctx, batch, buckets, outer_.allreduce, [&]() -> runtime::Tensor& {
        trainer.optimizer_step(trainer.grads(), 1.0 / (1.0 - p_));
        delta.emplace(global.outer_gradient(trainer, outer_.wire_format));
        return *delta;
      });
      ctx.spend_optimizer_step();
      ctx.end_step(batch, loss, ctx.group_size());
    }
    outer_step(ctx, global, *delta, round, ctx.all_ranks());
  }

  static void pull_toward(runtime::Trainer& trainer, const GlobalCopy& global, double strength) {
    if (!trainer.is_real()) return;
    runtime::ops::pull_toward(trainer.params().values(), global.params().values(), static_cast<float>(strength));
  }

  int h_;
  double p_, eta_;
  int warmup_;
  OuterConfig outer_;
  std::optional<double> bucket_cap_B_;  // overlap: the buckets' cap in bytes (never under faults)
  std::vector<std::unique_ptr<GlobalCopy>> globals_;
};


}  // namespace

StrategyInfo palsgd_strategy() {
  StrategyInfo info{"palsgd", "PALSGD: local SGD with probabilistic pseudo-synchronization and a DiLoCo outer step", {}};
  info.knobs = {{"H", KnobType::integer, 64, 1, 100000000, false, {}, "inner steps between outer syncs", "", KnobRole::sync_period},
                {"p", KnobType::number, 0.1, 0, 0.99, false, {}, "probability of a pseudo-synchronization per step"},
                {"eta", KnobType::number, 0.5, 0, 10, false, {}, "pull strength of a pseudo-synchronization"},
                {"warmup_steps", KnobType::integer, 0, 0, 100000000, false, {}, "synchronous (DDP) steps before the local phase", "",
                 KnobRole::warmup}};
  // The paper's outer optimizer: Nesterov, momentum 0.9.
  for (auto& k : outer_knobs({{"name", "nesterov"}, {"lr", 0.7}, {"momentum", 0.9}})) info.knobs.push_back(std::move(k));
  for (auto& k : overlap_knobs(false)) info.knobs.push_back(std::move(k));
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& s) -> std::unique_ptr<Strategy> {
    const int h = static_cast<int>(read_integer(reader, knob_of(knobs, "H")));
    const double p = read_number(reader, knob_of(knobs, "p"));
    const double eta = read_number(reader, knob_of(knobs, "eta"));
    const int warmup = static_cast<int>(read_integer(reader, knob_of(knobs, "warmup_steps")));
    OuterConfig outer = parse_outer(reader, knobs);
    return std::make_unique<Palsgd>(h, p, eta, warmup, std::move(outer), read_overlap(reader, knobs, s));
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) { add_outer_state(knobs, b); };
  return info;
}

}  // namespace geotrain::sim
