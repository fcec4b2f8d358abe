// Hivemind-style collaborative averaging (as used by Erben et al. 2023): peers train and
// accumulate gradients, reporting their samples for the current round; once the samples reported
// for the round reach the target batch size, every peer waits the matchmaking delay, compresses
// its mean gradient over the round (fp16 by default) and joins a butterfly all-reduce whose parts
// are sized by each peer's bandwidth, with its sample count as the weight (metadata beside the
// compressed values, as hivemind's averager sends it: a count never goes through fp16, whose
// largest value is 65504).  hivemind.Optimizer's options and its software's costs:
// sim/strategies/hivemind_options.h.  workload.steps counts rounds (optimizer steps).
// Each averaging round is a round of the group (sim/resilience/): its group is the live peers;
// a peer that vanishes drops out, its progress report expires and its gradients are lost; a
// returning peer copies a live peer's replica and the averaged round it has not applied yet.
#include <limits>
#include <optional>

#include "kernels/quantize.h"
#include "kernels/reduce.h"
#include "runtime/ops.h"
#include "sim/compute_model.h"
#include "sim/json_reader.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/catalog.h"
#include "sim/strategies/hivemind_options.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Hivemind final : public Strategy {
  const AllreduceAlgo kButterfly = allreduce_algo_from_name("weighted_butterfly");

 public:
  explicit Hivemind(HivemindOptions o) : o_(o) {}

  void prepare(World& world) override {
    const std::size_t peers = world.trainers.size();
    progress_.assign(peers, {});
    unapplied_.assign(peers, nullptr);
    world.deployed_parameters = [&world] {
      const auto v = world.trainers[resilience::deployed_worker(world)]->params().values();
      return std::vector<float>(v.begin(), v.end());
    };
  }

  void run(WorkerContext& ctx) override {
    const int rank = ctx.rank();
    std::optional<Overlapped> in_flight;  // the background averaging and/or optimizer step
    // Averaged (or being averaged) in the background, applied a round late; a returning peer
    // starts with its donor's.
    std::shared_ptr<Round> averaging = unapplied_[rank];
    for (long round = ctx.start_round(); round < ctx.scenario().workload.steps; ++round) {
      const std::shared_ptr<Round> mine = accumulate(ctx, round);
      if (in_flight) ctx.join(*in_flight);  // the previous round's background work
      in_flight.reset();
      if (averaging) {  // delayed gradient averaging: apply the previous round now
        apply(ctx, *averaging);
        averaging.reset();
      }
      ctx.sleep(o_.matchmaking_s);
      if (mine->grad.is_real() && mine->samples > 0)  // the mean gradient, what the peer compresses
        kernels::scale(mine->grad.values().data(), static_cast<float>(1.0 / mine->samples), mine->grad.numel());
      apply_wire_format(mine->grad, o_.compression);
      if (o_.delay_grad_averaging) {
        in_flight = ctx.start_overlapped(1, [this, mine, step = step_s(ctx)](WorkerContext& c) {
          average(c, *mine);
          c.busy(step, "optimizer step");
        });
        averaging = unapplied_[rank] = mine;
      } else {
        in_flight = average_then_step(ctx, *mine);
      }
    }
    if (in_flight) ctx.join(*in_flight);
    if (averaging) apply(ctx, *averaging);
  }

  // A peer restarts: its progress report and the round it had not applied died with it.
  void on_restart(World&, int rank) override {
    progress_[rank] = {};
    unapplied_[rank] = nullptr;
  }
  // Every peer holds the same parameters and optimizer (the default replica); from a donor it
  // also takes the averaged round the donor has not applied yet (delayed averaging), which it then
  // applies at the same point.  The bytes count that round whenever it may exist.
  std::uint64_t join_bytes(World& world, int rank, long round) override {
    const std::uint64_t pending =
        o_.delay_grad_averaging ? kFp32Bytes * (world.trainers[rank]->params().numel() + 1) : 0;
    return replica(world, rank, round).bytes + pending;
  }
  void after_load(WorkerContext& ctx, long round, int donor) override {
    if (donor < 0) return;
    const auto& d = unapplied_[donor];
    if (d && d->round < round) unapplied_[ctx.rank()] = std::make_shared<Round>(*d);  // committed, not applied yet
  }

 private:
  // A peer's progress report: samples it committed to `round` (-1: none yet).
  struct Progress {
    long round = -1;
    double samples = 0;
  };
  // One peer's part of an averaging round: its mean gradient over its samples (the group's
  // sample-weighted mean once averaged) and the committed group.
  struct Round {
    long round = 0;
    runtime::Tensor grad = runtime::Tensor::phantom(0);
    double samples = 0;        // this peer's: its weight in the average
    double group_samples = 0;  // the group's, once averaged (0: nobody brought any)
    std::vector<int> members;
  };

  // Samples reported for `round` by the live peers; infinite once a peer moved on to a later
  // round (it closed).  A vanished peer's report expires (hivemind's progress records time out).
  double committed(const World& world, long round) const {
    double sum = 0;
    for (int p = 0; p < static_cast<int>(progress_.size()); ++p) {
      if (!resilience::alive(world, p)) continue;
      if (progress_[p].round > round) return std::numeric_limits<double>::infinity();
      if (progress_[p].round == round) sum += progress_[p].samples;
    }
    return sum;
  }

  // Sample-weighted gradients (fp32, on the peer) accumulated over micro-steps until the samples
  // the live peers reported for `round` reach the target batch.
  std::shared_ptr<Round> accumulate(WorkerContext& ctx, long round) {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const std::size_t n = trainer.params().numel();
    auto mine = std::make_shared<Round>();
    mine->round = round;
    mine->grad = trainer.is_real() ? runtime::Tensor::zeros(n) : runtime::Tensor::phantom(n);
    progress_[ctx.rank()] = {round, 0};
    while (committed(ctx.world(), round) < o_.target_batch) {
      progress_[ctx.rank()].samples += w.batch_per_worker;  // reported before computing, as hivemind does
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      if (trainer.is_real())
        kernels::add_scaled_into(mine->grad.values().data(), trainer.grads().values().data(),
                                 static_cast<float>(w.batch_per_worker), n);
      ctx.busy(o_.accumulate_s, "gradient accumulation");
      mine->samples += w.batch_per_worker;
      ctx.end_step(w.batch_per_worker, loss, ctx.group_size());
    }
    return mine;
  }

  // Training waits for the averaging; the optimizer step runs then, or in the background
  // (delay_optimizer_step: the returned work, joined before the next averaging).
  std::optional<Overlapped> average_then_step(WorkerContext& ctx, Round& mine) {
    std::optional<Overlapped> in_flight;
    average(ctx, mine);
    const double step = step_s(ctx);
    if (o_.delay_optimizer_step && step > 0)
      in_flight = ctx.start_overlapped(1, [step](WorkerContext& c) { c.busy(step, "optimizer step"); });
    else
      ctx.busy(step, "optimizer step");
    apply(ctx, mine);
    return in_flight;
  }

  // The optimizer step's time: offloaded, from host memory bandwidth; else the GPU's step.
  double step_s(WorkerContext& ctx) const {
    const Scenario& s = ctx.scenario();
    return o_.offload_optimizer ? offloaded_optimizer_step_s(s.workload, o_.host_memory_Bps)
                                : optimizer_step_s(s, *ctx.info().type);
  }

  // The butterfly among the round's members (ring order), parts sized by their NIC bandwidth.  A
  // peer sends and receives 2 (n-1)/n of the compressed gradient; with averager_Bps the round
  // lasts at least those bytes at that rate (software bound: serialization, compression).
  void average(WorkerContext& c, Round& r) {
    resilience::log_round_samples(c, r.round, r.samples);
    r.members = resilience::group_round(c, r.round, r.grad, [&](const std::vector<int>& members) {
      const double start = c.now();
      r.group_samples = c.allreduce_weighted_mean(r.grad, kButterfly, members, r.samples, o_.compression);
      if (o_.averager_Bps <= 0 || members.size() < 2) return;
      const double m = static_cast<double>(members.size());
      const double bytes = 2 * (m - 1) / m * static_cast<double>(r.grad.wire_bytes(r.grad.numel()));
      const double launch_s = c.scenario().overheads.collective_launch_s;  // paid before the transfers
      c.busy(start + launch_s + bytes / o_.averager_Bps - c.now(), "averager throughput", "communication");
    });
  }

  // g = sum(mean_i * samples_i) / sum(samples_i); then the inner optimizer steps with it (no step
  // when the group brought no samples, e.g. only a peer that joined after the round filled).
  void apply(WorkerContext& ctx, const Round& r) {
    runtime::Trainer& trainer = ctx.trainer();
    if (unapplied_[ctx.rank()].get() == &r) unapplied_[ctx.rank()] = nullptr;
    if (trainer.is_real() && r.group_samples > 0) {
      kernels::copy(trainer.grads().values().data(), r.grad.values().data(), r.grad.numel());
      trainer.optimizer_step(trainer.grads());
    }
    resilience::applied(ctx, r.round + 1, r.members);
  }

  HivemindOptions o_;
  std::vector<Progress> progress_;                  // [peer]
  std::vector<std::shared_ptr<Round>> unapplied_;   // [peer]: averaging launched, not applied yet
};

}  // namespace

StrategyInfo hivemind_strategy() {
  StrategyInfo info{"hivemind", "Hivemind: workers accumulate until the swarm reaches a target batch, then average", {}};
  info.knobs = hivemind_knobs();
  info.step_unit = "round";
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario&) -> std::unique_ptr<Strategy> {
    const HivemindOptions o = read_hivemind_options(reader, knobs);
    auto strategy = std::make_unique<Hivemind>(o);
    strategy->traits.agreement_key = "live_replicas";
    strategy->traits.round_log_key = "averaging_rounds";
    return strategy;
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) {
    b.add_worker("accumulator", kFp32_B);
    const bool delayed = knobs.contains("delayed_update") ? knobs["delayed_update"].get<bool>()
                                                          : knobs["delay_grad_averaging"].get<bool>();
    if (delayed) b.add_worker("round in flight", kFp32_B);
  };
  return info;
}

}  // namespace geotrain::sim
