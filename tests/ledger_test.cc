// Dollars by hand: egress and compute cost of a 3-region, 2-cloud ring all-reduce.
#include <gtest/gtest.h>

#include "test_util.h"

namespace geotrain {
namespace {

// aws-us (North America), aws-eu (Europe), gcp-us (North America), one worker each.
nlohmann::json three_region_two_cloud_scenario(int steps) {
  auto topo = nlohmann::json::parse(R"({
    "name": "hand",
    "regions": [
      {"name": "aws-us", "cloud": "aws", "continent": "north_america"},
      {"name": "aws-eu", "cloud": "aws", "continent": "europe"},
      {"name": "gcp-us", "cloud": "gcp", "continent": "north_america"}],
    "links": [
      {"a": "aws-us", "b": "aws-eu", "latency_ms": 40, "capacity_Gbps": 5},
      {"a": "aws-eu", "b": "gcp-us", "latency_ms": 45, "capacity_Gbps": 5},
      {"a": "gcp-us", "b": "aws-us", "latency_ms": 10, "capacity_Gbps": 5}],
    "instance_types": {
      "p": {"gpu_peak_tflops": 100, "utilization": 0.5, "nic_Gbps": 25, "usd_per_hour": {"on_demand": 3.0, "spot": 1.2}},
      "g": {"gpu_peak_tflops": 100, "utilization": 0.5, "nic_Gbps": 25, "usd_per_hour": {"on_demand": 2.0, "spot": 0.7}}},
    "egress_usd_per_GB": {
      "aws": {"cross_zone": 0.01, "same_continent": 0.02, "inter_continent": 0.05, "internet": 0.09},
      "gcp": {"cross_zone": 0.01, "same_continent": 0.01, "inter_continent": 0.08, "internet": 0.12}}})");
  auto s = testing::scenario_json(topo, {1, 1, 1}, 3'000'000, "ring", false);
  s["fleet"][0]["instance"] = "p";
  s["fleet"][1]["instance"] = "p";
  s["fleet"][1]["pricing"] = "spot";
  s["fleet"][2]["instance"] = "g";
  s["workload"]["steps"] = steps;
  return s;
}

TEST(Ledger, EgressAndComputeDollarsEqualAHandComputation) {
  const int steps = 3;
  const auto s = three_region_two_cloud_scenario(steps);
  const auto r = testing::run_program_isolated(s, [](sim::WorkerContext&) {});  // warm-up: no traffic
  EXPECT_DOUBLE_EQ(r["cost_usd"]["egress"].get<double>(), 0.0);

  const auto res = nlohmann::json::parse(sim::run_isolated([&] {
    return sim::run_scenario(sim::parse_scenario(s, "hand.json")).results.dump();
  }));
  // Ring of 3 in region order: aws-us -> aws-eu -> gcp-us -> aws-us.  Each worker sends
  // 2(M-1) = 4 chunks of S/3 per step: S = 3e6 values x 4 B = 12 MB, so 16 MB per hop per step.
  const double hop_bytes = 4 * (3'000'000 / 3) * 4.0 * steps;
  const double usd = hop_bytes / 1e9 * (0.05 /* aws us->eu inter-continent */ +
                                        0.09 /* aws eu->gcp internet */ +
                                        0.12 /* gcp us->aws internet */);
  EXPECT_NEAR(res["cost_usd"]["egress"].get<double>(), usd, 1e-12);
  ASSERT_EQ(res["links"].size(), 3u);
  const std::vector<std::pair<std::string, std::string>> hops = {
      {"aws-us", "aws-eu"}, {"aws-eu", "gcp-us"}, {"gcp-us", "aws-us"}};
  for (const auto& l : res["links"]) {
    const std::pair<std::string, std::string> hop{l["src_region"], l["dst_region"]};
    EXPECT_NE(std::find(hops.begin(), hops.end(), hop), hops.end()) << hop.first << "->" << hop.second;
    EXPECT_EQ(l["bytes"].get<double>(), hop_bytes);
  }
  EXPECT_EQ(res["traffic_bytes"]["wan"].get<double>(), 3 * hop_bytes);
  // Compute: on-demand p (3.0 $/h) + spot p (1.2 $/h) + on-demand g (2.0 $/h), per second.
  const double t = res["simulated_s"].get<double>();
  EXPECT_NEAR(res["cost_usd"]["compute"].get<double>(), (3.0 + 1.2 + 2.0) / 3600 * t, 1e-12);
  EXPECT_NEAR(res["cost_usd"]["total"].get<double>(), (3.0 + 1.2 + 2.0) / 3600 * t + usd, 1e-12);
  EXPECT_NEAR(res["usd_per_million_samples"].get<double>(),
              res["cost_usd"]["total"].get<double>() / (3 * 8 * steps) * 1e6, 1e-9);
}

}  // namespace
}  // namespace geotrain
