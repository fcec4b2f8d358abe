// FaultInjector: preemptions and returns in simulated time, billing segments, the time limit.
#include "sim/fault_injector.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <simgrid/s4u.hpp>

#include "sim/resilience/membership.h"
#include "sim/resilience/replica.h"

namespace sg4 = simgrid::s4u;

namespace geotrain::sim {
namespace {

// The default simulated time limit of a run with faults: a week.
constexpr double kDefaultTimeLimitS = 7 * 24 * 3600.0;

struct Event {
  double time_s = 0;
  int rank = 0;                  // -1: a WAN link goes down for good (`cut`)
  bool down = false;
  const Outage* outage = nullptr;
  std::string cut;               // why no round can complete any more, for the stop reason
};

double usd_per_s(const WorkerInfo& w, bool on_demand) {
  return (on_demand ? w.type->usd_per_hour_on_demand
                    : (w.pricing == Pricing::spot ? w.type->usd_per_hour_spot : w.type->usd_per_hour_on_demand)) /
         3600.0;
}

// JSON has no infinity: an interval that never comes (no preemption rate) is null.
nlohmann::ordered_json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); }

// A billing month (730 h: a year's hours over 12) and a GB (1e9 bytes), for the checkpoint store's bill.
constexpr double kSecondsPerMonth = 730.0 * 3600.0;
constexpr double kBytesPerGB = 1e9;

// The workers' preemptions, lost compute and wasted dollars, summed over ranks in rank order.
struct WastedTotals {
  long preemptions = 0;
  double lost_compute_s = 0, wasted_usd = 0, lost_work_usd = 0, overhead_usd = 0;
};

WastedTotals wasted_totals(const World& world, std::size_t workers) {
  const FaultLog& log = *world.faults;
  WastedTotals t;
  for (std::size_t r = 0; r < workers; ++r) {
    const WorkerInfo& w = world.platform.nodes()[r];
    t.preemptions += log.preemptions[r];
    t.lost_compute_s += log.lost_compute_s[r];
    if (world.scenario.fleet[w.fleet_entry].spot_price) {  // each lost second at the price in force then
      t.wasted_usd += log.lost_usd[r] + log.overhead_usd[r];
      t.lost_work_usd += log.lost_usd[r];
      t.overhead_usd += log.overhead_usd[r];
    } else {  // at the list price; the total summed as before the split, so its bits do not move
      t.wasted_usd += (log.lost_compute_s[r] + log.overhead_s[r]) * usd_per_s(w, false);
      t.lost_work_usd += log.lost_compute_s[r] * usd_per_s(w, false);
      t.overhead_usd += log.overhead_s[r] * usd_per_s(w, false);
    }
  }
  return t;
}

// Seconds a worker was down before `end_s`, its outages summed in schedule order.
double down_s(const InstanceSchedule& schedule, double end_s) {
  double down = 0;
  for (const Outage& o : schedule.outages)
    if (o.down_s < end_s) down += std::min(o.up_s, end_s) - o.down_s;
  return down;
}

// Per fleet entry: its preemption model and the share of its workers' time they were up.
nlohmann::ordered_json availability_table(const World& world, const FaultInjector& injector, double end_s) {
  const Scenario& s = world.scenario;
  std::vector<double> up_s(s.fleet.size(), 0), total_s(s.fleet.size(), 0);
  for (std::size_t r = 0; r < injector.schedules().size(); ++r) {
    const WorkerInfo& w = world.platform.nodes()[r];
    up_s[w.fleet_entry] += end_s - down_s(injector.schedules()[r], end_s);
    total_s[w.fleet_entry] += end_s;
  }
  auto availability = nlohmann::ordered_json::array();
  for (std::size_t f = 0; f < s.fleet.size(); ++f) {
    const PreemptionSpec& p = s.fleet[f].preemption;
    availability.push_back({{"region", s.fleet[f].region},
                            {"instance", s.fleet[f].instance},
                            {"model", p.model},
                            {"rate_per_hour", p.model == "hazard" ? nlohmann::ordered_json(p.rate_per_s * 3600)
                                                                  : nlohmann::ordered_json(nullptr)},
                            {"rate_source", p.rate_source},
                            {"availability", total_s[f] > 0 ? up_s[f] / total_s[f] : 1.0}});
  }
  return availability;
}

