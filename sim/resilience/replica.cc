// The resilience layer's side of the state contract: rejoining, checkpoints, the agreement check.
#include "sim/resilience/replica.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <simgrid/Exception.hpp>

#include "kernels/check.h"
#include "kernels/reduce.h"
#include "sim/json_reader.h"

namespace geotrain::sim {
namespace {

// Rounds whose agreement records are kept (a worker applies a round at most a few rounds late).
constexpr std::size_t kAgreementRounds = 1024;

// Copies `from` into `to` where both hold values (size-only runs hold none).
void copy_values(std::span<float> to, std::span<const float> from) {
  if (!to.empty() && !from.empty()) kernels::copy(to.data(), from.data(), from.size());
}

void copy_state(const ReplicaState& from, ReplicaState& to) {
  GEOTRAIN_CHECK(from.tensors.size() == to.tensors.size() && from.optimizers.size() == to.optimizers.size(),
                 "a donor's declared state differs in shape from the joiner's");
  for (std::size_t i = 0; i < to.tensors.size(); ++i) copy_values(to.tensors[i].values, from.tensors[i].values);
  for (std::size_t i = 0; i < to.optimizers.size(); ++i) *to.optimizers[i] = *from.optimizers[i];
  if (to.opaque) *to.opaque = *from.opaque;
}

void save_state(const ReplicaState& from, Checkpoint& c) {
  c.tensors.resize(from.tensors.size());
  for (std::size_t i = 0; i < from.tensors.size(); ++i)
    c.tensors[i].assign(from.tensors[i].values.begin(), from.tensors[i].values.end());
  c.optimizers.clear();
  for (const runtime::Optimizer* o : from.optimizers) c.optimizers.push_back(*o);
  if (from.opaque) c.opaque = *from.opaque;
}

void load_state(const Checkpoint& c, ReplicaState& to) {
  for (std::size_t i = 0; i < to.tensors.size(); ++i) copy_values(to.tensors[i].values, c.tensors.at(i));
  for (std::size_t i = 0; i < to.optimizers.size(); ++i) *to.optimizers[i] = c.optimizers.at(i);
  if (to.opaque) *to.opaque = c.opaque;
}

void fresh_state(ReplicaState& to) {
  for (StateTensor& t : to.tensors) copy_values(t.values, t.initial);
  for (runtime::Optimizer* o : to.optimizers) o->reset();
  if (to.opaque) to.opaque->clear();
}

// FNV-1a over the bytes of the declared tensors: equal states hash equal.
std::uint64_t state_hash(const ReplicaState& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (const StateTensor& t : s.tensors) {
    const auto* p = reinterpret_cast<const unsigned char*>(t.values.data());
    for (std::size_t i = 0; i < t.values.size_bytes(); ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

bool has_values(const ReplicaState& s) {
  return std::any_of(s.tensors.begin(), s.tensors.end(), [](const StateTensor& t) { return !t.values.empty(); });
}

// A data-parallel replica's declaration for strategies that declare nothing else.
Resilient& default_declaration() {
  static Resilient plain;
  return plain;
}

Resilient& declaration(const World& world) { return world.resilient ? *world.resilient : default_declaration(); }

// A restarted worker's random stream: a new one per incarnation (named after the worker and its
// preemption count), so it does not replay the draws of its first life.
void restart_rng(WorkerContext& ctx) {
  ctx.rng() = runtime::Rng::substream(
      ctx.scenario().seed, fmt::format("{}/incarnation {}", ctx.info().name, ctx.world().faults->preemptions[ctx.rank()]));
}

// Every every_steps rounds; with "auto", at the first round end at least Daly's interval after the
// last checkpoint (or the start), the interval recomputed from each checkpoint's measured cost.
bool checkpoint_due(WorkerContext& ctx, long round, const CheckpointSpec& spec) {
  if (!spec.auto_interval) return round % spec.every_steps == 0;
  FaultLog& log = *ctx.world().faults;
  if (log.checkpoint_interval_s <= 0) {
    const auto bytes = declaration(ctx.world()).replica(ctx.world(), ctx.rank(), round).bytes;
    log.checkpoint_cost_s = static_cast<double>(bytes) / spec.write_Bps;
    log.checkpoint_interval_s = daly_interval_s(log.checkpoint_cost_s, spec.mtbf_s);
  }
  const double since = log.checkpoint.round >= 0 ? log.checkpoint.time_s : 0;
  return ctx.now() - since >= log.checkpoint_interval_s;
}

void write_checkpoint_if_due(WorkerContext& ctx, long round, const std::vector<int>& members) {
  const auto& spec = ctx.scenario().faults.checkpoint;
  if (!ctx.world().faults || !spec || members.front() != ctx.rank() || !checkpoint_due(ctx, round, *spec)) return;
  const ReplicaState state = declaration(ctx.world()).replica(ctx.world(), ctx.rank(), round);
  try {
    const double start = ctx.now();
    ctx.write_checkpoint(round, state.bytes, [&state](Checkpoint& c) { save_state(state, c); });
    if (spec->auto_interval) {
      FaultLog& log = *ctx.world().faults;
      log.checkpoint_cost_s = ctx.now() - start;
      log.checkpoint_interval_s = daly_interval_s(log.checkpoint_cost_s, spec->mtbf_s);
    }
  } catch (const simgrid::Exception&) {
    // The store is unreachable (a link on the way is down): the previous checkpoint stays.
    ctx.world().faults->events.push_back({ctx.now(), ctx.rank(), "checkpoint failed", "store unreachable"});
  }
}

// What copying `bytes` of state from `donor` to `joiner` costs: a donor in another region first
// (its bytes cross a region boundary), then the egress dollars, then the estimated transfer time
// (latency + bytes / the route's bottleneck; state moves with enough streams to fill it).
struct DonorCost {
  bool other_region = false;
  double egress_usd = 0;
  double transfer_s = 0;
  int rank = 0;
  auto operator<=>(const DonorCost&) const = default;
};

DonorCost donor_cost(const World& world, int donor, int joiner, std::uint64_t bytes) {
  const auto& nodes = world.platform.nodes();
  const int from = nodes[donor].region, to = nodes[joiner].region;
  const double b = static_cast<double>(bytes);
  return {from != to, world.scenario.topology.egress_usd_per_B(from, to) * b,
          world.platform.latency_s(donor, joiner) + b / world.platform.bottleneck_Bps(donor, joiner), donor};
}

// The cheapest live holder of the view's state for `joiner` (-1: nobody holds it), logged as a
// "donor" event with what made it the choice.
int choose_donor(WorkerContext& ctx, const GroupView& view, std::uint64_t bytes) {
  World& world = ctx.world();
  std::optional<DonorCost> best;
  int holders = 0;
  for (int r : view.members) {
    if (view.is_joiner(r) || r == ctx.rank()) continue;
    ++holders;
    const DonorCost c = donor_cost(world, r, ctx.rank(), bytes);
    if (!best || c < *best) best = c;
  }
  if (!best) return -1;
  world.faults->events.push_back(
      {ctx.now(), ctx.rank(), "donor",
       fmt::format("{}: {} region, {:.6g} USD egress, {:.6g} s estimated for {} B (cheapest of {} live holders)",
                   world.platform.nodes()[best->rank].name, best->other_region ? "another" : "same", best->egress_usd,
                   best->transfer_s, bytes, holders)});
  return best->rank;
}

}  // namespace

std::uint64_t state_bytes(std::size_t values, const runtime::OptimizerSpec& optimizer) {
  const std::uint64_t moments = optimizer.name == "adamw" ? 2 : (optimizer.name == "sgd" ? 0 : 1);
  return kFp32Bytes * static_cast<std::uint64_t>(values) * (1 + moments);
}

ReplicaState Resilient::replica(World& world, int rank, long) {
  runtime::Trainer& t = *world.trainers.at(rank);
  ReplicaState s;
  if (t.is_real()) s.tensors.push_back({t.params().values(), world.training.initial_parameters()});
  else s.tensors.push_back({});
  s.optimizers.push_back(&t.optimizer());
  s.bytes = state_bytes(t.params().numel(), world.scenario.workload.optimizer);
  return s;
}

namespace resilience {

bool rejoin(WorkerContext& ctx, Resilient& strategy) {
  World& world = ctx.world();
  strategy.on_restart(world, ctx.rank());
  restart_rng(ctx);
  for (;;) {
    const auto view = ctx.join_group();
    if (!view) return false;
    const int donor = choose_donor(ctx, *view, strategy.join_bytes(world, ctx.rank(), view->round));
    // Rounds past this view's were applied in a timeline the group rolled back from (every
    // member lost, back to the checkpoint): their agreement records are void.
    world.agreement.erase(world.agreement.upper_bound(view->round), world.agreement.end());
    // And their work is out of the deployed model (lost).
    world.faults->roll_back_to(view->round);
    ReplicaState mine = strategy.replica(world, ctx.rank(), view->round);
    try {
      if (donor >= 0) {
        ctx.pull_state(donor, strategy.join_bytes(world, ctx.rank(), view->round));
        copy_state(strategy.replica(world, donor, view->round), mine);
      } else if (ctx.read_checkpoint()) {
        load_state(world.faults->checkpoint, mine);
      } else {
        fresh_state(mine);
      }
      strategy.after_load(ctx, view->round, donor);
      world.faults->events.push_back(
          {ctx.now(), ctx.rank(), "joined",
           donor >= 0 ? "state from " + ctx.platform().nodes()[donor].name
                      : (world.faults->checkpoint.round >= 0 ? "state from the checkpoint" : "initial model")});
      world.membership->loaded(ctx.rank());
      ctx.set_start_round(view->round);
      return true;
    } catch (const simgrid::Exception&) {
      // The donor died while sending, or a link on the way is down: after the failure detection
      // delay, the view of then names a donor (the same one when nothing changed).
      ctx.sleep(ctx.scenario().faults.retry_after_s);
    }
  }
}

void reload_from_peer(WorkerContext& ctx, Resilient& strategy, const std::function<int()>& pick) {
  World& world = ctx.world();
  restart_rng(ctx);
  for (;;) {
    const int donor = pick();
    ReplicaState mine = strategy.replica(world, ctx.rank(), 0);
    try {
      if (donor >= 0) {
        ctx.pull_state(donor, strategy.join_bytes(world, ctx.rank(), 0));
        copy_state(strategy.replica(world, donor, 0), mine);
      } else {
        fresh_state(mine);
      }
      strategy.after_load(ctx, 0, donor);
      world.faults->events.push_back(
          {ctx.now(), ctx.rank(), "joined", donor >= 0 ? "state from " + ctx.platform().nodes()[donor].name : "initial model"});
      return;
    } catch (const simgrid::Exception&) {
      // The donor went down while sending: after the failure detection delay, pick another.
      ctx.sleep(ctx.scenario().faults.retry_after_s);
    }
  }
}

const std::vector<int>& group_round(WorkerContext& ctx, long round, runtime::Tensor& t,
                                    const std::function<void(const std::vector<int>&)>& body, bool concurrent_work_in_round) {
  std::vector<float> saved;  // t before the round, for a retry (faults only)
  if (ctx.world().membership && t.is_real()) saved.assign(t.values().begin(), t.values().end());
  return ctx.sync_round(
      round, body, [&] { if (t.is_real()) kernels::copy(t.values().data(), saved.data(), saved.size()); },
      concurrent_work_in_round);
}

const std::vector<int>& allreduce_round(WorkerContext& ctx, long round, runtime::Tensor& t, AllreduceAlgo algo) {
  return group_round(ctx, round, t, [&](const std::vector<int>& members) { ctx.allreduce_mean(t, algo, members); });
}

void applied(WorkerContext& ctx, long round, const std::vector<int>& members) {
  World& world = ctx.world();
  if (world.training.is_real()) {
    const ReplicaState state = declaration(world).replica(world, ctx.rank(), round);
    if (has_values(state)) {
      const std::uint64_t h = state_hash(state);
      const auto [it, first] = world.agreement.try_emplace(round, ctx.rank(), h);
      GEOTRAIN_CHECK(first || it->second.second == h,
                     fmt::format("replicas disagree after a committed round: seed {}, round {}, workers {} and {} "
                                 "hold different states",
                                 world.scenario.seed, round, world.platform.nodes()[it->second.first].name,
                                 ctx.info().name)
                         .c_str());
      // Old rounds are done with (a late reporter of one would only start a new record).
      if (world.agreement.size() > kAgreementRounds) world.agreement.erase(world.agreement.begin());
    }
  }
  write_checkpoint_if_due(ctx, round, members);
}

void log_round_samples(WorkerContext& ctx, long round, double samples) {
  World& world = ctx.world();
  if (world.membership && declaration(world).traits.round_log_key) world.round_samples[round][ctx.rank()] = samples;
}

void report_agreement(World& world) {
  const char* key = declaration(world).traits.agreement_key;
  if (!world.membership || !key) return;
  int live = 0, first = -1;
  double worst = 0;
  for (int r = 0; r < static_cast<int>(world.trainers.size()); ++r) {
    if (!holds_live_state(world, r)) continue;
    ++live;
    if (first < 0) {
      first = r;
      continue;
    }
    const ReplicaState a = declaration(world).replica(world, r, 0), b = declaration(world).replica(world, first, 0);
    for (std::size_t i = 0; i < a.tensors.size(); ++i)
      for (std::size_t j = 0; j < a.tensors[i].values.size(); ++j)
        worst = std::max(worst, std::abs(double{a.tensors[i].values[j]} - b.tensors[i].values[j]));
  }
  world.extra[key] = {{"workers", live}, {"max_abs_diff", worst}};
}

double useful_samples(const World& world) {
  const double reported = world.recorder.row_count() == 0 ? 0 : world.recorder.last_row().samples;
  if (!world.faults) return reported;
  return world.faults->useful_samples(declaration(world).traits.group_rounds);
}

Goodput goodput(const World& world) {
  const Recorder& recorder = world.recorder;
  Goodput g;
  g.work_steps = static_cast<long>(recorder.row_count());
  g.useful_steps = g.work_steps;
  g.work_samples = recorder.row_count() == 0 ? 0 : recorder.last_row().samples;
  g.useful_samples = g.work_samples;
  if (!world.faults) return g;
  const FaultLog& log = *world.faults;
  const Resilient& strategy = declaration(world);
  g.work_samples = log.total_work_samples();
  g.useful_samples = useful_samples(world);
  // Workers on their own (gossip, EASGD, parameter servers) each take their own steps: there the
  // steps stay the timeline rows.
  if (strategy.traits.group_rounds) g.useful_steps = strategy.steps_at_round(world, log.committed_resume_round());
  return g;
}

void log_event(WorkerContext& ctx, const std::string& kind, const std::string& cause) {
  ctx.world().faults->events.push_back({ctx.now(), ctx.rank(), kind, cause});
}

bool alive(const World& world, int rank) { return !world.membership || world.membership->alive(rank); }

bool holds_live_state(const World& world, int rank) {
  return !world.membership || world.membership->holds_state(rank);
}

int deployed_worker(const World& world) {
  for (int r = 0; r < static_cast<int>(world.trainers.size()); ++r)
    if (holds_live_state(world, r)) return r;
  return 0;
}

}  // namespace resilience
}  // namespace geotrain::sim
