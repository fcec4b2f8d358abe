// Spot prices over time: a price trace (AWS CLI JSON or CSV) bills the price in force each
// second, and a max_price preempts while the market is above it.  Checked on closed forms: the
// compute dollars of a run are the integral of the price over the time each instance was up.
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim/isolate.h"
#include "sim/json_reader.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/spot_price.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

constexpr const char* kFolder = "geotrain_spot_price_test";
constexpr int kWorkers = 2;

json results_of(const json& scenario) {
  return json::parse(sim::run_isolated([&] {
    return sim::deterministic_part(sim::run_scenario(sim::parse_scenario(scenario, "test.json")).results).dump();
  }));
}

// Two spot workers in one region, DDP; a step is 1.6 s of compute.  `spot_price` (if not null)
// is the entry's "spot_price" object.
json two_spot_workers(const json& spot_price, int steps = 100) {
  testing::UniformNet net;
  net.workers_per_region = kWorkers;
  json s = testing::uniform_scenario(net, 1e6, "ring");
  s["workload"]["model"]["flops_per_sample"] = 1e13;
  s["workload"]["steps"] = steps;
  s["fleet"][0]["pricing"] = "spot";
  if (!spot_price.is_null()) s["fleet"][0]["spot_price"] = spot_price;
  return s;
}

sim::SpotPriceSpec spec_of(const json& spot_price, const std::string& instance = "gpu") {
  sim::JsonReader r(spot_price, "f.json", "/fleet/0/spot_price");
  return sim::parse_spot_price(r, instance, "");
}

// An AWS CLI record.
json record(const std::string& zone, const std::string& type, const std::string& price, const std::string& time) {
  return {{"AvailabilityZone", zone}, {"InstanceType", type}, {"ProductDescription", "Linux/UNIX"},
          {"SpotPrice", price}, {"Timestamp", time}};
}

TEST(SpotPrice, Iso8601TimesAsTheAwsCliPrintsThem) {
  double t = 0;
  ASSERT_TRUE(sim::parse_iso8601_s("2020-02-20T22:06:16.000Z", t));
  EXPECT_EQ(t, 1582236376.0);
  ASSERT_TRUE(sim::parse_iso8601_s("2020-02-20T22:06:16+00:00", t));
  EXPECT_EQ(t, 1582236376.0);
  ASSERT_TRUE(sim::parse_iso8601_s("2020-02-20T23:06:16+01:00", t));
  EXPECT_EQ(t, 1582236376.0);
  ASSERT_TRUE(sim::parse_iso8601_s("2020-02-20T22:06:16.5Z", t));
  EXPECT_EQ(t, 1582236376.5);
  for (const char* bad : {"2020-02-20T22:06:16", "2023-02-30T00:00:00Z", "2020-2-20T22:06:16Z", "2020-02-20T22:06:16Zx",
                          "2020-02-20T24:00:00Z", "2020-02-20T22:06:16+0a:00", "tomorrow"})
    EXPECT_FALSE(sim::parse_iso8601_s(bad, t)) << bad;
}

// The CLI's output, newest first, two zones and another type mixed in: the entry replays its
// zone's records of its type, in time order, from trace_start_s after the first.
TEST(SpotPrice, AnAwsHistoryReplaysOneZoneInTimeOrder) {
  const json history = {{"SpotPriceHistory",
                         {record("z-a", "gpu", "0.600000", "2023-02-15T12:30:00+00:00"),
                          record("z-b", "gpu", "9.000000", "2023-02-15T12:00:00+00:00"),
                          record("z-a", "other", "7.000000", "2023-02-15T11:30:00+00:00"),
                          record("z-a", "gpu", "0.700000", "2023-02-15T11:00:00.000Z"),
                          record("z-a", "gpu", "0.500000", "2023-02-15T10:00:00.000Z")}}};
  const std::string file = testing::write_temp_file(kFolder, "history.json", history.dump(2));
  const sim::SpotPriceSpec p = spec_of({{"trace", file}, {"zone", "z-a"}, {"trace_start_s", 1800}});
  EXPECT_EQ(p.format, "aws_json");
  ASSERT_EQ(p.steps.size(), 3u);
  EXPECT_EQ(p.steps[0].time_s, 0);      // 10:30: the 10:00 price is in force
  EXPECT_EQ(p.steps[0].usd_per_hour, 0.5);
  EXPECT_EQ(p.steps[1].time_s, 1800);   // 11:00
  EXPECT_EQ(p.steps[1].usd_per_hour, 0.7);
  EXPECT_EQ(p.steps[2].time_s, 7200);   // 12:30
  EXPECT_EQ(p.steps[2].usd_per_hour, 0.6);
  EXPECT_EQ(p.usd_per_hour_at(1799.9), 0.5);
  EXPECT_EQ(p.usd_per_hour_at(1e9), 0.6);  // the last price holds
  // Billing [900, 9000): 900 s at 0.5, 5400 s at 0.7, 1800 s at 0.6.
  const auto pieces = p.billing(900, 9000);
  ASSERT_EQ(pieces.size(), 3u);
  double usd = 0;
  for (const auto& x : pieces) usd += x.usd_per_s * (x.to_s - x.from_s);
  EXPECT_DOUBLE_EQ(usd, (900 * 0.5 + 5400 * 0.7 + 1800 * 0.6) / 3600);
  EXPECT_DOUBLE_EQ(p.mean_usd_per_hour(3600), (1800 * 0.5 + 1800 * 0.7) / 3600);
  // One zone only: no "zone" needed.
  const json one_zone = {{"SpotPriceHistory", {record("z-a", "gpu", "0.5", "2023-02-15T10:00:00Z")}}};
  const sim::SpotPriceSpec q =
      spec_of({{"trace", testing::write_temp_file(kFolder, "one.json", one_zone.dump())}});
  EXPECT_EQ(q.zone, "z-a");
}

