// A calibration (what `geotrain calibrate` writes to DIR/calibration.json) applied to a scenario
// at load: measured regions and links replace the topology's RTTs, windows and capacities, the
// measured rate (MFU) of an instance type for this workload's model replaces its catalog
// utilization, fitted strategy knobs fill the knobs the scenario leaves out, and a fitted streams
// exponent fills the network's.  Not the fitting: that is calibrate/ (cli side).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/topology.h"

namespace geotrain::sim {

struct CalibratedRegion {
  std::string name;
  double lan_rtt_s = 0;                // host to host inside the region
  double lan_single_stream_Bps = 0;    // 0: not measured
};

struct CalibratedLink {
  std::string a, b;
  double rtt_s = 0;                // host to host; 0: not measured
  double single_stream_Bps = 0;    // 0: not measured
  double capacity_Bps = 0;         // 0: not measured
};

struct CalibratedCompute {
  std::string instance;
  double parameters = 0, flops_per_sample = 0;  // the model the rate was measured with
  double mfu = 0;                                // achieved fraction of peak, (0, 1]
};

struct Calibration {
  std::string file;
  std::vector<CalibratedRegion> regions;
  std::vector<CalibratedLink> links;
  std::vector<CalibratedCompute> compute;
  double streams_exponent = 0;                       // 0: not fitted
  std::map<std::string, nlohmann::json> strategies;  // strategy name -> {knob: value}
};

// Reads and validates calibration file `path`.  Throws BadInput (file, JSON path, value, allowed).
Calibration load_calibration(const std::string& path);
// The same from a document read from `file`.
Calibration parse_calibration(const nlohmann::json& doc, const std::string& file);

// Applies the measured regions and links to `topology`; a region or link the topology lacks adds a
// warning (never fatal).  Link latency = (RTT - both LAN latencies) / 2, window = rate x RTT.
void apply_calibration(const Calibration& c, Topology& topology, std::vector<std::string>& warnings);
// The compute rate measured for instance `instance` with a model of `parameters` and
// `flops_per_sample` (relative difference under 1e-9), or 0 when none was.
double calibrated_mfu(const Calibration& c, const std::string& instance, double parameters, double flops_per_sample);
// `strategy` with the calibration's knobs for its name filled in where it sets none.
nlohmann::json calibrated_strategy(const Calibration& c, const nlohmann::json& strategy);

}  // namespace geotrain::sim
