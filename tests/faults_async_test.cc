// Faults of the server-based strategies (sim/resilience/server_link.h): asynchronous and
// synchronous parameter servers going on with the live workers (against sequential SGD, elastic
// DDP and hand-stepped groups, a returning worker included), replies that never reach a dead
// incarnation, server down windows with and without checkpoints, EASGD through a preemption and
// a center failure, bad input.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runtime/dataset.h"
#include "sim/isolate.h"
#include "sim/json_reader.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/training.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

std::string write_temp(const std::string& name, const std::string& text) {
  return testing::write_temp_file("geotrain_faults_async_test", name, text);
}

json results_of(const json& scenario) {
  return json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    return sim::deterministic_part(sim::run_scenario(s).results).dump();
  }));
}

// Results and the trace's "down" spans ([tid, start_us, end_us]).
std::pair<json, json> results_and_down_spans(const json& scenario) {
  const json out = json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    const auto run = sim::run_scenario(s);
    json spans = json::array();
    const json trace = json::parse(run.trace_json());
    for (const auto& e : trace["traceEvents"])
      if (e.value("cat", "") == "down") spans.push_back({e["tid"], e["ts"], e["ts"].get<double>() + e["dur"].get<double>()});
    return json{{"results", sim::deterministic_part(run.results)}, {"spans", spans}}.dump();
  }));
  return {out["results"], out["spans"]};
}

const json kLinear = {{"type", "linear_regression"}};
const json kSynthetic = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 512}, {"noise", 0.1}};

// `workers` workers in one region on an instance that computes at `flops` FLOP/s (linear
// regression: compute far longer than the LAN's messages, so rounds are regular).
json slow_scenario(int workers, const json& strategy, int steps, double flops) {
  testing::UniformNet net;
  net.regions = 1;
  net.workers_per_region = workers;
  json s = testing::real_scenario(net, kLinear, kSynthetic, strategy, 8, steps, 0.05);
  s["topology"]["instance_types"]["gpu"]["gpu_peak_tflops"] = flops * 1e-12;
  s["topology"]["instance_types"]["gpu"]["utilization"] = 1.0;
  return s;
}

// One spot fleet entry of `workers` instances whose availability is the events trace `trace`
// (instance i is the i-th node the trace names); returning instances boot at once.
void spot_fleet(json& s, int workers, const std::string& file, const std::string& trace) {
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", workers}, {"pricing", "spot"},
                             {"preemption", {{"model", "trace"}, {"boot_s", 0}, {"trace", write_temp(file, trace)}}}}});
}

std::vector<std::string> events_of(const json& results, const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& e : results["faults"]["events"])
    if (e["event"] == kind) out.push_back(e["worker"].get<std::string>() + ": " + e["cause"].get<std::string>());
  return out;
}

TEST(FaultsAsync, PsWithTheOtherWorkerDownAllAlongEqualsSequentialSgdOfTheLiveOne) {
  // Worker 1's instance is never available: worker 0 takes the whole budget (steps x 2 worker
  // steps), each a pull, a gradient and a push applied at once: plain SGD on worker 0's shard.
  constexpr int kSteps = 15;
  testing::UniformNet net;
  net.workers_per_region = 2;
  json s = testing::real_scenario(net, kLinear, kSynthetic, {{"name", "parameter_server"}}, 16, kSteps, 0.05);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "on_demand"}},
                            {{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"},
                             {"preemption", {{"model", "trace"}, {"trace", write_temp("never.csv", "0,0\n")}}}}});
  const auto ps = testing::run_captured(s);
  const auto expected = json::parse(sim::run_isolated([&] {
    const sim::Scenario sc = sim::parse_scenario(s, "test.json");
    sim::Training training(sc, 2);
    auto trainer = training.make_trainer(0);
    for (int i = 0; i < 2 * kSteps; ++i) {
      trainer->forward_backward(16);
      trainer->optimizer_step(trainer->grads());
    }
    const auto v = trainer->params().values();
    return json(std::vector<float>(v.begin(), v.end())).dump();
  })).get<std::vector<float>>();
  ASSERT_FALSE(ps.params.empty());
  EXPECT_EQ(ps.params, expected);
  EXPECT_EQ(ps.results["staleness"]["updates"], 2 * kSteps);
  EXPECT_EQ(ps.results["staleness"]["max"], 0);
  EXPECT_EQ(ps.results["faults"]["availability"][1]["availability"], 0.0);
  EXPECT_EQ(ps.results["server_requests"]["failed_requests"], 0);
}

