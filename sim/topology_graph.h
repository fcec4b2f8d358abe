// A Boost.Graph view of a topology: regions are vertices, WAN links are edges weighted by
// latency. Answers routing (direct link, else lowest-latency path), reachability and ring order.
#pragma once
#include <vector>

#include "sim/topology.h"

namespace geotrain::sim {

// One WAN link crossed by a route, with its direction (true: from link.a to link.b).
struct RouteHop {
  int link = -1;
  bool forward = true;
};

class TopologyGraph {
 public:
  explicit TopologyGraph(const Topology& topology);
  const Topology& topology() const { return topology_; }

  bool reachable(int src, int dst) const;
  // The WAN links from src to dst (empty when src == dst): the direct link when the topology has
  // one (a measured pair is the real route), else the lowest-latency path through other regions.
  // REQUIRES: reachable(src, dst).
  std::vector<RouteHop> route(int src, int dst) const;
  // Sum of one-way latencies along route(src, dst).
  double route_latency_s(int src, int dst) const;

  // An order of `regions` (each listed once) for a ring that visits each region once and
  // minimizes the sum of route latencies around the ring: exact for up to 9 regions, nearest
  // neighbour then 2-opt above. Starts with the first region given, so the result is stable.
  std::vector<int> ring_order(const std::vector<int>& regions) const;

 private:
  const Topology& topology_;
  std::vector<std::vector<double>> dist_s_;   // all-pairs route latency
  std::vector<std::vector<int>> next_link_;   // first link on the route, -1 if none
};

}  // namespace geotrain::sim
