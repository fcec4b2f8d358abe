// Platform: SimGrid zones/hosts/links from the topology, with explicit routes (no XML).
#include "sim/platform.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <simgrid/kernel/ProfileBuilder.hpp>
#include <simgrid/s4u.hpp>

#include "kernels/check.h"
#include "sim/compute_model.h"

namespace sg4 = simgrid::s4u;

namespace geotrain::sim {
namespace {

using Dir = sg4::LinkInRoute::Direction;

// NCCL's socket transport with its thread and socket counts unset (NCCL 2.30,
// src/transport/net_socket.cc, ncclNetSocketGetNsockNthread): helper threads x sockets per thread,
// chosen from the NIC's PCI vendor.
constexpr int kNcclSocketsAwsEna = 2 * 8;    // vendor 0x1d0f: 2 threads x 8 sockets
constexpr int kNcclSocketsGcpGvnic = 4 * 1;  // vendor 0x1ae0: 4 threads x 1 socket
constexpr int kNcclSocketsOther = 1;         // no helper threads: the connection's own socket

// The NIC capacity of the first worker of region g (hosts that only coordinate get the same).
double region_nic_Bps(const std::vector<WorkerInfo>& nodes, std::size_t g) {
  for (const auto& w : nodes)
    if (w.region == static_cast<int>(g)) return w.type->nic_Bps;
  return 1e9;
}

// "t value" lines of a SimGrid profile.
std::string profile_text(const std::vector<std::pair<double, double>>& steps, double scale) {
  std::string text;
  for (const auto& [t, v] : steps) text += fmt::format("{} {}\n", t, v * scale);
  return text;
}

// Down windows, bandwidth and latency of the scenario's faults on one WAN link (SimGrid profiles,
// both directions).
void apply_link_faults(sg4::SplitDuplexLink* link, const WanLink& l, const Topology& topo,
                       const std::vector<LinkFault>& faults) {
  for (const LinkFault& f : faults) {
    if (!((f.a == l.a && f.b == l.b) || (f.a == l.b && f.b == l.a))) continue;
    const std::string name = fmt::format("{}-{}", topo.regions[l.a].name, topo.regions[l.b].name);
    for (sg4::Link* dir : {link->get_link_up(), link->get_link_down()}) {
      const std::string tag = name + (dir == link->get_link_up() ? "-up" : "-down");
      if (!f.down.empty()) {
        std::string text;
        for (const auto& [from, to] : f.down) {
          text += fmt::format("{} 0\n", from);
          if (to < kNever) text += fmt::format("{} 1\n", to);
        }
        dir->set_state_profile(simgrid::kernel::profile::ProfileBuilder::from_string(tag + "-state", text, -1));
      }
      if (!f.bandwidth.empty())
        dir->set_bandwidth_profile(simgrid::kernel::profile::ProfileBuilder::from_string(
            tag + "-bw", profile_text(f.bandwidth, l.capacity_Bps), -1));
      if (!f.latency.empty())
        dir->set_latency_profile(simgrid::kernel::profile::ProfileBuilder::from_string(
            tag + "-lat", profile_text(f.latency, l.latency_s), -1));
    }
  }
}

// A host of a region zone and its split-duplex NIC.
using ZoneMember = std::pair<sg4::Host*, sg4::Link*>;

// A split-duplex NIC of `Bps` in both directions with half the region's LAN latency (host to
// gateway); the caller seals it.
sg4::SplitDuplexLink* create_nic(sg4::NetZone* zone, const std::string& name, double Bps, const Region& region) {
  auto* nic = zone->create_split_duplex_link(name, Bps);
  nic->set_latency(region.lan_latency_s / 2);
  return nic;
}

// Routes of one region zone, a star: each member reaches the centre through its NIC's up
// direction and is reached through its down direction, so member to member crosses both NICs and
// member to gateway (a router with no links) its own.  O(members) routes, as SimGrid's cluster
// zones keep them.
void route_zone_members(sg4::NetZone* zone, const std::vector<ZoneMember>& members) {
  for (const auto& [host, nic] : members) {
    zone->add_route(host->get_netpoint(), nullptr, nullptr, nullptr, {{nic, Dir::UP}}, false);
    zone->add_route(nullptr, host->get_netpoint(), nullptr, nullptr, {{nic, Dir::DOWN}}, false);
  }
}

}  // namespace

struct Platform::RegionZone {
  sg4::NetZone* zone = nullptr;
  simgrid::kernel::routing::NetPoint* gateway = nullptr;
};

Platform::Platform(const Scenario& scenario, const std::vector<ServerPlacement>& servers)
    : scenario_(scenario), graph_(scenario.topology) {
  const Topology& topo = scenario.topology;
  auto* world = sg4::create_full_zone("world");
  const std::vector<int> per_region_count = place_nodes(servers);

  // One zone per region that has hosts; then the WAN between them; then the ring order.
  std::vector<RegionZone> zones(topo.regions.size());
  for (std::size_t g = 0; g < topo.regions.size(); ++g)
    if (per_region_count[g] > 0) zones[g] = build_region_zone(g, world);
  build_wan(world, zones);
  world->seal();
  build_ring_order(zones);
}

std::vector<int> Platform::place_nodes(const std::vector<ServerPlacement>& servers) {
  const Topology& topo = scenario_.topology;
  std::vector<int> per_region_count(topo.regions.size(), 0);
  auto price_per_s = [](const InstanceType& type, Pricing pricing) {
    return (pricing == Pricing::spot ? type.usd_per_hour_spot : type.usd_per_hour_on_demand) / 3600.0;
  };
  // Workers, in fleet order; ranks are dense.  Then servers.
  for (std::size_t f = 0; f < scenario_.fleet.size(); ++f) {
    const FleetEntry& e = scenario_.fleet[f];
    const InstanceType& type = topo.instance_types.at(e.instance);
    for (int i = 0; i < e.count; ++i) {
      WorkerInfo w;
      w.rank = static_cast<int>(nodes_.size());
      w.name = fmt::format("{}:{}", e.region, per_region_count[e.region_index]++);
      w.fleet_entry = static_cast<int>(f);
      w.region = e.region_index;
      w.type = &type;
      w.pricing = e.pricing;
      w.usd_per_s = price_per_s(type, e.pricing);
      nodes_.push_back(w);
    }
  }
  worker_count_ = nodes_.size();
  for (std::size_t i = 0; i < servers.size(); ++i) {
    WorkerInfo w;
    w.rank = static_cast<int>(nodes_.size());
    w.name = fmt::format("server:{}", i);
    w.fleet_entry = -1;
    w.region = servers[i].region;
    w.type = &topo.instance_types.at(servers[i].instance);
    w.pricing = servers[i].pricing;
    w.usd_per_s = price_per_s(*w.type, w.pricing);
    ++per_region_count[w.region];
    nodes_.push_back(w);
  }
  const auto& checkpoint = scenario_.faults.checkpoint;
  if (checkpoint) ++per_region_count[checkpoint->store_region_index];
  return per_region_count;
}

Platform::RegionZone Platform::build_region_zone(std::size_t g, sg4::NetZone* world) {
  const Region& region = scenario_.topology.regions[g];
  RegionZone rz;
  rz.zone = sg4::create_star_zone(region.name);
  rz.zone->set_parent(world);
  rz.gateway = rz.zone->create_router(region.name + "-gw");
  // A host and a NIC per worker and server of the region, in node order.
  std::vector<ZoneMember> members;
  for (auto& w : nodes_) {
    if (w.region != static_cast<int>(g)) continue;
    // Workers at their fleet entry's achieved rate (scenario mfu overrides); servers at the catalog's.
    w.host = rz.zone->create_host(w.name, w.fleet_entry >= 0 ? worker_flops(scenario_, w.fleet_entry)
                                                              : w.type->effective_flops());
    auto* nic = create_nic(rz.zone, w.name + "-nic", w.type->nic_Bps, region);
    nic->seal();
    members.emplace_back(w.host, nic);
  }
  add_service_hosts(g, rz.zone, members);
  route_zone_members(rz.zone, members);
  rz.zone->seal();
  return rz;
}

void Platform::add_service_hosts(std::size_t g, sg4::NetZone* zone, std::vector<ZoneMember>& members) {
  const Region& region = scenario_.topology.regions[g];
  if (scenario_.has_faults() && !nodes_.empty() && nodes_.front().region == static_cast<int>(g)) {
    // The fault injector's host: never fails; routed, so that it can release blocked transfers.
    control_host_ = zone->create_host("fault-injector", 1e9);
    auto* nic = create_nic(zone, "fault-injector-nic", region_nic_Bps(nodes_, g), region);
    nic->seal();
    members.emplace_back(control_host_, nic);
  }
  const auto& checkpoint = scenario_.faults.checkpoint;
  if (checkpoint && checkpoint->store_region_index == static_cast<int>(g)) {
    // The object store: writes flow in at write_Bps, reads out at read_Bps.
    store_host_ = zone->create_host("checkpoint-store", 1e9);
    auto* nic = create_nic(zone, "checkpoint-store-nic", checkpoint->write_Bps, region);
    nic->get_link_up()->set_bandwidth(checkpoint->read_Bps);
    nic->get_link_down()->set_bandwidth(checkpoint->write_Bps);
    nic->seal();
    members.emplace_back(store_host_, nic);
  }
}

void Platform::build_wan(sg4::NetZone* world, const std::vector<RegionZone>& zones) {
  // WAN links (only those some route uses are created, in first-use order) and routes between
  // region zones.
  const Topology& topo = scenario_.topology;
  std::map<int, sg4::SplitDuplexLink*> wan;
  auto wan_link = [&](int index) {
    auto it = wan.find(index);
    if (it != wan.end()) return it->second;
    const WanLink& l = topo.links[index];
    auto* link = world->create_split_duplex_link(
        fmt::format("wan-{}-{}", topo.regions[l.a].name, topo.regions[l.b].name), l.capacity_Bps);
    link->set_latency(l.latency_s);
    apply_link_faults(link, l, topo, scenario_.faults.links);
    link->seal();
    return wan[index] = link;
  };
  for (std::size_t a = 0; a < zones.size(); ++a)
    for (std::size_t b = 0; b < zones.size(); ++b) {
      if (a == b || !zones[a].zone || !zones[b].zone) continue;
      std::vector<sg4::LinkInRoute> links;
      for (const RouteHop& hop : graph_.route(static_cast<int>(a), static_cast<int>(b)))
        links.emplace_back(wan_link(hop.link), hop.forward ? Dir::UP : Dir::DOWN);
      world->add_route(zones[a].zone->get_netpoint(), zones[b].zone->get_netpoint(),
                       zones[a].gateway, zones[b].gateway, links, false);
    }
}

void Platform::build_ring_order(const std::vector<RegionZone>& zones) {
  // Regions ordered by the graph, workers grouped by region.
  std::vector<int> used;
  for (std::size_t g = 0; g < zones.size(); ++g)
    if (zones[g].zone) used.push_back(static_cast<int>(g));
  for (int g : graph_.ring_order(used)) {
    std::vector<int> group;
    for (const auto& w : workers())
      if (w.region == g) group.push_back(w.rank);
    if (group.empty()) continue;  // a region with servers only
    ring_order_.insert(ring_order_.end(), group.begin(), group.end());
    region_groups_.push_back(std::move(group));
  }
  all_group_ = {ring_order_, region_groups_, true, std::vector<int>(worker_count_, -1)};
  for (std::size_t p = 0; p < ring_order_.size(); ++p) all_group_.position[ring_order_[p]] = static_cast<int>(p);
  all_ranks_.resize(worker_count_);
  for (std::size_t r = 0; r < worker_count_; ++r) all_ranks_[r] = static_cast<int>(r);
}

int nccl_default_sockets(std::string_view cloud) {
  if (cloud == "aws") return kNcclSocketsAwsEna;
  if (cloud == "gcp") return kNcclSocketsGcpGvnic;
  return kNcclSocketsOther;
}

int Platform::streams(int src, int dst) const {
  const NetworkSpec& net = scenario_.network;
  const WorkerInfo& s = nodes_.at(src);
  if (s.region != nodes_.at(dst).region) return net.parallel_streams;
  if (net.collective_streams > 0) return net.collective_streams;
  return nccl_default_sockets(scenario_.topology.regions[s.region].cloud);
}

double Platform::latency_s(int src, int dst) const {
  const auto& topo = scenario_.topology;
  const WorkerInfo& s = nodes_.at(src);
  const WorkerInfo& d = nodes_.at(dst);
  const double nic = topo.regions[s.region].lan_latency_s / 2 + topo.regions[d.region].lan_latency_s / 2;
  return nic + graph_.route_latency_s(s.region, d.region);
}

double Platform::bottleneck_Bps(int src, int dst) const {
  const WorkerInfo& s = nodes_.at(src);
  const WorkerInfo& d = nodes_.at(dst);
  double bw = std::min(s.type->nic_Bps, d.type->nic_Bps);
  if (s.region != d.region)
    for (const RouteHop& hop : graph_.route(s.region, d.region))
      bw = std::min(bw, scenario_.topology.links[hop.link].capacity_Bps);
  return bw;
}

double Platform::rate_cap_Bps(int src, int dst) const {
  if (!scenario_.network.window_cap || src == dst) return 0;
  const std::size_t regions = scenario_.topology.regions.size();
  if (rate_caps_.empty()) rate_caps_.assign(regions * regions, std::numeric_limits<double>::quiet_NaN());
  double& cap = rate_caps_[static_cast<std::size_t>(nodes_.at(src).region) * regions +
                           static_cast<std::size_t>(nodes_.at(dst).region)];
  if (std::isnan(cap)) cap = window_cap_Bps(src, dst);
  return cap;
}

double Platform::window_cap_Bps(int src, int dst) const {
  const NetworkSpec& net = scenario_.network;
  const auto& topo = scenario_.topology;
  const WorkerInfo& s = nodes_.at(src);
  const WorkerInfo& d = nodes_.at(dst);
  double window = net.default_tcp_window_B;
  if (s.region == d.region) {
    if (topo.regions[s.region].lan_window_B > 0) window = topo.regions[s.region].lan_window_B;
  } else {
    double smallest = 0;
    for (const RouteHop& hop : graph_.route(s.region, d.region)) {
      const double w = topo.links[hop.link].tcp_window_B > 0 ? topo.links[hop.link].tcp_window_B
                                                             : net.default_tcp_window_B;
      smallest = smallest == 0 ? w : std::min(smallest, w);
    }
    window = smallest;
  }
  const double rtt_s = 2 * latency_s(src, dst);
  GEOTRAIN_CHECK(rtt_s > 0, "a route without latency cannot carry a window cap");
  const int n = streams(src, dst);
  const double grown = net.streams_exponent == 1 ? n : std::pow(n, net.streams_exponent);
  return grown * window / rtt_s;
}

}  // namespace geotrain::sim