// Adds the storage bill of `writes` to `usd`: the store keeps the latest checkpoint, each one
// billed until the next lands (or the end).  One running sum over every list, in order, so that
// its bits do not depend on how the lists are grouped.
void add_storage_usd(const std::vector<std::pair<double, std::uint64_t>>& writes, double usd_per_GB_month, double end_s,
                     double& usd) {
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const auto [t, bytes] = writes[i];
    const double until = i + 1 < writes.size() ? writes[i + 1].first : end_s;
    usd += static_cast<double>(bytes) / kBytesPerGB * usd_per_GB_month * (until - t) / kSecondsPerMonth;
  }
}

// The checkpoints' storage dollars: the workers' checkpoints, then each server's (one kept per server).
double checkpoint_storage_usd(const Scenario& s, const FaultLog& log, double end_s) {
  double checkpoint_usd = 0;
  if (!s.faults.checkpoint) return checkpoint_usd;
  const double usd_per_GB_month = s.faults.checkpoint->usd_per_GB_month;
  add_storage_usd(log.checkpoint_writes, usd_per_GB_month, end_s, checkpoint_usd);
  for (const auto& writes : log.server_checkpoint_writes) add_storage_usd(writes, usd_per_GB_month, end_s, checkpoint_usd);
  return checkpoint_usd;
}

// The fault events in the order they happened; a link cut names no worker.
nlohmann::ordered_json event_list(const World& world, const FaultLog& log) {
  auto events = nlohmann::ordered_json::array();
  for (const FaultEvent& e : log.events)
    events.push_back({{"time_s", e.time_s},
                      {"worker", e.rank >= 0 ? nlohmann::ordered_json(world.platform.nodes()[e.rank].name)
                                             : nlohmann::ordered_json(nullptr)},
                      {"event", e.kind},
                      {"cause", e.cause}});
  return events;
}

// With "every_steps": "auto": Daly's interval and what it was computed from.
nlohmann::ordered_json checkpoint_interval(const CheckpointSpec& spec, const FaultLog& log) {
  return {{"every", "auto"},
          {"formula", "Daly 2006"},
          {"mtbf_s", finite_or_null(spec.mtbf_s)},
          {"checkpoint_s", log.checkpoint_cost_s},
          {"interval_s", finite_or_null(log.checkpoint_interval_s)},
          {"checkpoints", log.checkpoint_writes.size()}};
}


}  // namespace

double worker_usd(const World& world, int rank, double from_s, double to_s) {
  const WorkerInfo& w = world.platform.nodes()[rank];
  // From a fallback replacement on, the worker is billed on demand (FaultInjector::start).
  const auto r = static_cast<std::size_t>(rank);
  const double on_demand_s = r < world.on_demand_from_s.size() ? world.on_demand_from_s[r] : kNever;
  double usd = 0;
  if (to_s > on_demand_s) {
    usd += usd_per_s(w, true) * (to_s - std::max(from_s, on_demand_s));
    to_s = std::max(from_s, on_demand_s);
  }
  const auto& trace = world.scenario.fleet[w.fleet_entry].spot_price;
  if (!trace) return usd + usd_per_s(w, false) * (to_s - from_s);
  for (const BillingPiece& p : trace->billing(from_s, to_s)) usd += p.usd_per_s * (p.to_s - p.from_s);
  return usd;
}

void bill_worker(World& world, const WorkerInfo& w, bool on_demand, double from_s, double to_s) {
  const auto& trace = world.scenario.fleet[w.fleet_entry].spot_price;
  if (on_demand || !trace) {
    world.ledger.add_billing(usd_per_s(w, on_demand), from_s, to_s);
    return;
  }
  for (const BillingPiece& p : trace->billing(from_s, to_s)) world.ledger.add_billing(p.usd_per_s, p.from_s, p.to_s);
}

