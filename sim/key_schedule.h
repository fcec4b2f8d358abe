// The overlapped synchronous parameter server's schedule, as MXNet's dist_sync kvstore runs it
// (and BytePS): DDP's buckets (sim/layer_schedule.h, reverse layer order) are each split evenly
// over the server shards, as the kvstore splits a big array over all servers, so a shard owns one
// key of every bucket (its values are its keys', concatenated).  A worker pushes a bucket's keys
// once the backward produced the bucket, while the backward goes on.  A shard steps a key (its
// own optimizer, as the kvstore's updater runs per key) once every worker pushed it, and sends the
// key's new values to every worker at once (push, then pull, per key).  The step ends when the
// last key is back; the next forward waits for all of them.  Round 0's parameters are one pull of
// every shard, as in the atomic step.  Runs without faults only (refused at load).
#pragma once
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "sim/layer_schedule.h"
#include "sim/wire_format.h"

namespace geotrain::sim {

class ServerLink;
struct ServerShard;

// The unit of exchange: the values of one bucket that one shard owns.
struct Key {
  int shard = 0;           // the shard that owns it
  int index = 0;           // its place among the shard's keys (launch order)
  std::size_t begin = 0;   // its first value in the shard's values
  std::size_t global = 0;  // its first value in the model's
  std::size_t count = 0;
};

class KeySchedule {
 public:
  KeySchedule() = default;  // no keys
  // `buckets` in launch order; one bucket makes no keys (the atomic step).
  KeySchedule(std::vector<GradientBucket> buckets, int shards);
  bool keyed() const { return !shard_keys_.empty(); }
  // Values shard `s` owns.
  std::size_t shard_size(int s) const;
  // Shard s's values (its keys', concatenated) out of the whole model's, and back.
  std::vector<float> gather(int s, std::span<const float> model) const;
  void scatter(int s, std::span<const float> values, std::span<float> model) const;

  // A worker's program: round 0's pull, then `steps` overlapped steps (`servers`: the shards'
  // node ids); values go out and come back in `wire`.
  void run_worker(WorkerContext& ctx, ServerLink& link, const std::vector<int>& servers, MessageFormat wire) const;
  // Shard s's program until every worker said done.
  void serve(WorkerContext& ctx, ServerLink& link, int s, ServerShard& shard, MessageFormat wire) const;

 private:
  std::vector<GradientBucket> buckets_;
  std::vector<std::vector<Key>> bucket_keys_;  // each bucket's keys
  std::vector<std::vector<Key>> shard_keys_;   // each shard's keys, launch order
};

}  // namespace geotrain::sim
