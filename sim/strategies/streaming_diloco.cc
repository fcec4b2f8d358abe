// Streaming DiLoCo (Douillard et al. 2025): DiLoCo whose parameters are split into P fragments
// that synchronize on staggered schedules (fragment p at steps t with (t - p*H/P) mod H == 0),
// so only about 1/P of the parameters is in flight at once.  A fragment's all-reduce overlaps
// the next tau inner steps (it runs in a helper actor while the worker computes); its result is
// applied tau steps later and merged with the local progress:
//   theta_g_p = OuterOpt(theta_g_p, mean delta_p);  theta_m_p = alpha*theta_m_p + (1-alpha)*theta_g_p.
// A merge whose all-reduce has not ended by then blocks only the forward of its fragment's
// layers: the next forward runs up to the fragment's first layer meanwhile (the paper's
// schedule), the values are those of a merge before the forward (the layers before do not hold
// the fragment's parameters).
// Outer gradients travel in the chosen wire format (fp32, bf16, fp16, fp4) and sum in fp32.
// Fragments are strided layer groups, as in the paper (layer l in fragment l mod P), when the
// model has at least P layers with parameters ("fragment_layout": "strided"); otherwise, or with
// "contiguous", near-equal slices of the flat parameter vector.  Either way the P fragments
// partition the parameters, so a period of syncs sends the same bytes.
// Every fragment sync is one round of the group (sim/resilience/), numbered by the order of the
// sync steps (the same on every worker), run in the helper actor.  The replica is every
// fragment's global copy and outer optimizer; a returning worker also takes over the averaged
// outer gradients its donor committed but has not applied yet (tau steps late), restarts its
// inner optimizer from theta_g and resumes at the sync step before its first round.
#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <span>

#include <fmt/format.h>

