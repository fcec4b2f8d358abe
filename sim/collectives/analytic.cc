// The "collective" fidelity: closed-form timing of schedules and meeting points (analytic.h).
#include "sim/collectives/analytic.h"

#include <algorithm>
#include <map>
#include <utility>

#include <simgrid/s4u.hpp>

#include "kernels/check.h"
#include "sim/context.h"

namespace sg4 = simgrid::s4u;

namespace geotrain::sim {

double schedule_time_s(const Platform& platform, const Schedule& schedule) {
  const auto& nodes = platform.nodes();
  const auto& links = platform.graph().topology().links;
  // Resources: NIC up of node v is 2v, its NIC down 2v+1; WAN link l in direction d (1: from
  // its end a to b) is 2N + 2l + d.
  const std::size_t wan0 = 2 * nodes.size();
  auto resources = [&](const Flow& f) {
    std::vector<std::size_t> r = {2 * static_cast<std::size_t>(f.src), 2 * static_cast<std::size_t>(f.dst) + 1};
    const int a = nodes.at(f.src).region, b = nodes.at(f.dst).region;
    if (a != b)
      for (const RouteHop& hop : platform.graph().route(a, b))
        r.push_back(wan0 + 2 * static_cast<std::size_t>(hop.link) + (hop.forward ? 1 : 0));
    return r;
  };
  auto capacity_Bps = [&](std::size_t r) {
    if (r < wan0) return nodes[r / 2].type->nic_Bps;
    return links[(r - wan0) / 2].capacity_Bps;
  };
  std::vector<int> users(wan0 + 2 * links.size(), 0);
  std::vector<double> ready(nodes.size(), 0.0);  // when each node is done with earlier phases
  for (const Phase& phase : schedule) {
    std::vector<std::vector<std::size_t>> used;
    used.reserve(phase.size());
    for (const Flow& f : phase) {
      used.push_back(resources(f));
      for (std::size_t r : used.back()) ++users[r];
    }
    std::vector<double> done = ready;
    for (std::size_t i = 0; i < phase.size(); ++i) {
      const Flow& f = phase[i];
      double rate = platform.rate_cap_Bps(f.src, f.dst);  // 0: no cap
      for (std::size_t r : used[i]) {
        const double share = capacity_Bps(r) / users[r];
        rate = rate > 0 ? std::min(rate, share) : share;
      }
      const double start = f.receiver_posted ? ready[f.src] : std::max(ready[f.src], ready[f.dst]);
      const double end = start + platform.latency_s(f.src, f.dst) + static_cast<double>(f.bytes) / rate;
      done[f.src] = std::max(done[f.src], end);
      done[f.dst] = std::max(done[f.dst], end);
    }
    for (const auto& u : used)
      for (std::size_t r : u) --users[r];
    ready = std::move(done);
  }
  return *std::max_element(ready.begin(), ready.end());
}

void ring_order_mean(const std::vector<runtime::Tensor*>& members) {
  const int n = static_cast<int>(members.size());
  if (n <= 1) return;
  const std::size_t numel = members[0]->numel();
  std::vector<float*> data;
  for (auto* t : members) {
    GEOTRAIN_CHECK(t->is_real() && t->numel() == numel, "an all-reduce over tensors of different sizes");
    data.push_back(t->values().data());
  }
  const float factor = 1.0f / static_cast<float>(n);
  constexpr std::size_t kBlock = 2048;  // the running sum stays in L1
  float acc[kBlock];
  for (int c = 0; c < n; ++c) {
    const ChunkRange chunk = chunk_range(numel, n, c);
    for (std::size_t b = chunk.begin; b < chunk.begin + chunk.count; b += kBlock) {
      const std::size_t len = std::min(kBlock, chunk.begin + chunk.count - b);
      std::copy(data[c] + b, data[c] + b + len, acc);
      for (int s = 1; s < n; ++s) {
        const float* x = data[(c + s) % n] + b;
        if (s + 1 < n) {
          for (std::size_t k = 0; k < len; ++k) acc[k] = x[k] + acc[k];
        } else {
          for (std::size_t k = 0; k < len; ++k) acc[k] = (x[k] + acc[k]) * factor;
        }
      }
      for (float* d : data) std::copy(acc, acc + len, d + b);
    }
  }
}

struct AnalyticCollectives::Meeting {
  std::vector<runtime::Tensor*> tensors;  // by position in the members' order
  std::vector<sg4::ActorPtr> waiting;
  int arrived = 0;
  double end_s = 0;
};

template <class MakeSchedule>
const AnalyticCollectives::Timing& AnalyticCollectives::timing(WorkerContext& ctx, int op, const std::vector<int>& order,
                                                               const runtime::Tensor& t, MakeSchedule make) {
  const auto key = std::make_tuple(op, order, t.numel(), t.wire_bytes_per_value());
  if (const auto it = timings_.find(key); it != timings_.end()) return it->second;
  const Schedule schedule = make();
  Timing timing;
  timing.seconds = schedule_time_s(ctx.platform(), schedule);
  for (const Phase& phase : schedule) {
    std::uint64_t bytes = 0;
    for (const Flow& f : phase) {
      timing.flows.push_back(f);
      bytes += f.bytes;
    }
    timing.peak_phase_B = std::max(timing.peak_phase_B, bytes);
  }
  return timings_.emplace(key, std::move(timing)).first->second;
}

template <class Math>
void AnalyticCollectives::meet(WorkerContext& ctx, int op, const std::vector<int>& order, runtime::Tensor& t,
                               const Timing& timing, Math math) {
  const int n = static_cast<int>(order.size());
  const auto key = std::make_tuple(ctx.channel(), op, order);
  std::shared_ptr<Meeting>& open = open_[key];
  if (!open) {
    open = std::make_shared<Meeting>();
    open->tensors.resize(n, nullptr);
  }
  const std::shared_ptr<Meeting> m = open;
  const auto me = std::find(order.begin(), order.end(), ctx.rank()) - order.begin();
  GEOTRAIN_CHECK(me < n, "a worker joined a collective it is not a member of");
  GEOTRAIN_CHECK(m->tensors[me] == nullptr, "a member joined the same collective twice");
  m->tensors[me] = &t;
  if (++m->arrived < n) {
    m->waiting.push_back(sg4::Actor::self());
    sg4::this_actor::suspend();  // until the last member resumes it, below
  } else {
    open_.erase(key);
    if (t.is_real()) math(m->tensors);
    Ledger& ledger = ctx.world().ledger;
    const auto& nodes = ctx.platform().nodes();
    std::map<std::pair<int, int>, std::int64_t> wan_B;  // (src, dst) region: the collective's WAN bytes
    for (const Flow& f : timing.flows) {
      ledger.add_transfer(nodes[f.src].region, nodes[f.dst].region, f.bytes);
      if (nodes[f.src].region != nodes[f.dst].region) wan_B[{nodes[f.src].region, nodes[f.dst].region}] += f.bytes;
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

void AnalyticCollectives::allreduce_mean(WorkerContext& ctx, runtime::Tensor& t, AllreduceAlgo algo,
                                         const std::vector<int>& order, const std::vector<std::vector<int>>& groups) {
  if (order.size() <= 1) return;
  const Timing& timed = timing(ctx, static_cast<int>(algo), order, t, [&]() -> Schedule {
    switch (algo) {
      case AllreduceAlgo::ring: return ring_allreduce_schedule(t, order);
      case AllreduceAlgo::tree: return tree_allreduce_schedule(t, order);
      case AllreduceAlgo::hierarchical: return hierarchical_allreduce_schedule(t, groups);
      case AllreduceAlgo::butterfly:
        return butterfly_allreduce_schedule(t, order, std::vector<double>(order.size(), 1.0));
    }
    return {};
  });
  meet(ctx, static_cast<int>(algo), order, t, timed, ring_order_mean);
}

void AnalyticCollectives::broadcast(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group) {
  if (group.size() <= 1) return;
  constexpr int kBroadcast = -2;  // apart from the all-reduce algorithms
  const Timing& timed = timing(ctx, kBroadcast, group, t, [&] { return tree_broadcast_schedule(t, group); });
  meet(ctx, kBroadcast, group, t, timed, [](const std::vector<runtime::Tensor*>& members) {
    const auto root = members[0]->values();
    for (std::size_t q = 1; q < members.size(); ++q) std::copy(root.begin(), root.end(), members[q]->values().begin());
  });
}

void AnalyticCollectives::allgather(WorkerContext& ctx, runtime::Tensor& ring, const std::vector<int>& order) {
  const int n = static_cast<int>(order.size());
  if (n <= 1) return;
  constexpr int kAllgather = -1;
  const Timing& timed = timing(ctx, kAllgather, order, ring, [&] { return ring_allgather_schedule(ring, order, 0); });
  meet(ctx, kAllgather, order, ring, timed, [n](const std::vector<runtime::Tensor*>& rings) {
    const std::size_t numel = rings[0]->numel();
    for (int p = 0; p < n; ++p) {
      const ChunkRange c = chunk_range(numel, n, p);
      const float* from = rings[p]->slice(c.begin, c.count).data();
      for (int q = 0; q < n; ++q)
        if (q != p) std::copy(from, from + c.count, rings[q]->slice(c.begin, c.count).data());
    }
  });
}

}  // namespace geotrain::sim