// With no faults, the compute dollars are the price integral: 1 $/h until t1, then 3 $/h.
TEST(SpotPrice, AStepPriceChangeBillsExactly) {
  const double plain_s = results_of(two_spot_workers(nullptr))["simulated_s"].get<double>();
  const double t1 = std::round(plain_s / 2);
  const std::string file =
      testing::write_temp_file(kFolder, "step.csv", fmt::format("time_s,usd_per_hour\n0,1.0\n{},3.0\n", t1));
  const json r = results_of(two_spot_workers({{"trace", file}}));
  const double end = r["simulated_s"].get<double>();
  EXPECT_EQ(end, plain_s);  // prices change dollars, not time
  const double expected = kWorkers * (1.0 * t1 + 3.0 * (end - t1)) / 3600;
  EXPECT_NEAR(r["cost_usd"]["compute"].get<double>(), expected, 1e-12 * expected);
  const json& paid = r["cost_usd"]["spot_prices"][0];
  EXPECT_EQ(paid["usd_per_hour"]["min"], 1.0);
  EXPECT_EQ(paid["usd_per_hour"]["max"], 3.0);
  EXPECT_NEAR(paid["usd_per_hour"]["mean"].get<double>(), (1.0 * t1 + 3.0 * (end - t1)) / end, 1e-12);
  EXPECT_TRUE(paid["max_price"].is_null());
  // Without a trace the catalog's spot price (1.8 $/h) bills, and no spot_prices block appears.
  const json flat = results_of(two_spot_workers(nullptr));
  EXPECT_NEAR(flat["cost_usd"]["compute"].get<double>(), kWorkers * 1.8 * plain_s / 3600, 1e-9);
  EXPECT_FALSE(flat["cost_usd"].contains("spot_prices"));
}

// The bid model: max_price 1.5 $/h, the market at 2 $/h from t_up to t_down.  Both instances
// are preempted at t_up, come back at t_down, and bill nothing in between.
TEST(SpotPrice, AMaxPriceBelowTheMarketPreemptsAtThatInstant) {
  const double plain_s = results_of(two_spot_workers(nullptr))["simulated_s"].get<double>();
  const double t_up = std::round(plain_s / 4), t_down = std::round(plain_s / 2);
  const std::string file = testing::write_temp_file(
      kFolder, "bid.csv", fmt::format("time_s,usd_per_hour\n0,1.0\n{},2.0\n{},1.0\n", t_up, t_down));
  json s = two_spot_workers({{"trace", file}, {"max_price", 1.5}});
  s["fleet"][0]["preemption"] = {{"model", "none"}, {"boot_s", 0}};
  const json r = results_of(s);
  ASSERT_TRUE(r.contains("faults"));
  EXPECT_EQ(r["faults"]["preemptions"], kWorkers);
  int preempted = 0, back = 0;
  for (const auto& e : r["faults"]["events"]) {
    if (e["event"] == "preempted") {
      ++preempted;
      EXPECT_EQ(e["time_s"], t_up);
      EXPECT_EQ(e["cause"], "spot price above max_price");
    }
    if (e["event"] == "back") {
      ++back;
      EXPECT_EQ(e["time_s"], t_down);
    }
  }
  EXPECT_EQ(preempted, kWorkers);
  EXPECT_EQ(back, kWorkers);
  const double end = r["simulated_s"].get<double>();
  EXPECT_GT(end, t_down);
  const double expected = kWorkers * 1.0 * (end - (t_down - t_up)) / 3600;
  EXPECT_NEAR(r["cost_usd"]["compute"].get<double>(), expected, 1e-12 * expected);
  EXPECT_EQ(r["cost_usd"]["spot_prices"][0]["max_price"], 1.5);
}