FaultInjector::FaultInjector(World& world, std::vector<InstanceSchedule> schedules,
                             std::function<void(WorkerContext&)> worker_program)
    : world_(world),
      schedules_(std::move(schedules)),
      program_(std::move(worker_program)),
      running_(schedules_.size(), false) {
  const std::size_t servers = world_.platform.nodes().size() - schedules_.size();
  server_outages_.resize(servers);
  for (const ServerFault& f : world_.scenario.faults.servers)
    for (std::size_t i = 0; i < servers; ++i)
      if (f.shard < 0 || f.shard == static_cast<int>(i))
        server_outages_[i].push_back({f.down_s, f.up_s, false, "server fault"});
}

double time_limit_s(const Scenario& s) { return s.faults.time_limit_s > 0 ? s.faults.time_limit_s : kDefaultTimeLimitS; }

void FaultInjector::start() {
  std::vector<bool> alive(schedules_.size());
  world_.on_demand_from_s.assign(schedules_.size(), kNever);
  for (std::size_t r = 0; r < schedules_.size(); ++r) {
    const WorkerInfo& w = world_.platform.nodes()[r];
    // Billing: from time 0 (or the first return) to each preemption; on demand after a replacement.
    double from = 0;
    bool on_demand = false;
    for (const Outage& o : schedules_[r].outages) {
      if (o.down_s > from) bill_worker(world_, w, on_demand, from, o.down_s);
      from = o.up_s;
      if (o.replaced && !on_demand) world_.on_demand_from_s[r] = o.up_s;
      on_demand = on_demand || o.replaced;
    }
    if (from < kNever) bill_worker(world_, w, on_demand, from, kNever);
    alive[r] = !schedules_[r].starts_down();
  }
  world_.membership->start(alive);
  for (std::size_t r = 0; r < schedules_.size(); ++r)
    if (alive[r]) launch(static_cast<int>(r), false, 0);
  actor_ = sg4::Actor::create("fault-injector", world_.platform.control_host(), [this] { run(); });
}

void FaultInjector::launch(int rank, bool restarted, double boot_s) {
  const WorkerInfo& w = world_.platform.nodes()[rank];
  running_[rank] = true;
  ++running_count_;
  sg4::Actor::create(w.name, w.host, [this, rank, restarted, boot_s] {
    WorkerContext ctx(world_, rank);
    if (restarted) {
      ctx.mark_restarted();
      const double start = ctx.now();
      sg4::this_actor::sleep_for(boot_s);
      world_.recorder.add_span({rank, "restart", "boot", start, ctx.now()});
      world_.faults->add_overhead(rank, boot_s, worker_usd(world_, rank, start, start + boot_s));
      world_.membership->ready(rank);
    }
    program_(ctx);
    // Finished its program: the job is over (the others finish their last round too), unless
    // workers finish alone; then it is once none runs.
    running_[rank] = false;
    --running_count_;
    if (!world_.workers_finish_alone) {
      job_done_ = true;
      world_.membership->close();
    }
    if (running_count_ == 0 && actor_) actor_->kill();
  });
}

void FaultInjector::preempt(int rank, const Outage& outage) {
  const WorkerInfo& w = world_.platform.nodes()[rank];
  FaultLog& log = *world_.faults;
  world_.membership->preempting(rank);  // while its actors still live
  if (running_[rank]) {
    running_[rank] = false;
    --running_count_;
  }
  w.host->turn_off();  // kills the worker's actors; transfers with it fail
  ++log.preemptions[rank];
  log.lost_samples[rank] += log.unsynced_samples[rank];
  log.lost_compute_s[rank] += log.unsynced_compute_s[rank];
  log.lost_usd[rank] += log.unsynced_usd[rank];
  log.unsynced_samples[rank] = 0;
  log.unsynced_compute_s[rank] = 0;
  log.unsynced_usd[rank] = 0;
  log.events.push_back({outage.down_s, rank, "preempted", outage.cause});
  world_.membership->down(rank);
}

