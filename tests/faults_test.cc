// Faults: preemption schedules (hazard statistics, trace replay), billing through preemptions,
// elastic DDP against a hand-run smaller group, runs that lose every worker or a link for good,
// checkpoints, determinism, and bad fault input.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim/faults.h"
#include "sim/isolate.h"
#include "sim/json_reader.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/training.h"
#include "kernels/reduce.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

std::string write_temp(const std::string& name, const std::string& text) {
  return testing::write_temp_file("geotrain_faults_test", name, text);
}

// Two regions of 2 workers each (region r1 on demand), a 10 Mparam size-only DDP job.
json base_scenario(int steps) {
  testing::UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  json s = testing::uniform_scenario(net, 1e7, "ring");
  s["workload"]["steps"] = steps;
  return s;
}

json results_of(const json& scenario) {
  return json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    return sim::deterministic_part(sim::run_scenario(s).results).dump();
  }));
}

std::vector<sim::FleetEntry> one_entry(int count, sim::PreemptionSpec p) {
  sim::FleetEntry e;
  e.region = "r0";
  e.region_index = 0;
  e.count = count;
  e.pricing = sim::Pricing::spot;
  e.preemption = std::move(p);
  return {e};
}

TEST(Faults, HazardPreemptionsMatchRateTimesTime) {
  // With no restart delay the preemptions of one instance over T form a Poisson process:
  // mean rate x T = 5, standard deviation of the mean over 2000 seeds sqrt(5/2000) = 0.05.
  sim::PreemptionSpec p;
  p.model = "hazard";
  p.rate_per_s = 5.0 / 3600;
  p.restart_delay.value_s = 0;
  double total = 0;
  const int seeds = 2000;
  for (int seed = 1; seed <= seeds; ++seed) total += sim::build_schedules(one_entry(1, p), {}, seed, 3600)[0].outages.size();
  EXPECT_NEAR(total / seeds, 5.0, 4 * 0.05);  // 4 standard deviations
  // With a fixed restart delay d the process is an alternating renewal one: rate 1/(1/lambda + d).
  p.restart_delay.value_s = 360;  // the mean time between preemptions 720 s + 360 s = 1080 s
  total = 0;
  for (int seed = 1; seed <= seeds; ++seed)
    total += sim::build_schedules(one_entry(1, p), {}, seed, 36000)[0].outages.size();
  EXPECT_NEAR(total / seeds, 36000.0 / 1080.0, 0.5);
}

TEST(Faults, CatalogBandsGiveMonthlyRates) {
  // 15-20% per month: the middle, 17.5%, as a probability per month of 730 hours.
  EXPECT_NEAR(sim::band_rate_per_s("15-20%"), -std::log(1 - 0.175) / (730 * 3600.0), 1e-15);
  EXPECT_GT(sim::band_rate_per_s(">20%"), sim::band_rate_per_s("<5%"));
  EXPECT_EQ(sim::band_rate_per_s("unknown"), 0);
}

TEST(Faults, TraceReplayReproducesDownIntervals) {
  // Count format: 2 available, 1 from 10 s, 0 from 20 s, 2 from 30 s.
  const auto counts = sim::load_availability_trace(
      write_temp("counts.csv", "time_ms,available_count\n0,2\n10000,1\n20000,0\n30000,2\n"));
  EXPECT_EQ(counts.format, "count_csv");
  auto o1 = sim::trace_outages(counts, 1, 0);
  ASSERT_EQ(o1.size(), 1u);
  EXPECT_EQ(o1[0].down_s, 10);
  EXPECT_EQ(o1[0].up_s, 30);
  auto o0 = sim::trace_outages(counts, 0, 0);
  ASSERT_EQ(o0.size(), 1u);
  EXPECT_EQ(o0[0].down_s, 20);
  EXPECT_EQ(o0[0].up_s, 30);
  // Started 15 s into the trace: instance 1 is down from the start until 15 s.
  o1 = sim::trace_outages(counts, 1, 15);
  ASSERT_EQ(o1.size(), 1u);
  EXPECT_EQ(o1[0].down_s, 0);
  EXPECT_EQ(o1[0].up_s, 15);

  // Event format: node a removed at 5 s, back at 7.5 s, removed for good at 12 s.
  const auto events = sim::load_availability_trace(
      write_temp("events.csv", "0,add,a\n0,add,b\n5000,remove,a\n7500,add,a\n12000,remove,a\n"));
  EXPECT_EQ(events.format, "events_csv");
  const auto a = sim::trace_outages(events, 0, 0);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].down_s, 5);
  EXPECT_EQ(a[0].up_s, 7.5);
  EXPECT_EQ(a[1].down_s, 12);
  EXPECT_EQ(a[1].up_s, sim::kNever);
  EXPECT_TRUE(sim::trace_outages(events, 1, 0).empty());

  // Tick format (spot-traces): one value per gap_seconds.
  const auto ticks = sim::load_availability_trace(
      write_temp("ticks.json", R"({"metadata": {"gap_seconds": 60}, "data": [1, 1, 0, 0, 0, 1]})"));
  const auto t = sim::trace_outages(ticks, 0, 0);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].down_s, 120);
  EXPECT_EQ(t[0].up_s, 300);
}

