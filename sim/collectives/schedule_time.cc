// The collective fidelity's clock (analytic.h): a schedule's flows played out in simulated time,
// each resource (a NIC direction, a WAN link direction) shared equally among the flows crossing it
// at each moment, whatever phase they belong to.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

#include <boost/heap/d_ary_heap.hpp>

#include "kernels/check.h"
#include "sim/collectives/analytic.h"

namespace geotrain::sim {

namespace {

using FlowId = std::uint32_t;

// Resources: NIC up of node v is 2v, its NIC down 2v+1; WAN link l in direction d (1: from its
// end a to b) is wan0 + 2l + d, wan0 = 2 x nodes.  Appends those `f` crosses to `r`.
void flow_resources(const Platform& platform, std::size_t wan0, const Flow& f, std::vector<std::size_t>& r) {
  r.push_back(2 * static_cast<std::size_t>(f.src));
  r.push_back(2 * static_cast<std::size_t>(f.dst) + 1);
  const int a = platform.nodes()[f.src].region, b = platform.nodes()[f.dst].region;
  if (a != b)
    for (const RouteHop& hop : platform.graph().route(a, b))
      r.push_back(wan0 + 2 * static_cast<std::size_t>(hop.link) + (hop.forward ? 1 : 0));
}
double resource_capacity_Bps(const Platform& platform, std::size_t wan0, std::size_t r) {
  if (r < wan0) return platform.nodes()[r / 2].type->nic_Bps;
  return platform.graph().topology().links[(r - wan0) / 2].capacity_Bps;
}

// A flow's rate: the smallest of its TCP window cap (0: none) and, on each resource it crosses
// (`first`..`last`), the resource's capacity shared equally among `users(r)` flows.
template <class It, class Users>
double equal_share_Bps(const Platform& platform, std::size_t wan0, double cap_Bps, It first, It last, Users users) {
  double rate = cap_Bps;
  for (; first != last; ++first) {
    const double share = resource_capacity_Bps(platform, wan0, *first) / static_cast<double>(users(*first));
    rate = rate > 0 ? std::min(rate, share) : share;
  }
  return rate;
}

// Which flows wait for which node, as the schedule orders them (collectives.h): a flow of phase p
// starts once each node it waits for is done with every flow of earlier phases it takes part in.
class Dependencies {
 public:
  Dependencies(const Schedule& schedule, std::size_t nodes)
      : schedule_(schedule), head_(nodes, 0), credit_(nodes, 0) {
    phase_begin_.push_back(0);
    for (const Phase& phase : schedule) phase_begin_.push_back(phase_begin_.back() + phase.size());
    const std::size_t flows = phase_begin_.back();
    GEOTRAIN_CHECK(flows < std::numeric_limits<FlowId>::max(), "a schedule of over 4e9 flows");
    // Every node's flows (sent or received) in flow order, which is phase order.
    node_begin_.assign(nodes + 1, 0);
    const auto each_flow = [&](auto visit) {
      FlowId id = 0;
      for (const Phase& phase : schedule) phase.for_each([&](const Flow& f) { visit(id++, f); });
    };
    each_flow([&](FlowId, const Flow& f) {
      ++node_begin_[f.src + 1];
      ++node_begin_[f.dst + 1];
    });
    for (std::size_t v = 0; v < nodes; ++v) node_begin_[v + 1] += node_begin_[v];
    node_flows_.resize(node_begin_.back());
    std::vector<std::size_t> fill(node_begin_.begin(), node_begin_.end() - 1);
    waits_.resize(flows);
    ended_.assign(flows, 0);
    each_flow([&](FlowId id, const Flow& f) {
      node_flows_[fill[f.src]++] = id;
      node_flows_[fill[f.dst]++] = id;
      waits_[id] = f.receiver_posted ? 1 : 2;
    });
    for (std::size_t v = 0; v < nodes; ++v) head_[v] = credit_[v] = node_begin_[v];
  }

  std::size_t size() const { return phase_begin_.back(); }
  // Read from the schedule (ring steps are not expanded into a list: 10 bytes per flow here).
  Flow flow(FlowId id) const {
    const std::size_t p = phase_of(id);
    return schedule_[p].at(id - phase_begin_[p]);
  }

  // Marks `id` ended.
  void end(FlowId id) { ended_[id] = 1; }

