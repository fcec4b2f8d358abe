// Cost-aware recovery: a returning worker copies its state from the cheapest live holder (same
// region first, then egress dollars, then transfer time), and says so in a "donor" event.  Checked
// on the ledger's bytes per region pair: a ring all-reduce spanning two regions crosses the
// boundary once each way with the same bytes, so any state copied across shows as a difference.
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim/isolate.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

constexpr double kParameters = 1e7;  // SGD: 40 MB of state

json results_of(const json& scenario) {
  return json::parse(sim::run_isolated([&] {
    return sim::deterministic_part(sim::run_scenario(sim::parse_scenario(scenario, "test.json")).results).dump();
  }));
}

std::uint64_t bytes_between(const json& results, const std::string& src, const std::string& dst) {
  for (const auto& l : results["links"])
    if (l["src_region"] == src && l["dst_region"] == dst) return l["bytes"].get<std::uint64_t>();
  return 0;
}

// Two workers on demand in r0 (ranks 0, 1), one on demand (r1:0) and one spot (r1:1) in r1; DDP,
// ring.  With `outage`, r1:1 goes down in step 3 and comes back in step 8.
json two_regions(bool outage, double step_s) {
  testing::UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  json s = testing::uniform_scenario(net, kParameters, "ring");
  s["workload"]["steps"] = 20;
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 2}, {"pricing", "on_demand"}},
                            {{"region", "r1"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "on_demand"}},
                            {{"region", "r1"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"}}});
  if (outage) {
    const std::string trace = fmt::format("0,1\n{},0\n{},1\n", 3.5 * step_s * 1000, 8.5 * step_s * 1000);
    s["fleet"][2]["preemption"] = {
        {"model", "trace"}, {"boot_s", 0}, {"trace", testing::write_temp_file("geotrain_donor_test", "r1.csv", trace)}};
    s["faults"] = {{"retry_after_s", 0.001}};
  }
  return s;
}

TEST(Donor, AReturningWorkerCopiesFromItsOwnRegionNotAcrossIt) {
  const double step_s = results_of(two_regions(false, 0))["simulated_s"].get<double>() / 20;
  const json r = results_of(two_regions(true, step_s));
  ASSERT_EQ(r["faults"]["preemptions"], 1);
  std::string donor, joined;
  for (const auto& e : r["faults"]["events"]) {
    if (e["event"] == "donor") donor = e["cause"].get<std::string>();
    if (e["event"] == "joined") joined = e["cause"].get<std::string>();
  }
  EXPECT_EQ(joined, "state from r1:0");
  EXPECT_EQ(donor.rfind("r1:0: same region, 0 USD egress, ", 0), 0u) << donor;
  EXPECT_NE(donor.find("for 40000000 B (cheapest of 3 live holders)"), std::string::npos) << donor;
  // No state crossed the regions: the ring's two crossings carry the same bytes each way.
  EXPECT_EQ(bytes_between(r, "r0", "r1"), bytes_between(r, "r1", "r0"));
  EXPECT_GT(bytes_between(r, "r0", "r1"), 0u);
  // The 40 MB copy stayed inside r1 (with r1's share of the ring's traffic).
  EXPECT_GE(bytes_between(r, "r1", "r1"), 40000000u);
}

}  // namespace
}  // namespace geotrain