TEST(Faults, SimulationReplaysTheTraceExactly) {
  json s = base_scenario(400);
  s["fleet"][0]["pricing"] = "spot";
  s["fleet"][0]["preemption"] = {{"model", "trace"},
                                 {"trace", write_temp("sim.csv", "0,add,a\n0,add,b\n1000,remove,b\n2500,add,b\n")},
                                 {"boot_s", 0}};
  const json r = results_of(s);
  const auto& ev = r["faults"]["events"];
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[0]["event"], "preempted");
  EXPECT_EQ(ev[0]["worker"], "r0:1");
  EXPECT_DOUBLE_EQ(ev[0]["time_s"].get<double>(), 1.0);
  EXPECT_EQ(ev[1]["event"], "back");
  EXPECT_DOUBLE_EQ(ev[1]["time_s"].get<double>(), 2.5);
  EXPECT_EQ(r["faults"]["preemptions"], 1);
  EXPECT_EQ(r["faults"]["restarts"], 1);
  // Availability of the entry: one of two instances away 1.5 s of the run.
  const double end = r["simulated_s"].get<double>();
  EXPECT_NEAR(r["faults"]["availability"][0]["availability"].get<double>(), (2 * end - 1.5) / (2 * end), 1e-12);
  EXPECT_EQ(r["steps"], 400);
}

TEST(Faults, BillingStopsAtPreemptionAndRestartsWithTheReplacement) {
  // Three spot instances; b is preempted at 2 s and back (spot) at 2.8 s; c is preempted at 3 s
  // and, its capacity not back within 1 s, replaced on demand at 4 s.
  json s = base_scenario(2000);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 3}, {"pricing", "spot"},
                             {"preemption", {{"model", "trace"},
                                             {"trace", write_temp("bill.csv", "0,add,a\n0,add,b\n0,add,c\n"
                                                                              "2000,remove,b\n2800,add,b\n3000,remove,c\n")},
                                             {"boot_s", 0.5},
                                             {"policy", "fallback_on_demand"},
                                             {"fallback_after_s", 1}}}}});
  const json r = results_of(s);
  const double end = r["simulated_s"].get<double>();
  ASSERT_GT(end, 5.0);
  const double spot = 1.8 / 3600, on_demand = 3.6 / 3600;
  const double hand = end * spot + (2 + (end - 2.8)) * spot + 3 * spot + (end - 4) * on_demand;
  EXPECT_NEAR(r["cost_usd"]["compute"].get<double>(), hand, 1e-12);
  EXPECT_EQ(r["faults"]["preemptions"], 2);
  EXPECT_EQ(r["faults"]["restarts"], 2);
}

