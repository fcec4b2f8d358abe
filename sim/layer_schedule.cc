// Gradient buckets in reverse layer order, and the overlapped step: the worker's actor computes,
// a helper actor (the worker's "NCCL stream") reduces the buckets in launch order as they become
// ready.  A semaphore counts the ready buckets: deterministic, no simulated time of its own.
#include "sim/layer_schedule.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include <fmt/format.h>

#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "kernels/check.h"
#include "kernels/reduce.h"
#include "sim/collectives/analytic.h"
#include "sim/collectives/table.h"
#include "sim/context.h"
#include "sim/training.h"

namespace geotrain::sim {
namespace {

// The helper's message channel: apart from channel 0, where the worker's other collectives run.
constexpr int kBucketChannel = 1;

// Where each layer's values begin in the flat gradient (one more entry: the end, numel).
std::vector<std::size_t> layer_offsets(const std::vector<runtime::Layer>& layers, std::size_t numel) {
  std::vector<std::size_t> offsets(layers.size() + 1, 0);
  double cumulative = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    cumulative += layers[l].parameters;
    const auto end = static_cast<std::size_t>(std::llround(cumulative));
    offsets[l + 1] = std::min(std::max(end, offsets[l]), numel);
  }
  offsets.back() = numel;
  return offsets;
}

// Mean of `bucket`'s values of `grads` over all workers (or `members`), in `comm`'s context.
void reduce_bucket(WorkerContext& comm, runtime::Tensor& grads, const GradientBucket& bucket, AllreduceAlgo algo,
                   const std::vector<int>* members = nullptr) {
  const auto reduce = [&](runtime::Tensor& t) {
    if (members) comm.allreduce_mean(t, algo, *members);
    else comm.allreduce_mean(t, algo);
  };
  if (bucket.count == 0) return;
  if (bucket.count == grads.numel()) return reduce(grads);
  runtime::Tensor part = grads.is_real() ? runtime::Tensor::zeros(bucket.count) : runtime::Tensor::phantom(bucket.count);
  part.set_wire_bytes_per_value(grads.wire_bytes_per_value());
  part.set_sum_format(grads.sum_format());
  if (grads.is_real()) kernels::copy(part.values().data(), grads.slice(bucket.begin, bucket.count).data(), bucket.count);
  reduce(part);
  if (grads.is_real()) kernels::copy(grads.slice(bucket.begin, bucket.count).data(), part.values().data(), bucket.count);
}

// A rank's layer section of the recorder for as long as it lives: closed even when the actor is
// killed (its host preempted) or its round throws.
class LayerSection {
 public:
  LayerSection(Recorder& recorder, int rank) : recorder_(recorder), rank_(rank) { recorder_.begin_layers(rank_); }
  ~LayerSection() { recorder_.end_layers(rank_); }
  LayerSection(const LayerSection&) = delete;
  LayerSection& operator=(const LayerSection&) = delete;

