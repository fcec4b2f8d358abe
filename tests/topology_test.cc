// Topology: egress rule lookup, routing on the graph, ring order, loading the shipped files.
#include "sim/topology.h"

#include <gtest/gtest.h>

#include "sim/json_reader.h"
#include "sim/topology_graph.h"

namespace geotrain::sim {
namespace {

Topology parse(const nlohmann::json& j) {
  JsonReader r(j, "t.json");
  return parse_topology(r);
}

nlohmann::json two_cloud_topology() {
  return nlohmann::json::parse(R"({
    "name": "t",
    "regions": [
      {"name": "use1a", "cloud": "aws", "continent": "na", "cloud_region": "us-east-1", "zone": "a"},
      {"name": "use1b", "cloud": "aws", "continent": "na", "cloud_region": "us-east-1", "zone": "b"},
      {"name": "usw2",  "cloud": "aws", "continent": "na"},
      {"name": "euw1",  "cloud": "aws", "continent": "eu"},
      {"name": "syd",   "cloud": "aws", "continent": "oc"},
      {"name": "gus",   "cloud": "gcp", "continent": "na"}
    ],
    "links": [
      {"a": "use1a", "b": "use1b", "latency_ms": 0.5, "capacity_Gbps": 25},
      {"a": "use1a", "b": "usw2", "latency_ms": 30, "capacity_Gbps": 10},
      {"a": "use1a", "b": "euw1", "latency_ms": 40, "capacity_Gbps": 10},
      {"a": "usw2", "b": "syd", "latency_ms": 70, "capacity_Gbps": 5},
      {"a": "usw2", "b": "gus", "latency_ms": 10, "capacity_Gbps": 5}
    ],
    "instance_types": {"x": {"gpu_peak_tflops": 10, "utilization": 0.5, "nic_Gbps": 10,
                             "usd_per_hour": {"on_demand": 1, "spot": 0.5}}},
    "egress_usd_per_GB": {
      "aws": {"same_zone": 0, "cross_zone": 0.01, "same_continent": {"na": 0.02, "default": 0.03},
              "inter_continent": 0.04, "inter_continent_to": {"oc": 0.15}, "inter_continent_from": {"oc": 0.11},
              "internet": 0.09},
      "gcp": {"cross_zone": 0.01, "same_continent": 0.01, "inter_continent": 0.08, "internet": 0.12}
    }})");
}

TEST(Topology, EgressRulesFollowTheSourceCloud) {
  const Topology t = parse(two_cloud_topology());
  auto usd_per_GB = [&](const char* a, const char* b) {
    return t.egress_usd_per_B(t.region_index(a), t.region_index(b)) * 1e9;
  };
  EXPECT_DOUBLE_EQ(usd_per_GB("use1a", "use1a"), 0.0);   // same zone
  EXPECT_DOUBLE_EQ(usd_per_GB("use1a", "use1b"), 0.01);  // cross zone
  EXPECT_DOUBLE_EQ(usd_per_GB("use1a", "usw2"), 0.02);   // same continent (na)
  EXPECT_DOUBLE_EQ(usd_per_GB("use1a", "euw1"), 0.04);   // inter-continent default
  EXPECT_DOUBLE_EQ(usd_per_GB("usw2", "syd"), 0.15);     // to Oceania
  EXPECT_DOUBLE_EQ(usd_per_GB("syd", "usw2"), 0.11);     // from Oceania
  EXPECT_DOUBLE_EQ(usd_per_GB("usw2", "gus"), 0.09);     // AWS -> GCP: internet
  EXPECT_DOUBLE_EQ(usd_per_GB("gus", "usw2"), 0.12);     // GCP -> AWS: internet
}

TEST(Topology, RoutesFollowLowestLatencyPaths) {
  const Topology t = parse(two_cloud_topology());
  const TopologyGraph g(t);
  const int syd = t.region_index("syd"), euw1 = t.region_index("euw1");
  EXPECT_DOUBLE_EQ(g.route_latency_s(euw1, syd), (40 + 30 + 70) * 1e-3);
  const auto hops = g.route(euw1, syd);
  ASSERT_EQ(hops.size(), 3u);
  EXPECT_EQ(hops[0].link, 2);
  EXPECT_FALSE(hops[0].forward);  // euw1 is end b of link 2
  EXPECT_EQ(hops[2].link, 3);
  EXPECT_TRUE(hops[2].forward);
  EXPECT_TRUE(g.route(syd, syd).empty());
}

TEST(Topology, RingOrderMinimizesRingLatency) {
  // Four regions on a line 0-1-2-3 with long chords: the best ring visits them in line order.
  auto j = two_cloud_topology();
  j["regions"] = nlohmann::json::parse(R"([
    {"name": "a", "cloud": "aws", "continent": "na"}, {"name": "c", "cloud": "aws", "continent": "na"},
    {"name": "b", "cloud": "aws", "continent": "na"}, {"name": "d", "cloud": "aws", "continent": "na"}])");
  j["links"] = nlohmann::json::parse(R"([
    {"a": "a", "b": "b", "latency_ms": 10, "capacity_Gbps": 1}, {"a": "b", "b": "c", "latency_ms": 10, "capacity_Gbps": 1},
    {"a": "c", "b": "d", "latency_ms": 10, "capacity_Gbps": 1}, {"a": "a", "b": "c", "latency_ms": 100, "capacity_Gbps": 1},
    {"a": "b", "b": "d", "latency_ms": 100, "capacity_Gbps": 1}, {"a": "a", "b": "d", "latency_ms": 25, "capacity_Gbps": 1}])");
  const Topology t = parse(j);
  const TopologyGraph g(t);
  const auto order = g.ring_order({0, 1, 2, 3});  // a, c, b, d as listed
  // Route latencies a-c = b-d = 20 ms (via the line); a-b-c-d-a = 55 ms is the unique best
  // ring (a-b-d-c-a = 60, a-c-b-d-a = 75).
  std::vector<std::string> names;
  for (int i : order) names.push_back(t.regions[i].name);
  EXPECT_TRUE((names == std::vector<std::string>{"a", "b", "c", "d"} ||
               names == std::vector<std::string>{"a", "d", "c", "b"}))
      << names[0] << names[1] << names[2] << names[3];
}

