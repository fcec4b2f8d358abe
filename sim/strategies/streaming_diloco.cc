// Streaming DiLoCo (Douillard et al. 2025): DiLoCo whose parameters are split into P fragments
// that synchronize on staggered schedules (fragment p at steps t with (t - p*H/P) mod H == 0),
// so only about 1/P of the parameters is in flight at once.  A fragment's all-reduce overlaps
// the next tau inner steps (it runs in a helper actor while the worker computes); its result is
// applied tau steps later and merged with the local progress:
//   theta_g_p = OuterOpt(theta_g_p, mean delta_p);  theta_m_p = alpha*theta_m_p + (1-alpha)*theta_g_p.
// Outer gradients travel in the chosen wire format (fp32, bf16, fp16, fp4) and sum in fp32.
// Fragments are contiguous, near-equal slices of the flat parameter vector.
// Under faults every fragment sync is one round of the group (sim/membership.h), numbered by the
// order of the sync steps (the same on every worker); the helper runs it inside sync_round, so an
// aborted round is retried with the survivors and an outer step averages only the members of the
// committed view.  A returning worker copies the global fragments and outer optimizers of a live
// member together with the averaged outer gradients that member committed but has not applied
// yet (tau steps late), else the checkpoint, else the initial model; it restarts its inner
// optimizer from theta_g and resumes at the sync step before its first round.
#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <span>

