// Scenario: everything one run needs (topology, fleet, workload, strategy, network), as plain
// structs in SI units, validated once at load. The JSON format is in docs/SCENARIO_FORMAT.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/topology.h"

namespace geotrain::sim {

enum class Pricing { on_demand, spot };

struct FleetEntry {
  std::string region;
  int region_index = -1;
  std::string instance;  // key into Topology::instance_types
  int count = 0;
  Pricing pricing = Pricing::on_demand;
};

// A size-only model: what the compute-time model and the wire need to know.
struct Workload {
  double parameters = 0;          // number of trainable values
  double flops_per_sample = 0;    // forward + backward FLOPs for one training sample
  double wire_bytes_per_param = 4;
  int batch_per_worker = 0;       // samples per worker per step
  int steps = 0;
};

struct NetworkSpec {
  std::string fidelity = "message";
  double default_tcp_window_B = 4194304;  // SimGrid's own default TCP window, 4 MiB
  bool window_cap = true;                 // cap each flow at streams x window / RTT
  int parallel_streams = 1;               // TCP streams one transfer opens
};

struct Scenario {
  std::string file;   // where it was loaded from ("" for scenarios built in code)
  std::string name;
  std::uint64_t seed = 0;
  Topology topology;
  std::vector<FleetEntry> fleet;
  Workload workload;
  nlohmann::json strategy;  // validated object; the strategy reads its own knobs
  NetworkSpec network;

  int worker_count() const;
};

// Loads and validates a scenario file.  Throws BadInput with one line naming the file, the
// JSON path, the value and what is allowed.  A relative topology path is resolved against the
// scenario file's folder.
Scenario load_scenario(const std::string& file);

// Same, from an already parsed document (`file` is used in messages and to resolve paths).
Scenario parse_scenario(const nlohmann::json& doc, const std::string& file);

}  // namespace geotrain::sim
