// Hivemind-style collaborative averaging (as used by Erben et al. 2023): peers train and
// accumulate gradients, reporting their samples for the current round; once the samples reported
// for the round reach the target batch size, every peer waits the matchmaking delay, compresses
// its accumulated gradient (fp16 by default) and joins a butterfly all-reduce whose parts are
// sized by each peer's bandwidth.  The sample-weighted mean gradient is applied at once, or one
// round late (delayed update) so that the averaging overlaps the next round's compute.
// workload.steps counts rounds (optimizer steps).
// Under faults each averaging round is a round of the group (sim/membership.h): its group is the
// live peers of its view; a peer that vanishes drops out of the next group, its progress report
// expires and its gradients are lost; a returning peer joins the next view, copying parameters
// and optimizer (and the averaged round not applied yet) from a live peer.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/membership.h"
#include "sim/strategies/average.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/restart.h"
#include "sim/strategies/catalog.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Hivemind final : public Strategy {
 public:
  Hivemind(double target_batch, double matchmaking_s, std::string compression, bool delayed)
      : target_batch_(target_batch), matchmaking_s_(matchmaking_s), compression_(std::move(compression)),
        delayed_(delayed) {}

  void prepare(World& world) override {
    const std::size_t peers = world.trainers.size();
    progress_.assign(peers, {});
    unapplied_.assign(peers, nullptr);
    holds_state_.assign(peers, true);
    work_.assign(peers, {});
    world.deployed_parameters = [this, &world] {
      const auto v = world.trainers[deployed_peer(world)]->params().values();
      return std::vector<float>(v.begin(), v.end());
    };
    if (world.membership) world.extra["averaging_rounds"] = nlohmann::ordered_json::array();
  }

  void run(WorkerContext& ctx) override {
    const int rank = ctx.rank();
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const std::size_t n = trainer.params().numel();
    std::optional<Overlapped> in_flight;
    std::shared_ptr<Round> averaging;  // averaged (or being averaged) in the background, applied a round late
    long round = 0;
    if (ctx.restarted()) {
      progress_[rank] = {};
      unapplied_[rank] = nullptr;
      holds_state_[rank] = false;
      round = rejoin(ctx, [&](long r) { return state_source(ctx, r, averaging); });
      if (round < 0) return;
      holds_state_[rank] = true;
    }
    for (; round < w.steps; ++round) {
      // Accumulate sample-weighted gradients, plus the sample count in the last slot.
      auto mine = std::make_shared<Round>();
      mine->round = round;
      mine->sum = trainer.is_real() ? runtime::Tensor::zeros(n + 1) : runtime::Tensor::phantom(n + 1);
      progress_[rank] = {round, 0};
      while (committed(ctx.world(), round) < target_batch_) {
        progress_[rank].samples += w.batch_per_worker;  // reported before computing, as hivemind does
        const double start = ctx.now();
        const double loss = ctx.compute_gradient(w.batch_per_worker);
        work_[rank].samples += w.batch_per_worker;
        work_[rank].compute_s += ctx.now() - start;
        if (trainer.is_real()) {
          auto a = mine->sum.values();
          const auto g = trainer.grads().values();
          for (std::size_t i = 0; i < n; ++i) a[i] += g[i] * static_cast<float>(w.batch_per_worker);
          a[n] += static_cast<float>(w.batch_per_worker);
        }
        mine->samples += w.batch_per_worker;
        ctx.end_step(w.batch_per_worker, loss, ctx.faults_on() ? ctx.group_size() : 0);
      }
      if (averaging) {  // delayed update: apply the previous round now
        if (in_flight) ctx.join(*in_flight);
        in_flight.reset();
        apply(ctx, *averaging);
        averaging.reset();
      }
      ctx.sleep(matchmaking_s_);
      apply_wire_format(mine->sum, compression_);
      if (ctx.faults_on() && mine->sum.is_real()) mine->saved.assign(mine->sum.values().begin(), mine->sum.values().end());
      mine->work_at_launch = work_[rank];
      if (delayed_) {
        in_flight = ctx.start_overlapped(1, [this, mine](WorkerContext& c) { average(c, *mine); });
        averaging = mine;
        unapplied_[rank] = mine;
      } else {
        average(ctx, *mine);
        apply(ctx, *mine);
      }
    }
    if (averaging) {
      if (in_flight) ctx.join(*in_flight);
      apply(ctx, *averaging);
    }
  }

  // Under faults the results say whether the live peers' replicas agree (they must: every peer
  // applies the same averaged gradients with the same optimizer state).
  void finish(World& world) override {
    if (!world.membership) return;
    int live = 0, first = -1;
    double worst = 0;
    for (int r = 0; r < static_cast<int>(holds_state_.size()); ++r) {
      if (!holds_live_state(world, r)) continue;
      ++live;
      if (first < 0) {
        first = r;
        continue;
      }
      if (!world.trainers[r]->is_real()) continue;
      worst = std::max(worst, max_abs_diff(world.trainers[r]->params().values(), world.trainers[first]->params().values()));
    }
    world.extra["live_replicas"] = {{"workers", live}, {"max_abs_diff", worst}};
  }

 private:
  // Samples and compute time a peer trained on so far (for the work a round leaves unsynced).
  struct Work {
    double samples = 0, compute_s = 0;
  };
  // A peer's progress report: samples it committed to `round` (-1: none yet).
  struct Progress {
    long round = -1;
    double samples = 0;
  };
  // One peer's part of an averaging round: sum(g x samples) with the sample count in the last
  // slot (the sum over the group once averaged), and the committed group.
  struct Round {
    long round = 0;
    runtime::Tensor sum = runtime::Tensor::phantom(0);
    double samples = 0;        // this peer's
    std::vector<float> saved;  // sum before the all-reduce, for a retry (faults only)
    std::vector<int> members;
    Work work_at_launch;
  };

  // Samples reported for `round` by the live peers; infinite once a peer moved on to a later
  // round (it closed).  A vanished peer's report expires (hivemind's progress records time out).
  double committed(const World& world, long round) const {
    double sum = 0;
    for (int p = 0; p < static_cast<int>(progress_.size()); ++p) {
      if (world.membership && !world.membership->alive(p)) continue;
      if (progress_[p].round > round) return std::numeric_limits<double>::infinity();
      if (progress_[p].round == round) sum += progress_[p].samples;
    }
    return sum;
  }

  // The butterfly among the round's members (ring order), parts sized by their NIC bandwidth.
  void average(WorkerContext& c, Round& r) {
    if (c.faults_on()) launched_samples_[r.round][c.rank()] = r.samples;
    r.members = c.sync_round(
        r.round,
        [&](const std::vector<int>& members) {
          std::vector<int> order;
          std::vector<double> weights;
          for (int p : c.platform().ring_order())
            if (std::binary_search(members.begin(), members.end(), p)) {
              order.push_back(p);
              weights.push_back(c.platform().nodes()[p].type->nic_Bps);
            }
          butterfly_allreduce_sum(c, r.sum, order, weights);
        },
        [&] {
          if (r.sum.is_real()) kernels::copy(r.sum.values().data(), r.saved.data(), r.saved.size());
        });
    if (!c.faults_on()) return;
    // What the peer trained after the launch belongs to the next round: still unsynced.
    FaultLog& log = *c.world().faults;
    log.unsynced_samples[c.rank()] = work_[c.rank()].samples - r.work_at_launch.samples;
    log.unsynced_compute_s[c.rank()] = work_[c.rank()].compute_s - r.work_at_launch.compute_s;
    if (c.rank() == r.members.front()) record_round(c, r);
  }

  // The results' "averaging_rounds" (faults only): round, commit time, group size, samples.
  void record_round(WorkerContext& c, const Round& r) {
    double samples = 0;
    for (int p : r.members) samples += launched_samples_[r.round][p];
    launched_samples_.erase(r.round);
    c.world().extra["averaging_rounds"].push_back(
        {{"round", r.round}, {"time_s", c.now()}, {"members", r.members.size()}, {"samples", samples}});
  }

  // g = sum(g_i * samples_i) / sum(samples_i); then the inner optimizer steps with it (no step
  // when the group brought no samples, e.g. only a peer that joined after the round filled).
  // Under faults the group's first member may checkpoint afterwards.
  void apply(WorkerContext& ctx, const Round& r) {
    runtime::Trainer& trainer = ctx.trainer();
    if (unapplied_[ctx.rank()].get() == &r) unapplied_[ctx.rank()] = nullptr;
    if (trainer.is_real()) {
      const auto s = r.sum.values();
      const std::size_t n = s.size() - 1;
      if (s[n] > 0) {
        auto g = trainer.grads().values();
        for (std::size_t i = 0; i < n; ++i) g[i] = s[i] / s[n];
        trainer.optimizer_step(trainer.grads());
      }
    }
    if (ctx.faults_on())
      maybe_checkpoint(ctx, r.round + 1, r.members, replica_bytes(ctx),
                       [&trainer](Checkpoint& c) { save_replica(trainer, c); });
  }

  std::uint64_t replica_bytes(WorkerContext& ctx) const {
    return state_bytes(ctx.trainer().params().numel(), ctx.scenario().workload.optimizer);
  }

  // What a peer returning at round `round` reloads: parameters and optimizer (every peer holds
  // the same); from a donor also the averaged round it has not applied yet (delayed update), which
  // this peer then applies at the same point.  The bytes count that round whenever it may exist.
  StateSource state_source(WorkerContext& ctx, long round, std::shared_ptr<Round>& averaging) {
    const std::uint64_t pending = delayed_ ? kFp32Bytes * (ctx.trainer().params().numel() + 1) : 0;
    StateSource s = replica_state(ctx, replica_bytes(ctx) + pending);
    s.from_donor = [this, &ctx, &averaging, round, replica = s.from_donor](int donor) {
      replica(donor);
      const auto& d = unapplied_[donor];
      if (d && d->round < round) {  // committed (round < the view's), not applied yet
        averaging = std::make_shared<Round>(*d);
        unapplied_[ctx.rank()] = averaging;
      }
    };
    return s;
  }

  // A peer that is up and holds the current state (not preempted, not reloading).
  bool holds_live_state(const World& world, int rank) const {
    return holds_state_[rank] && (!world.membership || world.membership->alive(rank));
  }
  // The deployed model: the first such peer's parameters (peer 0's without faults).
  int deployed_peer(const World& world) const {
    for (int r = 0; r < static_cast<int>(holds_state_.size()); ++r)
      if (holds_live_state(world, r)) return r;
    return 0;
  }

  double target_batch_, matchmaking_s_;
  std::string compression_;
  bool delayed_;
  std::vector<Progress> progress_;                  // [peer]
  std::vector<std::shared_ptr<Round>> unapplied_;   // [peer]: averaging launched, not applied yet
  std::vector<bool> holds_state_;                   // [peer]
  std::vector<Work> work_;                          // [peer]
  std::map<long, std::map<int, double>> launched_samples_;  // [round][peer] (faults only)
};

}  // namespace