TEST(FaultsAsync, SyncPsGoesOnWithTheSurvivorsLikeElasticDdp) {
  // 4 workers, one shard; worker 3 is preempted for good in the middle of round k's compute.
  // Rounds before k average 4 gradients, the others the 3 survivors' (the server learns of the
  // death and does not wait for its push): the same as elastic DDP, and as the hand-stepped sums.
  constexpr int kSteps = 30, kRound = 12;
  json s = slow_scenario(4, {{"name", "parameter_server"}, {"mode", "sync"}}, kSteps, 1000);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 3}, {"pricing", "on_demand"}},
                            {{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"}}});
  const double round_s = results_of(s)["simulated_s"].get<double>() / kSteps;
  s["fleet"][1]["preemption"] = {
      {"model", "trace"}, {"trace", write_temp("sync.csv", fmt::format("0,1\n{},0\n", (kRound + 0.5) * round_s * 1000))}};
  const auto ps = testing::run_captured(s);
  EXPECT_EQ(ps.results["faults"]["preemptions"], 1);
  EXPECT_EQ(ps.results["server_requests"]["discarded_pushes"], 0);
  json ddp_scenario = s;
  ddp_scenario["strategy"] = {{"name", "ddp"}};
  const auto ddp = testing::run_captured(ddp_scenario);
  const auto ref = testing::hand_stepped_mean_sgd(s, 4, kSteps, 8, [](int step) { return step < kRound ? 4 : 3; });
  EXPECT_LT(testing::max_rel_diff(ps.params, ref), 1e-5);
  EXPECT_LT(testing::max_rel_diff(ps.params, ddp.params), 1e-5);
  // Without the preemption the parameters differ (the test sees the smaller group).
  EXPECT_GT(testing::max_rel_diff(testing::run_captured(slow_scenario(4, s["strategy"], kSteps, 1000)).params, ref), 1e-4);
}

TEST(FaultsAsync, SyncPsTakesAReturningWorkerIntoTheRoundOpenAtItsFirstPull) {
  // 3 workers, one shard.  Worker 2 dies in the middle of round 6's compute and is back in the
  // middle of round 12's: rounds 0-5 average 3 gradients, rounds 6-11 the 2 survivors', and
  // from round 12 on 3 again (its first pull is answered at once with round 12's parameters and
  // the round waits for its push).  Its trainer resumes its data where it stopped (the batch of
  // round 6 was drawn and lost).
  constexpr int kSteps = 20, kDown = 6, kBack = 12;
  json s = slow_scenario(3, {{"name", "parameter_server"}, {"mode", "sync"}}, kSteps, 1000);
  const double round_s = results_of(s)["simulated_s"].get<double>() / kSteps;
  spot_fleet(s, 3, "rejoin.csv",
             fmt::format("0,add,a\n0,add,b\n0,add,c\n{},remove,c\n{},add,c\n", (kDown + 0.5) * round_s * 1000,
                         (kBack + 0.5) * round_s * 1000));
  const auto ps = testing::run_captured(s);
  EXPECT_EQ(ps.results["faults"]["restarts"], 1);
  EXPECT_EQ(ps.results["server_requests"]["discarded_pushes"], 0);
  const auto ref = testing::hand_stepped_mean_sgd(
      s, 3, kSteps, 8, [](int step) { return step < kDown || step >= kBack ? 3 : 2; },
      [](int step, auto& t) {
        if (step == kDown) t[2]->forward_backward(8);  // drawn, never pushed
      });
  EXPECT_LT(testing::max_rel_diff(ps.params, ref), 1e-5);
}

TEST(FaultsAsync, AsyncPsPreemptionAndReturnNeverAnswersADeadIncarnation) {
  // The shard checkpoints after every push to a slow store, so pulls queue behind the writes;
  // worker 1 dies while its pull waits there and comes back later.  The shard must not answer the
  // dead incarnation (its answer is withheld), the new one gets fresh answers only, and the step
  // the dead one claimed goes back to the budget: every worker-step is applied once.
  constexpr int kSteps = 20;
  json s = slow_scenario(2, {{"name", "parameter_server"}}, kSteps, 1000);
  s["checkpoint"] = {{"every_steps", 1}, {"store_region", "r0"}, {"write_Gbps", 1e-6}, {"read_Gbps", 1}};
  const double end = results_of(s)["simulated_s"].get<double>();
  spot_fleet(s, 2, "async.csv",
             fmt::format("0,add,a\n0,add,b\n{},remove,b\n{},add,b\n", 0.3 * end * 1000, 0.6 * end * 1000));
  const json r = results_of(s);
  EXPECT_EQ(r.dump(), results_of(s).dump());  // deterministic
  EXPECT_EQ(r["stop_reason"], nullptr);
  EXPECT_EQ(r["faults"]["preemptions"], 1);
  EXPECT_EQ(r["faults"]["restarts"], 1);
  EXPECT_GE(r["server_requests"]["replies_withheld"].get<int>(), 1);
  EXPECT_EQ(r["server_requests"]["stale_replies_dropped"], 0);
  EXPECT_EQ(r["staleness"]["updates"], 2 * kSteps);
  EXPECT_GE(r["staleness"]["max"].get<int>(), 1);
}

// Asynchronous PS, 2 workers, the shard down from 30% of the fault-free run for `down_s`.
json server_down_scenario(double down_s, double* clean_s) {
  json s = slow_scenario(2, {{"name", "parameter_server"}}, 40, 1000);
  *clean_s = results_of(s)["simulated_s"].get<double>();
  s["faults"] = {{"retry_after_s", 0.5}, {"servers", {{{"shard", 0}, {"down_at_s", 0.3 * *clean_s}, {"for_s", down_s}}}}};
  return s;
}

TEST(FaultsAsync, AServerDownWithoutCheckpointDelaysTheRunAndRestartsFromTheInitialModel) {
  constexpr double kDownS = 10;
  double clean = 0;
  const json s = server_down_scenario(kDownS, &clean);
  const auto [r, spans] = results_and_down_spans(s);
  // Workers retry every 0.5 s while it is down, then redo at most the step the failure cut.
  const double delay = r["simulated_s"].get<double>() - clean;
  EXPECT_GT(delay, kDownS - 1);
  EXPECT_LT(delay, kDownS + 1.5);
  EXPECT_EQ(events_of(r, "restarted"),
            std::vector<std::string>{"server:0: server restarted from the initial model, no checkpoint"});
  EXPECT_EQ(events_of(r, "down"), std::vector<std::string>{"server:0: server fault"});
  EXPECT_EQ(r["staleness"]["updates"], 80);  // no worker-step lost: failed pushes were retried
  EXPECT_GT(r["server_requests"]["failed_requests"].get<int>(), 2);
  ASSERT_EQ(spans.size(), 1u);  // the server's track (node 2) is down for the window
  EXPECT_EQ(spans[0][0], 2);
  EXPECT_NEAR(spans[0][1].get<double>(), 0.3 * clean * 1e6, 1);
  EXPECT_NEAR(spans[0][2].get<double>() - spans[0][1].get<double>(), kDownS * 1e6, 1);
}

TEST(FaultsAsync, AServerDownWithCheckpointResumesFromItsCheckpoint) {
  constexpr double kDownS = 10;
  double clean_s = 0;
  json s = server_down_scenario(kDownS, &clean_s);
  json clean = s;
  clean.erase("faults");
  const double clean_loss = results_of(clean)["convergence"]["final_test_loss"].get<double>();
  const double lost_loss = results_of(s)["convergence"]["final_test_loss"].get<double>();
  s["checkpoint"] = {{"every_steps", 5}, {"store_region", "r0"}, {"write_Gbps", 8}, {"read_Gbps", 8}};
  const json r = results_of(s);
  const auto restarted = events_of(r, "restarted");
  ASSERT_EQ(restarted.size(), 1u);
  const std::string prefix = "server:0: server restarted from its checkpoint at version ";
  ASSERT_EQ(restarted[0].rfind(prefix, 0), 0u) << restarted[0];
  const long version = std::stol(restarted[0].substr(prefix.size()));
  EXPECT_GT(version, 0);
  EXPECT_EQ(version % 5, 0);
  // Linear regression on 8 features, SGD: a shard of 9 fp32 values, 36 bytes per checkpoint;
  // the writes (every 5 updates of either life) and one read.
  const auto bytes = r["faults"]["checkpoint_bytes"].get<std::uint64_t>();
  EXPECT_EQ(bytes % 36, 0u);
  EXPECT_GE(bytes / 36, static_cast<std::uint64_t>(version / 5 + 1));
  EXPECT_GT(r["faults"]["checkpoint_usd"].get<double>(), 0);
  // Resuming from the checkpoint loses a few updates; restarting from the initial model loses
  // all those before the failure.
  const double loss = r["convergence"]["final_test_loss"].get<double>();
  EXPECT_LT(loss, 1.2 * clean_loss);
  EXPECT_LT(loss, lost_loss);
}

// The existing EASGD convergence setup (strategies_test.cc): 4 workers in 2 regions.
json easgd_scenario() {
  testing::UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  const json data = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 2048}};
  return testing::real_scenario(net, kLinear, data, {{"name", "easgd"}, {"tau", 4}, {"beta", 0.2}}, 16, 400, 0.05);
}

