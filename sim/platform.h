// The simulated machines: builds the SimGrid platform for a scenario (a zone per region, a host
// per worker with its NIC, WAN links routed on the topology graph) and answers per-pair route
// questions (latency, bottleneck capacity, TCP window cap) for the worker context and tests.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/collectives/group.h"
#include "sim/scenario.h"
#include "sim/topology_graph.h"

namespace simgrid::s4u {
class Host;
class Link;
class NetZone;
}

namespace geotrain::sim {

// A node that is not a worker: a parameter server shard or an elastic-averaging center.
struct ServerPlacement {
  int region = 0;
  std::string instance;
  Pricing pricing = Pricing::on_demand;
};

// Data sockets NCCL's socket transport opens per connection (one channel to one peer) when
// NCCL_SOCKET_NTHREADS and NCCL_NSOCKS_PERTHREAD are unset: it reads the NIC's PCI vendor and
// picks 2 threads x 8 sockets on AWS (ENA), 4 x 1 on GCP (gVNIC), otherwise one socket (NCCL 2.30,
// src/transport/net_socket.cc).  `cloud` is a region's cloud name ("aws", "gcp", ...).
int nccl_default_sockets(std::string_view cloud);

struct WorkerInfo {
  int rank = 0;            // node id: workers first, then servers
  std::string name;        // "<region>:<index in region>" or "server:<index>"
  int fleet_entry = 0;
  int region = 0;
  const InstanceType* type = nullptr;
  Pricing pricing = Pricing::on_demand;
  double usd_per_s = 0;    // instance price while it runs
  simgrid::s4u::Host* host = nullptr;
};

class Platform {
 public:
  // Creates zones, hosts, links and routes in the current SimGrid engine.
  // REQUIRES: a simgrid::s4u::Engine exists and no platform was built in it yet.
  // `servers` adds one host per server after the workers (node ids M, M+1, ...).
  explicit Platform(const Scenario& scenario, const std::vector<ServerPlacement>& servers = {});

  // The checkpoint store's host (in the store region, its NIC the store's read/write bandwidth),
  // or null when the scenario has no checkpoints.
  simgrid::s4u::Host* store_host() const { return store_host_; }
  // A host that never fails and talks to nobody, for the fault injector; null without faults.
  simgrid::s4u::Host* control_host() const { return control_host_; }

  // Workers and servers, by node id.
  const std::vector<WorkerInfo>& nodes() const { return nodes_; }
  // The first worker_count_ nodes.
  std::span<const WorkerInfo> workers() const { return {nodes_.data(), worker_count_}; }
  const TopologyGraph& graph() const { return graph_; }

  // One-way latency of the route from node src to node dst (NICs included).
  double latency_s(int src, int dst) const;
  // Smallest capacity along the route (NICs and WAN links).
  double bottleneck_Bps(int src, int dst) const;
  // TCP streams one transfer from node src to node dst opens: network.collective_streams (by
  // default nccl_default_sockets of the region's cloud) inside a region, network.parallel_streams
  // between regions.
  int streams(int src, int dst) const;
  // Per-transfer rate cap streams(src, dst) x window / RTT, or 0 when the cap is off.  It depends
  // on the two nodes' regions only: worked out the first time a pair of regions asks, then looked
  // up (every send of the message fidelity asks).
  double rate_cap_Bps(int src, int dst) const;

  // All worker ranks in the order a ring should visit them: regions in the order that
  // minimizes ring latency, the workers of one region together (in rank order).
  const std::vector<int>& ring_order() const { return ring_order_; }
  // Workers per region (in rank order), for regions in ring order; empty regions left out.
  const std::vector<std::vector<int>>& region_groups() const { return region_groups_; }
  // Every worker, as one all-reduce group (ring order, regions, each rank's position).
  const AllreduceGroup& all_group() const { return all_group_; }
  // Every worker's rank, ascending: 0 .. workers - 1.
  const std::vector<int>& all_ranks() const { return all_ranks_; }

 private:
  struct RegionZone;  // a region's SimGrid zone and its gateway router
  using ZoneMember = std::pair<simgrid::s4u::Host*, simgrid::s4u::Link*>;  // a host and its NIC

  // The construction steps, in the order the constructor calls them (SimGrid objects are created
  // in this order, which the results depend on).
  // Fills nodes_ (workers in fleet order, then servers); returns the hosts per region, the
  // checkpoint store counted in its region.
  std::vector<int> place_nodes(const std::vector<ServerPlacement>& servers);
  // Region g's zone: a gateway, a host and NIC per node of the region, the service hosts, routes.
  RegionZone build_region_zone(std::size_t g, simgrid::s4u::NetZone* world);
  // The fault injector's host (in the first worker's region) and the checkpoint store (in its
  // region), when the scenario has them and g is their region.
  void add_service_hosts(std::size_t g, simgrid::s4u::NetZone* zone, std::vector<ZoneMember>& members);
  // WAN links along the topology graph's routes and the routes between region zones.
  void build_wan(simgrid::s4u::NetZone* world, const std::vector<RegionZone>& zones);
  // ring_order_, region_groups_, all_group_ and all_ranks_.
  void build_ring_order(const std::vector<RegionZone>& zones);

  const Scenario& scenario_;
  TopologyGraph graph_;
  // rate_cap_Bps between distinct nodes, by source region x regions + destination region; NaN
  // until asked.
  double window_cap_Bps(int src, int dst) const;
  mutable std::vector<double> rate_caps_;
  std::vector<WorkerInfo> nodes_;
  std::size_t worker_count_ = 0;
  std::vector<int> ring_order_;
  std::vector<std::vector<int>> region_groups_;
  AllreduceGroup all_group_;
  std::vector<int> all_ranks_;
  simgrid::s4u::Host* store_host_ = nullptr;
  simgrid::s4u::Host* control_host_ = nullptr;
};

}  // namespace geotrain::sim