#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/layer_schedule.h"
#include "sim/catalog.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class StreamingDiloco final : public Strategy {
 public:
  StreamingDiloco(int h, int fragments, int tau, double alpha, bool strided, OuterConfig outer)
      : h_(h), fragments_(fragments), tau_(tau), alpha_(alpha), strided_(strided), outer_(std::move(outer)) {}

  void prepare(World& world) override {
    const std::size_t numel = world.trainers.front()->params().numel();
    std::vector<std::vector<ChunkRange>> ranges;
    for (int f = 0; f < fragments_; ++f)
      ranges.push_back(strided_ ? strided_fragment(world.scenario.workload.layers, numel, fragments_, f)
                                : std::vector<ChunkRange>{chunk_range(numel, fragments_, f)});
    for (const auto& t : world.trainers) {
      std::vector<std::unique_ptr<GlobalCopy>> mine;
      for (int f = 0; f < fragments_; ++f) mine.push_back(std::make_unique<GlobalCopy>(*t, ranges[f], outer_.optimizer));
      globals_.push_back(std::move(mine));
    }
    pending_.assign(world.trainers.size(), {});
    // With measured compute the pass is timed whole: a merge waits before the forward.
    for (int f = 0; f < fragments_; ++f)
      forward_before_.push_back(world.scenario.workload.measured_compute
                                    ? 0
                                    : forward_flops_before(world.scenario.workload.layers, numel, ranges[f].front().begin));
    rounds_ = rounds_until(world.scenario.workload.steps);
    world.deployed_parameters = [this, &world, numel] {
      std::vector<float> all(numel);
      for (const auto& g : globals_[resilience::deployed_worker(world)]) {
        std::size_t at = 0;
        for (const ChunkRange& r : g->ranges()) {
          std::copy_n(g->params().values().begin() + static_cast<std::ptrdiff_t>(at), r.count,
                      all.begin() + static_cast<std::ptrdiff_t>(r.begin));
          at += r.count;
        }
      }
      return all;
    };
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const int rank = ctx.rank();
    std::deque<Pending>& pending = pending_[rank];
    // A worker that rejoined past the last round has nothing to sync: it only applies what it copied.
    const long round = ctx.start_round();
    int step = ctx.restarted() && round >= rounds_ ? w.steps : resume_step(round);
    double forward_done = 0;  // FLOPs per sample of this step's forward done while merges waited
    for (; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker, forward_done);
      ctx.optimizer_step(trainer.grads());
      const int t = step + 1;
      int group = ctx.group_size();
      const int f = fragment_syncing_at(t);
      // The syncs due now whose all-reduce goes on (before the last step's end: none).
      const std::vector<Overlapped> running = t < w.steps ? running_due(rank, t) : std::vector<Overlapped>{};
      if (running.empty()) {
        while (!pending.empty() && pending.front().apply_at <= t) apply_front(ctx);
        if (f >= 0) group = start_sync(ctx, f, t);
        ctx.end_step(w.batch_per_worker, loss, group);
        forward_done = 0;
      } else {
        // The step ends; the next forward runs while they end, their merges block only their
        // fragments' layers.  Fragment f's all-reduce is launched behind them (launch order).
        if (f >= 0) group = start_sync(ctx, f, t, running);
        const double end_s = ctx.close_step(w.batch_per_worker, loss);
        forward_done = merge_in_forward(ctx, t, w.batch_per_worker);
        ctx.end_step_at(w.batch_per_worker, loss, group, end_s);
      }
    }
    while (!pending.empty()) apply_front(ctx);
  }

  // The replica: every fragment's global copy and outer optimizer.
  ReplicaState replica(World& world, int rank, long) override {
    ReplicaState s;
    for (const auto& g : globals_[rank]) {
      const ReplicaState part = g->state(world);
      s.tensors.push_back(part.tensors.front());
      s.optimizers.push_back(part.optimizers.front());
    }
    s.bytes = state_bytes(world.trainers[rank]->params().numel(), outer_.optimizer);
    return s;
  }
  // From a donor also the averaged outer gradients of rounds before `round` that it has not
  // applied yet (applied at the same steps as the donor's, so every live global copy stays the
  // same): the bytes count the most of those there can be (rounds whose apply step lies after the
  // resume step).
  std::uint64_t join_bytes(World& world, int rank, long round) override {
    std::uint64_t bytes = replica(world, rank, round).bytes;
    for (long k = round - 1; k >= 0 && sync_step(k) + tau_ > resume_step(round); --k)
      bytes += kFp32Bytes * globals_[rank][fragment_syncing_at(sync_step(k))]->count();
    return bytes;
  }
  void on_restart(World&, int rank) override { pending_[rank].clear(); }  // its syncs in flight died with it
  // A replica resuming at round r has taken the steps up to round r - 1's sync (all of them once
  // every round synced).
  long steps_at_round(const World& world, long round) const override {
    return round >= rounds_ ? world.scenario.workload.steps : resume_step(round);
  }
  void after_load(WorkerContext& ctx, long round, int donor) override {
    const int rank = ctx.rank();
    if (donor >= 0)
      for (const Pending& p : pending_[donor])
        if (p.round < round) pending_[rank].push_back({p.round, p.fragment, p.apply_at, {}, std::make_shared<Sync>(*p.sync)});
    for (const auto& g : globals_[rank]) g->restart_inner(ctx.trainer());
  }

 private:
  // One fragment sync: the outer gradient (the mean once averaged) and the committed members.
  struct Sync {
    runtime::Tensor delta = runtime::Tensor::phantom(0);
    std::vector<int> members;
    bool reduced = false;  // the all-reduce ended
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

  // Starts fragment f's sync at step t; its all-reduce waits for the ones in `after` to end.
  int start_sync(WorkerContext& ctx, int f, int t, const std::vector<Overlapped>& after = {}) {
    const int rank = ctx.rank();
    auto sync = std::make_shared<Sync>();
    sync->delta = globals_[rank][f]->outer_gradient(ctx.trainer(), outer_.wire_format);
    const long round = round_of(f, t);
    if (tau_ == 0) {
      run_round(ctx, round, f, *sync);
      pending_[rank].push_back({round, f, t, {}, sync});
      apply_front(ctx);
      return static_cast<int>(sync->members.size());
    }
    Overlapped op = ctx.start_overlapped(1 + f, [this, sync, round, f, after](WorkerContext& comm) {
      for (const Overlapped& before : after) before.actor->join();
      run_round(comm, round, f, *sync);
    });
    pending_[rank].push_back({round, f, t + tau_, op, sync});
    return ctx.group_size();
  }

  // The all-reduce of one fragment sync among the round's members (in the helper unless tau 0),
  // its trace spans named after the fragment ("allreduce/ring fragment 3").
  void run_round(WorkerContext& c, long round, int f, Sync& s) {
    const WorkerContext::SpanNote note(c, fmt::format("fragment {}", f));
    s.members = resilience::allreduce_round(c, round, s.delta, outer_.allreduce);
    s.reduced = true;
  }

  // The helpers of the syncs due at step t whose all-reduce has not ended.
  std::vector<Overlapped> running_due(int rank, int t) const {
    std::vector<Overlapped> running;
    for (const Pending& p : pending_[rank])
      if (p.apply_at <= t && p.op.actor && !p.sync->reduced) running.push_back(p.op);
    return running;
  }

  // Applies the syncs due at step t, in order, while the next step's forward (of `batch`
  // samples) runs: before waiting for one, up to the first layer of the fragments still to merge.
  // Returns the forward FLOPs per sample done.
  double merge_in_forward(WorkerContext& ctx, int t, int batch) {
    std::deque<Pending>& pending = pending_[ctx.rank()];
    double done = 0;
    while (!pending.empty() && pending.front().apply_at <= t) {
      if (!pending.front().sync->reduced) {
        double until = forward_before_[pending.front().fragment];
        for (const Pending& p : pending)
          if (p.apply_at <= t) until = std::min(until, forward_before_[p.fragment]);
        if (until > done) ctx.compute_flops(batch * (until - done), 0, "forward");
        done = std::max(done, until);
      }
      apply_front(ctx);
    }
    return done;
  }

  // Joins the oldest sync and applies it (sim/resilience/: agreement, checkpoints).  It leaves the list
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
    resilience::applied(ctx, p.round + 1, p.sync->members);
  }

  int h_, fragments_, tau_;
  double alpha_;
  bool strided_;
  OuterConfig outer_;
  long rounds_ = 0;                                                // sync events in the run
  std::vector<double> forward_before_;                              // [fragment]: forward FLOPs per sample before its first layer
  std::vector<std::vector<std::unique_ptr<GlobalCopy>>> globals_;  // [worker][fragment]
  std::vector<std::deque<Pending>> pending_;                        // [worker]: syncs not applied yet
};


}  // namespace