#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/membership.h"
#include "sim/strategies/average.h"
#include "sim/strategies/catalog.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/restart.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class StreamingDiloco final : public Strategy {
 public:
  StreamingDiloco(int h, int fragments, int tau, double alpha, OuterConfig outer)
      : h_(h), fragments_(fragments), tau_(tau), alpha_(alpha), outer_(std::move(outer)) {}

  void prepare(World& world) override {
    for (const auto& t : world.trainers) {
      std::vector<std::unique_ptr<GlobalCopy>> mine;
      for (int f = 0; f < fragments_; ++f)
        mine.push_back(std::make_unique<GlobalCopy>(*t, chunk_range(t->params().numel(), fragments_, f),
                                                    outer_.optimizer));
      globals_.push_back(std::move(mine));
    }
    const std::size_t workers = world.trainers.size();
    pending_.assign(workers, {});
    holds_state_.assign(workers, true);
    work_.assign(workers, {});
    rounds_ = rounds_until(world.scenario.workload.steps);
    world.deployed_parameters = [this, &world] {
      std::vector<float> all;
      for (const auto& g : globals_[deployed_worker(world)])
        all.insert(all.end(), g->params().values().begin(), g->params().values().end());
      return all;
    };
  }

  void run(WorkerContext& ctx) override {
    const int rank = ctx.rank();
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    std::deque<Pending>& pending = pending_[rank];
    int step = 0;
    if (ctx.restarted()) {
      pending.clear();  // its syncs in flight died with it
      holds_state_[rank] = false;
      const long round = rejoin(ctx, [&](long r) { return state_source(ctx, r); });
      if (round < 0) return;
      holds_state_[rank] = true;
      // Past the last round there is nothing to sync: only apply what it copied.
      step = round < rounds_ ? resume_step(round) : w.steps;
    }
    for (; step < w.steps; ++step) {
      const double start = ctx.now();
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      work_[rank].samples += w.batch_per_worker;
      work_[rank].compute_s += ctx.now() - start;
      trainer.optimizer_step(trainer.grads());
      const int t = step + 1;
      while (!pending.empty() && pending.front().apply_at <= t) apply_front(ctx);
      int group = ctx.group_size();
      const int f = fragment_syncing_at(t);
      if (f >= 0) group = start_sync(ctx, f, t);
      ctx.end_step(w.batch_per_worker, loss, ctx.faults_on() ? group : 0);
    }
    while (!pending.empty()) apply_front(ctx);
  }

  // Under faults the results say whether the live workers' global copies agree (they must).
  void finish(World& world) override {
    if (!world.membership) return;
    int live = 0, first = -1;
    double worst = 0;
    for (int r = 0; r < static_cast<int>(globals_.size()); ++r) {
      if (!holds_live_state(world, r)) continue;
      ++live;
      if (first < 0) {
        first = r;
        continue;
      }
      for (int f = 0; f < fragments_; ++f) {
        if (!globals_[r][f]->params().is_real()) continue;
        worst = std::max(worst, max_abs_diff(globals_[r][f]->params().values(), globals_[first][f]->params().values()));
      }
    }
    world.extra["live_global_copies"] = {{"workers", live}, {"max_abs_diff", worst}};
  }

 private:
  // Samples and compute time a worker trained on so far (for the work a round leaves unsynced).
  struct Work {
    double samples = 0, compute_s = 0;
  };
  // One fragment sync: the outer gradient (the mean once averaged) and the committed members.
  struct Sync {
    runtime::Tensor delta = runtime::Tensor::phantom(0);
    std::vector<float> saved;  // delta before the all-reduce, for a retry (faults only)
    std::vector<int> members;
    Work work_at_launch;
  };
  struct Pending {
    long round = 0;
    int fragment = 0;
    int apply_at = 0;
    Overlapped op;               // no actor: copied from a donor, already averaged
    std::shared_ptr<Sync> sync;
  };

  int offset(int f) const { return f * h_ / fragments_; }
  bool syncs_at(int f, int t) const { return t >= offset(f) && t > 0 && (t - offset(f)) % h_ == 0; }
  // Offsets are distinct (P <= H), so at most one fragment syncs at a step; -1: none.
  int fragment_syncing_at(int t) const {
    for (int f = 0; f < fragments_; ++f)
      if (syncs_at(f, t)) return f;
    return -1;
  }
  // Sync events in step order: event e = j*P + f (j = period, f = fragment) is at step
  // j*H + offset(f); event 0 (t = 0) does not exist, so round k is event k + 1.
  long round_of(int f, int t) const { return static_cast<long>((t - offset(f)) / h_) * fragments_ + f - 1; }
  int sync_step(long round) const {
    const long e = round + 1;
    return static_cast<int>(e / fragments_ * h_ + offset(static_cast<int>(e % fragments_)));
  }
  // A worker that joins at round r resumes after the previous round's sync step.
  int resume_step(long round) const { return round == 0 ? 0 : sync_step(round - 1); }
  long rounds_until(int steps) const {
    long n = 0;
    while (sync_step(n) <= steps) ++n;
    return n;
  }

  int start_sync(WorkerContext& ctx, int f, int t) {
    const int rank = ctx.rank();
    auto sync = std::make_shared<Sync>();
    sync->delta = globals_[rank][f]->outer_gradient(ctx.trainer(), outer_.wire_format);
    if (ctx.faults_on() && sync->delta.is_real()) sync->saved.assign(sync->delta.values().begin(), sync->delta.values().end());
    sync->work_at_launch = work_[rank];
    const long round = round_of(f, t);
    if (tau_ == 0) {
      run_round(ctx, round, *sync);
      pending_[rank].push_back({round, f, t, {}, sync});
      apply_front(ctx);
      return static_cast<int>(sync->members.size());
    }
    Overlapped op = ctx.start_overlapped(1 + f, [this, sync, round](WorkerContext& comm) { run_round(comm, round, *sync); });
    pending_[rank].push_back({round, f, t + tau_, op, sync});
    return ctx.group_size();
  }

  // The all-reduce of one fragment sync among the round's members (in the helper unless tau 0).
  void run_round(WorkerContext& c, long round, Sync& s) {
    s.members = c.sync_round(
        round, [&](const std::vector<int>& m) { c.allreduce_mean(s.delta, outer_.allreduce, m); },
        [&] {
          if (s.delta.is_real()) kernels::copy(s.delta.values().data(), s.saved.data(), s.saved.size());
        });
    if (!c.faults_on()) return;
    // What the worker trained after the launch is not in this round's outer gradient.
    FaultLog& log = *c.world().faults;
    log.unsynced_samples[c.rank()] = work_[c.rank()].samples - s.work_at_launch.samples;
    log.unsynced_compute_s[c.rank()] = work_[c.rank()].compute_s - s.work_at_launch.compute_s;
  }

  // Joins the oldest sync, applies it, and (faults) checkpoints after it.  It leaves the list
  // before it is applied: a returning worker copies what is listed and applies it itself.
  void apply_front(WorkerContext& ctx) {
    const int rank = ctx.rank();
    auto& pending = pending_[rank];
    if (pending.front().op.actor) ctx.join(pending.front().op);
    const Pending p = std::move(pending.front());
    pending.pop_front();
    GlobalCopy& global = *globals_[rank][p.fragment];
    global.step(p.sync->delta);
    global.merge_into(ctx.trainer(), alpha_);
    if (ctx.faults_on())
      maybe_checkpoint(ctx, p.round + 1, p.sync->members, state_bytes(ctx.trainer().params().numel(), outer_.optimizer),
                       [this, rank](Checkpoint& c) { save(rank, c); });
  }

  // Every fragment's theta_g (concatenated: the whole parameter vector) and outer optimizer.
  void save(int rank, Checkpoint& c) const {
    c.params.clear();
    c.fragment_optimizers.clear();
    for (const auto& g : globals_[rank]) {
      if (g->params().is_real()) c.params.insert(c.params.end(), g->params().values().begin(), g->params().values().end());
      c.fragment_optimizers.push_back(g->optimizer());
    }
  }

  // What a worker returning at round `round` reloads (sim/strategies/restart.h).  From a donor
  // also the averaged outer gradients of rounds before `round` that the donor has not applied
  // yet: they are applied at the same steps as the donor's, so every live global copy stays the
  // same.  The bytes count the most of those there can be (rounds whose apply step lies after
  // the resume step).
  StateSource state_source(WorkerContext& ctx, long round) {
    const int rank = ctx.rank();
    runtime::Trainer& trainer = ctx.trainer();
    StateSource s;
    s.bytes = state_bytes(trainer.params().numel(), outer_.optimizer);
    for (long k = round - 1; k >= 0 && sync_step(k) + tau_ > resume_step(round); --k)
      s.bytes += kFp32Bytes * globals_[rank][fragment_syncing_at(sync_step(k))]->range().count;
    s.from_donor = [this, &ctx, rank, round](int donor) {
      for (int f = 0; f < fragments_; ++f) {
        const GlobalCopy& d = *globals_[donor][f];
        globals_[rank][f]->load(d.params().is_real() ? d.params().values() : std::span<const float>(), d.optimizer());
      }
      for (const Pending& p : pending_[donor])
        if (p.round < round) pending_[rank].push_back({p.round, p.fragment, p.apply_at, {}, std::make_shared<Sync>(*p.sync)});
      restart_inner(ctx);
    };
    s.from_checkpoint = [this, &ctx, rank](const Checkpoint& c) {
      for (int f = 0; f < fragments_; ++f) {
        GlobalCopy& g = *globals_[rank][f];
        const auto values = c.params.empty() ? std::span<const float>()
                                             : std::span<const float>(c.params).subspan(g.range().begin, g.range().count);
        g.load(values, c.fragment_optimizers.at(f));
      }
      restart_inner(ctx);
    };
    s.from_initial = [this, &ctx, &trainer, rank] {
      const auto& initial = ctx.world().training.initial_parameters();
      for (int f = 0; f < fragments_; ++f) {
        GlobalCopy& g = *globals_[rank][f];
        const auto values = trainer.is_real() ? std::span<const float>(initial).subspan(g.range().begin, g.range().count)
                                              : std::span<const float>();
        g.load(values, runtime::Optimizer(g.optimizer().spec(), trainer.is_real() ? g.range().count : 0));
      }
      restart_inner(ctx);
    };
    return s;
  }

  // theta_m = theta_g on every fragment, and a fresh inner optimizer.
  void restart_inner(WorkerContext& ctx) {
    for (const auto& g : globals_[ctx.rank()]) g->merge_into(ctx.trainer(), 0.0);
    ctx.trainer().optimizer().reset();
  }

  // A worker that is up and holds the current state (not preempted, not reloading).
  bool holds_live_state(const World& world, int rank) const {
    return holds_state_[rank] && (!world.membership || world.membership->alive(rank));
  }
  // The deployed model: the first such worker's global copy (worker 0's without faults).
  int deployed_worker(const World& world) const {
    for (int r = 0; r < static_cast<int>(globals_.size()); ++r)
      if (holds_live_state(world, r)) return r;
    return 0;
  }

  int h_, fragments_, tau_;
  double alpha_;
  OuterConfig outer_;
  long rounds_ = 0;                                                // sync events in the run
  std::vector<std::vector<std::unique_ptr<GlobalCopy>>> globals_;  // [worker][fragment]
  std::vector<std::deque<Pending>> pending_;                        // [worker]: syncs not applied yet
  std::vector<bool> holds_state_;                                   // [worker]
  std::vector<Work> work_;                                          // [worker]
};


}  // namespace