TEST(Faults, ElasticDdpEqualsTheSmallerGroupFromThePreemptedStep) {
  testing::UniformNet net;
  net.regions = 1;
  net.workers_per_region = 4;
  const json model = {{"type", "linear_regression"}};
  const json data = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 512}, {"noise", 0.1}};
  json s = testing::real_scenario(net, model, data, {{"name", "ddp"}, {"allreduce", "ring"}}, 8, 30, 0.05);
  // Worker 3 in its own spot entry, preempted for good at 43% of the fault-free run's time.
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 3}, {"pricing", "on_demand"}},
                            {{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"}}});
  const double t_down = 0.43 * results_of(s)["simulated_s"].get<double>();
  s["fleet"][1]["preemption"] = {
      {"model", "trace"}, {"trace", write_temp("elastic.csv", fmt::format("0,1\n{},0\n", t_down * 1000))}};
  // The emulated run: its parameters and the step the preemption hit (the first row after 1 s:
  // rows land when a step commits).
  const auto run = json::parse(sim::run_isolated([&] {
    const sim::Scenario sc = sim::parse_scenario(s, "test.json");
    testing::Capture capture(sim::make_strategy(sc));
    const auto out = sim::run_strategy(sc, capture);
    int committed_before = 0;
    std::istringstream csv(out.timeline_csv());
    std::string line;
    std::getline(csv, line);
    while (std::getline(csv, line))
      if (std::stod(line.substr(line.find(',') + 1)) < t_down) ++committed_before;
    return json{{"results", out.results}, {"params", capture.params}, {"k", committed_before}}.dump();
  }));
  const int k = run["k"].get<int>();
  ASSERT_GT(k, 0);
  ASSERT_LT(k, 30);
  EXPECT_EQ(run["results"]["steps"], 30);
  EXPECT_EQ(run["results"]["faults"]["preemptions"], 1);
  // Reference: the same trainers stepped by hand, the mean of 4 gradients before step k and of
  // the 3 survivors from step k on.
  const auto ref = testing::hand_stepped_mean_sgd(s, 4, 30, 8, [k](int step) { return step < k ? 4 : 3; });
  const auto params = run["params"].get<std::vector<float>>();
  EXPECT_LT(testing::max_rel_diff(ref, params), 1e-5);
}

TEST(Faults, EveryWorkerLostEndsTheRunWithAReason) {
  json s = base_scenario(100000);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 2}, {"pricing", "spot"},
                             {"preemption", {{"model", "trace"}, {"trace", write_temp("all.csv", "0,2\n1500,0\n")}}}}});
  const json r = results_of(s);
  EXPECT_DOUBLE_EQ(r["simulated_s"].get<double>(), 1.5);
  EXPECT_EQ(r["stop_reason"], "every worker lost at 1.5 s and no capacity returns");
  EXPECT_EQ(r["faults"]["preemptions"], 2);
  EXPECT_LT(r["steps"].get<int>(), 100000);
}

TEST(Faults, ALinkDownForGoodEndsTheRunWithTheReasonForDdpAndDiloco) {
  // No time limit given: before, the all-reduce was retried every 10 s for a simulated week.
  for (const json& strategy : {json{{"name", "ddp"}, {"allreduce", "ring"}}, json{{"name", "diloco"}, {"H", 5}}}) {
    json s = base_scenario(100000);
    s["strategy"] = strategy;
    s["faults"] = {{"links", {{{"between", {"r0", "r1"}}, {"down", {{1.0, nullptr}}}}}}};
    const auto start = std::chrono::steady_clock::now();
    const json r = results_of(s);
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_DOUBLE_EQ(r["simulated_s"].get<double>(), 1.0) << strategy;
    EXPECT_EQ(r["stop_reason"], "link r0-r1 down for good at 1 s: r0 and r1 can no longer reach each other")
        << strategy;
    EXPECT_EQ(r["faults"]["events"].back()["event"], "stopped");
    EXPECT_LT(wall_s, 30) << strategy;
  }
}

TEST(Faults, ALinkDownForGoodThatNoRouteCrossesChangesNothing) {
  // Three regions, workers in r0 and r1 only: the r1-r2 link is on no route between them.
  testing::UniformNet net;
  net.regions = 3;
  json s = testing::scenario_json(testing::uniform_topology(net), {2, 2, 0}, 1e7, "ring", false);
  s["workload"]["steps"] = 20;
  const json clean = results_of(s);
  s["faults"] = {{"links", {{{"between", {"r1", "r2"}}, {"down", {{1.0, nullptr}}}}}}};
  const json r = results_of(s);
  EXPECT_TRUE(r["stop_reason"].is_null()) << r["stop_reason"];
  EXPECT_EQ(r["steps"], 20);
  EXPECT_DOUBLE_EQ(r["simulated_s"].get<double>(), clean["simulated_s"].get<double>());
}

TEST(Faults, AWorkerGoneForGoodEndsAGroupThatWaitsForEveryone) {
  json s = base_scenario(100000);
  s["strategy"]["on_failure"] = "wait";
  s["fleet"][0]["pricing"] = "spot";
  s["fleet"][0]["preemption"] = {{"model", "trace"}, {"trace", write_temp("one.csv", "0,2\n1500,1\n")}};
  const json r = results_of(s);
  EXPECT_DOUBLE_EQ(r["simulated_s"].get<double>(), 1.5);
  EXPECT_EQ(r["stop_reason"],
            "worker r0:1 lost at 1.5 s and does not return; the group waits for every worker (on_failure: wait)");
  // Elastic, the other three go on to the end.
  s["strategy"]["on_failure"] = "elastic";
  s["workload"]["steps"] = 3000;
  const json elastic = results_of(s);
  EXPECT_TRUE(elastic["stop_reason"].is_null()) << elastic["stop_reason"];
  EXPECT_EQ(elastic["steps"], 3000);
}

