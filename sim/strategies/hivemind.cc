// Hivemind-style collaborative averaging (as used by Erben et al. 2023): peers train and
// accumulate gradients, reporting their samples for the current round; once the samples reported
// for the round reach the target batch size, every peer waits the matchmaking delay, compresses
// its accumulated gradient (fp16 by default) and joins a butterfly all-reduce whose parts are
// sized by each peer's bandwidth.  The sample-weighted mean gradient is applied at once, or one
// round late (delayed update) so that the averaging overlaps the next round's compute.
// workload.steps counts rounds (optimizer steps).
// Each averaging round is a round of the group (sim/resilience/): its group is the live peers;
// a peer that vanishes drops out, its progress report expires and its gradients are lost; a
// returning peer copies a live peer's replica and the averaged round it has not applied yet.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/strategies/average.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
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
    world.deployed_parameters = [&world] {
      const auto v = world.trainers[resilience::deployed_worker(world)]->params().values();
      return std::vector<float>(v.begin(), v.end());
    };
  }

  void run(WorkerContext& ctx) override {
    const int rank = ctx.rank();
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const std::size_t n = trainer.params().numel();
    std::optional<Overlapped> in_flight;
    // Averaged (or being averaged) in the background, applied a round late; a returning peer
    // starts with its donor's.
    std::shared_ptr<Round> averaging = unapplied_[rank];
    for (long round = ctx.start_round(); round < w.steps; ++round) {
      // Accumulate sample-weighted gradients, plus the sample count in the last slot.
      auto mine = std::make_shared<Round>();
      mine->round = round;
      mine->sum = trainer.is_real() ? runtime::Tensor::zeros(n + 1) : runtime::Tensor::phantom(n + 1);
      progress_[rank] = {round, 0};
      while (committed(ctx.world(), round) < target_batch_) {
        progress_[rank].samples += w.batch_per_worker;  // reported before computing, as hivemind does
        const double loss = ctx.compute_gradient(w.batch_per_worker);
        if (trainer.is_real()) {
          auto a = mine->sum.values();
          const auto g = trainer.grads().values();
          for (std::size_t i = 0; i < n; ++i) a[i] += g[i] * static_cast<float>(w.batch_per_worker);
          a[n] += static_cast<float>(w.batch_per_worker);
        }
        mine->samples += w.batch_per_worker;
        ctx.end_step(w.batch_per_worker, loss, ctx.group_size());
      }
      if (averaging) {  // delayed update: apply the previous round now
        if (in_flight) ctx.join(*in_flight);
        in_flight.reset();
        apply(ctx, *averaging);
        averaging.reset();
      }
      ctx.sleep(matchmaking_s_);
      apply_wire_format(mine->sum, compression_);
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

  // A peer restarts: its progress report and the round it had not applied died with it.
  void on_restart(World&, int rank) override {
    progress_[rank] = {};
    unapplied_[rank] = nullptr;
  }
  // Every peer holds the same parameters and optimizer (the default replica); from a donor it
  // also takes the averaged round the donor has not applied yet (delayed update), which it then
  // applies at the same point.  The bytes count that round whenever it may exist.
  std::uint64_t join_bytes(World& world, int rank, long round) override {
    const std::uint64_t pending = delayed_ ? kFp32Bytes * (world.trainers[rank]->params().numel() + 1) : 0;
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
  // One peer's part of an averaging round: sum(g x samples) with the sample count in the last
  // slot (the sum over the group once averaged), and the committed group.
  struct Round {
    long round = 0;
    runtime::Tensor sum = runtime::Tensor::phantom(0);
    double samples = 0;        // this peer's
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

  // The butterfly among the round's members (ring order), parts sized by their NIC bandwidth.
  void average(WorkerContext& c, Round& r) {
    resilience::log_round_samples(c, r.round, r.samples);
    r.members = resilience::group_round(c, r.round, r.sum, [&](const std::vector<int>& members) {
      std::vector<int> order;
      std::vector<double> weights;
      for (int p : c.platform().ring_order())
        if (std::binary_search(members.begin(), members.end(), p)) {
          order.push_back(p);
          weights.push_back(c.platform().nodes()[p].type->nic_Bps);
        }
      butterfly_allreduce_sum(c, r.sum, order, weights);
    });
  }

  // g = sum(g_i * samples_i) / sum(samples_i); then the inner optimizer steps with it (no step
  // when the group brought no samples, e.g. only a peer that joined after the round filled).
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
    resilience::applied(ctx, r.round + 1, r.members);
  }

  double target_batch_, matchmaking_s_;
  std::string compression_;
  bool delayed_;
  std::vector<Progress> progress_;                  // [peer]
  std::vector<std::shared_ptr<Round>> unapplied_;   // [peer]: averaging launched, not applied yet
};

}  // namespace

std::unique_ptr<Strategy> make_hivemind(JsonReader& reader, const Scenario&) {
  const OnFailure on_failure = parse_on_failure(reader);
  const double target = reader.number_or("target_batch", 32768, 1, 1e12);
  const double matchmaking = reader.non_negative_or("matchmaking_s", 5.0);
  const std::string compression = reader.choice_or("compression", "fp16", {"fp32", "fp16", "bf16"});
  const bool delayed = reader.boolean_or("delayed_update", true);
  auto hivemind = std::make_unique<Hivemind>(target, matchmaking, compression, delayed);
  hivemind->traits.on_failure = on_failure;
  hivemind->traits.agreement_key = "live_replicas";
  hivemind->traits.round_log_key = "averaging_rounds";
  return hivemind;
}

}  // namespace geotrain::sim