StrategyInfo streaming_diloco_strategy() {
  StrategyInfo info{"streaming_diloco", "Streaming DiLoCo: DiLoCo syncing strided fragments that overlap later steps", {}};
  info.knobs = {{"H", KnobType::integer, 100, 1, 100000000, false, {}, "inner steps between syncs of one fragment", "",
                 KnobRole::sync_period},
                {"fragments", KnobType::integer, 1, 1, 4096, false, {}, "fragments synced in turn (at most H)"},
                {"tau", KnobType::integer, 1, 0, 1000000, false, {}, "steps a fragment's sync overlaps (< H)"},
                {"alpha", KnobType::number, 0.5, 0, 1, false, {}, "share of the local parameters kept when merging"}};
  // The paper's outer Nesterov: lr ~0.4, momentum 0.9.
  for (auto& k : outer_knobs({{"name", "nesterov"}, {"lr", 0.4}, {"momentum", 0.9}})) info.knobs.push_back(std::move(k));
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario&) -> std::unique_ptr<Strategy> {
    const int h = static_cast<int>(read_integer(reader, knob_of(knobs, "H")));
    const int fragments = static_cast<int>(read_integer(reader, knob_of(knobs, "fragments")));
    if (fragments > h) reader.fail("fragments", "expected at most H fragments (each needs its own sync step)");
    const int tau = static_cast<int>(read_integer(reader, knob_of(knobs, "tau")));
    if (tau >= h) reader.fail("tau", "expected tau < H (one sync of a fragment in flight at a time)");
    const double alpha = read_number(reader, knob_of(knobs, "alpha"));
    return std::make_unique<StreamingDiloco>(h, fragments, tau, alpha, parse_outer(reader, knobs));
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) { add_outer_state(knobs, b); };
  return info;
}

}  // namespace geotrain::sim
