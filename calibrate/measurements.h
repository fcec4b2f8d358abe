// A measurement file for `geotrain calibrate` (docs/CALIBRATION.md): what a user measured before
// renting a fleet.  Parsed and validated once, at load, into plain structs in SI units; every
// problem is a BadInput naming the file, the JSON path, the value and what is allowed.
#pragma once
#include <string>
#include <vector>

#include "sim/topology.h"

namespace geotrain::calibrate {

// compute: one instance type training one model, its measured wall-clock rate.
struct ComputeMeasurement {
  std::string name, path, source;  // path: JSON pointer inside the file
  std::string instance;
  double parameters = 0, flops_per_sample = 0;
  double samples_per_s = 0;         // given, or batch / step time (given or from a profiler trace)
  int batch = 0;                    // samples per step (0: not given)
  double forward_s = 0, backward_s = 0, optimizer_s = 0;  // optional split of one step (0: not given)
};

// ping: host-to-host RTT between regions a and b (a == b: inside one region).
struct PingMeasurement {
  std::string a, b, path, source;
  double rtt_s = 0;
};

// iperf3: one TCP test from a to b with `streams` parallel streams.
struct IperfMeasurement {
  std::string a, b, path, source, file;  // file: the iperf3 --json file ("" when given as figures)
  int streams = 1;
  double rate_Bps = 0;
};

// A distributed run: a scenario (fleet + strategy) and what it achieved.
struct RunMeasurement {
  std::string name, path, source;
  std::string scenario_file;       // resolved path
  double samples_per_s = 0;
  double sync_s_per_round = 0;     // 0: not measured
};

struct Measurements {
  std::string file;
  std::string topology_file;       // resolved path
  sim::Topology topology;
  std::vector<ComputeMeasurement> compute;
  std::vector<PingMeasurement> pings;
  std::vector<IperfMeasurement> iperfs;
  std::vector<RunMeasurement> runs;
  std::vector<std::string> fit;    // strategy knobs the runs fit
  std::string strategy;            // the runs' strategy ("" without runs)
};

// Reads and validates `file`: regions and instance types must be the topology's, iperf3 files
// must be completed TCP tests, run scenarios must load, fitted knobs must be knobs of the runs'
// strategy (or the common overhead knobs).  Throws sim::BadInput.
Measurements load_measurements(const std::string& file);

}  // namespace geotrain::calibrate