TEST(Faults, PreemptionStormFinishesInBoundedWallTime) {
  // DDP with every instance preempted 3600 times an hour (restart 2 s, boot 1 s): rounds rarely
  // complete.  Before, the run went past a simulated week; now it ends at its time limit, and the
  // timeline's useful samples cost O(1) per row (they were summed over every committed round).
  json s = base_scenario(100000);
  s["workload"]["model"]["flops_per_sample"] = 1e12;
  for (auto& entry : s["fleet"]) {
    entry["pricing"] = "spot";
    entry["preemption"] = {{"model", "hazard"}, {"rate_per_hour", 3600}, {"restart_delay_s", 2}, {"boot_s", 1}};
  }
  s["faults"] = {{"time_limit_s", 3600}};
  const auto start = std::chrono::steady_clock::now();
  const json r = results_of(s);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r["stop_reason"], "time limit of 3600 s simulated reached");
  EXPECT_DOUBLE_EQ(r["simulated_s"].get<double>(), 3600);
  // 4 instances up about a third of the time (mean up 1 s between 3 s restarts): thousands of
  // preemptions, every one handled.
  EXPECT_GT(r["faults"]["preemptions"].get<int>(), 2000);
  EXPECT_LT(wall_s, 60);
}

TEST(Faults, ALinkDownForAWhileDelaysTheRunByTheOutage) {
  json s = base_scenario(2000);
  const double clean = results_of(s)["simulated_s"].get<double>();
  s["faults"] = {{"retry_after_s", 1}, {"links", {{{"between", {"r0", "r1"}}, {"down", {{1.0, 31.0}}}}}}};
  const double faulty = results_of(s)["simulated_s"].get<double>();
  // 30 s of outage, plus at most one retry interval and one aborted step.
  EXPECT_GT(faulty, clean + 30);
  EXPECT_LT(faulty, clean + 32);
}

TEST(Faults, SameSeedSameFaultsSameBytes) {
  json s = base_scenario(600);
  s["fleet"][0]["pricing"] = "spot";
  s["fleet"][0]["preemption"] = {{"model", "hazard"}, {"rate_per_hour", 3600}, {"restart_delay_s", 2}, {"boot_s", 1}};
  const json a = results_of(s), b = results_of(s);
  EXPECT_GT(a["faults"]["preemptions"].get<int>(), 3);
  EXPECT_EQ(a.dump(), b.dump());
  s["seed"] = 8;
  EXPECT_NE(results_of(s)["faults"].dump(), a["faults"].dump());
}

TEST(Faults, CheckpointsAreWrittenBilledAndReloadedWhenNobodyHoldsTheState) {
  json s = base_scenario(600);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 2}, {"pricing", "spot"},
                             {"preemption", {{"model", "trace"}, {"boot_s", 0},
                                             {"trace", write_temp("ckpt.csv", "0,2\n1500,0\n2000,2\n")}}}}});
  s["checkpoint"] = {{"every_steps", 100}, {"store_region", "r1"}, {"write_Gbps", 8}, {"read_Gbps", 8},
                     {"usd_per_GB_month", 0.02}};
  const json r = results_of(s);
  const auto& f = r["faults"];
  ASSERT_EQ(f["preemptions"], 2);
  // 1e7 fp32 parameters, SGD: 40 MB per checkpoint; both workers read the last one back.
  const std::uint64_t bytes = 40000000;
  const auto total = f["checkpoint_bytes"].get<std::uint64_t>();
  EXPECT_EQ(total % bytes, 0u);
  const auto writes = total / bytes - 2;
  EXPECT_GE(writes, 5u);  // every 100 of 600 steps, plus the steps redone after the rollback
  EXPECT_GT(f["checkpoint_usd"].get<double>(), 0);
  int joined_from_checkpoint = 0;
  for (const auto& e : f["events"]) joined_from_checkpoint += e["cause"] == "state from the checkpoint";
  // The first worker back holds no state and nobody else does: it reloads the checkpoint; the
  // second joins at the next round and copies the first.
  EXPECT_EQ(joined_from_checkpoint, 1);
  EXPECT_GT(f["lost_samples"].get<double>(), 0);
  // Steps after the last checkpoint were done twice; 600 of them are committed (goodput).
  EXPECT_GT(r["work"]["steps"].get<int>(), 600);
  EXPECT_EQ(r["steps"], 600);
  EXPECT_EQ(r["samples"].get<double>(), r["work"]["samples"].get<double>() - f["lost_samples"].get<double>());
}