 private:
  Recorder& recorder_;
  int rank_;
};

// The step-level span of a step's bucket all-reduces, e.g. "allreduce/ring x 12 buckets".
std::string bucket_span_name(AllreduceAlgo algo, std::size_t buckets) {
  return fmt::format("allreduce/{} x {} buckets", allreduce_entry(algo).label, buckets);
}

// The collective fidelity's meeting of a step's buckets, `meet()` returning when the first
// bucket's launch started and each one ended: the stream's spans recorded for every worker this
// actor stands for, and the wait past the backward's end (now) as exposed.  Returns each bucket's end.
template <class Meet>
std::vector<double> recorded_meeting(WorkerContext& ctx, const std::string& span_name, Meet meet) {
  const std::vector<int>& ranks = ctx.recorded_ranks();
  const double backward_end_s = ctx.now();
  Recorder& recorder = ctx.world().recorder;
  for (const int r : ranks) recorder.begin_layers(r);
  BucketTimes times = meet();
  for (const int r : ranks) recorder.end_layers(r);
  // Every rank's two spans end now (one instant): the trace does not depend on their order.
  recorder.add_step_span_for(ranks, {ranks.front(), "overlapped", span_name, times.first_launch_s, times.ends_s.back()});
  if (ctx.now() > backward_end_s)
    recorder.add_span_for(ranks, {ranks.front(), "communication", "wait overlapped", backward_end_s, ctx.now()});
  return std::move(times.ends_s);
}

// The collective fidelity's meeting of the buckets' all-reduces of `grads`, bucket k ready at
// ready_s[k] (the last one now): one meeting of the whole fleet.  Returns each bucket's end.
std::vector<double> analytic_meeting(WorkerContext& ctx, runtime::Tensor& grads, const std::vector<GradientBucket>& buckets,
                      const std::vector<double>& ready_s, AllreduceAlgo algo) {
  std::vector<runtime::Tensor> owned;  // the buckets' tensors (grads itself for a whole-model bucket)
  owned.reserve(buckets.size());
  std::vector<runtime::Tensor*> parts;
  for (const GradientBucket& bucket : buckets) {
    runtime::Tensor& part = owned.emplace_back(grads.is_real() ? runtime::Tensor::zeros(bucket.count)
                                                               : runtime::Tensor::phantom(bucket.count));
    part.set_wire_bytes_per_value(grads.wire_bytes_per_value());
    part.set_sum_format(grads.sum_format());
    if (grads.is_real()) kernels::copy(part.values().data(), grads.slice(bucket.begin, bucket.count).data(), bucket.count);
    parts.push_back(&part);
  }
  std::vector<double> ends_s = recorded_meeting(ctx, bucket_span_name(algo, buckets.size()), [&] {
    return ctx.world().analytic->bucketed_allreduce(ctx, parts, ready_s, algo, ctx.platform().all_group());
  });
  if (grads.is_real())
    for (std::size_t k = 0; k < buckets.size(); ++k)
      kernels::copy(grads.slice(buckets[k].begin, buckets[k].count).data(), owned[k].values().data(), buckets[k].count);
  return ends_s;
}

// The optimizer in the backward: bucket k's share of the step (its values of `numel`) starts
// once its all-reduce ended (ends_s[k]) and the share before it is done; the step waits for the
// last.  Recorded as one overlapped span of all shares, and what is left past now as the
// optimizer step (exposed compute).
void step_in_backward(WorkerContext& ctx, const std::vector<GradientBucket>& buckets, const std::vector<double>& ends_s,
                      double optimizer_s, std::size_t numel) {
  if (optimizer_s <= 0) return;
  double first_s = 0, end_s = 0;
  for (std::size_t k = 0; k < buckets.size(); ++k) {
    const double start_s = std::max(end_s, ends_s[k]);
    if (k == 0) first_s = start_s;
    end_s = start_s + optimizer_s * static_cast<double>(buckets[k].count) / static_cast<double>(numel);
  }
  const std::vector<int>& ranks = ctx.recorded_ranks();
  ctx.world().recorder.add_step_span_for(ranks, {ranks.front(), "overlapped", "optimizer steps in backward", first_s, end_s});
  if (end_s <= ctx.now()) return;
  const double start_s = ctx.now();
  simgrid::s4u::this_actor::sleep_until(end_s);
  ctx.world().recorder.add_span_for(ranks, {ranks.front(), "compute", "optimizer step", start_s, ctx.now()});
}

// "collective" fidelity: the buckets' closed-form times need no helper actor and no event per
// bucket: the backward is one compute, the ready times follow from the worker's rate, and the
// buckets are timed in one meeting once every member's backward is done (the last bucket is
// ready only then, so no exchange could have ended earlier).  This is the backward: returns
// each bucket's ready time.
// One actor may stand for every worker here (sim/identical_workers.h): what a worker records
// for itself is then recorded for each of them, in rank order.
std::vector<double> analytic_backward(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets) {
  const bool for_all = ctx.stands_for_count() > 1;
  GEOTRAIN_CHECK(!for_all || ctx.stands_for_count() == ctx.world_size(), "one actor stands for every worker or for itself");
  const double start_s = ctx.now();
  const double rate = simgrid::s4u::this_actor::get_host()->get_speed();  // FLOP/s (compute_flops' rate)
  double flops = 0;
  for (const GradientBucket& bucket : buckets) flops += batch * bucket.backward_flops;
  ctx.compute_flops(flops, 0, "backward");
  std::vector<double> ready_s;
  double done = 0;
  for (const GradientBucket& bucket : buckets) {
    done += batch * bucket.backward_flops;
    ready_s.push_back(start_s + done / rate);
  }
  ready_s.back() = ctx.now();
  return ready_s;
}

// The forward of all layers, while the real pass runs on the pool; returns the loss (the
// gradient is complete).
double overlapped_forward(WorkerContext& ctx, int batch) {
  const Workload& w = ctx.scenario().workload;
  GEOTRAIN_CHECK(!w.measured_compute, "overlap needs the compute-time model");
  runtime::Trainer& tr = ctx.trainer();
  tr.start_forward_backward(batch, ctx.world().training.pool());
  ctx.compute_flops(batch * runtime::total_forward_flops(w.layers), batch, "forward");
  return tr.finish_forward_backward();
}

// What the worker's stream runs, given `ready(k)`: it returns once bucket k's backward is done
// (at once for a bucket taken before: a retried round takes its buckets again).
using StreamProgram = std::function<void(WorkerContext& comm, const std::function<void(std::size_t)>& ready)>;

// The backward bucket by bucket on this actor, `program` on a helper actor (the worker's stream).
void overlapped_backward(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets,
                         const StreamProgram& program, const std::string& span_name) {
  // The spans of each bucket and its backward are per-layer detail (output.trace "layers"); at
  // "steps" the step shows one backward span and one span of all its bucket exchanges.
  Recorder& recorder = ctx.world().recorder;
  const simgrid::s4u::SemaphorePtr ready = simgrid::s4u::Semaphore::create(0);  // buckets ready, not yet taken
  std::size_t taken = 0;  // buckets the stream took from `ready`
  double first_start_s = -1, stream_end_s = 0;
  Overlapped stream = ctx.start_overlapped(kBucketChannel, [&](WorkerContext& comm) {
    const LayerSection section(recorder, comm.rank());
    program(comm, [&](std::size_t k) {
      for (; taken <= k; ++taken) ready->acquire();
      if (first_start_s < 0) first_start_s = comm.now();
    });
    stream_end_s = comm.now();
  });
  const double backward_start_s = ctx.now();
  {
    const LayerSection section(recorder, ctx.rank());
    for (const GradientBucket& bucket : buckets) {
      ctx.compute_flops(batch * bucket.backward_flops, 0, "backward");
      ready->release();
    }
  }
  const double backward_end_s = ctx.now();
  ctx.join(stream);
  recorder.add_step_span({ctx.rank(), "compute", "backward", backward_start_s, backward_end_s});
  recorder.add_step_span({ctx.rank(), "overlapped", span_name, first_start_s, stream_end_s});
}

// The step-level span of a step's bucket all-gathers.
std::string allgather_span_name(std::size_t buckets) { return fmt::format("allgather/ring x {} buckets", buckets); }

// The stream of an exchange per bucket, in launch order.
StreamProgram exchange_in_order(std::size_t buckets, const BucketExchange& exchange) {
  return [buckets, &exchange](WorkerContext& comm, const std::function<void(std::size_t)>& ready) {
    for (std::size_t k = 0; k < buckets; ++k) {
      ready(k);
      exchange(comm, k);
    }
  };
}

}  // namespace