TEST(FaultsAsync, EasgdThroughAPreemptionStillReachesTheOptimum) {
  json s = easgd_scenario();
  const double end = results_of(s)["simulated_s"].get<double>();
  s["fleet"][1]["pricing"] = "spot";  // r1's two workers; the second is away from 30% to 50%
  s["fleet"][1]["preemption"] = {
      {"model", "trace"}, {"boot_s", 0},
      {"trace", write_temp("easgd.csv", fmt::format("0,add,a\n0,add,b\n{},remove,b\n{},add,b\n", 300 * end, 500 * end))}};
  const auto r = testing::run_captured(s);
  EXPECT_EQ(r.results["faults"]["preemptions"], 1);
  EXPECT_EQ(events_of(r.results, "joined"), std::vector<std::string>{"r1:1: state from the center (server:0)"});
  EXPECT_LT(testing::distance_to_optimum(r.params, s), 1e-3);
  EXPECT_LT(r.results["convergence"]["final_test_loss"].get<double>(), 1e-6);
}

TEST(FaultsAsync, EasgdWithItsCenterDownForAWhileFinishes) {
  json s = easgd_scenario();
  const double end = results_of(s)["simulated_s"].get<double>();
  s["faults"] = {{"retry_after_s", 0.01}, {"servers", {{{"down_at_s", 0.3 * end}, {"for_s", 0.2 * end}}}}};
  const auto r = testing::run_captured(s);
  EXPECT_EQ(r.results["stop_reason"], nullptr);
  EXPECT_GT(r.results["simulated_s"].get<double>(), 1.2 * end);
  EXPECT_EQ(events_of(r.results, "restarted"),
            std::vector<std::string>{"server:0: server restarted from the initial model, no checkpoint"});
  // The replicas pull the restarted center back to them: still at the optimum.
  EXPECT_LT(testing::distance_to_optimum(r.params, s), 1e-3);
}

