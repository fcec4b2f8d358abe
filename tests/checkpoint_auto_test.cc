// "every_steps": "auto": checkpoints at Daly's optimum interval from the checkpoint's measured
// cost and the fleet's mean time between preemptions.  Checked on the formula's hand-computed
// values, the fleet's rate from each preemption model, and the write times of a run's trace.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/faults.h"
#include "sim/isolate.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

constexpr double kSecondsPerHour = 3600;

TEST(CheckpointAuto, DalysIntervalByHand) {
  // d = 10 s, M = 1 h: x = sqrt(10 / 7200); sqrt(72000) (1 + x/3 + x^2/9) - 10.
  EXPECT_DOUBLE_EQ(sim::daly_interval_s(10, 3600), 261.70289929955806);
  EXPECT_DOUBLE_EQ(sim::daly_interval_s(1, 1800), 59.33518518518518);
  // Young's sqrt(2 d M) is its first term: the two agree as d / M -> 0.
  EXPECT_NEAR(sim::daly_interval_s(1e-6, 3600) / std::sqrt(2 * 1e-6 * 3600), 1.0, 1e-5);
  // A checkpoint costing 2M or more: checkpoint every M.
  EXPECT_EQ(sim::daly_interval_s(7200, 3600), 3600);
}

// Four spot workers in one region (two entries), DDP, checkpoints to the same region.
json fleet_scenario() {
  testing::UniformNet net;
  net.workers_per_region = 4;
  json s = testing::uniform_scenario(net, 1e7, "ring");
  s["workload"]["model"]["flops_per_sample"] = 1e13;  // 1.6 s of compute per step
  s["workload"]["steps"] = 200;
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 2}, {"pricing", "spot"}},
                            {{"region", "r0"}, {"instance", "gpu"}, {"count", 2}, {"pricing", "spot"}}});
  s["checkpoint"] = {{"every_steps", "auto"}, {"store_region", "r0"}, {"write_Gbps", 0.32}, {"read_Gbps", 0.32}};
  return s;
}

// The mean time between preemptions comes from every model that has a rate: hazard rates per
// instance, a trace's drops over its span (simultaneous drops once), zone outages with a rate.
TEST(CheckpointAuto, TheFleetsRateAddsEveryModelThatHasOne) {
  json s = fleet_scenario();
  s["fleet"][0]["preemption"] = {{"model", "hazard"}, {"rate_per_hour", 0.6}};
  // Two instances: instance 1 drops at 1 s, both at 3 s; the trace spans 4 s: 2 drops / 4 s.
  s["fleet"][1]["preemption"] = {
      {"model", "trace"},
      {"trace", testing::write_temp_file("geotrain_checkpoint_auto_test", "pool.csv",
                                         "time_ms,available_count\n0,2\n1000,1\n2000,2\n3000,0\n4000,2\n")}};
  s["faults"] = {{"zone_outages", json::array({{{"region", "r0"}, {"rate_per_hour", 0.1}, {"duration_s", 60}},
                                               {{"region", "r0"}, {"at_s", 50}, {"duration_s", 60}}})}};
  const sim::Scenario parsed = sim::parse_scenario(s, "f.json");
  const double rate = 2 * 0.6 / kSecondsPerHour + 2.0 / 4 + 0.1 / kSecondsPerHour;
  EXPECT_DOUBLE_EQ(parsed.faults.checkpoint->mtbf_s, 1 / rate);
  EXPECT_TRUE(parsed.faults.checkpoint->auto_interval);
}

