// Parameter server (Jin et al. 2016's baseline): K server shards each own 1/K of the parameters.
// Workers pull the current parameters, compute a gradient, and push it.  Asynchronous mode: each
// shard applies every push on arrival (simulated-time order); staleness = shard version at apply
// minus the version the worker pulled.  Synchronous mode: a shard waits for the pushes of all
// workers for a round, averages them, applies once, then answers the next round's pulls.
// Under faults (sim/resilience/server_link.h) training goes on with the live workers:
// - asynchronous: shards apply pushes in arrival order, whoever sent them; a worker preempted
//   before its push landed loses that gradient and its step goes back to the run's budget; a
//   returning worker holds no state: it just pulls again.
// - synchronous: a round waits for the pushes of its members and averages those it got.  The
//   members are the workers up when the shard started, plus every worker whose pull or push
//   reached it since, minus those whose death it learned of (a notice from the fault injector).
//   A returning worker joins the round open when its first pull arrives (it is answered at once
//   and that round waits for its push).  A push tagged with another round is discarded.
// - a shard that fails restarts from its last checkpoint (written every checkpoint.every_steps
//   applied updates: pushes in asynchronous mode, rounds in synchronous mode), else from the
//   initial parameters; asynchronous staleness keeps counting the updates lost with it.
// Synchronous mode with "overlap" (no faults): the gradient goes out in DDP's buckets
// (sim/layer_schedule.h) while the backward goes on, as MXNet's dist_sync kvstore pushes each key
// once the engine has its gradient.  Each bucket is split evenly over the shards (as the kvstore
// splits a big array over all servers, and BytePS partitions tensors over its servers), so a
// shard owns one key of every bucket (its values are its keys', concatenated, not a contiguous
// range as in the atomic step).  A shard steps a key (its own optimizer, as the kvstore's updater
// runs per key) once every worker pushed it, and sends the key's new values to every worker at
// once (push, then pull, per key).  The step ends when the last key's values are back; the next
// forward waits for all of them.  Round 0's parameters are one pull of every shard, as in the
// atomic step.  One bucket (or overlap off) is the atomic step.
#include <algorithm>
#include <deque>
#include <optional>

#include <fmt/format.h>

#include "kernels/reduce.h"
#include "sim/collectives/collectives.h"
#include "sim/json_reader.h"
#include "sim/layer_schedule.h"
#include "sim/resilience/membership.h"
#include "sim/strategies/catalog.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/resilience/server_link.h"
#include "sim/strategies/strategy.h"
#include "sim/training.h"

namespace geotrain::sim {
namespace {

// One shard's state.  It outlives the server's program (SimGrid actor) only as the simulation's
// record: a restarted server reloads `params`, `optimizer` and `version` from `checkpoint`.
struct Shard {
  // `stepped_whole`: false when the shard's keys have optimizers of their own (overlap).
  Shard(ChunkRange range, std::vector<float> params, const runtime::OptimizerSpec& spec, bool stepped_whole)
      : range(range), params(std::move(params)), optimizer(spec, stepped_whole ? this->params.size() : 0) {}

  struct Saved {
    long version = 0;
    std::vector<float> params;
    runtime::Optimizer optimizer;
  };

  ChunkRange range;
  std::vector<float> params;   // real runs (empty in size-only runs)
  runtime::Optimizer optimizer;
  long version = 0;            // updates (asynchronous) or rounds (synchronous) in `params`
  long clock = 0;              // asynchronous: updates applied over all the server's lives
  std::optional<Saved> checkpoint;
};

// The overlapped step's unit of exchange: the values of one bucket that one shard owns.
struct Key {
  int shard = 0;          // the shard that owns it
  int index = 0;          // its place among the shard's keys (launch order)
  std::size_t begin = 0;  // its first value in the shard's values
  std::size_t global = 0; // its first value in the model's
  std::size_t count = 0;
};

class ParameterServer final : public Strategy {
 public:
  ParameterServer(bool sync, int shards, ServerPlacement placement, MessageFormat wire_format,
                  std::optional<double> bucket_cap_B)
      : sync_(sync), shard_count_(shards), placement_(placement), wire_format_(wire_format), bucket_cap_B_(bucket_cap_B) {}