TEST(FaultsAsync, EasgdsCenterResumesFromItsCheckpoint) {
  json s = easgd_scenario();
  // Momentum on the workers: the center still holds no optimizer state (nothing steps it).
  s["workload"]["optimizer"] = {{"name", "momentum"}, {"lr", 0.05}, {"momentum", 0.5}};
  const double end = results_of(s)["simulated_s"].get<double>();
  s["faults"] = {{"retry_after_s", 0.01}, {"servers", {{{"down_at_s", 0.3 * end}, {"for_s", 0.2 * end}}}}};
  s["checkpoint"] = {{"every_steps", 7}, {"store_region", "r0"}, {"write_Gbps", 8}, {"read_Gbps", 8}};
  const json r = results_of(s);
  const auto restarted = events_of(r, "restarted");
  ASSERT_EQ(restarted.size(), 1u);
  const std::string prefix = "server:0: server restarted from its checkpoint after ";
  ASSERT_EQ(restarted[0].rfind(prefix, 0), 0u) << restarted[0];
  const long pushes = std::stol(restarted[0].substr(prefix.size()));
  EXPECT_GT(pushes, 0);
  EXPECT_EQ(pushes % 7, 0);
  EXPECT_EQ(restarted[0].substr(restarted[0].size() - 7), " pushes");
  // The center of a linear regression on 8 features: 9 fp32 values, 36 bytes per checkpoint
  // (the writes, every 7 pushes applied in either life, and one read).
  const auto bytes = r["faults"]["checkpoint_bytes"].get<std::uint64_t>();
  EXPECT_EQ(bytes % 36, 0u);
  EXPECT_GE(bytes / 36, static_cast<std::uint64_t>(pushes / 7 + 1));
}