std::vector<GradientBucket> gradient_buckets(const std::vector<runtime::Layer>& layers, std::size_t numel,
                                             double wire_bytes_per_value, double cap_B) {
  GEOTRAIN_CHECK(!layers.empty() && cap_B > 0, "buckets need layers and a positive cap");
  const std::vector<std::size_t> offsets = layer_offsets(layers, numel);
  std::vector<GradientBucket> buckets;
  double bucket_B = 0;
  for (int l = static_cast<int>(layers.size()) - 1; l >= 0; --l) {
    const std::size_t values = offsets[l + 1] - offsets[l];
    const double layer_B = static_cast<double>(values) * wire_bytes_per_value;
    if (buckets.empty() || (buckets.back().count > 0 && bucket_B + layer_B > cap_B)) {
      buckets.push_back({offsets[l + 1], 0, l, l, 0});
      bucket_B = 0;
    }
    GradientBucket& b = buckets.back();
    b.begin = offsets[l];
    b.count += values;
    b.first_layer = l;
    b.backward_flops += layers[l].backward_flops;
    bucket_B += layer_B;
  }
  return buckets;
}

double overlapped_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets, AllreduceAlgo algo,
                       const ReducedTensor& reduced, double optimizer_in_backward_s) {
  const double loss = overlapped_forward(ctx, batch);
  runtime::Tensor& tensor = reduced();
  std::vector<double> ends_s(buckets.size(), 0);
  if (ctx.world().analytic && allreduce_entry(algo).schedule && ctx.world_size() > 1) {
    ends_s = analytic_meeting(ctx, tensor, buckets, analytic_backward(ctx, batch, buckets), algo);
  } else {
    const BucketExchange exchange = [&](WorkerContext& comm, std::size_t k) {
      reduce_bucket(comm, tensor, buckets[k], algo);
      ends_s[k] = comm.now();
    };
    overlapped_backward(ctx, batch, buckets, exchange_in_order(buckets.size(), exchange), bucket_span_name(algo, buckets.size()));
  }
  step_in_backward(ctx, buckets, ends_s, optimizer_in_backward_s, tensor.numel());
  return loss;
}

