// Topology: regions, WAN links, instance types and egress price rules, in SI units
// (seconds, bytes, bytes/s, FLOP/s, dollars). Loaded from JSON (units named in the keys, converted
// here); see docs/SCENARIO_FORMAT.md. Not the SimGrid platform: sim/platform.h builds that.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::sim {

class JsonReader;

struct Region {
  std::string name;          // unique id inside the topology, e.g. "us-central1"
  std::string cloud;         // key into Topology::egress, e.g. "gcp"
  std::string continent;     // e.g. "north_america"
  std::string cloud_region;  // the cloud's region this entry sits in (defaults to name)
  std::string zone;          // availability zone (defaults to name)
  double lan_latency_s = 0;  // one-way latency between two hosts of this region
  double lan_window_B = 0;   // single-stream TCP window inside the region; 0: network default
};

struct WanLink {
  int a = -1, b = -1;        // region indices
  double latency_s = 0;      // one-way
  double capacity_Bps = 0;   // each direction
  double tcp_window_B = 0;   // single-stream window; 0: network default
  std::string source;        // where the figures came from
};

struct InstanceType {
  std::string name;
  int gpus = 1;
  double gpu_peak_flops = 0;  // per GPU, FLOP/s
  double utilization = 0;     // achieved fraction of peak in training, (0, 1]
  double nic_Bps = 0;         // each direction
  double usd_per_hour_on_demand = 0;
  double usd_per_hour_spot = 0;
  // FLOP/s of the whole instance in training.
  double effective_flops() const { return gpus * gpu_peak_flops * utilization; }
};

// Egress $/byte from one cloud, by where the bytes go.
struct EgressRules {
  double same_zone_usd_per_B = 0;
  double cross_zone_usd_per_B = 0;
  std::map<std::string, double> same_continent_usd_per_B;  // by continent; "default" fallback
  double inter_continent_usd_per_B = 0;
  std::map<std::string, double> inter_continent_to_usd_per_B;    // by destination continent
  std::map<std::string, double> inter_continent_from_usd_per_B;  // by source continent
  double internet_usd_per_B = 0;  // to another cloud
};

struct Topology {
  std::string name;
  std::string source;
  std::vector<Region> regions;
  std::vector<WanLink> links;
  std::map<std::string, InstanceType> instance_types;
  std::map<std::string, EgressRules> egress;  // by cloud

  // Index of the region called `name`, or -1.
  int region_index(const std::string& name) const;
  // Egress $/byte for bytes sent from region `src` to region `dst`.
  double egress_usd_per_B(int src, int dst) const;
};

// Parses and validates a topology object.  Throws BadInput (file, JSON path, value, allowed).
// Checks: positive latencies/capacities, unique names, links between known regions, every
// cloud has egress rules, and every region reachable from every other.
Topology parse_topology(JsonReader& reader);

}  // namespace geotrain::sim