TEST(FaultsAsync, BadServerFaultInputIsNamed) {
  const auto message = [](const json& s) { return testing::parse_error(s); };
  json s = slow_scenario(2, {{"name", "parameter_server"}, {"shards", 2}}, 5, 1000);
  s["faults"] = {{"servers", {{{"shard", 2}, {"down_at_s", 1}, {"for_s", 5}}}}};
  EXPECT_EQ(message(s), "f.json: /faults/servers/0/shard: 2: expected a shard of strategy \"parameter_server\": 0 to 1");
  s["faults"] = {{"servers", {{{"shard", 1}, {"down_at_s", -1}, {"for_s", 5}}}}};
  EXPECT_NE(message(s).find("f.json: /faults/servers/0/down_at_s: -1"), std::string::npos) << message(s);
  s["faults"] = {{"servers", {{{"down_at_s", 1}, {"for_s", 0}}}}};
  EXPECT_NE(message(s).find("f.json: /faults/servers/0/for_s: 0"), std::string::npos) << message(s);
  s["faults"] = {{"servers", {{{"down_at_s", 1}, {"for_s", 5}}, {{"shard", 1}, {"down_at_s", 3}, {"for_s", 1}}}}};
  EXPECT_NE(message(s).find("f.json: /faults/servers/1: "), std::string::npos) << message(s);
  EXPECT_NE(message(s).find("neither overlap nor touch"), std::string::npos) << message(s);
  // Touching windows ([1, 6] then [6, 7]) would bring the shard up and down at the same instant.
  s["faults"] = {{"servers", {{{"shard", 1}, {"down_at_s", 1}, {"for_s", 5}}, {{"shard", 1}, {"down_at_s", 6}, {"for_s", 1}}}}};
  EXPECT_NE(message(s).find("f.json: /faults/servers/1: "), std::string::npos) << message(s);
  // A down link would lose a request with nothing to release its requester: refused.
  json e = easgd_scenario();  // two regions, so a WAN link
  e["faults"] = {{"links", {{{"between", {"r0", "r1"}}, {"down", {{1, 2}}}}}}};
  EXPECT_EQ(message(e), "f.json: /faults/links/0/down: strategy \"easgd\": link down windows are not "
                        "modeled for parameter_server, easgd and gossip yet (a request lost on a down link would "
                        "wait for its reply until the time limit); use bandwidth and latency profiles, or a "
                        "strategy with group rounds");
  e["faults"] = {{"links", {{{"between", {"r0", "r1"}}, {"bandwidth", {{1, 0.5}}}}}}};
  EXPECT_EQ(message(e), "no error");
  s["faults"] = {{"servers", {{{"down_at_s", 1}, {"for_s", 5}, {"shrad", 0}}}}};
  EXPECT_NE(message(s).find("/faults/servers/0/shrad"), std::string::npos) << message(s);
  s["faults"] = {{"servers", {{{"down_at_s", 1}, {"for_s", 5}}}}};
  s["strategy"] = {{"name", "ddp"}};
  EXPECT_EQ(message(s), "f.json: /faults/servers: strategy \"ddp\": server faults need a strategy with servers: "
                        "parameter_server (its shards) or easgd (its center, shard 0)");
}

}  // namespace
}  // namespace geotrain
