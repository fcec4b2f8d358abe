// Topology loading and egress pricing.
#include "sim/topology.h"

#include <algorithm>

#include <fmt/format.h>

#include "sim/input_tables.h"
#include "sim/instance_catalog.h"
#include "sim/json_reader.h"
#include "sim/limits.h"
#include "sim/topology_checks.h"
#include "sim/topology_graph.h"

namespace geotrain::sim {
namespace {

constexpr double kBytesPerGB = 1e9;        // cloud egress prices are quoted per GB
constexpr double kBitsPerByte = 8.0;
constexpr double kSecondsPerMs = 1e-3;
constexpr double kBitsPerGbit = 1e9;

double gbps_to_Bps(double gbps) { return gbps * kBitsPerGbit / kBitsPerByte; }

// A price in $/GB: [0, kMaxUsdPerGB].
double price(JsonReader& r, std::string_view key) { return r.number(key, 0, limits::kMaxUsdPerGB); }
double price_or(JsonReader& r, std::string_view key, double fallback) {
  return r.number_or(key, fallback, 0, limits::kMaxUsdPerGB);
}
double latency_ms(JsonReader& r, std::string_view key) {
  return r.number(key, limits::kMinLatency_ms, limits::kMaxLatency_ms);
}
double bandwidth_Gbps(JsonReader& r, std::string_view key) {
  return r.number(key, limits::kMinBandwidth_Gbps, limits::kMaxBandwidth_Gbps);
}

// A price given as a number (when allow_number), or as an object of per-continent numbers
// (optionally with "default").
std::map<std::string, double> read_price_map(JsonReader& r, std::string_view key, bool allow_number) {
  std::map<std::string, double> out;
  r.allow(key);
  if (!r.has(key)) return out;
  const auto& v = r.raw(key);
  if (!allow_number && !v.is_object()) r.fail(key, "expected an object {continent: $/GB}");
  if (v.is_number()) {
    if (!(v.get<double>() >= 0 && v.get<double>() <= limits::kMaxUsdPerGB))
      r.fail(key, fmt::format("expected a price in [0, {:g}] $/GB", limits::kMaxUsdPerGB));
    out["default"] = v.get<double>() / kBytesPerGB;
    return out;
  }
  if (!v.is_object()) r.fail(key, "expected a price in $/GB or an object {continent: $/GB}");
  JsonReader m(v, r.file(), r.path_of(key));
  for (const auto& continent : m.keys()) out[continent] = price(m, continent) / kBytesPerGB;
  return out;
}

EgressRules parse_egress(JsonReader& r) {
  EgressRules e;
  e.same_zone_usd_per_B = price_or(r, "same_zone", 0) / kBytesPerGB;
  e.cross_zone_usd_per_B = price(r, "cross_zone") / kBytesPerGB;
  e.same_continent_usd_per_B = read_price_map(r, "same_continent", true);
  if (!e.same_continent_usd_per_B.count("default") && e.same_continent_usd_per_B.empty())
    r.fail("same_continent", "expected a price in $/GB or an object {continent: $/GB}");
  e.inter_continent_usd_per_B = price(r, "inter_continent") / kBytesPerGB;
  e.inter_continent_to_usd_per_B = read_price_map(r, "inter_continent_to", false);
  e.inter_continent_from_usd_per_B = read_price_map(r, "inter_continent_from", false);
  e.internet_usd_per_B = price(r, "internet") / kBytesPerGB;
  e.internet_to_usd_per_B = read_price_map(r, "internet_to", false);
  r.allow("source");  // documentation only
  r.finish();
  return e;
}

// A region's own egress prices: {"inter_region": $/GB, "internet": $/GB}, each optional.
void parse_region_egress(JsonReader& r, Region& g) {
  r.allow("egress_usd_per_GB");
  if (!r.has("egress_usd_per_GB")) return;
  auto e = r.object("egress_usd_per_GB");
  if (e.has("inter_region")) g.inter_region_usd_per_B = price(e, "inter_region") / kBytesPerGB;
  if (e.has("internet")) g.internet_usd_per_B = price(e, "internet") / kBytesPerGB;
  e.allow("inter_region");
  e.allow("internet");
  e.finish();
}

// An optional array of strings at `key`.
std::vector<std::string> read_strings(JsonReader& r, std::string_view key) {
  std::vector<std::string> out;
  r.allow(key);
  if (!r.has(key)) return out;
  const auto& v = r.raw(key);
  if (!v.is_array()) r.fail(key, "expected an array of strings");
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      throw_bad_input(r.file(), json_pointer_append(r.path_of(key), std::to_string(i)), json_value_text(v[i]),
                      "expected a string");
    out.push_back(v[i].get<std::string>());
  }
  return out;
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
  g.lan_latency_s = r.number_or("lan_latency_ms", input::kDefaultLanLatency_ms, limits::kMinLatency_ms, limits::kMaxLatency_ms) * kSecondsPerMs;
  r.allow("lan_single_stream_Gbps");
  if (r.has("lan_single_stream_Gbps"))
    g.lan_window_B = gbps_to_Bps(bandwidth_Gbps(r, "lan_single_stream_Gbps")) * 2 * g.lan_latency_s;
  r.allow("latitude_deg");
  r.allow("longitude_deg");
  if (r.has("latitude_deg") != r.has("longitude_deg"))
    r.fail(r.has("latitude_deg") ? "longitude_deg" : "latitude_deg", "give latitude_deg and longitude_deg together");
  if (r.has("latitude_deg")) {
    g.latitude_deg = r.number("latitude_deg", -90, 90);
    g.longitude_deg = r.number("longitude_deg", -180, 180);
  }
  parse_region_egress(r, g);
  g.offered_instance_types = read_strings(r, "offered_instance_types");
  r.allow("source");  // documentation only
  r.finish();
  return g;
}

std::string pair_text(const Topology& t, const WanLink& l) {
  return "\"" + t.regions[l.a].name + "\" - \"" + t.regions[l.b].name + "\"";
}

WanLink parse_link(JsonReader& lr, const Topology& t) {
  WanLink l;
  for (const char* end : {"a", "b"}) {
    const auto name = lr.string(end);
    const int idx = t.region_index(name);
    if (idx < 0)
      throw_bad_input(lr.file(), lr.path_of(end), "\"" + name + "\"", "expected the name of a region of this topology");
    (std::string(end) == "a" ? l.a : l.b) = idx;
  }
  if (l.a == l.b) lr.fail("b", "a link must join two different regions");
  l.latency_s = latency_ms(lr, "latency_ms") * kSecondsPerMs;
  l.capacity_Bps = gbps_to_Bps(bandwidth_Gbps(lr, "capacity_Gbps"));
  lr.allow("tcp_window_B");
  lr.allow("single_stream_Gbps");
  if (lr.has("tcp_window_B") && lr.has("single_stream_Gbps"))
    lr.fail("single_stream_Gbps", "give tcp_window_B or single_stream_Gbps, not both");
  if (lr.has("tcp_window_B")) l.tcp_window_B = lr.number("tcp_window_B", limits::kMinWindow_B, limits::kMaxWindow_B);
  if (lr.has("single_stream_Gbps")) {
    // window = rate x host-to-host RTT, so one stream over this link reproduces the
    // measured rate exactly (the RTT includes half of each region's LAN latency).
    const double host_rtt_s = 2 * l.latency_s + t.regions[l.a].lan_latency_s + t.regions[l.b].lan_latency_s;
    l.tcp_window_B = gbps_to_Bps(bandwidth_Gbps(lr, "single_stream_Gbps")) * host_rtt_s;
  }
  lr.allow("measured_rtt_ms");
  if (lr.has("measured_rtt_ms")) {
    auto m = lr.object("measured_rtt_ms");
    l.measured_rtt_ab_s = m.has("a_to_b") ? latency_ms(m, "a_to_b") * kSecondsPerMs : 0;
    l.measured_rtt_ba_s = m.has("b_to_a") ? latency_ms(m, "b_to_a") * kSecondsPerMs : 0;
    m.allow("a_to_b");
    m.allow("b_to_a");
    m.finish();
    if (l.measured_rtt_ab_s == 0 && l.measured_rtt_ba_s == 0) m.fail_here("expected a_to_b and/or b_to_a in ms");
  }
  l.capacity_limit = lr.choice_or("capacity_limit", "unknown", input::kCapacityLimits);
  l.rtt_estimated = lr.boolean_or("rtt_estimated", false);
  l.capacity_estimated = lr.boolean_or("capacity_estimated", false);
  if (l.rtt_estimated && !(t.rtt_estimate.present && t.regions[l.a].has_location() && t.regions[l.b].has_location()))
    lr.fail("rtt_estimated", "an estimated RTT needs the topology's rtt_estimate and both regions' coordinates");
  l.source = lr.string_or("source", "");
  lr.finish();
  return l;
}

void parse_links(JsonReader& r, Topology& t) {
  r.allow("links");
  if (!r.has("links") && t.regions.size() <= 1) return;
  auto links = r.objects("links", t.regions.size() > 1 ? 1 : 0);
  std::map<std::pair<int, int>, std::size_t> seen;
  for (std::size_t i = 0; i < links.size(); ++i) {
    WanLink l = parse_link(links[i], t);
    const auto key = std::minmax(l.a, l.b);
    if (const auto it = seen.find(key); it != seen.end())
      throw_bad_input(r.file(), links[i].path(), pair_text(t, l),
                      fmt::format("a second link between these regions (first: {}/{}); give one link per pair",
                                  r.path_of("links"), it->second));
    seen[key] = i;
    t.links.push_back(l);
  }
}

void parse_instance_types(JsonReader& r, Topology& t) {
  r.allow("instance_types");
  if (r.has("instance_types") || t.instance_catalog.empty()) {
    auto types = r.object("instance_types");
    for (const auto& name : types.keys()) {
      JsonReader tr(types.raw(name), r.file(), types.path_of(name));
      t.instance_types[name] = parse_instance_type(tr, name);
    }
  }
  if (!t.instance_catalog.empty())
    merge_instance_catalog(r.file(), r.path_of("instance_catalog"), t.instance_catalog, t.instance_types);
  if (t.instance_types.empty())
    r.fail("instance_types", "expected at least one instance type (here or in the instance_catalog)");
  for (std::size_t i = 0; i < t.regions.size(); ++i) {
    const auto& offered = t.regions[i].offered_instance_types;
    for (std::size_t k = 0; k < offered.size(); ++k) {
      const auto it = t.instance_types.find(offered[k]);
      const std::string path = fmt::format("{}/regions/{}/offered_instance_types/{}", r.path(), i, k);
      if (it == t.instance_types.end())
        throw_bad_input(r.file(), path, "\"" + offered[k] + "\"", "expected an instance type of this topology or its catalog");
      if (!it->second.cloud.empty() && it->second.cloud != t.regions[i].cloud)
        throw_bad_input(r.file(), path, "\"" + offered[k] + "\"",
                        "an instance type of cloud \"" + it->second.cloud + "\" cannot be offered in a region of cloud \"" +
                            t.regions[i].cloud + "\"");
    }
  }
}

void check_egress_coverage(const JsonReader& r, const Topology& t) {
  for (std::size_t i = 0; i < t.regions.size(); ++i) {
    const Region& g = t.regions[i];
    const auto it = t.egress.find(g.cloud);
    if (it == t.egress.end())
      throw_bad_input(r.file(), fmt::format("{}/regions/{}/cloud", r.path(), i), "\"" + g.cloud + "\"",
                      "no egress prices for this cloud under /egress_usd_per_GB");
    const auto& same = it->second.same_continent_usd_per_B;
    if (!same.count("default") && !same.count(g.continent))
      throw_bad_input(r.file(), r.path() + "/egress_usd_per_GB/" + g.cloud + "/same_continent",
                      "no price for \"" + g.continent + "\"",
                      "list every continent of this cloud's regions, or give a \"default\"");
  }
}

// Every region must reach every other, or a fleet could not synchronize.
void check_reachable(const JsonReader& r, const Topology& t) {
  const TopologyGraph graph(t);
  for (std::size_t i = 1; i < t.regions.size(); ++i)
    if (!graph.reachable(0, static_cast<int>(i)))
      throw_bad_input(r.file(), r.path_of("links"), "region \"" + t.regions[i].name + "\"",
                      "not connected to region \"" + t.regions[0].name +
                          "\"; every region must be reachable through the links");
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
  if (s.cloud != d.cloud) {
    if (auto it = e.internet_to_usd_per_B.find(d.continent); it != e.internet_to_usd_per_B.end()) return it->second;
    return s.internet_usd_per_B.value_or(e.internet_usd_per_B);
  }
  if (s.cloud_region == d.cloud_region)
    return s.zone == d.zone ? e.same_zone_usd_per_B : e.cross_zone_usd_per_B;
  if (s.inter_region_usd_per_B) return *s.inter_region_usd_per_B;
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

double Topology::link_host_rtt_s(int link) const {
  const WanLink& l = links.at(link);
  return 2 * l.latency_s + regions[l.a].lan_latency_s + regions[l.b].lan_latency_s;
}

std::string Topology::placement_error(int region, const std::string& instance) const {
  const Region& g = regions.at(region);
  const auto it = instance_types.find(instance);
  if (it == instance_types.end()) return "no instance type \"" + instance + "\"";
  if (!it->second.cloud.empty() && it->second.cloud != g.cloud)
    return "instance type \"" + instance + "\" belongs to cloud \"" + it->second.cloud + "\", region \"" + g.name +
           "\" to cloud \"" + g.cloud + "\"";
  const auto& offered = g.offered_instance_types;
  if (!offered.empty() && std::find(offered.begin(), offered.end(), instance) == offered.end()) {
    std::string list;
    for (const auto& o : offered) list += (list.empty() ? "" : ", ") + o;
    return "region \"" + g.name + "\" offers only: " + list;
  }
  return "";
}

Topology parse_topology(JsonReader& r) {
  Topology t;
  t.name = r.string("name");
  t.source = r.string_or("source", "");
  r.allow("notes");  // free text for people
  t.instance_catalog = r.string_or("instance_catalog", "");

  auto regions = r.objects("regions", 1);
  for (auto& rr : regions) {
    Region g = parse_region(rr);
    if (t.region_index(g.name) >= 0)
      throw_bad_input(r.file(), rr.path_of("name"), "\"" + g.name + "\"", "region names must be unique");
    t.regions.push_back(std::move(g));
  }
  r.allow("rtt_estimate");
  if (r.has("rtt_estimate")) {
    auto er = r.object("rtt_estimate");
    t.rtt_estimate = parse_rtt_estimate(er, t);
  }
  parse_links(r, t);
  parse_instance_types(r, t);

  auto egress = r.object("egress_usd_per_GB");
  for (const auto& cloud : egress.keys()) {
    JsonReader er(egress.raw(cloud), r.file(), egress.path_of(cloud));
    t.egress[cloud] = parse_egress(er);
  }
  check_egress_coverage(r, t);
  r.finish();
  check_reachable(r, t);
  t.warnings = check_topology(t);
  t.relay_shortcuts = find_relay_shortcuts(t);
  return t;
}

}  // namespace geotrain::sim
