// Parameter server (Jin et al. 2016's baseline): K server shards each own 1/K of the parameters.
// Workers pull the current parameters, compute a gradient, and push it.  Asynchronous mode: each
// shard applies every push on arrival (simulated-time order); staleness = shard version at apply
// minus the version the worker pulled.  Synchronous mode: a shard waits for the pushes of all
// workers for a round, averages them, applies once, then answers the next round's pulls.
// Under faults training goes on with the live workers (sim/resilience/server_link.h: requests,
// retries, step claims; server_state.h: a round's members, shard checkpoints and restarts).  A
// returning worker holds no state: it pulls again (synchronous: it joins the open round).
// Synchronous mode with "overlap" (no faults): the gradient goes out in keys, DDP's buckets split
// over the shards, while the backward goes on (sim/key_schedule.h).  One bucket is the atomic step.
#include <algorithm>
#include <deque>
#include <optional>

#include <fmt/format.h>

#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/key_schedule.h"
#include "sim/catalog.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/server_link.h"
#include "sim/resilience/server_state.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class ParameterServer final : public Strategy {
 public:
  ParameterServer(bool sync, int shards, ServerPlacement placement, MessageFormat wire_format,
                  std::optional<double> bucket_cap_B)
      : sync_(sync), shard_count_(shards), placement_(placement), wire_format_(wire_format), bucket_cap_B_(bucket_cap_B) {}

  std::vector<ServerPlacement> servers(const Scenario&) const override { return std::vector<ServerPlacement>(shard_count_, placement_); }

  void prepare(World& world) override {
    const Workload& w = world.scenario.workload;
    const std::vector<float>& init = world.training.initial_parameters();
    const std::size_t n = static_cast<std::size_t>(w.parameters);
    const double wire_B = wire_format_ ? wire_bytes_per_value(*wire_format_) : w.wire_bytes_per_param;
    if (bucket_cap_B_) keys_ = KeySchedule(gradient_buckets(w.layers, n, wire_B, *bucket_cap_B_), shard_count_);
    const bool keyed = keys_.keyed();
    for (int s = 0; s < shard_count_; ++s) {
      const ChunkRange c = keyed ? ChunkRange{0, keys_.shard_size(s)} : chunk_range(n, shard_count_, s);
      std::vector<float> values;
      if (!init.empty() && keyed) values = keys_.gather(s, init);
      else if (!init.empty()) values.assign(init.begin() + c.begin, init.begin() + c.begin + c.count);
      shards_.emplace_back(c, std::move(values), w.optimizer, !keyed);
    }
    world.deployed_parameters = [this, n, keyed] {
      std::vector<float> all;
      if (keyed && !shards_[0].params.empty()) all.resize(n);
      for (int s = 0; s < shard_count_; ++s) {
        if (!keyed) all.insert(all.end(), shards_[s].params.begin(), shards_[s].params.end());
        else if (!all.empty()) keys_.scatter(s, shards_[s].params, all);
      }
      return all;
    };
    link_.prepare(world, [this](WorkerContext& ctx, int index) { run_server(ctx, index); }, sync_);
  }

  void run(WorkerContext& ctx) override {
    link_.start_worker(ctx);
    std::vector<int> servers(shard_count_);
    for (int s = 0; s < shard_count_; ++s) servers[s] = ctx.world_size() + s;
    if (keys_.keyed()) keys_.run_worker(ctx, link_, servers, wire_format_);
    else run_worker(ctx, servers);
    link_.finish_worker(ctx);
  }

  void run_server(WorkerContext& ctx, int index) override {
    link_.start_server(ctx);
    ServerShard& shard = shards_[index];
    if (ctx.restarted()) shard.restore(ctx);
    if (keys_.keyed()) keys_.serve(ctx, link_, index, shard, wire_format_);
    else if (sync_) serve_sync(ctx, shard);
    else serve_async(ctx, shard);
  }

 private:
  void run_worker(WorkerContext& ctx, const std::vector<int>& servers) {
    const Workload& w = ctx.scenario().workload;
    runtime::Trainer& trainer = ctx.trainer();
    for (long round = 0; sync_ ? ServerLink::more_rounds(ctx, round) : link_.claim_step(ctx); ++round) {
      const auto replies = link_.ask_all(
          ctx, servers, [round](std::size_t) { return Message{{}, kPull, -1, round}; }, kRequestBytes);
      std::vector<int> open, to;  // shards to push to (synchronous: those that still run rounds), their nodes
      for (int s = 0; s < shard_count_; ++s) {
        if (!(sync_ && replies[s]->version >= w.steps)) {
          open.push_back(s);
          to.push_back(servers[s]);
        }
        if (trainer.is_real() && !replies[s]->values.empty()) {
          const ChunkRange c = chunk(trainer, s);
          kernels::copy(trainer.params().slice(c.begin, c.count).data(), replies[s]->values.data(), c.count);
        }
      }
      if (sync_ && open.empty()) break;  // every round ran (a returning worker learns it here)
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      link_.push_all(ctx, to, [&](std::size_t i) {
        const int s = open[i];
        const ChunkRange c = chunk(trainer, s);
        const std::span<const float> g = trainer.is_real() ? trainer.grads().slice(c.begin, c.count) : std::span<const float>{};
        WireBody body = to_wire(g, c.count, wire_format_, w.wire_bytes_per_param);
        return std::pair{Message{std::move(body.values), kPush, -1, replies[s]->version}, body.bytes};
      });
      link_.pushed(ctx);
      ctx.end_step(w.batch_per_worker, loss, sync_ ? ServerLink::round_members(ctx) : 0);
    }
    link_.say_done(ctx, servers, !sync_);
  }

  void serve_async(WorkerContext& ctx, ServerShard& shard) {
    int done = 0;
    while (ServerLink::serving(ctx, done)) {
      auto msg = link_.receive(ctx);
      if (msg->kind == kDone) {
        link_.done(ctx, *msg, {{}, kReply, -1, shard.clock}, done);
      } else if (msg->kind == kPull) {
        reply_parameters(ctx, shard, *msg, shard.clock);
      } else if (msg->kind == kPush) {  // apply now
        record_staleness(shard.clock - msg->version);
        if (!shard.params.empty()) shard.optimizer.step(shard.params, msg->values);
        ++shard.version;
        ++shard.clock;
        publish(ctx.world());  // at every update: under faults servers are daemons, that never see the end
        shard.maybe_checkpoint(ctx);
      }
    }
    publish(ctx.world());
  }

  // A round closes once every member pushed (sim/resilience/server_state.h): the mean of the
  // pushes steps the shard, and the pulls of those who pushed are answered.
  void serve_sync(WorkerContext& ctx, ServerShard& shard) {
    ServerRound round(ctx, link_);
    std::vector<float> sum(shard.params.size(), 0.0f);
    std::deque<std::unique_ptr<Message>> waiting_pulls;  // from workers that pushed in the open round
    auto close_round_if_complete = [&] {
      if (!round.complete()) return;
      if (!shard.params.empty()) {
        kernels::scale(sum.data(), 1.0f / static_cast<float>(round.pushes()), sum.size());
        shard.optimizer.step(shard.params, sum);
        std::fill(sum.begin(), sum.end(), 0.0f);
      }
      round.close();
      ++shard.version;
      for (const auto& pull : waiting_pulls) reply_parameters(ctx, shard, *pull, shard.version);
      waiting_pulls.clear();
      shard.maybe_checkpoint(ctx);
    };
    while (round.serving()) {
      auto msg = link_.receive(ctx);
      if (!round.admit(*msg, shard.version, link_)) continue;
      if (msg->kind == kPull && round.pushed(msg->from)) {
        waiting_pulls.push_back(std::move(msg));
      } else if (msg->kind == kPull) {
        reply_parameters(ctx, shard, *msg, shard.version);
      } else {  // a push, or a member's death
        if (msg->kind == kPush && !shard.params.empty()) kernels::add_into(sum.data(), msg->values.data(), sum.size());
        close_round_if_complete();
      }
    }
  }

  // Answers a pull with the shard's parameters (synchronous, once every round ran: an empty one).
  void reply_parameters(WorkerContext& ctx, const ServerShard& shard, const Message& pull, long version) {
    const Workload& w = ctx.scenario().workload;
    if (sync_ && shard.version >= w.steps) {
      link_.reply(ctx, pull, {{}, kReply, -1, version}, kRequestBytes);
      return;
    }
    WireBody body = to_wire(shard.params, shard.range.count, wire_format_, w.wire_bytes_per_param);
    link_.reply(ctx, pull, {std::move(body.values), kReply, -1, version}, body.bytes);
  }

  ChunkRange chunk(const runtime::Trainer& t, int s) const { return chunk_range(t.params().numel(), shard_count_, s); }

  void record_staleness(long s) {
    staleness_sum_ += static_cast<double>(s);
    staleness_max_ = std::max(staleness_max_, s);
    ++updates_;
  }

  // Staleness figures go to the results (asynchronous mode; every shard counts its applies).
  void publish(World& world) const {
    world.extra["staleness"] = {{"mean", updates_ ? staleness_sum_ / static_cast<double>(updates_) : 0.0},
                                {"max", staleness_max_},
                                {"updates", updates_}};
  }

  bool sync_;
  int shard_count_;
  ServerPlacement placement_;
  MessageFormat wire_format_;  // pushes and replies
  std::optional<double> bucket_cap_B_;  // overlap (synchronous, no faults): the bucket cap in wire bytes
  KeySchedule keys_;                    // overlap: the buckets' keys (none: the atomic step)
  std::vector<ServerShard> shards_;
  ServerLink link_;
  double staleness_sum_ = 0;
  long staleness_max_ = 0;
  long updates_ = 0;
};

}  // namespace