void FaultInjector::server_down(int node, const Outage& outage) {
  if (world_.on_server_fault) world_.on_server_fault(node, false);  // while its program still lives
  world_.platform.nodes()[node].host->turn_off();
  WorkerContext(world_, node).discard_inbox();  // requests it had buffered die with it
  world_.faults->events.push_back({outage.down_s, node, "down", outage.cause});
}

void FaultInjector::server_up(int node, const Outage& outage) {
  world_.platform.nodes()[node].host->turn_on();
  world_.faults->events.push_back({outage.up_s, node, "back", outage.cause});
  if (world_.on_server_fault) world_.on_server_fault(node, true);
}

void FaultInjector::stop(const std::string& reason) {
  world_.stop_reason = reason;
  world_.faults->events.push_back({sg4::Engine::get_clock(), -1, "stopped", reason});
  sg4::Actor::kill_all();
}

std::vector<FaultInjector::Cut> FaultInjector::permanent_cuts() const {
  const Topology& topo = world_.scenario.topology;
  const Platform& platform = world_.platform;
  std::vector<bool> has_node(topo.regions.size(), false);
  for (const WorkerInfo& n : platform.nodes()) has_node[n.region] = true;
  // The first pair of regions with nodes whose route crosses link `f`, as "A and B" ("" if none):
  // they never talk again (routes are fixed; SimGrid does not route around a link that is off).
  auto cut_pair = [&](const LinkFault& f) -> std::string {
    for (std::size_t a = 0; a < topo.regions.size(); ++a)
      for (std::size_t b = a + 1; b < topo.regions.size(); ++b) {
        if (!has_node[a] || !has_node[b]) continue;
        for (const RouteHop& hop : platform.graph().route(static_cast<int>(a), static_cast<int>(b))) {
          const WanLink& l = topo.links[hop.link];
          if ((l.a == f.a && l.b == f.b) || (l.a == f.b && l.b == f.a))
            return topo.regions[a].name + " and " + topo.regions[b].name;
        }
      }
    return "";
  };
  std::vector<Cut> cuts;
  for (const LinkFault& f : world_.scenario.faults.links) {
    const std::string pair = cut_pair(f);
    if (pair.empty()) continue;
    for (const auto& [from_s, to_s] : f.down)
      if (to_s >= kNever)
        cuts.push_back({from_s, fmt::format("link {}-{} down for good at {:.6g} s: {} can no longer reach each other",
                                            f.region_a, f.region_b, from_s, pair)});
  }
  return cuts;
}

