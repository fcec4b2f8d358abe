// Parameter server (Jin et al. 2016's baseline): K server shards each own 1/K of the parameters.
// Workers pull the current parameters, compute a gradient, and push it.  Asynchronous mode: each
// shard applies every push on arrival (simulated-time order); staleness = shard version at apply
// minus the version the worker pulled.  Synchronous mode: a shard waits for the pushes of all
// workers for a round, averages them, applies once, then answers the next round's pulls.
#include <algorithm>
#include <deque>

#include "kernels/reduce.h"
#include "sim/collectives/collectives.h"
#include "sim/json_reader.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/strategy.h"
#include "sim/training.h"

namespace geotrain::sim {
namespace {

class ParameterServer final : public Strategy {
 public:
  ParameterServer(bool sync, int shards, ServerPlacement placement, std::string wire_format)
      : sync_(sync), shards_(shards), placement_(placement), wire_format_(std::move(wire_format)) {}

  std::vector<ServerPlacement> servers(const Scenario&) const override {
    return std::vector<ServerPlacement>(shards_, placement_);
  }

  void prepare(World& world) override {
    const std::vector<float>& init = world.training.initial_parameters();
    const std::size_t n = static_cast<std::size_t>(world.scenario.workload.parameters);
    for (int s = 0; s < shards_; ++s) {
      const ChunkRange c = chunk_range(n, shards_, s);
      shard_params_.emplace_back(init.empty() ? std::vector<float>{}
                                              : std::vector<float>(init.begin() + c.begin, init.begin() + c.begin + c.count));
    }
    world.deployed_parameters = [this] {
      std::vector<float> all;
      for (const auto& p : shard_params_) all.insert(all.end(), p.begin(), p.end());
      return all;
    };
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const int m = ctx.world_size();
    for (long round = 0; sync_ ? round < w.steps : ctx.claim_step(); ++round) {
      std::vector<long> pulled(shards_);
      std::vector<Transfer> replies;
      for (int s = 0; s < shards_; ++s) {
        replies.push_back(ctx.recv_async(m + s, kReplyChannel));
        ctx.post(m + s, {{}, kPull, -1, round}, kRequestBytes);
      }
      for (int s = 0; s < shards_; ++s) {
        auto reply = ctx.wait(replies[s]);
        pulled[s] = reply->version;
        if (trainer.is_real()) {
          const ChunkRange c = chunk(trainer, s);
          kernels::copy(trainer.params().slice(c.begin, c.count).data(), reply->values.data(), c.count);
        }
      }
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      std::vector<Transfer> pushes;  // one connection per shard: the next pull follows the push
      for (int s = 0; s < shards_; ++s) {
        const ChunkRange c = chunk(trainer, s);
        const std::span<const float> g = trainer.is_real() ? trainer.grads().slice(c.begin, c.count) : std::span<const float>{};
        WireBody body = to_wire(g, c.count, wire_format_, w.wire_bytes_per_param);
        pushes.push_back(ctx.post_async(m + s, {std::move(body.values), kPush, -1, pulled[s]}, body.bytes));
      }
      for (auto& p : pushes) ctx.wait(p);
      ctx.end_step(w.batch_per_worker, loss);
    }
    for (int s = 0; s < shards_; ++s) ctx.post(m + s, {{}, kDone, -1, 0}, kRequestBytes);
  }

  void run_server(WorkerContext& ctx, int shard) override {
    const Workload& w = ctx.scenario().workload;
    const int m = ctx.world_size();
    const ChunkRange c = chunk_range(static_cast<std::size_t>(w.parameters), shards_, shard);
    std::vector<float>& params = shard_params_[shard];
    const bool real = !params.empty();
    runtime::Optimizer optimizer(w.optimizer, real ? c.count : 0);
    std::vector<float> sum(real ? c.count : 0, 0.0f);
    std::deque<std::unique_ptr<Message>> waiting_pulls;  // sync: pulls for a later round
    long version = 0;
    int pushes = 0, done = 0;
    auto reply = [&](int to) {
      WireBody body = to_wire(params, c.count, wire_format_, w.wire_bytes_per_param);
      ctx.send_detached(to, {std::move(body.values), kReply, -1, version}, body.bytes, kReplyChannel);
    };

    while (done < m) {
      auto msg = ctx.receive_inbox();
      if (msg->kind == kDone) {
        ++done;
      } else if (msg->kind == kPull) {
        if (!sync_ || msg->version == version) reply(msg->from);
        else waiting_pulls.push_back(std::move(msg));
      } else if (!sync_) {  // asynchronous push: apply now
        record_staleness(version - msg->version);
        if (real) optimizer.step(params, msg->values);
        ++version;
      } else {  // synchronous push: average the round
        if (real) kernels::add_into(sum.data(), msg->values.data(), c.count);
        if (++pushes < m) continue;
        if (real) {
          kernels::scale(sum.data(), 1.0f / static_cast<float>(m), c.count);
          optimizer.step(params, sum);
          std::fill(sum.begin(), sum.end(), 0.0f);
        }
        pushes = 0;
        ++version;
        for (auto it = waiting_pulls.begin(); it != waiting_pulls.end();)
          if ((*it)->version == version) {
            reply((*it)->from);
            it = waiting_pulls.erase(it);
          } else {
            ++it;
          }
      }
    }
    publish(ctx.world());
  }

 private:
  ChunkRange chunk(const runtime::Trainer& t, int s) const { return chunk_range(t.params().numel(), shards_, s); }

  void record_staleness(long s) {
    staleness_sum_ += static_cast<double>(s);
    staleness_max_ = std::max(staleness_max_, s);
    ++updates_;
  }

  // Staleness figures go to the results (asynchronous mode; every shard counts its applies).
  void publish(World& world) {
    if (sync_) return;
    world.extra["staleness"] = {{"mean", updates_ ? staleness_sum_ / static_cast<double>(updates_) : 0.0},
                                {"max", staleness_max_},
                                {"updates", updates_}};
  }

  bool sync_;
  int shards_;
  ServerPlacement placement_;
  std::string wire_format_;  // pushes and replies
  std::vector<std::vector<float>> shard_params_;
  double staleness_sum_ = 0;
  long staleness_max_ = 0;
  long updates_ = 0;
};

}  // namespace

std::unique_ptr<Strategy> make_parameter_server(JsonReader& reader, const Scenario& scenario) {
  const bool sync = reader.choice_or("mode", "async", {"async", "sync"}) == "sync";
  const int shards = static_cast<int>(reader.integer_or("shards", 1, 1, 1024));
  const auto wire = reader.choice_or("wire_format", "native", wire_format_names());
  return std::make_unique<ParameterServer>(sync, shards, parse_server_placement(reader, scenario), wire);
}

}  // namespace geotrain::sim