TEST(Topology, ShippedGcpTopologyLoadsWithTheSourceFigures) {
  const auto doc = read_json_file(std::string(GEOTRAIN_SOURCE_DIR) + "/topologies/gcp-4-continents.json");
  const Topology t = parse(doc);
  ASSERT_EQ(t.regions.size(), 4u);
  ASSERT_EQ(t.links.size(), 6u);
  const TopologyGraph g(t);
  const int us = t.region_index("us-central1"), eu = t.region_index("europe-west1");
  // Host-to-host RTT = 2 x gateway latency + both LAN latencies = the measured 103.1 ms.
  const double host_rtt = 2 * g.route_latency_s(us, eu) + t.regions[us].lan_latency_s + t.regions[eu].lan_latency_s;
  EXPECT_NEAR(host_rtt, 0.1031, 1e-9);
  EXPECT_DOUBLE_EQ(t.egress_usd_per_B(us, eu) * 1e9, 0.08);
  EXPECT_DOUBLE_EQ(t.egress_usd_per_B(us, t.region_index("australia-southeast1")) * 1e9, 0.15);
  EXPECT_DOUBLE_EQ(t.instance_types.at("n1-standard-8-t4").usd_per_hour_spot, 0.180);
}

}  // namespace
}  // namespace geotrain::sim

namespace geotrain::sim {
namespace {

std::string topology_error(const std::function<void(nlohmann::json&)>& edit) {
  auto j = two_cloud_topology();
  edit(j);
  try {
    parse(j);
  } catch (const BadInput& e) {
    return e.what();
  }
  return "no error";
}

TEST(Topology, EgressGapsAndAmbiguousNamesAreRejectedAtLoad) {
  // A continent of the cloud's regions with no same-continent price (and no default).
  EXPECT_EQ(topology_error([](auto& j) { j["egress_usd_per_GB"]["aws"]["same_continent"] = {{"na", 0.02}}; }),
            "t.json: /egress_usd_per_GB/aws/same_continent: no price for \"eu\": list every continent of this "
            "cloud's regions, or give a \"default\"");
  // Overrides by continent must be objects: a bare number would silently never match.
  EXPECT_EQ(topology_error([](auto& j) { j["egress_usd_per_GB"]["aws"]["inter_continent_to"] = 0.2; }),
            "t.json: /egress_usd_per_GB/aws/inter_continent_to: 0.2: expected an object {continent: $/GB}");
  // Host names are "<region>:<index>": a region name with ':' could collide with one.
  EXPECT_EQ(topology_error([](auto& j) { j["regions"][0]["name"] = "us:0"; }),
            "t.json: /regions/0/name: \"us:0\": expected a non-empty name without ':', '/' or '#' (they separate "
            "host names)");
}

}  // namespace
}  // namespace geotrain::sim
