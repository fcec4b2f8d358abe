// Reading network measurements as the tools print them: iperf3's --json output (TCP, one or
// several parallel streams) and ping's summary line.  Pure parsing: no fitting here.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace geotrain::calibrate {

struct IperfResult {
  int streams = 0;          // parallel TCP streams (-P)
  double received_Bps = 0;  // bytes/s the receiver got, all streams together
  double duration_s = 0;
  bool reverse = false;     // -R: the server sent
};

// Parses one iperf3 --json document read from `file`.  Throws sim::BadInput (file, JSON path,
// value, allowed) for a run that failed ("error"), a non-TCP test, or missing figures.
IperfResult parse_iperf3(const nlohmann::json& doc, const std::string& file);

// The average RTT (seconds) of ping's summary line "rtt min/avg/max/mdev = a/b/c/d ms" (Linux
// iputils; "round-trip min/avg/max/stddev = ..." as BSD and macOS print it).  Throws sim::BadInput
// naming `file` and `path` when `line` is not such a line.
double parse_ping_summary(const std::string& line, const std::string& file, const std::string& path);

}  // namespace geotrain::calibrate