StrategyInfo parameter_server_strategy() {
  StrategyInfo info{"parameter_server", "parameter server: workers push gradients to sharded servers that run the optimizer", {}};
  info.knobs = {{"mode", KnobType::choice, "async", 0, 0, false, {"async", "sync"}, "apply each push at once, or once all have pushed"},
                {"shards", KnobType::integer, 1, 1, 1024, false, {}, "server nodes, each holding a slice of the parameters"},
                {"wire_format", KnobType::choice, "native", 0, 0, false, message_format_names(), "compression of pushes and pulls"},
                {"server", KnobType::object, nullptr, 0, 0, false, {}, "where the server nodes run: {region, instance, pricing}",
                 "the first fleet entry's region and instance, on demand"}};
  std::vector<KnobSpec> layer_knobs = overlap_knobs(true);  // "overlap", then "bucket_cap_MB"
  layer_knobs.front().meaning =
      "push each key (a bucket's piece of a shard) while the backward goes on, and get it back once the shard stepped it "
      "(false: compute, then one push per shard); default true for transformer and layers workloads in synchronous runs "
      "without faults and without clip_norm";
  for (auto& k : layer_knobs) info.knobs.push_back(std::move(k));
  info.optimizer_on_workers = false;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& scenario) -> std::unique_ptr<Strategy> {
    const bool sync = read_choice(reader, knob_of(knobs, "mode")) == "sync";
    const int shards = static_cast<int>(read_integer(reader, knob_of(knobs, "shards")));
    const MessageFormat wire = message_format_from_name(read_choice(reader, knob_of(knobs, "wire_format")));
    const std::string_view unsupported =
        !sync ? "with mode \"async\" (each push is applied on arrival; the overlapped step is the synchronous mode's)"
        : scenario.workload.optimizer.clip_norm > 0
            ? "with the optimizer's clip_norm > 0 (the overlapped shard steps each key on its own: no norm over the shard)"
            : "";
    const std::optional<double> cap = read_overlap(reader, knobs, scenario, unsupported);
    auto strategy = std::make_unique<ParameterServer>(sync, shards, parse_server_placement(reader, scenario), wire, cap);
    strategy->traits.group_rounds = false;  // workers come and go on their own (sim/resilience/)
    strategy->traits.survives_link_down = false;
    return strategy;
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string& inner, StateBytes& b) {
    StateBytes server;  // one whole copy, then divided over the shards
    server.add_server("weights", kFp32_B);
    server.add_server(inner + " state", optimizer_state_B_per_param(inner));
    if (knobs["mode"] == "sync") server.add_server("gradient sum", kFp32_B);
    const double shards = knobs["shards"].get<double>();
    b.server_B_per_param = server.server_B_per_param / shards;
    b.server_items = shards > 1 ? fmt::format("({}) / {:g} shards", server.server_items, shards) : server.server_items;
  };
  return info;
}

}  // namespace geotrain::sim