double overlapped_group_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets, AllreduceAlgo algo,
                             const ReducedTensor& reduced, const GroupRound& round, std::vector<int>& members,
                             double optimizer_in_backward_s) {
  const double loss = overlapped_forward(ctx, batch);
  runtime::Tensor& tensor = reduced();
  std::vector<double> ends_s(buckets.size(), 0);
  const StreamProgram program = [&](WorkerContext& comm, const std::function<void(std::size_t)>& ready) {
    members = round(comm, tensor, [&](const std::vector<int>& in_round) {
      for (std::size_t k = 0; k < buckets.size(); ++k) {
        ready(k);
        reduce_bucket(comm, tensor, buckets[k], algo, &in_round);
        ends_s[k] = comm.now();
      }
    });
  };
  overlapped_backward(ctx, batch, buckets, program, bucket_span_name(algo, buckets.size()));
  step_in_backward(ctx, buckets, ends_s, optimizer_in_backward_s, tensor.numel());
  return loss;
}

double overlapped_exchange_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets,
                                const std::function<void()>& prepare, const BucketExchange& exchange,
                                const std::string& span_name) {
  const double loss = overlapped_forward(ctx, batch);
  prepare();
  overlapped_backward(ctx, batch, buckets, exchange_in_order(buckets.size(), exchange), span_name);
  return loss;
}

double overlapped_allgather_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets,
                                 const std::function<void()>& prepare, const std::vector<runtime::Tensor>& packed,
                                 std::vector<runtime::Tensor>& gathered) {
  const double loss = overlapped_forward(ctx, batch);
  prepare();
  const std::string span_name = allgather_span_name(buckets.size());
  GEOTRAIN_CHECK(packed.size() == buckets.size() && gathered.size() == buckets.size(), "a tensor per bucket");
  if (ctx.world().analytic && ctx.world_size() > 1) {
    GEOTRAIN_CHECK(ctx.stands_for_count() == 1, "an all-gather's parts come from every worker's actor");
    const std::vector<double> ready_s = analytic_backward(ctx, batch, buckets);
    std::vector<WorkerContext::GatherRing> rings;
    rings.reserve(buckets.size());
    for (const runtime::Tensor& mine : packed) rings.push_back(ctx.gather_ring(mine, ctx.all_ranks()));
    std::vector<runtime::Tensor*> parts;
    for (auto& g : rings) parts.push_back(&g.ring);
    recorded_meeting(ctx, span_name,
                     [&] { return ctx.world().analytic->bucketed_allgather(ctx, parts, ready_s, rings.front().order); });
    for (std::size_t k = 0; k < buckets.size(); ++k) gathered[k] = WorkerContext::in_members_order(rings[k]);
    return loss;
  }
  const BucketExchange exchange = [&](WorkerContext& comm, std::size_t k) { gathered[k] = comm.allgather(packed[k]); };
  overlapped_backward(ctx, batch, buckets, exchange_in_order(buckets.size(), exchange), span_name);
  return loss;
}

double overlapped_group_allgather_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets,
                                       const std::function<void()>& prepare, const std::vector<runtime::Tensor>& packed,
                                       std::vector<runtime::Tensor>& gathered, long round, std::vector<int>& members) {
  GEOTRAIN_CHECK(packed.size() == buckets.size() && gathered.size() == buckets.size(), "a tensor per bucket");
  const double loss = overlapped_forward(ctx, batch);
  prepare();
  const StreamProgram program = [&](WorkerContext& comm, const std::function<void(std::size_t)>& ready) {
    const auto body = [&](const std::vector<int>& in_round) {
      for (std::size_t k = 0; k < buckets.size(); ++k) {
        ready(k);
        gathered[k] = comm.allgather(packed[k], in_round);
      }
    };
    members = comm.sync_round(round, body, [] {}, /*concurrent_work_in_round=*/true);
  };
  overlapped_backward(ctx, batch, buckets, program, allgather_span_name(buckets.size()));
  return loss;
}

