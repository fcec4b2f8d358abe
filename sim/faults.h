// Faults of a scenario: spot preemption models (hazard, recorded availability traces, zone
// outages), what happens after a preemption (restart delay, fallback to on demand), checkpoints,
// and WAN link faults; and the availability schedule they imply, computed before the run from
// the seed alone.  Pure data and arithmetic: no SimGrid here (sim/fault_injector.h applies it).
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace geotrain::sim {

inline constexpr double kNever = std::numeric_limits<double>::infinity();

// How long a preempted instance's capacity stays away: a fixed delay, or exponential with a mean,
// or uniform in [min, max].
struct DelaySpec {
  std::string distribution = "fixed";  // fixed | exponential | uniform
  double value_s = 300;                // fixed: the delay; exponential: the mean
  double min_s = 0, max_s = 0;         // uniform
};

// A recorded availability trace, as a step function of time: count(t) instances available, or
// per node the times it is added and removed.
struct AvailabilityTrace {
  std::string file;
  std::string format;                 // ticks_json | count_csv | events_csv
  // count formats: (time_s, available) steps, time ascending, first at 0.
  std::vector<std::pair<double, int>> counts;
  // events_csv: per node (in order of first appearance) its (time_s, up?) transitions.
  std::vector<std::vector<std::pair<double, bool>>> nodes;
};

// Preemption model of one fleet entry.
struct PreemptionSpec {
  std::string model = "none";          // none | hazard | trace
  double rate_per_s = 0;               // hazard: preemptions per instance-second
  std::string rate_source;             // where the rate came from (catalog band or the scenario)
  AvailabilityTrace trace;             // trace
  double trace_start_s = 0;            // trace time at simulated time 0
  DelaySpec restart_delay;             // hazard and zone outages: capacity returns after this
  double boot_s = 60;                  // a returned instance boots (billed) before it works
  std::string policy = "wait_for_spot";  // wait_for_spot | fallback_on_demand
  double fallback_after_s = 600;       // fallback_on_demand: an on-demand replacement after this
};

// Every spot instance of a region goes down together: once at at_s, or at a rate (Poisson).
struct ZoneOutage {
  std::string region;
  int region_index = -1;
  double at_s = -1;                    // < 0: use rate_per_s
  double rate_per_s = 0;
  double duration_s = 0;               // kNever: never comes back (unless the policy replaces)
};

// A WAN link between two regions: down windows and piecewise-constant bandwidth/latency factors.
struct LinkFault {
  std::string region_a, region_b;
  int a = -1, b = -1;
  std::vector<std::pair<double, double>> down;            // [from_s, to_s) windows, to_s may be kNever
  std::vector<std::pair<double, double>> bandwidth;       // (from_s, fraction of capacity)
  std::vector<std::pair<double, double>> latency;         // (from_s, factor on latency)
};

// Periodic checkpoints to an object store.
struct CheckpointSpec {
  long every_steps = 0;                // a checkpoint after every this many steps (rounds); 0 with auto
  // "every_steps": "auto": Daly's optimum interval from the checkpoint's cost and the fleet's
  // mean time between preemptions (mtbf_s, from the preemption models at load).
  bool auto_interval = false;
  double mtbf_s = 0;
  std::string store_region;
  int store_region_index = -1;
  double write_Bps = 0, read_Bps = 0;  // the store's bandwidth for one writer / reader
  double usd_per_GB_month = 0;         // storage price
};

// A server (a parameter-server shard, EASGD's center) down from down_s to up_s: its process and
// what it held in memory are lost; it restarts from its last checkpoint, else the initial model.
struct ServerFault {
  int shard = -1;                      // -1: every server of the strategy
  double down_s = 0, up_s = 0;
};

struct FaultSpec {
  std::vector<ZoneOutage> zone_outages;
  std::vector<LinkFault> links;
  std::vector<ServerFault> servers;
  std::optional<CheckpointSpec> checkpoint;
  double time_limit_s = 0;             // simulated time after which the run stops (0: a week,
                                       // kDefaultTimeLimitS of sim/fault_injector.cc)
  double retry_after_s = 10;           // a failed collective is retried after this (no member lost)
  // True when anything can fail during the run.
  bool any(bool preemptions) const {
    return preemptions || !zone_outages.empty() || !links.empty() || !servers.empty();
  }
};

// When one instance is away: capacity gone at down_s, back at up_s (kNever: not during the run).
// `replaced` marks the on-demand replacement of the fallback policy (it is never preempted again).
struct Outage {
  double down_s = 0, up_s = kNever;
  bool replaced = false;
  std::string cause;                   // "hazard", "trace", "zone outage <region>"
};

// The outages of one worker, sorted and disjoint, and its billing segments.
struct InstanceSchedule {
  std::vector<Outage> outages;
  bool starts_down() const { return !outages.empty() && outages.front().down_s <= 0; }
};

// Preemptions per month for a catalog interruption band: the middle of the band, ">20%" read
// as 25% (ASSUMPTION, the band is open).  Returns a rate per instance-second, assuming the
// interruption frequency is the monthly probability of one interruption.
double band_rate_per_s(const std::string& band);

struct FleetEntry;

// Preemptions per second of a fleet, from its models (spot entries): hazard rates, the mean rate
// of a recorded availability trace over its span (instances that go at the same instant count
// once), crossings of max_price over a price trace's span (once: the entry goes together), and
// zone outages with a rate (once each).  0 when no model gives a rate (fixed times only).
double fleet_preemption_rate_per_s(const std::vector<FleetEntry>& fleet, const std::vector<ZoneOutage>& zone_outages);

// Daly's optimum checkpoint interval (work seconds between checkpoints; J. T. Daly, "A higher
// order estimate of the optimum checkpoint interval for restart dumps", FGCS 22(3), 2006, eq. 37):
// sqrt(2 d M) (1 + sqrt(d / 2M) / 3 + (d / 2M) / 9) - d for a checkpoint cost d < 2M, else M.
// Its first term is Young's (1974) sqrt(2 d M).
double daly_interval_s(double checkpoint_s, double mtbf_s);

// Reads an availability trace in any of the three formats (by content: a JSON object with
// "metadata.gap_seconds" and "data"; a CSV with a header "time_ms,available_count" or rows
// "time_ms,add|remove,node").  Throws BadInput naming the file, line and what is allowed.
AvailabilityTrace load_availability_trace(const std::string& file);

// Availability of instance `index` of a fleet entry under `trace`: its outages, in trace time
// shifted by `start_s` (simulated time 0 is trace time start_s).  The last value holds after
// the trace ends.
std::vector<Outage> trace_outages(const AvailabilityTrace& trace, int index, double start_s);

class JsonReader;
struct FleetEntry;
struct InstanceType;
struct Topology;

// Parsers of the scenario's "preemption" (per fleet entry), "faults" and "checkpoint" objects
// (docs/SCENARIO_FORMAT.md#faults).  Relative trace paths start at the scenario's folder.
// Throw BadInput.
PreemptionSpec parse_preemption(JsonReader& reader, const InstanceType& type, bool spot,
                                const std::string& scenario_file);
FaultSpec parse_faults(JsonReader& reader, const Topology& topology);
CheckpointSpec parse_checkpoint(JsonReader& reader, const Topology& topology);

// True when the schedules depend on the seed: a hazard model, or a zone outage at a rate (traces,
// price traces and fixed-time outages replay the same way in every draw).
bool fault_process_is_random(const std::vector<FleetEntry>& fleet, const std::vector<ZoneOutage>& zone_outages);

// The outages of every worker (fleet order, then instance order) over [0, horizon_s): the
// entry's model, merged with zone outages of its region (spot entries only), then the fallback
// policy.  Deterministic in `seed`.
std::vector<InstanceSchedule> build_schedules(const std::vector<FleetEntry>& fleet,
                                              const std::vector<ZoneOutage>& zone_outages,
                                              std::uint64_t seed, double horizon_s);

}  // namespace geotrain::sim