  std::vector<ServerPlacement> servers(const Scenario&) const override {
    return std::vector<ServerPlacement>(shard_count_, placement_);
  }

  void prepare(World& world) override {
    const std::vector<float>& init = world.training.initial_parameters();
    const std::size_t n = static_cast<std::size_t>(world.scenario.workload.parameters);
    if (bucket_cap_B_) make_keys(world.scenario.workload, n);
    const bool keyed = !shard_keys_.empty();
    for (int s = 0; s < shard_count_; ++s) {
      const ChunkRange c = keyed ? ChunkRange{0, keys_count(shard_keys_[s])} : chunk_range(n, shard_count_, s);
      std::vector<float> values;
      if (!init.empty() && keyed)
        for (const Key& key : shard_keys_[s]) values.insert(values.end(), init.begin() + key.global, init.begin() + key.global + key.count);
      else if (!init.empty())
        values.assign(init.begin() + c.begin, init.begin() + c.begin + c.count);
      shards_.emplace_back(c, std::move(values), world.scenario.workload.optimizer, !keyed);
    }
    world.deployed_parameters = [this, n] {
      std::vector<float> all;
      if (shard_keys_.empty()) {
        for (const auto& s : shards_) all.insert(all.end(), s.params.begin(), s.params.end());
        return all;
      }
      if (shards_[0].params.empty()) return all;  // size-only
      all.resize(n);
      for (int s = 0; s < shard_count_; ++s)
        for (const Key& key : shard_keys_[s])
          std::copy_n(shards_[s].params.begin() + key.begin, key.count, all.begin() + key.global);
      return all;
    };
    claim_open_.assign(world.trainers.size(), false);
    // Asynchronous: the step a preempted worker claimed and never pushed goes back to the budget.
    auto worker_down = [this, &world](int rank) {
      if (!claim_open_[rank]) return;
      claim_open_[rank] = false;
      --world.steps_claimed;
    };
    link_.prepare(world, [this](WorkerContext& ctx, int index) { run_server(ctx, index); },
                  sync_ ? std::function<void(int)>{} : worker_down, sync_);
  }

  void run(WorkerContext& ctx) override {
    link_.start_worker(ctx);
    run_worker(ctx);
    link_.finish_worker(ctx);
  }

  void run_server(WorkerContext& ctx, int index) override {
    link_.start_server(ctx);
    Shard& shard = shards_[index];
    if (ctx.restarted()) restore(ctx, shard);
    if (!shard_keys_.empty()) serve_keys(ctx, shard, shard_keys_[index]);
    else if (sync_) serve_sync(ctx, shard);
    else serve_async(ctx, shard);
  }

 private:
  // The buckets of the gradient (the cap counts wire bytes) and their keys: each bucket split
  // evenly over the shards.  One bucket is the atomic step (no keys).
  void make_keys(const Workload& w, std::size_t n) {
    buckets_ = gradient_buckets(w.layers, n, wire_format_ ? wire_bytes_per_value(*wire_format_) : w.wire_bytes_per_param,
                                *bucket_cap_B_);
    if (buckets_.size() <= 1) return;
    shard_keys_.assign(shard_count_, {});
    for (const GradientBucket& b : buckets_) {
      std::vector<Key>& keys = bucket_keys_.emplace_back();
      for (int s = 0; s < shard_count_; ++s) {
        const ChunkRange piece = chunk_range(b.count, shard_count_, s);
        if (piece.count == 0) continue;
        std::vector<Key>& owned = shard_keys_[s];
        keys.push_back({s, static_cast<int>(owned.size()), keys_count(owned), b.begin + piece.begin, piece.count});
        owned.push_back(keys.back());
      }
    }
  }

  static std::size_t keys_count(const std::vector<Key>& keys) {
    return keys.empty() ? 0 : keys.back().begin + keys.back().count;
  }

