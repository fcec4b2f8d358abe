// PALSGD, pseudo-asynchronous Local SGD (Naganuma et al. 2025): after an optional DDP warm-up,
// each inner step of each worker is, with probability p, a pull toward the stale global copy
//   theta_m -= (lr/p) * eta * (theta_m - theta_g)      (no backward pass, no compute time)
// and otherwise an inner optimizer step with learning rate lr/(1-p).  Every H steps the workers
// all-reduce delta = theta_g - theta_m and take an outer (Nesterov) step, as DiLoCo does.
// Under faults each warm-up step and each outer round is a round of the group (rounds 0..W-1 are
// the W warm-up steps, outer round j is round W + j): a warm-up step behaves as DDP's, an outer
// round as DiLoCo's (it counts only the workers that finished it; a returning worker restarts from
// the global copy with a fresh inner optimizer).
#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/strategies/catalog.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/restart.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Palsgd final : public Strategy {
 public:
  Palsgd(int h, double p, double eta, int warmup, OuterConfig outer)
      : h_(h), p_(p), eta_(eta), warmup_(warmup), outer_(std::move(outer)) {}

  void prepare(World& world) override {
    globals_ = make_global_copies(world, outer_.optimizer);
    deploy_global_copy(world, *globals_[0]);
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    GlobalCopy& global = *globals_[ctx.rank()];
    const Workload& w = ctx.scenario().workload;
    const int warmup = std::min(warmup_, w.steps);
    long step = 0;
    if (ctx.restarted()) {
      restart_rng(ctx);  // its pull draws do not replay its first life's
      const long round = rejoin(ctx, [&](long r) { return state_source(ctx, r, warmup); });
      if (round < 0) return;
      step = round < warmup ? round : warmup + (round - warmup) * h_;
    }
    std::vector<float> saved;  // what the round's all-reduce overwrites, for a retry (faults only)
    for (; step < warmup; ++step) {  // plain DDP
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      const auto members = allreduce_mean_round(ctx, step, trainer.grads(), outer_.allreduce, saved);
      trainer.optimizer_step(trainer.grads());
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
      if (step + 1 == warmup) global.reset_from(trainer);  // DDP replicas are identical: the mean is any one
      if (ctx.faults_on())
        maybe_checkpoint(ctx, step + 1, members, bytes_at(ctx, step + 1, warmup), [&](Checkpoint& c) {
          if (step + 1 < warmup) save_replica(trainer, c);
          else save_global(global, c);
        });
    }
    const double pull = w.optimizer.lr / p_ * eta_;  // only used when p > 0
    for (; step < w.steps; ++step) {
      if (p_ > 0 && ctx.rng().uniform() < p_) {
        pull_toward(trainer, global, pull);
        ctx.end_step(0, 0, ctx.group_size());
      } else {
        const double loss = ctx.compute_gradient(w.batch_per_worker);
        trainer.optimizer_step(trainer.grads(), 1.0 / (1.0 - p_));
        ctx.end_step(w.batch_per_worker, loss, ctx.group_size());
      }
      if ((step - warmup + 1) % h_ == 0 || step + 1 == w.steps) {
        runtime::Tensor delta = global.outer_gradient(trainer, outer_.wire_format);
        const long round = warmup + (step - warmup) / h_;
        const auto members = allreduce_mean_round(ctx, round, delta, outer_.allreduce, saved);
        global.step(delta);
        global.merge_into(trainer, 0.0);
        if (ctx.faults_on())
          maybe_checkpoint(ctx, round + 1, members, bytes_at(ctx, round + 1, warmup),
                           [&global](Checkpoint& c) { save_global(global, c); });
      }
    }
  }

 private:
  static void pull_toward(runtime::Trainer& trainer, const GlobalCopy& global, double strength) {
    if (!trainer.is_real()) return;
    auto m = trainer.params().values();
    const auto g = global.params().values();
    const float k = static_cast<float>(strength);
    for (std::size_t i = 0; i < m.size(); ++i) m[i] -= k * (m[i] - g[i]);
  }

  static void save_global(const GlobalCopy& global, Checkpoint& c) {
    if (global.params().is_real()) c.params.assign(global.params().values().begin(), global.params().values().end());
    c.optimizer = std::make_shared<runtime::Optimizer>(global.optimizer());
  }

  // Bytes of the state at round `round`: in the warm-up a DDP replica (parameters and inner
  // optimizer), afterwards the global copy and the outer optimizer.
  std::uint64_t bytes_at(WorkerContext& ctx, long round, int warmup) const {
    const runtime::OptimizerSpec& inner = ctx.scenario().workload.optimizer;
    return state_bytes(ctx.trainer().params().numel(), round < warmup ? inner : outer_.optimizer);
  }

  // What a worker returning at round `round` reloads.  In the warm-up: a replica, and its global
  // copy's outer optimizer starts fresh (as everyone's at the end of the warm-up).  Afterwards:
  // the global copy and outer optimizer, theta_m = theta_g, a fresh inner optimizer.
  StateSource state_source(WorkerContext& ctx, long round, int warmup) {
    runtime::Trainer& trainer = ctx.trainer();
    GlobalCopy& global = *globals_[ctx.rank()];
    const runtime::Optimizer fresh_outer(global.optimizer().spec(), trainer.is_real() ? trainer.params().numel() : 0);
    if (round < warmup) {
      StateSource s = replica_state(ctx, bytes_at(ctx, round, warmup));
      s.from_donor = [&global, fresh_outer, replica = s.from_donor](int donor) {
        replica(donor);
        global.load({}, fresh_outer);
      };
      s.from_checkpoint = [&global, fresh_outer, replica = s.from_checkpoint](const Checkpoint& c) {
        replica(c);
        global.load({}, fresh_outer);
      };
      s.from_initial = [&global, fresh_outer, replica = s.from_initial] {
        replica();
        global.load({}, fresh_outer);
      };
      return s;
    }
    StateSource s;
    s.bytes = bytes_at(ctx, round, warmup);
    auto restart_from = [&trainer, &global](std::span<const float> values, const runtime::Optimizer& outer) {
      global.load(values, outer);
      global.merge_into(trainer, 0.0);
      trainer.optimizer().reset();
    };
    s.from_donor = [this, restart_from](int donor) {
      const GlobalCopy& d = *globals_[donor];
      restart_from(d.params().is_real() ? d.params().values() : std::span<const float>(), d.optimizer());
    };
    s.from_checkpoint = [restart_from](const Checkpoint& c) { restart_from(c.params, *c.optimizer); };
    s.from_initial = [&ctx, restart_from, fresh_outer] {
      restart_from(ctx.world().training.initial_parameters(), fresh_outer);
    };
    return s;
  }

  int h_;
  double p_, eta_;
  int warmup_;
  OuterConfig outer_;
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
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario&) -> std::unique_ptr<Strategy> {
    const int h = static_cast<int>(read_integer(reader, knob_of(knobs, "H")));
    const double p = read_number(reader, knob_of(knobs, "p"));
    const double eta = read_number(reader, knob_of(knobs, "eta"));
    const int warmup = static_cast<int>(read_integer(reader, knob_of(knobs, "warmup_steps")));
    return std::make_unique<Palsgd>(h, p, eta, warmup, parse_outer(reader, knobs));
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) { add_outer_state(knobs, b); };
  return info;
}

}  // namespace geotrain::sim