void FaultInjector::run() {
  const double limit = time_limit_s(world_.scenario);
  std::vector<Event> events;
  for (const Cut& c : permanent_cuts()) events.push_back({c.time_s, -1, true, nullptr, c.reason});
  for (std::size_t r = 0; r < schedules_.size(); ++r)
    for (const Outage& o : schedules_[r].outages) {
      if (o.down_s > 0) events.push_back({o.down_s, static_cast<int>(r), true, &o});
      if (o.up_s < kNever) events.push_back({o.up_s, static_cast<int>(r), false, &o});
    }
  const int workers = static_cast<int>(schedules_.size());
  for (std::size_t i = 0; i < server_outages_.size(); ++i)
    for (const Outage& o : server_outages_[i]) {
      events.push_back({o.down_s, workers + static_cast<int>(i), true, &o});
      events.push_back({o.up_s, workers + static_cast<int>(i), false, &o});
    }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.time_s != b.time_s ? a.time_s < b.time_s : (a.down != b.down ? a.down : a.rank < b.rank);
  });
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.time_s >= limit) break;
    sg4::this_actor::sleep_until(e.time_s);
    if (job_done_) return;
    if (e.rank < 0) return stop(e.cut);
    const WorkerInfo& w = world_.platform.nodes()[e.rank];
    if (e.rank >= workers) {
      if (e.down) server_down(e.rank, *e.outage);
      else server_up(e.rank, *e.outage);
    } else if (e.down) {
      preempt(e.rank, *e.outage);
      // Capacity that returns after the time limit still returns: the run then ends at the limit.
      const bool comes_back =
          std::any_of(events.begin() + static_cast<long>(i) + 1, events.end(),
                      [workers](const Event& x) { return !x.down && x.rank >= 0 && x.rank < workers; });
      if (world_.membership->alive_count() == 0 && running_count_ == 0 && !comes_back)
        return stop(fmt::format("every worker lost at {:.6g} s and no capacity returns", e.time_s));
      // A group that waits for every worker (on_failure: wait) never completes a round again.
      const bool this_one_returns =
          std::any_of(events.begin() + static_cast<long>(i) + 1, events.end(),
                      [&e](const Event& x) { return !x.down && x.rank == e.rank; });
      if (!world_.membership->elastic() && !this_one_returns && !world_.workers_finish_alone)
        return stop(fmt::format("worker {} lost at {:.6g} s and does not return; the group waits for every worker "
                                "(on_failure: wait)",
                                w.name, e.time_s));
    } else {
      w.host->turn_on();
      ++world_.faults->restarts;
      world_.faults->events.push_back(
          {e.time_s, e.rank, e.outage->replaced ? "replaced on demand" : "back", e.outage->cause});
      const auto& p = world_.scenario.fleet[w.fleet_entry].preemption;
      launch(e.rank, true, p.boot_s);
    }
  }
  sg4::this_actor::sleep_until(limit);
  if (!job_done_) stop(fmt::format("time limit of {:.6g} s simulated reached", limit));
}

void FaultInjector::record_down_spans(double end_s) const {
  for (std::size_t r = 0; r < schedules_.size(); ++r)
    for (const Outage& o : schedules_[r].outages)
      if (o.down_s < end_s)
        world_.recorder.add_span({static_cast<int>(r), "down", o.cause, o.down_s, std::min(o.up_s, end_s)});
  for (std::size_t i = 0; i < server_outages_.size(); ++i)
    for (const Outage& o : server_outages_[i])
      if (o.down_s < end_s)
        world_.recorder.add_span(
            {static_cast<int>(schedules_.size() + i), "down", o.cause, o.down_s, std::min(o.up_s, end_s)});
}

nlohmann::ordered_json faults_block(const World& world, const FaultInjector& injector, double end_s) {
  const FaultLog& log = *world.faults;
  const Scenario& s = world.scenario;
  // Lost: every sample trained on that the deployed model does not hold (lost in a preemption, in
  // a group's rollback to a checkpoint, or never synchronized by the end).
  const double lost_samples = log.total_work_samples() - resilience::useful_samples(world);
  const WastedTotals t = wasted_totals(world, injector.schedules().size());
  nlohmann::ordered_json out = {{"preemptions", t.preemptions},
                                 {"restarts", log.restarts},
                                 {"lost_samples", lost_samples},
                                 {"lost_compute_s", t.lost_compute_s},
                                 {"wasted_usd", t.wasted_usd},
                                 {"wasted_usd_by_cause", {{"lost_work", t.lost_work_usd}, {"boot_and_state_reload", t.overhead_usd}}},
                                 {"availability", availability_table(world, injector, end_s)},
                                 {"checkpoint_bytes", log.checkpoint_bytes},
                                 {"checkpoint_usd", checkpoint_storage_usd(s, log, end_s)}};
  if (s.faults.checkpoint && s.faults.checkpoint->auto_interval)
    out["checkpoint_interval"] = checkpoint_interval(*s.faults.checkpoint, log);
  out["time_limit_s"] = time_limit_s(s);
  out["events"] = event_list(world, log);
  return out;
}

}  // namespace geotrain::sim