  // Node v moves past its ended flows; every flow now free of v that waited for nothing else is
  // appended to `startable`.
  void advance(int v, std::vector<FlowId>& startable) {
    const std::size_t end = node_begin_[v + 1];
    std::size_t& head = head_[v];
    while (head < end && ended_[node_flows_[head]]) ++head;
    const std::size_t open_phase = head < end ? phase_of(node_flows_[head]) : std::numeric_limits<std::size_t>::max();
    std::size_t& credit = credit_[v];
    for (; credit < end && phase_of(node_flows_[credit]) <= open_phase; ++credit) {
      const FlowId id = node_flows_[credit];
      const Flow f = flow(id);
      const bool waits_for_v = f.src == v || !f.receiver_posted;
      if (waits_for_v && --waits_[id] == 0) startable.push_back(id);
    }
  }

 private:
  std::size_t phase_of(FlowId id) const {
    return static_cast<std::size_t>(std::upper_bound(phase_begin_.begin(), phase_begin_.end(), id) -
                                    phase_begin_.begin()) - 1;
  }

  const Schedule& schedule_;
  std::vector<std::size_t> phase_begin_;  // [phase]: its first flow id; one past the last at the end
  std::vector<std::size_t> node_begin_;   // [node]: where its flows start in node_flows_
  std::vector<FlowId> node_flows_;
  std::vector<std::uint8_t> waits_;       // [flow]: nodes it still waits for
  std::vector<std::uint8_t> ended_;       // [flow]
  std::vector<std::size_t> head_;         // [node]: its first flow not ended
  std::vector<std::size_t> credit_;       // [node]: its first flow not yet freed of it
};

// The flows moving bytes, and the resources they share.  Each moving flow has one entry in a
// queue of ends, moved when its rate changes (a flow retimed k times costs no k stale events:
// a gather of k flows into one NIC retimes each of them up to 2k times).
class Transfers {
  struct End {
    double end_s;
    std::uint32_t slot;
    bool operator>(const End& o) const { return end_s != o.end_s ? end_s > o.end_s : slot > o.slot; }
  };
  using EndQueue = boost::heap::d_ary_heap<End, boost::heap::arity<4>, boost::heap::mutable_<true>,
                                           boost::heap::compare<std::greater<End>>>;

 public:
  explicit Transfers(const Platform& platform) : platform_(platform), wan0_(2 * platform.nodes().size()) {
    users_.resize(wan0_ + 2 * platform.graph().topology().links.size());
    touched_mark_.assign(users_.size(), 0);
  }

  // Flow `id` starts moving its bytes at `now`.
  void activate(FlowId id, const Flow& f, double now) {
    std::uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    Slot& s = slots_[slot];
    s.id = id;
    s.remaining_B = static_cast<double>(f.bytes);
    s.rate_Bps = 0;
    s.since_s = now;
    s.cap_Bps = platform_.rate_cap_Bps(f.src, f.dst);
    s.end.reset();
    s.resources.clear();
    flow_resources(platform_, wan0_, f, s.resources);
    for (std::size_t r : s.resources) {
      users_[r].push_back(slot);
      touch(r);
    }
  }

  // When the next moving flow ends (REQUIRES: one moves and reshare() ran since it started).
  bool moving() const { return !ends_.empty(); }
  double next_end_s() const { return ends_.top().end_s; }

  // The flow whose end is next is done: it leaves its resources.  Returns its id.  Flows ending
  // at one instant leave in the order of their slots.
  FlowId finish_next() {
    const std::uint32_t slot = ends_.top().slot;
    ends_.pop();
    Slot& s = slots_[slot];
    for (std::size_t r : s.resources) {
      auto& u = users_[r];
      *std::find(u.begin(), u.end(), slot) = u.back();
      u.pop_back();
      touch(r);
    }
    free_.push_back(slot);
    return s.id;
  }

  // Every flow on a resource whose count of users changed gets its new rate and end.
  void reshare(double now) {
    ++stamp_;
    for (std::size_t r : touched_) {
      touched_mark_[r] = 0;
      for (std::uint32_t slot : users_[r]) {
        Slot& s = slots_[slot];
        if (s.stamp == stamp_) continue;
        s.stamp = stamp_;
        const double rate = equal_share_Bps(platform_, wan0_, s.cap_Bps, s.resources.begin(), s.resources.end(),
                                            [&](std::size_t q) { return users_[q].size(); });
        if (rate == s.rate_Bps) continue;
        s.remaining_B -= s.rate_Bps * (now - s.since_s);
        s.since_s = now;
        s.rate_Bps = rate;
        const End end{now + std::max(0.0, s.remaining_B) / rate, slot};
        if (s.end) {
          ends_.update(*s.end, end);
        } else {
          s.end = ends_.push(end);
        }
      }
    }
    touched_.clear();
  }

