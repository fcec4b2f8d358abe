// A synchronization strategy is a per-worker program written against WorkerContext, once, for
// both size-only and real-tensor runs. One strategy per file; the registry maps scenario names
// to strategies and validates their knobs at load time.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "sim/context.h"
#include "sim/resilience/replica.h"

namespace geotrain::sim {

class JsonReader;

// A strategy also declares its replica state and traits to the resilience layer (Resilient).
class Strategy : public Resilient {
 public:
  // Nodes besides the workers this strategy needs (parameter-server shards, a center copy).
  virtual std::vector<ServerPlacement> servers(const Scenario&) const { return {}; }
  // Called once before any actor starts, e.g. to say which parameters to evaluate
  // (world.deployed_parameters defaults to worker 0's).
  virtual void prepare(World&) {}
  // The program of one worker; runs inside that worker's SimGrid actor.
  virtual void run(WorkerContext& ctx) = 0;
  // The program of server `index` (node id = workers + index).
  virtual void run_server(WorkerContext&, int /*index*/) {}
  // Called once after the simulation ended, before the results are assembled.
  virtual void finish(World&) {}
  // True when, without faults and on size-only tensors, every worker runs this same program:
  // the same compute and steps, meeting the others only in whole-fleet collectives that the
  // collective fidelity times in closed form (no point-to-point message, no randomness).  Then
  // identical workers may be simulated by one actor (sim/identical_workers.h).
  virtual bool same_program_on_every_worker() const { return false; }
};

// Names of the strategies the scenario may ask for.
const std::vector<std::string>& strategy_names();
// Validates a scenario's "strategy" object against the rest of the scenario (topology, fleet and
// workload already parsed); throws BadInput.  Reads every key it allows.  Returns the strategy it
// built, for the checks that ask it.
std::unique_ptr<Strategy> validate_strategy(JsonReader& reader, const Scenario& scenario);
// Builds the strategy of a validated scenario.
std::unique_ptr<Strategy> make_strategy(const Scenario& scenario);

// Where a strategy's server nodes go: the optional "server" object {region, instance, pricing};
// defaults to the region and instance type of the first fleet entry, on demand.
ServerPlacement parse_server_placement(JsonReader& reader, const Scenario& scenario);

// Message kinds of the request/reply protocols (parameter server, EASGD, gossip).
enum MessageKind { kPull = 1, kPush = 2, kDone = 3, kReply = 4 };
// Wire size of a request that carries no tensor (a pull or a done).
inline constexpr std::uint64_t kRequestBytes = 64;
// The channel server replies travel on (apart from the collectives' channel 0).
inline constexpr int kReplyChannel = 1;

}  // namespace geotrain::sim