// A run: each checkpoint is written at the first round end at least the interval after the
// previous one ended; the interval is Daly's from the measured write time and M = 1 / (4 r).
TEST(CheckpointAuto, WritesFollowDalysIntervalFromTheMeasuredCost) {
  json s = fleet_scenario();
  const double rate_per_hour = 0.5;
  for (auto& e : s["fleet"]) e["preemption"] = {{"model", "hazard"}, {"rate_per_hour", rate_per_hour}};
  s["seed"] = 3;
  const auto out = json::parse(sim::run_isolated([&] {
    const auto o = sim::run_scenario(sim::parse_scenario(s, "test.json"));
    return json{{"results", o.results}, {"trace", json::parse(o.trace_json())}}.dump();
  }));
  const json& r = out["results"];
  ASSERT_EQ(r["faults"]["preemptions"], 0) << "pick a seed without preemptions: the gaps below assume none";
  const json& c = r["faults"]["checkpoint_interval"];
  const double mtbf = kSecondsPerHour / (4 * rate_per_hour);
  EXPECT_DOUBLE_EQ(c["mtbf_s"].get<double>(), mtbf);
  const double cost = c["checkpoint_s"].get<double>();
  EXPECT_GT(cost, 1.0);   // 40 MB at 40 MB/s, plus the route
  EXPECT_LT(cost, 1.1);
  const double interval = c["interval_s"].get<double>();
  EXPECT_DOUBLE_EQ(interval, sim::daly_interval_s(cost, mtbf));
  // The writes in the trace: each starts at least `interval` after the previous one ended (the
  // start for the first), and less than a step later than that.
  const double step_s = r["simulated_s"].get<double>() / 200;
  std::vector<std::pair<double, double>> writes;
  for (const auto& e : out["trace"]["traceEvents"])
    if (e.value("name", "") == "write checkpoint" && e.value("ph", "") == "X")
      writes.emplace_back(e["ts"].get<double>() / 1e6, (e["ts"].get<double>() + e["dur"].get<double>()) / 1e6);
  ASSERT_GE(writes.size(), 4u);
  EXPECT_EQ(c["checkpoints"].get<std::size_t>(), writes.size());
  double last_end = 0;
  for (const auto& [start, end] : writes) {
    EXPECT_GE(start - last_end, interval - 1e-6);
    EXPECT_LT(start - last_end, interval + step_s);
    last_end = end;
  }
}

// Without a preemption rate (here: spot instances that are never preempted) the optimum is never:
// no checkpoint is written, and the results say the interval is null.
TEST(CheckpointAuto, NoPreemptionRateMeansNoCheckpoints) {
  json s = fleet_scenario();
  s["workload"]["steps"] = 20;
  const sim::Scenario parsed = sim::parse_scenario(s, "f.json");
  EXPECT_EQ(parsed.faults.checkpoint->mtbf_s, sim::kNever);
  const json r = json::parse(sim::run_isolated([&] {
    return sim::run_scenario(sim::parse_scenario(s, "test.json")).results.dump();
  }));
  EXPECT_TRUE(r["faults"]["checkpoint_interval"]["mtbf_s"].is_null());
  EXPECT_TRUE(r["faults"]["checkpoint_interval"]["interval_s"].is_null());
  EXPECT_EQ(r["faults"]["checkpoint_interval"]["checkpoints"], 0);
  EXPECT_EQ(r["faults"]["checkpoint_bytes"], 0);
}

TEST(CheckpointAuto, RefusedWhereNoGroupCheckpoint) {
  json s = fleet_scenario();
  s["checkpoint"]["every_steps"] = "often";
  EXPECT_EQ(testing::parse_error(s),
            "f.json: /checkpoint/every_steps: \"often\": expected an integer in [1, 1000000000] or \"auto\" (Daly's "
            "optimum from the checkpoint's cost and the mean time between preemptions)");
  s["checkpoint"]["every_steps"] = "auto";
  s["fleet"][0]["preemption"] = {{"model", "hazard"}, {"rate_per_hour", 0.5}};
  s["strategy"] = {{"name", "parameter_server"}, {"mode", "async"}};
  EXPECT_NE(testing::parse_error(s).find("/checkpoint/every_steps: \"auto\": strategy \"parameter_server\" checkpoints "
                                         "its servers"),
            std::string::npos)
      << testing::parse_error(s);
}

}  // namespace
}  // namespace geotrain
