// Gossip under faults: a preempted-and-returning worker still lets the pull form reach the
// known optimum, no exchange targets a worker while it is down, a worker down at the end is left
// out of the deployed average, the push form stays deterministic, a pull whose peer dies ends
// (released or failed) instead of hanging, lost work is the work since the worker's last
// exchange, and a preemption at the very instant of a message to the worker is safe.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runtime/dataset.h"
#include "sim/isolate.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

std::string write_temp(const std::string& name, const std::string& text) {
  return testing::write_temp_file("geotrain_faults_gossip_test", name, text);
}

// A run's results, its trace's "gossip" spans and the deployed parameters.
struct Outcome {
  json results;
  json spans;  // [{name, worker rank, start_s, end_s}]
  std::vector<float> params;
};

Outcome run(const json& scenario) {
  const auto out = json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    testing::Capture capture(sim::make_strategy(s));
    const sim::RunOutput o = sim::run_strategy(s, capture);
    const json trace = json::parse(o.trace_json());
    json spans = json::array();
    for (const auto& e : trace["traceEvents"])
      if (e.value("cat", "") == "gossip")
        spans.push_back({e["name"], e["tid"], e["ts"].get<double>() / 1e6,
                         (e["ts"].get<double>() + e["dur"].get<double>()) / 1e6});
    return json{{"results", sim::deterministic_part(o.results)}, {"spans", spans}, {"params", capture.params}}.dump();
  }));
  return {out["results"], out["spans"], out["params"].get<std::vector<float>>()};
}

// Gossip spans whose name starts with `prefix` (e.g. "pull from r1:1") and that start in [from, to].
int spans_starting(const json& spans, const std::string& prefix, double from, double to) {
  int n = 0;
  for (const auto& s : spans)
    n += s[0].get<std::string>().rfind(prefix, 0) == 0 && s[2].get<double>() >= from && s[2].get<double>() <= to;
  return n;
}

double event_time(const json& results, const std::string& event) {
  for (const auto& e : results["faults"]["events"])
    if (e["event"] == event) return e["time_s"].get<double>();
  ADD_FAILURE() << "no \"" << event << "\" event";
  return 0;
}

// The fault-free gossip convergence scenario (tests/strategies_test.cc): 2 regions x 2 workers,
// linear regression on 8 features, 400 steps of batch 16; r1:1 is a spot instance of its own.
json linear_scenario(const std::string& form) {
  testing::UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  const json model = {{"type", "linear_regression"}};
  const json data = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 2048}};
  json s = testing::real_scenario(net, model, data, {{"name", "gossip"}, {"form", form}}, 16, 400, 0.05);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 2}, {"pricing", "on_demand"}},
                            {{"region", "r1"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "on_demand"}},
                            {{"region", "r1"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"}}});
  return s;
}

// r1:1 down from `down` to `up` (fractions of the fault-free run's time), back with no boot time.
json with_outage(json s, double down, double up, const std::string& file) {
  const double end_ms = run(s).results["simulated_s"].get<double>() * 1000;
  s["fleet"][2]["preemption"] = {
      {"model", "trace"}, {"boot_s", 0},
      {"trace", write_temp(file, fmt::format("0,1\n{},0\n{},1\n", down * end_ms, up * end_ms))}};
  return s;
}

TEST(GossipFaults, PullFormWithAWorkerPreemptedAndBackReachesTheKnownOptimum) {
  const json s = with_outage(linear_scenario("pull"), 0.3, 0.5, "pull.csv");
  const Outcome r = run(s);
  const auto& f = r.results["faults"];
  EXPECT_EQ(f["preemptions"], 1);
  EXPECT_EQ(f["restarts"], 1);
  // Every worker takes its 400 steps (the returning one resumes where it stopped): 400 rows.
  EXPECT_EQ(r.results["steps"], 400);
  const double down = event_time(r.results, "preempted"), joined = event_time(r.results, "joined");
  EXPECT_LT(down, joined);
  for (const auto& e : f["events"]) {
    const std::string cause = e["cause"];
    if (e["event"] == "joined") EXPECT_EQ(cause.rfind("state from r", 0), 0u) << cause;
  }
  // Nobody pulls from r1:1 while it is down or reloading state; it is pulled from before and after.
  EXPECT_EQ(spans_starting(r.spans, "pull from r1:1", down, joined), 0);
  EXPECT_GT(spans_starting(r.spans, "pull from r1:1", 0, down), 10);
  EXPECT_GT(spans_starting(r.spans, "pull from r1:1", joined, 1e9), 10);
  // The fault-free test's tolerances.
  EXPECT_LT(testing::distance_to_optimum(r.params, s, 8), 1e-3);
  EXPECT_LT(r.results["convergence"]["final_test_loss"].get<double>(), 1e-6);
}

TEST(GossipFaults, AWorkerDownAtTheEndTookItsReplicaWithIt) {
  // r1:1 goes down for good 2% into the run, its replica still far from the optimum: the
  // deployed model is the average of the three serving workers', which do reach it.
  json s = linear_scenario("pull");
  const double end_ms = run(s).results["simulated_s"].get<double>() * 1000;
  s["fleet"][2]["preemption"] = {{"model", "trace"},
                                 {"trace", write_temp("gone.csv", fmt::format("0,1\n{},0\n", 0.02 * end_ms))}};
  const Outcome r = run(s);
  EXPECT_EQ(r.results["faults"]["restarts"], 0);
  EXPECT_LT(testing::distance_to_optimum(r.params, s, 8), 1e-3);
}

TEST(GossipFaults, PushFormWithAPreemptionFinishesDeterministically) {
  const json s = with_outage(linear_scenario("push"), 0.3, 0.5, "push.csv");
  const Outcome a = run(s), b = run(s);
  EXPECT_EQ(a.results.dump(), b.results.dump());
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.results["faults"]["preemptions"], 1);
  // The run's rows: as many as without the preemption (the end-of-run row included).
  EXPECT_EQ(a.results["steps"], run(linear_scenario("push")).results["steps"]);
  const double down = event_time(a.results, "preempted"), joined = event_time(a.results, "joined");
  EXPECT_EQ(spans_starting(a.spans, "push to r1:1", down, joined), 0);
  EXPECT_GT(spans_starting(a.spans, "push to r1:1", joined, 1e9), 10);
  EXPECT_LT(testing::distance_to_optimum(a.params, s, 8), 1e-3);
}