  void run_worker(WorkerContext& ctx) {
    const Workload& w = ctx.scenario().workload;
    const int m = ctx.world_size();
    const bool faults = ctx.faults_on();
    std::vector<int> servers(shard_count_);
    for (int s = 0; s < shard_count_; ++s) servers[s] = m + s;
    if (!shard_keys_.empty()) return run_worker_overlapped(ctx, servers);
    runtime::Trainer& trainer = ctx.trainer();
    // Synchronous under faults: a worker (maybe a returning one) goes on until every shard has
    // run `steps` rounds, which a pull's answer says.
    for (long round = 0; sync_ ? faults || round < w.steps : ctx.claim_step(); ++round) {
      if (!sync_ && faults) claim_open_[ctx.rank()] = true;
      const auto replies = link_.ask_all(
          ctx, servers, [round](std::size_t) { return Message{{}, kPull, -1, round}; }, kRequestBytes);
      std::vector<long> pulled(shard_count_);
      bool finished = true;
      for (int s = 0; s < shard_count_; ++s) {
        pulled[s] = replies[s]->version;
        finished = finished && pulled[s] >= w.steps;
        if (trainer.is_real() && !replies[s]->values.empty()) {
          const ChunkRange c = chunk(trainer, s);
          kernels::copy(trainer.params().slice(c.begin, c.count).data(), replies[s]->values.data(), c.count);
        }
      }
      if (sync_ && faults && finished) break;
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      std::vector<int> open;  // shards to push to (synchronous under faults: those not finished)
      for (int s = 0; s < shard_count_; ++s)
        if (!(sync_ && faults && pulled[s] >= w.steps)) open.push_back(s);
      std::vector<int> to(open.size());
      for (std::size_t i = 0; i < open.size(); ++i) to[i] = servers[open[i]];
      link_.push_all(ctx, to, [&](std::size_t i) {
        const int s = open[i];
        const ChunkRange c = chunk(trainer, s);
        const std::span<const float> g = trainer.is_real() ? trainer.grads().slice(c.begin, c.count) : std::span<const float>{};
        WireBody body = to_wire(g, c.count, wire_format_, w.wire_bytes_per_param);
        return std::pair{Message{std::move(body.values), kPush, -1, pulled[s]}, body.bytes};
      });
      if (faults) {
        if (!sync_) claim_open_[ctx.rank()] = false;
        ctx.mark_synced();  // the gradient landed
      }
      ctx.end_step(w.batch_per_worker, loss, sync_ && faults ? ctx.world().membership->alive_count() : 0);
    }
    link_.say_done(ctx, servers, !sync_);
  }

  // The overlapped step (synchronous, no faults; see the file comment).
  void run_worker_overlapped(WorkerContext& ctx, const std::vector<int>& servers) {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const auto replies = link_.ask_all(
        ctx, servers, [](std::size_t) { return Message{{}, kPull, -1, 0}; }, kRequestBytes);
    for (int s = 0; s < shard_count_; ++s)
      for (const Key& key : shard_keys_[s])
        if (trainer.is_real())
          copy_into_params(trainer, key.global, std::span<const float>(replies[s]->values).subspan(key.begin, key.count));
    const std::string span = fmt::format("push/pull x {} buckets", buckets_.size());
    for (long round = 0; round < w.steps; ++round) {
      // Each key's new values, as its shard sends them: in launch order, shard by shard.
      std::vector<Transfer> answers;
      for (const std::vector<Key>& keys : bucket_keys_)
        for (const Key& key : keys) answers.push_back(ctx.recv_async(servers[key.shard], kReplyChannel));
      const double loss = overlapped_exchange_step(
          ctx, w.batch_per_worker, buckets_, [] {},
          [&](WorkerContext& comm, std::size_t k) {
            const std::vector<Key>& keys = bucket_keys_[k];
            std::vector<int> to(keys.size());
            for (std::size_t i = 0; i < keys.size(); ++i) to[i] = servers[keys[i].shard];
            link_.push_all(comm, to, [&](std::size_t i) {
              const Key& key = keys[i];
              const auto g = trainer.is_real() ? trainer.grads().slice(key.global, key.count) : std::span<const float>{};
              WireBody body = to_wire(g, key.count, wire_format_, w.wire_bytes_per_param);
              Message push{std::move(body.values), kPush, -1, round};
              push.key = key.index;
              return std::pair{std::move(push), body.bytes};
            });
          },
          span);
      std::size_t a = 0;
      for (const std::vector<Key>& keys : bucket_keys_)
        for (const Key& key : keys) {
          const auto answer = ctx.wait(answers[a++]);
          if (trainer.is_real()) copy_into_params(trainer, key.global, answer->values);
        }
      ctx.end_step(w.batch_per_worker, loss);
    }
    link_.say_done(ctx, servers, false);
  }

