// Load-time checks of a parsed topology that warn instead of failing, the relay-shortcut
// (triangle inequality) report, and the RTT estimate's parameters. Internal to sim/; the results
// are stored in Topology::warnings, Topology::relay_shortcuts and Topology::rtt_estimate.
#pragma once
#include <vector>

#include "sim/topology.h"

namespace geotrain::sim {

class JsonReader;

// Parses an "rtt_estimate" object; region names are resolved in `topology`.  Throws BadInput.
RttEstimate parse_rtt_estimate(JsonReader& reader, const Topology& topology);

// Warnings: measured RTTs whose two directions differ by more than max(2 ms, 10%); a link's host
// RTT below the great-circle RTT at 2/3 c (less 1 ms for coordinate error); estimated links that
// disagree with rtt_estimate by more than 1 ms.
std::vector<TopologyWarning> check_topology(const Topology& topology);

// Pairs (a, b) with a direct link where relaying through a third region c over direct links,
// in and out of a host of c, gives a host RTT at least 1 ms lower; the best c per pair, largest
// saving first.
std::vector<RelayShortcut> find_relay_shortcuts(const Topology& topology);

}  // namespace geotrain::sim