void overlapped_allreduce_now(WorkerContext& ctx, runtime::Tensor& tensor, const std::vector<GradientBucket>& buckets,
                              AllreduceAlgo algo) {
  GEOTRAIN_CHECK(!ctx.faults_on() && ctx.stands_for_count() == 1, "overlap without faults, an actor per worker");
  if (ctx.world().analytic && allreduce_entry(algo).schedule && ctx.world_size() > 1) {
    analytic_meeting(ctx, tensor, buckets, std::vector<double>(buckets.size(), ctx.now()), algo);
    return;
  }
  Recorder& recorder = ctx.world().recorder;
  const double start_s = ctx.now();
  Overlapped stream = ctx.start_overlapped(kBucketChannel, [&](WorkerContext& comm) {
    const LayerSection section(recorder, comm.rank());
    for (const GradientBucket& bucket : buckets) reduce_bucket(comm, tensor, bucket, algo);
  });
  ctx.join(stream);
  recorder.add_step_span({ctx.rank(), "overlapped", bucket_span_name(algo, buckets.size()), start_s, ctx.now()});
}

std::vector<ChunkRange> layer_ranges(const std::vector<runtime::Layer>& layers, std::size_t numel) {
  std::vector<ChunkRange> ranges;
  double cumulative = 0;
  std::size_t begin = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    cumulative += layers[l].parameters;
    const std::size_t end = l + 1 == layers.size() ? numel : std::min(numel, static_cast<std::size_t>(cumulative));
    if (end > begin) ranges.push_back({begin, end - begin});
    begin = std::max(begin, end);
  }
  return ranges;
}

std::vector<ChunkRange> strided_fragment(const std::vector<runtime::Layer>& layers, std::size_t numel, int fragments, int f) {
  std::vector<ChunkRange> ranges;
  const std::vector<ChunkRange> all = layer_ranges(layers, numel);
  for (std::size_t l = static_cast<std::size_t>(f); l < all.size(); l += static_cast<std::size_t>(fragments)) {
    if (!ranges.empty() && ranges.back().begin + ranges.back().count == all[l].begin) ranges.back().count += all[l].count;  // P = 1
    else ranges.push_back(all[l]);
  }
  GEOTRAIN_CHECK(!ranges.empty(), "a strided fragment holds at least one layer (checked at load)");
  return ranges;
}

double forward_flops_before(const std::vector<runtime::Layer>& layers, std::size_t numel, std::size_t value) {
  const std::vector<std::size_t> offsets = layer_offsets(layers, numel);
  double flops = 0;
  for (std::size_t l = 0; l < layers.size() && offsets[l + 1] <= value; ++l) flops += layers[l].forward_flops;
  return flops;
}

std::vector<GradientBucket> compact_buckets(const std::vector<GradientBucket>& dense, const std::vector<std::uint8_t>& mask,
                                            std::size_t n, std::size_t kept) {
  if (dense.size() <= 1) return dense;
  std::vector<std::size_t> before(mask.empty() ? 0 : n + 1, 0);  // kept entries before each position (real)
  std::inclusive_scan(mask.begin(), mask.end(), before.begin() + (mask.empty() ? 0 : 1), std::plus<std::size_t>(), std::size_t{0});
  const auto kept_before = [&](std::size_t i) {
    if (!mask.empty()) return before[i];
    return static_cast<std::size_t>(static_cast<unsigned __int128>(kept) * i / n);  // exact: kept at n
  };
  std::vector<GradientBucket> out;
  double pending_flops = 0;  // the backward of emptied buckets, carried to the next
  for (const GradientBucket& b : dense) {
    GradientBucket c = b;
    c.begin = kept_before(b.begin);
    c.count = kept_before(b.begin + b.count) - c.begin;
    c.backward_flops += pending_flops;
    pending_flops = 0;
    if (c.count == 0) {
      pending_flops = c.backward_flops;
      continue;
    }
    out.push_back(c);
  }
  if (out.empty()) return {};
  out.back().backward_flops += pending_flops;
  return out;
}

}  // namespace geotrain::sim
