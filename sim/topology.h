// Topology: regions, WAN links, instance types and egress price rules, in SI units
// (seconds, bytes, bytes/s, FLOP/s, dollars). Loaded from JSON (units named in the keys, converted
// here); see docs/SCENARIO_FORMAT.md. Not the SimGrid platform: sim/platform.h builds that.
#pragma once
#include <limits>
#include <map>
#include <optional>
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
  // Location (optional; NaN when not given): for the RTT estimate and the speed-of-light check.
  double latitude_deg = std::numeric_limits<double>::quiet_NaN();
  double longitude_deg = std::numeric_limits<double>::quiet_NaN();
  // Egress prices of this region overriding its cloud's rules (clouds that price by source region).
  std::optional<double> inter_region_usd_per_B;  // to any other cloud_region of the same cloud
  std::optional<double> internet_usd_per_B;      // to another cloud
  // Instance types this region offers; empty: any type (of this cloud, when the type names one).
  std::vector<std::string> offered_instance_types;

  bool has_location() const { return latitude_deg == latitude_deg; }  // false for NaN
};

struct WanLink {
  int a = -1, b = -1;        // region indices
  double latency_s = 0;      // one-way
  double capacity_Bps = 0;   // each direction
  double tcp_window_B = 0;   // single-stream window; 0: network default
  std::string source;        // where the figures came from
  double measured_rtt_ab_s = 0;  // measured host RTT pinging from a to b; 0: not given
  double measured_rtt_ba_s = 0;  // and from b to a
  std::string capacity_limit = "unknown";  // "path", "vm" (the measuring VMs' cap) or "unknown"
  bool rtt_estimated = false;       // latency from rtt_estimate, not measured
  bool capacity_estimated = false;  // capacity not measured
};

struct InstanceType {
  std::string name;
  int gpus = 1;
  double gpu_peak_flops = 0;  // per GPU, FLOP/s
  double utilization = 0;     // achieved fraction of peak in training, (0, 1]
  double nic_Bps = 0;         // each direction
  double usd_per_hour_on_demand = 0;
  double usd_per_hour_spot = 0;
  // Optional catalog figures (empty / 0 when not given).
  std::string cloud;                    // the cloud selling it; "" = placeable in any region
  std::string gpu_model;
  double gpu_memory_B = 0;              // per GPU
  double gpu_peak_fp32_flops = 0;       // per GPU, reference only
  double hbm_Bps = 0;                   // GPU memory bandwidth per GPU, bytes/s; 0: unknown
  std::string reference_region;         // where the prices hold
  std::string spot_interruption_band;   // "<5%", "5-10%", "10-15%", "15-20%", ">20%" per month
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
  std::map<std::string, double> internet_to_usd_per_B;  // to another cloud, by destination continent
};

// RTT = fixed + routing_factor x great-circle RTT at fibre speed: the estimate for unmeasured
// pairs, with the error it had on measured pairs held out of the fit.
struct RttEstimate {
  bool present = false;
  double routing_factor = 0;
  double fixed_s = 0;
  double fiber_m_per_s = 0;
  int training_pairs = 0;
  std::vector<std::pair<int, int>> holdout;  // region index pairs held out of the fit
  double holdout_median_abs_error_s = 0;
  double holdout_p90_abs_error_s = 0;
  double holdout_median_rel_error = 0;
  // Estimated host RTT between two located regions.  REQUIRES: present, both have_location().
  double rtt_s(const Region& a, const Region& b) const;
};

// A pair whose direct link is slower than relaying through a third region (host RTTs).
struct RelayShortcut {
  int a = -1, b = -1, via = -1;
  double direct_rtt_s = 0;
  double relay_rtt_s = 0;  // includes a round trip through a host of `via`
};

// Something in the file that is allowed but looks wrong (regions -1 when not about a pair).
struct TopologyWarning {
  int a = -1, b = -1;
  std::string message;
};

struct Topology {
  std::string name;
  std::string source;
  std::vector<Region> regions;
  std::vector<WanLink> links;
  std::map<std::string, InstanceType> instance_types;
  std::map<std::string, EgressRules> egress;  // by cloud
  std::string instance_catalog;               // file merged into instance_types ("" if none)
  RttEstimate rtt_estimate;
  std::vector<TopologyWarning> warnings;      // found at load; never fatal
  std::vector<RelayShortcut> relay_shortcuts; // found at load, largest saving first

  // Index of the region called `name`, or -1.
  int region_index(const std::string& name) const;
  // Egress $/byte for bytes sent from region `src` to region `dst`.
  double egress_usd_per_B(int src, int dst) const;
  // Host-to-host RTT over link `link` alone: 2 x latency + both regions' LAN latency.
  double link_host_rtt_s(int link) const;
  // "" if `instance` may run in region `region`, else why not (for error messages).
  std::string placement_error(int region, const std::string& instance) const;
};

// Great-circle distance in metres between two points given in degrees.
double great_circle_m(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg);

// Parses and validates a topology object.  Throws BadInput (file, JSON path, value, allowed).
// Checks: positive latencies/capacities, unique names, one link per region pair, links between
// known regions, every cloud has egress rules, every instance type a region offers exists (an
// "instance_catalog" file, relative to reader.file(), is merged into instance_types; a name in
// both is an error), and every region reachable from every other. Fills `warnings` (asymmetric
// measured RTTs, RTTs faster than light in fibre) and `relay_shortcuts`.
Topology parse_topology(JsonReader& reader);

}  // namespace geotrain::sim