TEST(Faults, DilocoRoundCountsOnlyItsFinishers) {
  testing::UniformNet net;
  net.regions = 1;
  net.workers_per_region = 4;
  const json model = {{"type", "linear_regression"}};
  const json data = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 512}, {"noise", 0.1}};
  json s = testing::real_scenario(net, model, data, {{"name", "diloco"}, {"H", 5}}, 8, 40, 0.05);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 3}, {"pricing", "on_demand"}},
                            {{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"}}});
  const json clean = results_of(s);
  const double end = clean["simulated_s"].get<double>();
  s["fleet"][1]["preemption"] = {{"model", "trace"}, {"boot_s", 0},
                                 {"trace", write_temp("diloco.csv", fmt::format("0,1\n{},0\n{},1\n", end * 300, end * 500))}};
  s["faults"] = {{"retry_after_s", 0.001}};
  const auto run = testing::run_captured(s);
  const auto& f = run.results["faults"];
  EXPECT_EQ(f["preemptions"], 1);
  EXPECT_EQ(f["restarts"], 1);
  bool joined = false;
  for (const auto& e : f["events"]) joined = joined || (e["event"] == "joined" && e["cause"] == "state from r0:0");
  EXPECT_TRUE(joined);
  EXPECT_EQ(run.results["faults"]["lost_samples"].get<double>() > 0, true);
  ASSERT_FALSE(run.params.empty());  // finite parameters after the run
  // It still learns: within 10% of the fault-free run's final test loss.
  EXPECT_LT(run.results["convergence"]["final_test_loss"].get<double>(),
            1.1 * clean["convergence"]["final_test_loss"].get<double>());
}

TEST(Faults, BadFaultInputIsNamed) {
  const auto message = [](const json& s) { return testing::parse_error(s); };
  json s = base_scenario(10);
  s["fleet"][0]["preemption"] = {{"model", "hazard"}, {"rate_per_hour", 1}};
  EXPECT_EQ(message(s), "f.json: /fleet/0/preemption/model: \"hazard\": only spot instances are preempted; set the "
                        "fleet entry's \"pricing\": \"spot\" or model \"none\"");
  s["fleet"][0]["pricing"] = "spot";
  s["strategy"] = {{"name", "gossip"}};
  s["checkpoint"] = {{"every_steps", 5}, {"store_region", "r0"}, {"write_Gbps", 8}, {"read_Gbps", 8}};
  EXPECT_EQ(message(s), "f.json: /checkpoint: strategy \"gossip\": gossip writes no checkpoints (a returning worker "
                        "copies a live peer); remove \"checkpoint\"");
  s.erase("checkpoint");
  s["strategy"] = {{"name", "ddp"}};
  s["fleet"][0]["preemption"] = {{"model", "trace"}, {"trace", write_temp("bad.csv", "0,2\n-5,1\n")}};
  EXPECT_NE(message(s).find("bad.csv: line 2: -5,1: expected rows"), std::string::npos) << message(s);
  s["fleet"][0]["preemption"] = {{"model", "hazard"}, {"rate_per_hour", 1}};
  s["faults"] = {{"links", {{{"between", {"r0", "r9"}}}}}};
  EXPECT_NE(message(s).find("/faults/links/0/between"), std::string::npos) << message(s);
}

}  // namespace
}  // namespace geotrain

namespace geotrain {
namespace {

TEST(Faults, ACheckpointToAnUnreachableStoreIsSkippedNotFatal) {
  // All four workers in r0, the store in r1, and the r0-r1 link down from 0.5 s to 1.5 s:
  // the rounds never cross the link, the checkpoints do.  Those due while it is down fail and
  // are skipped (an event says so); the run finishes and later checkpoints land again.
  json s = base_scenario(40);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", s["fleet"][0]["instance"]}, {"count", 4}}});
  s["checkpoint"] = {{"every_steps", 2}, {"store_region", "r1"}, {"write_Gbps", 8}, {"read_Gbps", 8}};
  const double end_s = results_of(s)["simulated_s"].get<double>();
  ASSERT_GT(end_s, 1.5);  // the window lies inside the run
  s["faults"] = {{"links", {{{"between", {"r0", "r1"}}, {"down", {{0.5, 1.5}}}}}}};
  const json r = results_of(s);
  EXPECT_TRUE(r["stop_reason"].is_null()) << r["stop_reason"];
  int failed = 0;
  double last_failed_s = 0;
  for (const auto& e : r["faults"]["events"])
    if (e["event"] == "checkpoint failed") {
      ++failed;
      last_failed_s = e["time_s"].get<double>();
      EXPECT_GE(last_failed_s, 0.5);
      EXPECT_LE(last_failed_s, 1.5);
    }
  EXPECT_GE(failed, 1);
  EXPECT_GT(r["faults"]["checkpoint_bytes"].get<double>(), 0);
}

}  // namespace
}  // namespace geotrain
