// Topology loading and egress pricing.
#include "sim/topology.h"

#include <fmt/format.h>

#include "sim/json_reader.h"
#include "sim/topology_graph.h"

namespace geotrain::sim {
namespace {

constexpr double kBytesPerGB = 1e9;        // cloud egress prices are quoted per GB
constexpr double kBitsPerByte = 8.0;
constexpr double kSecondsPerMs = 1e-3;
constexpr double kBitsPerGbit = 1e9;

double gbps_to_Bps(double gbps) { return gbps * kBitsPerGbit / kBitsPerByte; }

// A price given as a number (when allow_number), or as an object of per-continent numbers
// (optionally with "default").
std::map<std::string, double> read_price_map(JsonReader& r, std::string_view key, bool allow_number) {
  std::map<std::string, double> out;
  r.allow(key);
  if (!r.has(key)) return out;
  const auto& v = r.raw(key);
  if (!allow_number && !v.is_object()) r.fail(key, "expected an object {continent: $/GB}");
  if (v.is_number()) {
    if (v.get<double>() < 0) r.fail(key, "expected a price >= 0 $/GB");
    out["default"] = v.get<double>() / kBytesPerGB;
    return out;
  }
  if (!v.is_object()) r.fail(key, "expected a price in $/GB or an object {continent: $/GB}");
  JsonReader m(v, r.file(), r.path_of(key));
  for (const auto& continent : m.keys()) out[continent] = m.non_negative(continent) / kBytesPerGB;
  return out;
}

EgressRules parse_egress(JsonReader& r) {
  EgressRules e;
  e.same_zone_usd_per_B = r.non_negative_or("same_zone", 0) / kBytesPerGB;
  e.cross_zone_usd_per_B = r.non_negative("cross_zone") / kBytesPerGB;
  e.same_continent_usd_per_B = read_price_map(r, "same_continent", true);
  if (!e.same_continent_usd_per_B.count("default") && e.same_continent_usd_per_B.empty())
    r.fail("same_continent", "expected a price in $/GB or an object {continent: $/GB}");
  e.inter_continent_usd_per_B = r.non_negative("inter_continent") / kBytesPerGB;
  e.inter_continent_to_usd_per_B = read_price_map(r, "inter_continent_to", false);
  e.inter_continent_from_usd_per_B = read_price_map(r, "inter_continent_from", false);
  e.internet_usd_per_B = r.non_negative("internet") / kBytesPerGB;
  r.finish();
  return e;
}

Region parse_region(JsonReader& r) {
  Region g;
  g.name = r.string("name");
  if (g.name.empty() || g.name.find_first_of(":/#") != std::string::npos)
    r.fail("name", "expected a non-empty name without ':', '/' or '#' (they separate host names)");
  g.cloud = r.string("cloud");
  g.continent = r.string("continent");
  g.cloud_region = r.string_or("cloud_region", g.name);
  g.zone = r.string_or("zone", g.name);
  g.lan_latency_s = r.positive_or("lan_latency_ms", 0.1) * kSecondsPerMs;
  r.allow("lan_single_stream_Gbps");
  if (r.has("lan_single_stream_Gbps"))
    g.lan_window_B = gbps_to_Bps(r.positive("lan_single_stream_Gbps")) * 2 * g.lan_latency_s;
  r.finish();
  return g;
}

InstanceType parse_instance(JsonReader& r, const std::string& name) {
  InstanceType t;
  t.name = name;
  t.gpus = static_cast<int>(r.integer_or("gpus", 1, 1, 1024));
  t.gpu_peak_flops = r.positive("gpu_peak_tflops") * 1e12;
  t.utilization = r.number("utilization", 0, 1, true);
  t.nic_Bps = gbps_to_Bps(r.positive("nic_Gbps"));
  auto p = r.object("usd_per_hour");
  t.usd_per_hour_on_demand = p.non_negative("on_demand");
  t.usd_per_hour_spot = p.non_negative("spot");
  p.finish();
  r.allow("source");  // documentation only
  r.finish();
  return t;
}

}  // namespace

int Topology::region_index(const std::string& name) const {
  for (std::size_t i = 0; i < regions.size(); ++i)
    if (regions[i].name == name) return static_cast<int>(i);
  return -1;
}

double Topology::egress_usd_per_B(int src, int dst) const {
  const Region& s = regions.at(src);
  const Region& d = regions.at(dst);
  const EgressRules& e = egress.at(s.cloud);
  if (s.cloud != d.cloud) return e.internet_usd_per_B;
  if (s.cloud_region == d.cloud_region)
    return s.zone == d.zone ? e.same_zone_usd_per_B : e.cross_zone_usd_per_B;
  if (s.continent == d.continent) {
    const auto it = e.same_continent_usd_per_B.find(s.continent);
    return it != e.same_continent_usd_per_B.end() ? it->second
                                                  : e.same_continent_usd_per_B.at("default");
  }
  if (auto it = e.inter_continent_to_usd_per_B.find(d.continent);
      it != e.inter_continent_to_usd_per_B.end())
    return it->second;
  if (auto it = e.inter_continent_from_usd_per_B.find(s.continent);
      it != e.inter_continent_from_usd_per_B.end())
    return it->second;
  return e.inter_continent_usd_per_B;
}

Topology parse_topology(JsonReader& r) {
  Topology t;
  t.name = r.string("name");
  t.source = r.string_or("source", "");
  r.allow("notes");  // free text for people

  auto regions = r.objects("regions", 1);
  for (auto& rr : regions) {
    Region g = parse_region(rr);
    if (t.region_index(g.name) >= 0)
      throw_bad_input(r.file(), rr.path_of("name"), "\"" + g.name + "\"", "region names must be unique");
    t.regions.push_back(std::move(g));
  }

  r.allow("links");
  if (r.has("links") || t.regions.size() > 1) {
    auto links = r.objects("links", t.regions.size() > 1 ? 1 : 0);
    for (auto& lr : links) {
      WanLink l;
      for (const char* end : {"a", "b"}) {
        const auto name = lr.string(end);
        const int idx = t.region_index(name);
        if (idx < 0)
          throw_bad_input(r.file(), lr.path_of(end), "\"" + name + "\"",
                          "expected the name of a region of this topology");
        (std::string(end) == "a" ? l.a : l.b) = idx;
      }
      if (l.a == l.b) lr.fail("b", "a link must join two different regions");
      l.latency_s = lr.positive("latency_ms") * kSecondsPerMs;
      l.capacity_Bps = gbps_to_Bps(lr.positive("capacity_Gbps"));
      lr.allow("tcp_window_B");
      lr.allow("single_stream_Gbps");
      if (lr.has("tcp_window_B") && lr.has("single_stream_Gbps"))
        lr.fail("single_stream_Gbps", "give tcp_window_B or single_stream_Gbps, not both");
      if (lr.has("tcp_window_B")) l.tcp_window_B = lr.positive("tcp_window_B");
      if (lr.has("single_stream_Gbps")) {
        // window = rate x host-to-host RTT, so one stream over this link reproduces the
        // measured rate exactly (the RTT includes half of each region's LAN latency).
        const double host_rtt_s = 2 * l.latency_s + t.regions[l.a].lan_latency_s +
                                  t.regions[l.b].lan_latency_s;
        l.tcp_window_B = gbps_to_Bps(lr.positive("single_stream_Gbps")) * host_rtt_s;
      }
      l.source = lr.string_or("source", "");
      lr.finish();
      t.links.push_back(l);
    }
  }

  auto types = r.object("instance_types");
  for (const auto& name : types.keys()) {
    JsonReader tr(types.raw(name), r.file(), types.path_of(name));
    t.instance_types[name] = parse_instance(tr, name);
  }
  if (t.instance_types.empty()) types.fail_here("expected at least one instance type");

  auto egress = r.object("egress_usd_per_GB");
  for (const auto& cloud : egress.keys()) {
    JsonReader er(egress.raw(cloud), r.file(), egress.path_of(cloud));
    t.egress[cloud] = parse_egress(er);
  }
  for (std::size_t i = 0; i < t.regions.size(); ++i) {
    const Region& g = t.regions[i];
    const auto it = t.egress.find(g.cloud);
    if (it == t.egress.end()) continue;  // reported just below
    const auto& same = it->second.same_continent_usd_per_B;
    if (!same.count("default") && !same.count(g.continent))
      throw_bad_input(r.file(), r.path() + "/egress_usd_per_GB/" + g.cloud + "/same_continent", "no price for \"" + g.continent + "\"",
                      "list every continent of this cloud's regions, or give a \"default\"");
  }
  for (std::size_t i = 0; i < t.regions.size(); ++i)
    if (!t.egress.count(t.regions[i].cloud))
      throw_bad_input(r.file(), fmt::format("{}/regions/{}/cloud", r.path(), i),
                      "\"" + t.regions[i].cloud + "\"",
                      "no egress prices for this cloud under /egress_usd_per_GB");
  r.finish();

  // Every region must reach every other, or a fleet could not synchronize.
  const TopologyGraph graph(t);
  for (std::size_t i = 1; i < t.regions.size(); ++i)
    if (!graph.reachable(0, static_cast<int>(i)))
      throw_bad_input(r.file(), r.path_of("links"), "region \"" + t.regions[i].name + "\"",
                      "not connected to region \"" + t.regions[0].name +
                          "\"; every region must be reachable through the links");
  return t;
}

}  // namespace geotrain::sim
