// The "collective" fidelity: closed-form timing of schedules and meeting points (analytic.h).
#include "sim/collectives/analytic.h"

#include <algorithm>
#include <map>
#include <utility>

#include <simgrid/s4u.hpp>

#include "kernels/check.h"
#include "sim/collectives/table.h"
#include "sim/context.h"

namespace sg4 = simgrid::s4u;

namespace geotrain::sim {

namespace {

// Chunk c summed from member c on around the ring; scaled by 1/n in the last addition when `mean`.
void ring_order_reduce(const std::vector<runtime::Tensor*>& members, bool mean) {
  const int n = static_cast<int>(members.size());
  if (n <= 1) return;
  const std::size_t numel = members[0]->numel();
  std::vector<float*> data;
  for (auto* t : members) {
    GEOTRAIN_CHECK(t->is_real() && t->numel() == numel, "an all-reduce over tensors of different sizes");
    data.push_back(t->values().data());
  }
  const float factor = 1.0f / static_cast<float>(n);
  // The ring rounds every partial sum it sends, and each complete chunk once, through the sum
  // format (ring_allreduce.cc); a slab of kBlock values starts on a block of the format, so
  // rounding slab by slab is rounding the chunk as one message.
  const kernels::WireFormat format = members[0]->sum_format();
  const auto round_to_format = [format](float* v, std::size_t len) {
    if (format != kernels::WireFormat::fp32) kernels::roundtrip(format, v, v, len, kernels::kDefaultBlockValues);
  };
  constexpr std::size_t kBlock = 2048;  // the running sum stays in L1
  static_assert(kBlock % kernels::kDefaultBlockValues == 0, "slabs must start on a block of the wire format");
  float acc[kBlock];
  for (int c = 0; c < n; ++c) {
    const ChunkRange chunk = chunk_range(numel, n, c);
    for (std::size_t b = chunk.begin; b < chunk.begin + chunk.count; b += kBlock) {
      const std::size_t len = std::min(kBlock, chunk.begin + chunk.count - b);
      std::copy(data[c] + b, data[c] + b + len, acc);
      for (int s = 1; s < n; ++s) {
        round_to_format(acc, len);  // sent by the member before
        const float* x = data[(c + s) % n] + b;
        if (s + 1 < n || !mean) {
          for (std::size_t k = 0; k < len; ++k) acc[k] = x[k] + acc[k];
        } else {
          for (std::size_t k = 0; k < len; ++k) acc[k] = (x[k] + acc[k]) * factor;
        }
      }
      round_to_format(acc, len);  // complete
      for (float* d : data) std::copy(acc, acc + len, d + b);
    }
  }
}

// An all-gather's result in every ring: the member at ring position p holds chunk p.
void gather_rings(const std::vector<runtime::Tensor*>& rings) {
  const int n = static_cast<int>(rings.size());
  const std::size_t numel = rings[0]->numel();
  for (int p = 0; p < n; ++p) {
    const ChunkRange c = chunk_range(numel, n, p);
    const float* from = rings[p]->slice(c.begin, c.count).data();
    for (int q = 0; q < n; ++q)
      if (q != p) std::copy(from, from + c.count, rings[q]->slice(c.begin, c.count).data());
  }
}

// Kinds of collectives apart from the all-reduce algorithms' rows (timings and meetings).
constexpr int kAllgather = -1;
constexpr int kBroadcast = -2;

}  // namespace

void ring_order_mean(const std::vector<runtime::Tensor*>& members) { ring_order_reduce(members, true); }
void ring_order_sum(const std::vector<runtime::Tensor*>& members) { ring_order_reduce(members, false); }

struct AnalyticCollectives::Meeting {
  std::vector<runtime::Tensor*> tensors;  // by position in the members' order
  std::vector<sg4::ActorPtr> waiting;
  int arrived = 0;
  double end_s = 0;
};

template <class MakeSchedule>
const AnalyticCollectives::Timing& AnalyticCollectives::timing(WorkerContext& ctx, int op, const Members& members,
                                                               const runtime::Tensor& t, MakeSchedule make) {
  const auto key = std::make_tuple(op, members.key(), t.numel(), t.wire_bytes_per_value());
  if (const auto it = timings_.find(key); it != timings_.end()) return it->second;
  const Schedule schedule = make();
  Timing timing;
  timing.seconds = schedule_time_s(ctx.platform(), schedule);
  const auto& nodes = ctx.platform().nodes();
  for (const Phase& phase : schedule) {
    std::uint64_t phase_B = 0;
    phase.for_each([&](const Flow& f) {
      phase_B += f.bytes;
      auto& [bytes, count] = timing.by_regions[{nodes[f.src].region, nodes[f.dst].region}];
      bytes += f.bytes;
      ++count;
    });
    timing.peak_phase_B = std::max(timing.peak_phase_B, phase_B);
  }
  return timings_.emplace(key, std::move(timing)).first->second;
}

template <class Math>
void AnalyticCollectives::meet(WorkerContext& ctx, int op, const Members& members, runtime::Tensor& t,
                               const Timing& timing, Math math) {
  const int n = static_cast<int>(members.order.size());
  const auto key = std::make_tuple(ctx.channel(), op, members.key());
  std::shared_ptr<Meeting>& open = open_[key];
  if (!open) {
    open = std::make_shared<Meeting>();
    open->tensors.resize(n, nullptr);
  }
  const std::shared_ptr<Meeting> m = open;
  const int me = members.me;
  GEOTRAIN_CHECK(me >= 0 && me < n, "a worker joined a collective it is not a member of");
  GEOTRAIN_CHECK(m->tensors[me] == nullptr, "a member joined the same collective twice");
  m->tensors[me] = &t;
  m->arrived += ctx.stands_for_count();  // identical workers arrive together (sim/run.cc)
  if (m->arrived < n) {
    m->waiting.push_back(sg4::Actor::self());
    sg4::this_actor::suspend();  // until the last member resumes it, below
  } else {
    open_.erase(key);
    if (t.is_real()) math(m->tensors);
    Ledger& ledger = ctx.world().ledger;
    std::map<std::pair<int, int>, std::int64_t> wan_B;  // (src, dst) region: the collective's WAN bytes
    for (const auto& [regions, sum] : timing.by_regions) {
      ledger.add_transfers(regions.first, regions.second, sum.first, sum.second);
      if (regions.first != regions.second) wan_B[regions] += static_cast<std::int64_t>(sum.first);
    }
    m->end_s = ctx.now() + timing.seconds;
    for (auto& actor : m->waiting) actor->resume();
    ledger.add_in_flight(static_cast<double>(timing.peak_phase_B));
    for (const auto& [pair, bytes] : wan_B) ctx.world().recorder.add_wan_in_flight(pair.first, pair.second, bytes, ctx.now());
    sg4::this_actor::sleep_until(m->end_s);
    ledger.add_in_flight(-static_cast<double>(timing.peak_phase_B));
    for (const auto& [pair, bytes] : wan_B) ctx.world().recorder.add_wan_in_flight(pair.first, pair.second, -bytes, ctx.now());
    return;
  }
  sg4::this_actor::sleep_until(m->end_s);
}

void AnalyticCollectives::allreduce(WorkerContext& ctx, runtime::Tensor& t, AllreduceAlgo algo,
                                    const AllreduceGroup& group, bool mean) {
  const std::vector<int>& order = group.order;
  if (order.size() <= 1) return;
  const AllreduceEntry& entry = allreduce_entry(algo);
  GEOTRAIN_CHECK(entry.schedule != nullptr, "an all-reduce without a schedule in the collective fidelity");
  const Members members = members_of(group, ctx.rank());
  const Timing& timed = timing(ctx, algo.row, members, t, [&] { return entry.schedule(ctx.platform(), t, group); });
  meet(ctx, algo.row, members, t, timed, mean ? ring_order_mean : ring_order_sum);
}

struct AnalyticCollectives::BucketMeeting {
  std::vector<std::vector<runtime::Tensor*>> parts;  // [bucket][member position]
  std::vector<double> ready_s;                       // [bucket]: the latest member's
  std::vector<double> launches;                      // [bucket]: when its launch started
  std::vector<std::pair<double, double>> spans;      // [bucket]: its all-reduce's start and end
  std::uint64_t peak_phase_B = 0;                    // the busiest phase of any bucket
  std::vector<sg4::ActorPtr> waiting;
  int arrived = 0;
};

template <class MakeSchedule, class Math>
BucketTimes AnalyticCollectives::bucketed(WorkerContext& ctx, const BucketKind& kind, const Members& members,
                                                        const std::vector<runtime::Tensor*>& parts,
                                                        const std::vector<double>& ready_s, MakeSchedule make, Math math) {
  const int n = static_cast<int>(members.order.size());
  const std::size_t buckets = parts.size();
  GEOTRAIN_CHECK(ready_s.size() == buckets, "a ready time per bucket");
  // Identical workers (sim/identical_workers.h): one actor arrives for all and records for each.
  const bool for_all = ctx.stands_for_count() > 1;
  GEOTRAIN_CHECK(!for_all || ctx.stands_for_count() == n, "one actor stands for every member or for itself");
  const auto key = std::make_pair(kind.op, members.key());
  std::shared_ptr<BucketMeeting>& open = open_buckets_[key];
  if (!open) {
    open = std::make_shared<BucketMeeting>();
    open->parts.assign(buckets, std::vector<runtime::Tensor*>(n, nullptr));
    open->ready_s.assign(buckets, 0);
  }
  const std::shared_ptr<BucketMeeting> m = open;
  const int me = members.me;
  GEOTRAIN_CHECK(me >= 0 && me < n && m->parts.size() == buckets, "a member joined buckets it is not a member of");
  for (std::size_t k = 0; k < buckets; ++k) {
    m->parts[k][me] = parts[k];
    m->ready_s[k] = std::max(m->ready_s[k], ready_s[k]);
  }
  m->arrived += ctx.stands_for_count();
  const bool last = m->arrived == n;
  Recorder& recorder = ctx.world().recorder;
  if (!last) {
    m->waiting.push_back(sg4::Actor::self());
    sg4::this_actor::suspend();  // until the last member resumes it, below
  } else {
    open_buckets_.erase(key);
    Ledger& ledger = ctx.world().ledger;
    std::vector<std::pair<std::pair<int, int>, std::int64_t>> wan_B;  // a bucket's bytes per WAN pair
    const double launch_s = ctx.scenario().overheads.collective_launch_s;
    double end_s = 0;  // of the previous bucket; bucket 0 waits only for its readiness (in the past)
    for (std::size_t k = 0; k < buckets; ++k) {
      const runtime::Tensor& t = *parts[k];
      const Timing& timed = timing(ctx, kind.op, members, t, [&] { return make(t); });
      // Launched when ready and the stream is free; its flows start once every member launched.
      const double launch_start_s = std::max(m->ready_s[k], end_s);
      const double start_s = launch_start_s + launch_s;
      end_s = start_s + timed.seconds;
      m->launches.push_back(launch_start_s);
      m->spans.emplace_back(start_s, end_s);
      m->peak_phase_B = std::max(m->peak_phase_B, timed.peak_phase_B);
      if (t.is_real()) math(m->parts[k]);
      wan_B.clear();
      for (const auto& [regions, sum] : timed.by_regions) {
        ledger.add_transfers(regions.first, regions.second, sum.first, sum.second);
        if (regions.first != regions.second) wan_B.emplace_back(regions, static_cast<std::int64_t>(sum.first));
      }
      recorder.add_stream_window(start_s, end_s, wan_B);  // the trace's WAN counter: the bucket's bytes while it runs
    }
    recorder.close_stream_windows();
    for (auto& actor : m->waiting) actor->resume();
    ledger.add_in_flight(static_cast<double>(m->peak_phase_B));  // one bucket at a time on the stream
  }
  // Per member and bucket: its statistics, and its spans, which are per-layer detail (the callers
  // open a layer section): written at output.trace "layers" only, so not even made at the others.
  // Each bucket's tally is looked up once; the additions run in the order of one call per member
  // and bucket (the same bits).
  const bool spans = recorder.keeps_layers();
  const std::string span_name = kind.collective + "/" + kind.algorithm;
  std::vector<std::pair<std::uint64_t, double>*> tallies;
  tallies.reserve(buckets);
  for (std::size_t k = 0; k < buckets; ++k)
    tallies.push_back(&recorder.collective_tally({kind.collective, kind.algorithm, n, kind.size_B(*parts[k])}));
  for (const int rank : ctx.recorded_ranks())
    for (std::size_t k = 0; k < buckets; ++k) {
      const auto [start_s, end_s] = m->spans[k];
      if (spans && start_s > m->launches[k])  // the stream's launch cost (collective_launch_s), as message fidelity pays it
        recorder.add_span({rank, "overlapped", "collective launch", m->launches[k], start_s});
      if (spans) recorder.add_span({rank, "overlapped", span_name, start_s, end_s});
      ++tallies[k]->first;
      tallies[k]->second += end_s - start_s;
    }
  sg4::this_actor::sleep_until(m->spans.back().second);
  if (last) ctx.world().ledger.add_in_flight(-static_cast<double>(m->peak_phase_B));
  BucketTimes times{m->launches.front(), {}};
  times.ends_s.reserve(buckets);
  for (const auto& span : m->spans) times.ends_s.push_back(span.second);
  return times;
}

BucketTimes AnalyticCollectives::bucketed_allreduce(WorkerContext& ctx, const std::vector<runtime::Tensor*>& parts,
                                             const std::vector<double>& ready_s, AllreduceAlgo algo,
                                             const AllreduceGroup& group) {
  const AllreduceEntry& entry = allreduce_entry(algo);
  GEOTRAIN_CHECK(entry.schedule != nullptr, "an all-reduce without a schedule in the collective fidelity");
  const BucketKind kind{algo.row, "allreduce", entry.label, [&entry](const runtime::Tensor& t) { return entry.size_B(t); }};
  return bucketed(ctx, kind, members_of(group, ctx.rank()), parts, ready_s,
                  [&](const runtime::Tensor& t) { return entry.schedule(ctx.platform(), t, group); }, ring_order_mean);
}

BucketTimes AnalyticCollectives::bucketed_allgather(WorkerContext& ctx, const std::vector<runtime::Tensor*>& rings,
                                                                  const std::vector<double>& ready_s,
                                                                  const std::vector<int>& order) {
  const BucketKind kind{kAllgather, "allgather", "ring", [](const runtime::Tensor& t) { return t.wire_bytes(t.numel()); }};
  return bucketed(ctx, kind, members_of(order, ctx.rank()), rings, ready_s,
                  [&](const runtime::Tensor& t) { return ring_allgather_schedule(t, order, 0); }, gather_rings);
}

void AnalyticCollectives::broadcast(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group) {
  if (group.size() <= 1) return;
  const Members members = members_of(group, ctx.rank());
  const Timing& timed = timing(ctx, kBroadcast, members, t, [&] { return tree_broadcast_schedule(t, group); });
  meet(ctx, kBroadcast, members, t, timed, [](const std::vector<runtime::Tensor*>& members) {
    const auto root = members[0]->values();
    for (std::size_t q = 1; q < members.size(); ++q) std::copy(root.begin(), root.end(), members[q]->values().begin());
  });
}

void AnalyticCollectives::allgather(WorkerContext& ctx, runtime::Tensor& ring, const std::vector<int>& order) {
  if (order.size() <= 1) return;
  const Members members = members_of(order, ctx.rank());
  const Timing& timed = timing(ctx, kAllgather, members, ring, [&] { return ring_allgather_schedule(ring, order, 0); });
  meet(ctx, kAllgather, members, ring, timed, gather_rings);
}

}  // namespace geotrain::sim