// Two size-only workers in two regions 40 ms apart: a pull is a 40 ms request and a 40 ms reply
// (4 MB at 10 Gbit/s), so r0:0 is almost always waiting on r1:0.  r1:0 is a spot instance
// preempted for good at `down_s` (none: never).
json two_region_pair(double down_s) {
  testing::UniformNet net;
  net.regions = 2;
  net.workers_per_region = 1;
  json s = testing::uniform_scenario(net, 1e6, "ring");
  s["workload"]["steps"] = 60;
  s["strategy"] = {{"name", "gossip"}};
  s["fleet"][1]["pricing"] = "spot";
  const std::string trace = down_s > 0 ? fmt::format("0,1\n{},0\n", down_s * 1000) : "0,1\n";
  s["fleet"][1]["preemption"] = {{"model", "trace"}, {"trace", write_temp(fmt::format("pair{}.csv", down_s), trace)}};
  return s;
}

// The span of r0:0's pull from r1:0 that is in flight at time t.
json pull_in_flight(const json& spans, double t) {
  for (const auto& s : spans)
    if (s[0] == "pull from r1:0" && s[1] == 0 && s[2].get<double>() < t && s[3].get<double>() > t) return s;
  ADD_FAILURE() << "no pull in flight at " << t;
  return json::array({"", 0, 0.0, 0.0});
}

TEST(GossipFaults, APullWhosePeerDiesIsSkippedNotHung) {
  const json clean = run(two_region_pair(0)).spans;
  const json p = pull_in_flight(clean, 2.0);
  const double start = p[2], end = p[3];
  ASSERT_GT(end - start, 0.08);  // request and reply each cross the 40 ms WAN link
  // Dies while the request flies: its reply never comes, r0:0 is released when the peer goes down
  // (after the injector-to-r0:0 LAN latency).  Dies while the reply flies: the transfer fails
  // when it would have ended.
  for (const double down : {start + 0.01, end - 0.001}) {
    const Outcome r = run(two_region_pair(down));
    EXPECT_EQ(r.results["gossip"]["failed_exchanges"], 1) << down;
    EXPECT_TRUE(r.results["stop_reason"].is_null()) << down;
    int failed = 0;
    for (const auto& s : r.spans) {
      if (s[0] != "pull from r1:0 (failed)") continue;
      ++failed;
      EXPECT_DOUBLE_EQ(s[2].get<double>(), start);
      if (down < start + 0.04) EXPECT_NEAR(s[3].get<double>(), down, 1e-3);
      else EXPECT_NEAR(s[3].get<double>(), end, 1e-6);
    }
    EXPECT_EQ(failed, 1);
    // Alone afterwards, r0:0 skips its exchanges (and the run ends: no stop reason above).
    EXPECT_EQ(spans_starting(r.spans, "pull from r1:0", down, 1e9), 0);
    EXPECT_GT(spans_starting(r.spans, "pull from r1:0", 0, down), 10);
  }
}