StrategyInfo streaming_diloco_strategy() {
  StrategyInfo info{"streaming_diloco", "Streaming DiLoCo: DiLoCo syncing strided fragments that overlap later steps", {}};
  info.knobs = {{"H", KnobType::integer, 100, 1, 100000000, false, {}, "inner steps between syncs of one fragment", "",
                 KnobRole::sync_period},
                {"fragments", KnobType::integer, 1, 1, 4096, false, {}, "fragments synced in turn (at most H)"},
                {"tau", KnobType::integer, 1, 0, 1000000, false, {}, "steps a fragment's sync overlaps (< H)"},
                {"alpha", KnobType::number, 0.5, 0, 1, false, {}, "share of the local parameters kept when merging"},
                {"fragment_layout", KnobType::choice, nullptr, 0, 0, false, {"strided", "contiguous"},
                 "strided: layer l in fragment l mod P (the paper's); contiguous: P near-equal slices of the flat parameters",
                 "strided when the model has at least P layers with parameters, else contiguous"}};
  // The paper's outer Nesterov: lr ~0.4, momentum 0.9.
  for (auto& k : outer_knobs({{"name", "nesterov"}, {"lr", 0.4}, {"momentum", 0.9}})) info.knobs.push_back(std::move(k));
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& scenario) -> std::unique_ptr<Strategy> {
    const int h = static_cast<int>(read_integer(reader, knob_of(knobs, "H")));
    const int fragments = static_cast<int>(read_integer(reader, knob_of(knobs, "fragments")));
    if (fragments > h) reader.fail("fragments", "expected at most H fragments (each needs its own sync step)");
    const int tau = static_cast<int>(read_integer(reader, knob_of(knobs, "tau")));
    if (tau >= h) reader.fail("tau", "expected tau < H (one sync of a fragment in flight at a time)");
    const double alpha = read_number(reader, knob_of(knobs, "alpha"));
    // As the parameter vector is sized (sim/training.cc).
    const auto numel = static_cast<std::size_t>(scenario.workload.parameters);
    const int layers = static_cast<int>(layer_ranges(scenario.workload.layers, numel).size());
    const bool strided = read_choice(reader, knob_of(knobs, "fragment_layout"), layers >= fragments ? "strided" : "contiguous") == "strided";
    if (strided && layers < fragments)
      reader.fail("fragment_layout", fmt::format("strided fragments need a layer with parameters per fragment: the model has "
                                                 "{}, for {} fragments; expected \"contiguous\" or fewer fragments", layers, fragments));
    auto strategy = std::make_unique<StreamingDiloco>(h, fragments, tau, alpha, strided, parse_outer(reader, knobs));
    strategy->traits.agreement_key = "live_global_copies";
    return strategy;
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) { add_outer_state(knobs, b); };
  return info;
}

}  // namespace geotrain::sim