 private:
  struct Slot {
    FlowId id = 0;
    double remaining_B = 0;  // as of since_s
    double rate_Bps = 0;
    double since_s = 0;
    double cap_Bps = 0;
    std::uint64_t stamp = 0;
    std::vector<std::size_t> resources;
    std::optional<EndQueue::handle_type> end;  // its entry in ends_ once it has a rate
  };

  void touch(std::size_t r) {
    if (!touched_mark_[r]) {
      touched_mark_[r] = 1;
      touched_.push_back(r);
    }
  }

  const Platform& platform_;
  const std::size_t wan0_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<std::vector<std::uint32_t>> users_;  // [resource]: slots crossing it
  std::vector<std::size_t> touched_;
  std::vector<std::uint8_t> touched_mark_;
  std::uint64_t stamp_ = 0;
  EndQueue ends_;
};

// Flows about to move: (when, flow id), earliest first, ties by id.
using Activations =
    std::priority_queue<std::pair<double, FlowId>, std::vector<std::pair<double, FlowId>>, std::greater<>>;

// The next instant something happens: a flow starts moving or ends.
double next_instant(const Activations& activations, const Transfers& transfers) {
  if (activations.empty()) return transfers.next_end_s();
  if (!transfers.moving()) return activations.top().first;
  return std::min(activations.top().first, transfers.next_end_s());
}

// Times one phase's flows event by event among themselves: flow i starts moving at moves[i]
// and shares its resources only with the phase's other flows; its end goes to ends[i].  The
// arithmetic is flow_by_flow_time_s's, so a phase that no other phase's flow overlaps on any
// resource gets the bits the whole-schedule clock gives it.
void time_phase_alone(const std::vector<Flow>& phase, const std::vector<double>& moves, Transfers& transfers,
                      std::vector<double>& ends) {
  Activations activations;
  for (std::size_t i = 0; i < phase.size(); ++i) activations.emplace(moves[i], static_cast<FlowId>(i));
  while (!activations.empty() || transfers.moving()) {
    // Every end of this instant, then every start, then one resharing.
    const double now = next_instant(activations, transfers);
    while (transfers.moving() && transfers.next_end_s() == now) ends[transfers.finish_next()] = now;
    for (; !activations.empty() && activations.top().first == now; activations.pop())
      transfers.activate(activations.top().second, phase[activations.top().second], now);
    transfers.reshare(now);
  }
}

}  // namespace

// The schedule timed phase by phase, or nothing when two phases overlap: when a flow moves on a
// resource while a flow of an earlier phase still does.  A phase whose flows on each resource
// move over one interval (rings, uniform trees: lockstep) takes each flow at one rate from start
// to end, with no events; one whose flows do not (a gather of unequal chunks into one NIC) is
// timed event by event among its own flows (time_phase_alone).  Either way only one phase's
// flows are listed at a time, and the bits are the event-by-event clock's.
std::optional<double> phase_by_phase_time_s(const Platform& platform, const Schedule& schedule) {
  const std::size_t wan0 = 2 * platform.nodes().size();
  const std::size_t resources = wan0 + 2 * platform.graph().topology().links.size();
  std::vector<int> users(resources, 0);
  // [resource]: the last phase that used it and the interval its first flow there moved over.
  std::vector<std::size_t> seen_in(resources, std::numeric_limits<std::size_t>::max());
  std::vector<std::pair<double, double>> interval(resources);
  std::vector<double> earlier_end(resources, 0.0);  // [resource]: the latest end of a flow on it so far
  std::vector<double> ready(platform.nodes().size(), 0.0);  // when each node is done with earlier phases
  std::vector<std::size_t> used;
  std::vector<std::size_t> used_begin;
  std::vector<Flow> phase;  // the flows of phase p, ring steps expanded (one phase at a time)
  std::vector<double> moves, ends;
  std::optional<Transfers> transfers;  // made for the first phase timed event by event
  for (std::size_t p = 0; p < schedule.size(); ++p) {
    schedule[p].expand(phase);
    used.clear();
    used_begin.clear();
    for (const Flow& f : phase) {
      used_begin.push_back(used.size());
      flow_resources(platform, wan0, f, used);
      for (std::size_t k = used_begin.back(); k < used.size(); ++k) ++users[used[k]];
    }
    used_begin.push_back(used.size());
    // Each flow at the rate it starts with, which holds to its end when the phase's flows on each
    // resource move over one interval (lockstep).
    moves.resize(phase.size());
    ends.resize(phase.size());
    bool lockstep = true;
    for (std::size_t i = 0; i < phase.size(); ++i) {
      const Flow& f = phase[i];
      const double rate = equal_share_Bps(platform, wan0, platform.rate_cap_Bps(f.src, f.dst), used.begin() + used_begin[i],
                                          used.begin() + used_begin[i + 1], [&](std::size_t r) { return users[r]; });
      const double start = f.receiver_posted ? ready[f.src] : std::max(ready[f.src], ready[f.dst]);
      moves[i] = start + platform.latency_s(f.src, f.dst);
      ends[i] = moves[i] + static_cast<double>(f.bytes) / rate;
      for (std::size_t k = used_begin[i]; k < used_begin[i + 1]; ++k) {
        const std::size_t r = used[k];
        if (seen_in[r] != p) {
          seen_in[r] = p;
          interval[r] = {moves[i], ends[i]};
        } else if (interval[r] != std::make_pair(moves[i], ends[i])) {
          lockstep = false;
        }
      }
    }
    for (std::size_t r : used) --users[r];
    if (!lockstep) {
      if (!transfers) transfers.emplace(platform);
      time_phase_alone(phase, moves, *transfers, ends);
    }
    // No flow may move on a resource before the earlier phases' flows there ended.
    for (std::size_t i = 0; i < phase.size(); ++i)
      for (std::size_t k = used_begin[i]; k < used_begin[i + 1]; ++k)
        if (earlier_end[used[k]] > moves[i]) return std::nullopt;
    for (std::size_t i = 0; i < phase.size(); ++i) {
      for (std::size_t k = used_begin[i]; k < used_begin[i + 1]; ++k)
        earlier_end[used[k]] = std::max(earlier_end[used[k]], ends[i]);
      ready[phase[i].src] = std::max(ready[phase[i].src], ends[i]);
      ready[phase[i].dst] = std::max(ready[phase[i].dst], ends[i]);
    }
  }
  return ready.empty() ? 0.0 : *std::max_element(ready.begin(), ready.end());
}

double schedule_time_s(const Platform& platform, const Schedule& schedule) {
  if (const std::optional<double> phased = phase_by_phase_time_s(platform, schedule)) return *phased;
  return flow_by_flow_time_s(platform, schedule);
}

double flow_by_flow_time_s(const Platform& platform, const Schedule& schedule) {
  const std::size_t nodes = platform.nodes().size();
  Dependencies deps(schedule, nodes);
  Transfers transfers(platform);
  Activations activations;
  std::vector<FlowId> startable;
  // A flow starts when its nodes are free, pays its route's latency, then moves its bytes.
  const auto start = [&](double now) {
    for (FlowId id : startable) {
      const Flow& f = deps.flow(id);
      activations.emplace(now + platform.latency_s(f.src, f.dst), id);
    }
    startable.clear();
  };
  for (std::size_t v = 0; v < nodes; ++v) deps.advance(static_cast<int>(v), startable);
  start(0.0);
  double last_end_s = 0;
  std::vector<int> freed;
  while (!activations.empty() || transfers.moving()) {
    // Every end of this instant, then every start, then one resharing.
    const double now = next_instant(activations, transfers);
    while (transfers.moving() && transfers.next_end_s() == now) {
      const FlowId id = transfers.finish_next();
      deps.end(id);
      last_end_s = now;
      const Flow f = deps.flow(id);
      freed.push_back(f.src);
      freed.push_back(f.dst);
    }
    for (; !activations.empty() && activations.top().first == now; activations.pop())
      transfers.activate(activations.top().second, deps.flow(activations.top().second), now);
    transfers.reshare(now);
    for (int v : freed) deps.advance(v, startable);
    freed.clear();
    start(now);
  }
  return last_end_s;
}

}  // namespace geotrain::sim