StrategyInfo hivemind_strategy() {
  StrategyInfo info{"hivemind", "Hivemind: workers accumulate until the swarm reaches a target batch, then average", {}};
  info.knobs = {{"target_batch", KnobType::number, 32768, 1, 1e12, false, {}, "samples the swarm accumulates per round"},
                {"matchmaking_s", KnobType::number, 5.0, 0, JsonReader::kInf, false, {}, "time to form an averaging group per round (s)"},
                {"compression", KnobType::choice, "fp16", 0, 0, false, {"fp32", "fp16", "bf16"}, "format of the averaged gradients"},
                {"delayed_update", KnobType::boolean, true, 0, 0, false, {}, "apply a round's average one round later (overlap)"}};
  info.step_unit = "round";
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario&) -> std::unique_ptr<Strategy> {
    const double target = read_number(reader, knob_of(knobs, "target_batch"));
    const double matchmaking = read_number(reader, knob_of(knobs, "matchmaking_s"));
    const std::string compression = read_choice(reader, knob_of(knobs, "compression"));
    const bool delayed = read_boolean(reader, knob_of(knobs, "delayed_update"));
    return std::make_unique<Hivemind>(target, matchmaking, compression, delayed);
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) {
    b.add_worker("accumulator", kFp32_B);
    if (knobs["delayed_update"].get<bool>()) b.add_worker("round in flight", kFp32_B);
  };
  return info;
}

}  // namespace geotrain::sim