// Wasted dollars price each lost second at the price in force then: the work lost when the bid
// (1.5 $/h) is exceeded at t_up was done at 1.4 $/h, the 5 s boot on return at t_down (and the
// state copy after it) at 0.5 $/h; the run's mean price, which these were priced at before, is
// neither.
TEST(SpotPrice, WastedDollarsPriceEachLostSecondAtThePriceThen) {
  const double plain_s = results_of(two_spot_workers(nullptr))["simulated_s"].get<double>();
  const double t_up = std::round(plain_s / 4) + 0.5, t_down = std::round(plain_s / 2);
  const std::string file = testing::write_temp_file(
      kFolder, "tiers.csv", fmt::format("time_s,usd_per_hour\n0,1.4\n{},2.0\n{},0.5\n", t_up, t_down));
  json s = two_spot_workers({{"trace", file}, {"max_price", 1.5}});
  const double boot_s = 5;
  s["fleet"][0]["preemption"] = {{"model", "none"}, {"boot_s", boot_s}};
  const json r = results_of(s);
  ASSERT_TRUE(r.contains("faults"));
  ASSERT_EQ(r["faults"]["preemptions"], kWorkers);
  const double lost_s = r["faults"]["lost_compute_s"].get<double>();
  ASSERT_GT(lost_s, 0);
  const json& by_cause = r["faults"]["wasted_usd_by_cause"];
  EXPECT_NEAR(by_cause["lost_work"].get<double>(), lost_s * 1.4 / 3600, 1e-12);
  // Boot, then the state copy between the two (4 MB, well under 10 ms), all at 0.5 $/h.
  const double overhead_usd = by_cause["boot_and_state_reload"].get<double>();
  EXPECT_GE(overhead_usd, kWorkers * boot_s * 0.5 / 3600);
  EXPECT_LT(overhead_usd, kWorkers * (boot_s + 0.01) * 0.5 / 3600);
  EXPECT_NEAR(r["faults"]["wasted_usd"].get<double>(), by_cause["lost_work"].get<double>() + overhead_usd, 1e-15);
}

// A worker that fell back to on demand is billed on demand from its replacement on, and so are the
// seconds it wastes there: preempted at t_up (the market, 2.0 $/h, over the 1.5 bid), replaced
// on demand 10 s later; its 5 s boot and state copy cost the on-demand 3.6 $/h, not the market
// price then in force.  The bill: 1.4 $/h up to t_up, 3.6 $/h from the replacement to the end.
TEST(SpotPrice, SecondsAfterAnOnDemandFallbackCostTheOnDemandPrice) {
  const double plain_s = results_of(two_spot_workers(nullptr))["simulated_s"].get<double>();
  const double t_up = std::round(plain_s / 4) + 0.5, t_down = std::round(plain_s / 2);
  const std::string file = testing::write_temp_file(
      kFolder, "fallback.csv", fmt::format("time_s,usd_per_hour\n0,1.4\n{},2.0\n{},0.5\n", t_up, t_down));
  json s = two_spot_workers({{"trace", file}, {"max_price", 1.5}});
  const double boot_s = 5, fallback_s = 10, on_demand = 3.6;
  s["fleet"][0]["preemption"] = {
      {"model", "none"}, {"boot_s", boot_s}, {"policy", "fallback_on_demand"}, {"fallback_after_s", fallback_s}};
  const json r = results_of(s);
  ASSERT_TRUE(r.contains("faults"));
  ASSERT_EQ(r["faults"]["preemptions"], kWorkers);
  const double end = r["simulated_s"].get<double>();
  const double billed = kWorkers * (1.4 * t_up + on_demand * (end - t_up - fallback_s)) / 3600;
  EXPECT_NEAR(r["cost_usd"]["compute"].get<double>(), billed, 1e-12 * billed);
  const json& by_cause = r["faults"]["wasted_usd_by_cause"];
  EXPECT_NEAR(by_cause["lost_work"].get<double>(), r["faults"]["lost_compute_s"].get<double>() * 1.4 / 3600, 1e-12);
  const double overhead_usd = by_cause["boot_and_state_reload"].get<double>();
  EXPECT_GE(overhead_usd, kWorkers * boot_s * on_demand / 3600);
  EXPECT_LT(overhead_usd, kWorkers * (boot_s + 0.01) * on_demand / 3600);
}

