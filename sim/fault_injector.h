// Applies a run's availability schedule inside the simulation: a preempted worker's host is
// turned off (its actors die, transfers with it fail), billing stops, its unsynchronized work is
// counted lost; when capacity is back the host is turned on and the worker program starts anew
// (marked restarted).  Stops the run at the time limit, or once no round can ever complete again:
// every worker gone for good, a worker gone for good in a group that waits for everyone, or a WAN
// link down for good on the route between two regions with nodes.
#pragma once
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>
#include <simgrid/s4u/Actor.hpp>

#include "sim/context.h"
#include "sim/faults.h"

namespace geotrain::sim {

// The simulated time after which a run with faults stops: the scenario's, else a week.
double time_limit_s(const Scenario& scenario);

// Bills worker `w` from from_s to to_s (kNever: to the end): on demand at the list price (its
// entry's pricing, or a fallback replacement with `on_demand`); spot at the market price of its
// entry's price trace, cut where the price changes, else at the catalog's spot price.
void bill_worker(World& world, const WorkerInfo& w, bool on_demand, double from_s, double to_s);
// What worker `rank`'s seconds from from_s to to_s cost at the price it is billed at: its fleet
// entry's (the price in force each second under a spot price trace), and the on-demand list price
// from a fallback replacement on.  The figure lost work and overhead are priced at.
double worker_usd(const World& world, int rank, double from_s, double to_s);

class FaultInjector {
 public:
  // REQUIRES: world.membership and world.faults set; `schedules` has one entry per worker.
  FaultInjector(World& world, std::vector<InstanceSchedule> schedules,
                std::function<void(WorkerContext&)> worker_program);

  // Bills every worker per its schedule, starts the workers that are up at time 0 and the
  // injector actor.  Call instead of creating worker actors.  Servers are started by the caller
  // and keep billing through their faults (an on-demand instance whose process crashed).
  void start();
  // Down intervals as trace spans, up to the end of the run.
  void record_down_spans(double end_s) const;
  const std::vector<InstanceSchedule>& schedules() const { return schedules_; }

 private:
  void launch(int rank, bool restarted, double boot_s);
  void run();
  void preempt(int rank, const Outage& outage);
  // Server faults: the server's host goes off (its program dies, what it buffered is lost) and
  // later back on; world.on_server_fault tells the strategy, which restarts the program.
  void server_down(int node, const Outage& outage);
  void server_up(int node, const Outage& outage);
  void stop(const std::string& reason);
  // Links down for good that cut regions with nodes apart: when, and the stop reason.
  struct Cut {
    double time_s = 0;
    std::string reason;
  };
  std::vector<Cut> permanent_cuts() const;

  World& world_;
  std::vector<InstanceSchedule> schedules_;
  std::vector<std::vector<Outage>> server_outages_;  // per server (node id = workers + index)
  std::function<void(WorkerContext&)> program_;
  std::vector<bool> running_;        // the worker's actor runs its program
  int running_count_ = 0;
  bool job_done_ = false;            // some worker finished its program
  simgrid::s4u::ActorPtr actor_;
};

// The results' "faults" block: preemptions, restarts, lost work, wasted dollars, availability
// per fleet entry, checkpoint bytes and storage dollars, and the event list.
nlohmann::ordered_json faults_block(const World& world, const FaultInjector& injector, double end_s);

}  // namespace geotrain::sim