  static void copy_into_params(runtime::Trainer& trainer, std::size_t begin, std::span<const float> values) {
    kernels::copy(trainer.params().slice(begin, values.size()).data(), values.data(), values.size());
  }

  // A shard of the overlapped step: each key is stepped once every worker pushed it, then sent to
  // every worker (no faults: all workers take part in every round).
  void serve_keys(WorkerContext& ctx, Shard& shard, const std::vector<Key>& keys) {
    const int m = ctx.world_size();
    const Workload& w = ctx.scenario().workload;
    const bool real = !shard.params.empty();
    struct Pending {
      std::vector<float> sum;
      int pushes = 0;
      runtime::Optimizer optimizer;  // the key's own updater
    };
    std::vector<Pending> pending;
    for (const Key& key : keys)
      pending.push_back({std::vector<float>(real ? key.count : 0, 0.0f), 0, runtime::Optimizer(w.optimizer, real ? key.count : 0)});
    std::size_t stepped = 0;  // keys stepped in the open round
    int done = 0;
    while (done < m) {
      auto msg = link_.receive(ctx);
      if (msg->kind == kDone) {
        ++done;
      } else if (msg->kind == kPull) {  // round 0's parameters
        reply_parameters(ctx, shard, *msg, shard.version);
      } else if (msg->kind == kPush) {
        const Key& key = keys[msg->key];
        Pending& p = pending[msg->key];
        if (real) kernels::add_into(p.sum.data(), msg->values.data(), p.sum.size());
        if (++p.pushes < m) continue;
        const std::span<float> values = std::span<float>(shard.params).subspan(real ? key.begin : 0, real ? key.count : 0);
        if (real) {
          kernels::scale(p.sum.data(), 1.0f / static_cast<float>(m), p.sum.size());
          p.optimizer.step(values, p.sum);
          std::fill(p.sum.begin(), p.sum.end(), 0.0f);
        }
        p.pushes = 0;
        if (++stepped == keys.size()) {
          stepped = 0;
          ++shard.version;
        }
        const WireBody body = to_wire(values, key.count, wire_format_, w.wire_bytes_per_param);
        for (int r = 0; r < m; ++r) {
          Message answer{body.values, kReply, -1, msg->version + 1};
          answer.key = msg->key;
          ctx.send_detached(r, std::move(answer), body.bytes, kReplyChannel);
        }
      }
    }
  }

  void serve_async(WorkerContext& ctx, Shard& shard) {
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
        if (ctx.faults_on()) publish(ctx.world());  // a daemon: it may not see the end of the run
        maybe_checkpoint(ctx, shard);
      }
    }
    publish(ctx.world());
  }

  void serve_sync(WorkerContext& ctx, Shard& shard) {
    const int m = ctx.world_size();
    const bool faults = ctx.faults_on();
    const long steps = ctx.scenario().workload.steps;
    // Who this round waits for (see the file comment), who pushed in it, and the newest
    // incarnation heard from per worker (a death notice about an older one is stale).
    std::vector<bool> member(m, true), pushed(m, false);
    std::vector<long> newest(m, -1);
    if (faults)
      for (int r = 0; r < m; ++r)
        member[r] = ctx.restarted() ? link_.worker_live(r) : ctx.world().membership->alive(r);
    std::vector<float> sum(shard.params.size(), 0.0f);
    std::deque<std::unique_ptr<Message>> waiting_pulls;  // from workers that pushed in the open round
    int pushes = 0, done = 0;

    auto close_round_if_complete = [&] {
      if (pushes == 0) return;
      for (int r = 0; r < m; ++r)
        if (member[r] && !pushed[r]) return;
      if (!shard.params.empty()) {
        kernels::scale(sum.data(), 1.0f / static_cast<float>(pushes), sum.size());
        shard.optimizer.step(shard.params, sum);
        std::fill(sum.begin(), sum.end(), 0.0f);
      }
      pushes = 0;
      std::fill(pushed.begin(), pushed.end(), false);
      ++shard.version;
      for (const auto& pull : waiting_pulls) reply_parameters(ctx, shard, *pull, shard.version);
      waiting_pulls.clear();
      maybe_checkpoint(ctx, shard);
    };

    while (faults || done < m) {
      auto msg = link_.receive(ctx);
      const int from = msg->from;
      if (faults && msg->kind != kWorkerDown) newest[from] = std::max(newest[from], ServerLink::incarnation_of(*msg));
      if (msg->kind == kWorkerDown) {
        if (ServerLink::incarnation_of(*msg) < newest[from]) continue;  // it is back already
        member[from] = false;
        close_round_if_complete();
      } else if (msg->kind == kDone) {
        ++done;
      } else if (msg->kind == kPull) {
        member[from] = true;
        if (pushed[from]) waiting_pulls.push_back(std::move(msg));
        else reply_parameters(ctx, shard, *msg, shard.version);
      } else if (msg->kind == kPush) {
        if (faults && (msg->version != shard.version || shard.version >= steps || pushed[from])) {
          link_.count_discarded_push();  // computed for a round this shard no longer runs
          continue;
        }
        member[from] = true;
        if (!shard.params.empty()) kernels::add_into(sum.data(), msg->values.data(), sum.size());
        pushed[from] = true;
        ++pushes;
        close_round_if_complete();
      }
    }
  }