TEST(SpotPrice, BadTracesAreRefusedWithFilePathValueAndWhatIsAllowed) {
  const std::string unsorted =
      testing::write_temp_file(kFolder, "unsorted.csv", "time_s,usd_per_hour\n0,1.0\n600,1.2\n300,1.1\n");
  EXPECT_EQ(testing::error_of([&] { spec_of({{"trace", unsorted}}); }),
            unsorted + ": line 4: 300,1.1: expected a header \"time_s,usd_per_hour\" or \"timestamp,usd_per_hour\", "
                       "then rows \"time,price\" with times strictly ascending (seconds 0 to 1e9, or ISO 8601 times) "
                       "and prices in USD per hour, 0 to 1e6");
  const std::string negative = testing::write_temp_file(kFolder, "negative.csv", "time_s,usd_per_hour\n0,-1\n");
  EXPECT_NE(testing::error_of([&] { spec_of({{"trace", negative}}); }).find(negative + ": line 2: 0,-1: expected"),
            std::string::npos);
  const json history = {{"SpotPriceHistory",
                         {record("z-a", "gpu", "0.6", "2023-02-15T12:30:00Z"),
                          record("z-b", "gpu", "-0.5", "2023-02-15T12:00:00Z")}}};
  const std::string aws = testing::write_temp_file(kFolder, "aws.json", history.dump());
  EXPECT_EQ(testing::error_of([&] { spec_of({{"trace", aws}, {"zone", "z-a"}}); }),
            aws + ": /SpotPriceHistory/1/SpotPrice: \"-0.5\": expected a price in USD per hour, 0 to 1e6 (a number or "
                  "a decimal string)");
  const json two_zones = {{"SpotPriceHistory",
                           {record("z-a", "gpu", "0.6", "2023-02-15T12:30:00Z"),
                            record("z-b", "gpu", "0.5", "2023-02-15T12:00:00Z")}}};
  const std::string zones = testing::write_temp_file(kFolder, "zones.json", two_zones.dump());
  EXPECT_EQ(testing::error_of([&] { spec_of({{"trace", zones}, {"zone", "z-c"}}); }),
            "f.json: /fleet/0/spot_price/zone: \"z-c\": expected an availability zone with records of gpu in " + zones +
                ": z-a, z-b");
  EXPECT_EQ(testing::error_of([&] { spec_of({{"trace", zones}}); }),
            "f.json: /fleet/0/spot_price/zone: missing: required: " + zones +
                " holds records of gpu in several zones: z-a, z-b");
  EXPECT_EQ(testing::error_of([&] { spec_of({{"trace", zones}, {"zone", "z-a"}}, "p3.2xlarge"); }),
            zones + ": /SpotPriceHistory: no records of p3.2xlarge (Linux/UNIX): expected records of the fleet entry's "
                    "instance type, or name the trace's type in spot_price.instance_type (and product); the file "
                    "holds: gpu (Linux/UNIX)");
  // In a scenario: only spot entries have a market price, and max_price must be positive.
  const std::string ok = testing::write_temp_file(kFolder, "ok.csv", "time_s,usd_per_hour\n0,1.0\n");
  json on_demand = two_spot_workers({{"trace", ok}});
  on_demand["fleet"][0]["pricing"] = "on_demand";
  EXPECT_EQ(testing::parse_error(on_demand).rfind("f.json: /fleet/0/spot_price: ", 0), 0u);
  EXPECT_NE(testing::parse_error(on_demand).find("spot instances only"), std::string::npos);
  EXPECT_EQ(testing::parse_error(two_spot_workers({{"trace", ok}, {"max_price", 0}})),
            "f.json: /fleet/0/spot_price/max_price: 0: expected a number in (0, 1000000]");
  EXPECT_NE(testing::parse_error(two_spot_workers({{"trace", ok}, {"zone", "z-a"}})).find("only for AWS"),
            std::string::npos);
}

// The shipped trace (scenarios/prices) loads: 60 records, three repeated prices, 57 steps.
TEST(SpotPrice, TheShippedAwsTraceLoads) {
  const sim::SpotPriceSpec p =
      spec_of({{"trace", std::string(GEOTRAIN_SOURCE_DIR) + "/scenarios/prices/aws-p3.2xlarge-us-east-1b-2020-02.json"}},
              "p3.2xlarge");
  EXPECT_EQ(p.zone, "us-east-1b");
  EXPECT_EQ(p.steps.size(), 57u);
  EXPECT_EQ(p.steps.front().usd_per_hour, 1.0214);
  EXPECT_EQ(p.steps.back().usd_per_hour, 1.0671);
}

}  // namespace
}  // namespace geotrain
