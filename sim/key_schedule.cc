// KeySchedule: the overlapped parameter server's keys, its workers' steps and its shards' loop.
#include "sim/key_schedule.h"

#include <algorithm>

#include <fmt/format.h>

#include "kernels/reduce.h"
#include "sim/resilience/server_link.h"
#include "sim/resilience/server_state.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {

KeySchedule::KeySchedule(std::vector<GradientBucket> buckets, int shards) : buckets_(std::move(buckets)) {
  if (buckets_.size() <= 1) return;
  shard_keys_.assign(shards, {});
  for (const GradientBucket& b : buckets_) {
    std::vector<Key>& keys = bucket_keys_.emplace_back();
    for (int s = 0; s < shards; ++s) {
      const ChunkRange piece = chunk_range(b.count, shards, s);
      if (piece.count == 0) continue;
      std::vector<Key>& owned = shard_keys_[s];
      keys.push_back({s, static_cast<int>(owned.size()), shard_size(s), b.begin + piece.begin, piece.count});
      owned.push_back(keys.back());
    }
  }
}

std::size_t KeySchedule::shard_size(int s) const {
  const std::vector<Key>& keys = shard_keys_[s];
  return keys.empty() ? 0 : keys.back().begin + keys.back().count;
}

std::vector<float> KeySchedule::gather(int s, std::span<const float> model) const {
  std::vector<float> values;
  for (const Key& key : shard_keys_[s]) values.insert(values.end(), model.begin() + key.global, model.begin() + key.global + key.count);
  return values;
}

void KeySchedule::scatter(int s, std::span<const float> values, std::span<float> model) const {
  for (const Key& key : shard_keys_[s]) kernels::copy(model.data() + key.global, values.data() + key.begin, key.count);
}

void KeySchedule::run_worker(WorkerContext& ctx, ServerLink& link, const std::vector<int>& servers,
                             MessageFormat wire) const {
  runtime::Trainer& trainer = ctx.trainer();
  const Workload& w = ctx.scenario().workload;
  const auto replies = link.ask_all(ctx, servers, [](std::size_t) { return Message{{}, kPull, -1, 0}; }, kRequestBytes);
  if (trainer.is_real())
    for (std::size_t s = 0; s < servers.size(); ++s) scatter(static_cast<int>(s), replies[s]->values, trainer.params().values());
  const std::string span = fmt::format("push/pull x {} buckets", buckets_.size());
  for (long round = 0; round < w.steps; ++round) {
    // Each key's new values, as its shard sends them: in launch order, shard by shard.
    std::vector<Transfer> answers;
    for (const std::vector<Key>& keys : bucket_keys_)
      for (const Key& key : keys) answers.push_back(ctx.recv_async(servers[key.shard], kReplyChannel));
    auto push_bucket = [&](WorkerContext& comm, std::size_t k) {
      const std::vector<Key>& keys = bucket_keys_[k];
      std::vector<int> to(keys.size());
      for (std::size_t i = 0; i < keys.size(); ++i) to[i] = servers[keys[i].shard];
      link.push_all(comm, to, [&](std::size_t i) {
        const Key& key = keys[i];
        const auto g = trainer.is_real() ? trainer.grads().slice(key.global, key.count) : std::span<const float>{};
        WireBody body = to_wire(g, key.count, wire, w.wire_bytes_per_param);
        Message push{std::move(body.values), kPush, -1, round};
        push.key = key.index;
        return std::pair{std::move(push), body.bytes};
      });
    };
    const double loss = overlapped_exchange_step(ctx, w.batch_per_worker, buckets_, [] {}, push_bucket, span);
    std::size_t a = 0;
    for (const std::vector<Key>& keys : bucket_keys_)
      for (const Key& key : keys) {
        const auto answer = ctx.wait(answers[a++]);
        if (trainer.is_real()) kernels::copy(trainer.params().slice(key.global, key.count).data(), answer->values.data(), key.count);
      }
    ctx.end_step(w.batch_per_worker, loss);
  }
  link.say_done(ctx, servers, false);
}

void KeySchedule::serve(WorkerContext& ctx, ServerLink& link, int s, ServerShard& shard, MessageFormat wire) const {
  const std::vector<Key>& keys = shard_keys_[s];
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
  for (int done = 0; done < m;) {
    auto msg = link.receive(ctx);
    if (msg->kind == kDone) {
      ++done;
    } else if (msg->kind == kPull) {  // round 0's parameters
      WireBody body = to_wire(shard.params, shard.range.count, wire, w.wire_bytes_per_param);
      link.reply(ctx, *msg, {std::move(body.values), kReply, -1, shard.version}, body.bytes);
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
      const WireBody body = to_wire(values, key.count, wire, w.wire_bytes_per_param);
      for (int r = 0; r < m; ++r) {
        Message answer{body.values, kReply, -1, msg->version + 1};
        answer.key = msg->key;
        ctx.send_detached(r, std::move(answer), body.bytes, kReplyChannel);
      }
    }
  }
}

}  // namespace geotrain::sim