TEST(GossipFaults, LostWorkIsTheWorkSinceTheLastExchange) {
  // Size-only, one region, 1 s per step (8 samples x 6.25e12 FLOP at 5e13 FLOP/s), exchanges of
  // 4 kB every 10 steps.  r0:1 is preempted at 23.5 s: 23 steps done, its last exchange after the
  // 20th, so 3 steps of 8 samples are lost; it is back at 30 s and finishes its 40 steps.
  testing::UniformNet net;
  net.workers_per_region = 2;
  for (const std::string form : {"pull", "push"}) {
    json s = testing::uniform_scenario(net, 1000, "ring");
    s["workload"]["model"]["flops_per_sample"] = 6.25e12;
    s["workload"]["steps"] = 40;
    s["strategy"] = {{"name", "gossip"}, {"form", form}, {"period", 10}};
    s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "on_demand"}},
                              {{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"},
                               {"preemption", {{"model", "trace"}, {"boot_s", 0},
                                               {"trace", write_temp("lost.csv", "0,1\n23500,0\n30000,1\n")}}}}});
    const Outcome r = run(s);
    const auto& f = r.results["faults"];
    EXPECT_EQ(f["preemptions"], 1) << form;
    EXPECT_EQ(f["lost_samples"].get<double>(), 3 * 8) << form;
    EXPECT_NEAR(f["lost_compute_s"].get<double>(), 3.0, 1e-9) << form;
    EXPECT_EQ(r.results["steps"], 40) << form;
    EXPECT_EQ(r.results["gossip"]["failed_exchanges"], 0) << form;
  }
}


TEST(GossipFaults, APreemptionAtTheInstantOfAMessageToTheWorker) {
  // Peers must stop choosing a worker before its host goes off: SimGrid aborts the simulation
  // when a message is handed to an actor that the host's death killed a moment earlier.
  // r0:3 is preempted exactly when a peer starts an exchange with it (and back 1 ms later).
  testing::UniformNet net;
  net.workers_per_region = 4;
  for (const std::string form : {"pull", "push"}) {
    json s = testing::uniform_scenario(net, 2e6, "ring");
    s["workload"]["steps"] = 60;
    s["strategy"] = {{"name", "gossip"}, {"form", form}};
    s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 3}, {"pricing", "on_demand"}},
                              {{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"}}});
    auto preempt_at = [&s](double t) {
      const std::string trace = t > 0 ? fmt::format("0,1\n{},0\n{},1\n", t * 1000, t * 1000 + 1) : "0,1\n";
      s["fleet"][1]["preemption"] = {{"model", "trace"}, {"boot_s", 0}, {"trace", write_temp("instant.csv", trace)}};
      return run(s);
    };
    std::vector<double> starts;  // exchanges with r0:3 whose time the trace's milliseconds hit exactly
    for (const auto& sp : preempt_at(0).spans) {
      const double t = sp[2];
      if (sp[0] == (form == "pull" ? "pull from r0:3" : "push to r0:3") && t * 1000 / 1000 == t) starts.push_back(t);
    }
    ASSERT_GT(starts.size(), 40u) << form;
    for (std::size_t i = 0; i < starts.size() / 2; i += starts.size() / 24) {  // back before the end
      const Outcome r = preempt_at(starts[i]);
      EXPECT_EQ(event_time(r.results, "preempted"), starts[i]) << form;
      EXPECT_EQ(r.results["faults"]["restarts"], 1) << form;
      EXPECT_TRUE(r.results["stop_reason"].is_null()) << form;
    }
  }
}

}  // namespace
}  // namespace geotrain