  // Answers a pull with the shard's parameters (synchronous, once every round ran: an empty
  // answer that says so).
  void reply_parameters(WorkerContext& ctx, const Shard& shard, const Message& pull, long version) {
    const Workload& w = ctx.scenario().workload;
    if (sync_ && shard.version >= w.steps) {
      link_.reply(ctx, pull, {{}, kReply, -1, version}, kRequestBytes);
      return;
    }
    WireBody body = to_wire(shard.params, shard.range.count, wire_format_, w.wire_bytes_per_param);
    link_.reply(ctx, pull, {std::move(body.values), kReply, -1, version}, body.bytes);
  }

  // Faults: every checkpoint.every_steps updates the server writes its shard (parameters and
  // optimizer moments) to the store; it blocks meanwhile.  The copy counts once the write landed.
  void maybe_checkpoint(WorkerContext& ctx, Shard& shard) {
    const auto& spec = ctx.scenario().faults.checkpoint;
    if (!spec || shard.version % spec->every_steps != 0) return;
    Shard::Saved saved{shard.version, shard.params, shard.optimizer};
    ctx.write_server_checkpoint(shard_bytes(ctx, shard));
    shard.checkpoint = std::move(saved);
  }

  // A restarted server: its state is its last checkpoint, else the initial parameters.
  void restore(WorkerContext& ctx, Shard& shard) {
    if (shard.checkpoint) {
      ctx.read_server_checkpoint(shard_bytes(ctx, shard));
      shard.params = shard.checkpoint->params;
      shard.optimizer = shard.checkpoint->optimizer;
      shard.version = shard.checkpoint->version;
      ServerLink::restarted_event(ctx, fmt::format("server restarted from its checkpoint at version {}", shard.version));
      return;
    }
    const std::vector<float>& init = ctx.world().training.initial_parameters();
    if (!shard.params.empty())
      std::copy(init.begin() + static_cast<long>(shard.range.begin),
                init.begin() + static_cast<long>(shard.range.begin + shard.range.count), shard.params.begin());
    shard.optimizer.reset();
    shard.version = 0;
    ServerLink::restarted_event(ctx, ctx.scenario().faults.checkpoint
                                         ? "server restarted from the initial model, no checkpoint written yet"
                                         : "server restarted from the initial model, no checkpoint");
  }

  static std::uint64_t shard_bytes(const WorkerContext& ctx, const Shard& shard) {
    return state_bytes(shard.range.count, ctx.scenario().workload.optimizer);
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
  std::vector<GradientBucket> buckets_;          // overlap: launch order
  std::vector<std::vector<Key>> bucket_keys_;    // overlap: each bucket's keys
  std::vector<std::vector<Key>> shard_keys_;     // overlap: each shard's keys, launch order
  std::vector<Shard> shards_;
  ServerLink link_;
  std::vector<bool> claim_open_;  // asynchronous under faults: a claimed step not yet pushed
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
