// Faults in the synchronous strategies beyond DDP and DiLoCo (PALSGD, PacTrain, Top-k, DGC):
// under the same preemptions each equals the strategy it reduces to (PALSGD with p = 0 and
// DiLoCo, PacTrain with no pruning and elastic DDP, Top-k with k = N and elastic DDP); DGC
// survives a preemption deterministically; "wait" costs the downtime that "elastic" saves; a
// PacTrain worker back after the pruning, or a group rolled back to a checkpoint, keeps the mask.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "kernels/sparse.h"
#include "sim/isolate.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;
using testing::max_rel_diff;

std::string write_temp(const std::string& name, const std::string& text) {
  return testing::write_temp_file("geotrain_faults_sync_test", name, text);
}

json four_workers(const json& strategy, int steps) { return testing::four_linear_workers(strategy, steps); }

// Worker 3 goes down in the middle of step `down_step` and comes back (boots in no time) in the
// middle of step `up_step` (never when negative), steps of `step_s` (a fault-free run's).
json add_outage(json s, const std::string& trace_name, double step_s, int down_step, int up_step) {
  std::string trace = fmt::format("0,1\n{},0\n", (down_step + 0.5) * step_s * 1000);
  if (up_step >= 0) trace += fmt::format("{},1\n", (up_step + 0.5) * step_s * 1000);
  s["fleet"][1]["preemption"] = {{"model", "trace"}, {"boot_s", 0}, {"trace", write_temp(trace_name, trace)}};
  s["faults"] = {{"retry_after_s", 0.001}};
  return s;
}

// Largest |a - b| over the largest |b|: a relative error of the whole vector, which entries near
// zero do not inflate.
double rel_to_largest(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, largest = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    diff = std::max(diff, std::abs(double{a[i]} - b[i]));
    largest = std::max(largest, std::abs(double{b[i]}));
  }
  return diff / largest;
}

// Positions of the entries that are exactly zero.
std::vector<std::size_t> zeros_of(const std::vector<float>& v) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] == 0.0f) out.push_back(i);
  return out;
}

json results_of(const json& scenario) {
  return json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    return sim::deterministic_part(sim::run_scenario(s).results).dump();
  }));
}

double step_s_of(const json& scenario) {
  return results_of(scenario)["simulated_s"].get<double>() / scenario["workload"]["steps"].get<double>();
}

// The faults block's events of one kind (with the cause, for "joined").
std::vector<std::string> events_of(const json& results, const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& e : results["faults"]["events"])
    if (e["event"] == kind) out.push_back(e["worker"].get<std::string>() + " " + e["cause"].get<std::string>());
  return out;
}

// Runs the scenario keeping every worker's parameters at the end, not only the deployed model.
struct Replicas {
  json results;
  std::vector<std::vector<float>> params;
};

class CaptureReplicas final : public testing::Wrapped {
 public:
  using Wrapped::Wrapped;
  void finish(sim::World& w) override {
    for (const auto& t : w.trainers) {
      const auto v = t->params().values();
      params.emplace_back(v.begin(), v.end());
    }
  }
  std::vector<std::vector<float>> params;
};

Replicas run_replicas(const json& scenario) {
  const auto out = json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    CaptureReplicas capture(sim::make_strategy(s));
    auto results = sim::run_strategy(s, capture).results;
    return json{{"results", results}, {"params", capture.params}}.dump();
  }));
  return {out["results"], out["params"].get<std::vector<std::vector<float>>>()};
}

TEST(FaultsSync, PalsgdWithP0EqualsDilocoUnderTheSamePreemption) {
  const json outer = {{"name", "nesterov"}, {"lr", 0.7}, {"momentum", 0.9}};
  const json diloco = four_workers({{"name", "diloco"}, {"H", 5}, {"outer", outer}}, 40);
  const double step_s = step_s_of(diloco);
  // Down in outer round 1 (steps 5-9), back in round 4: it joins round 5 from the global copy.
  const auto a = testing::run_captured(add_outage(diloco, "palsgd.csv", step_s, 7, 22));
  const auto b = testing::run_captured(
      add_outage(four_workers({{"name", "palsgd"}, {"H", 5}, {"p", 0.0}, {"outer", outer}}, 40), "palsgd.csv", step_s, 7, 22));
  for (const auto* r : {&a, &b}) {
    EXPECT_EQ(r->results["faults"]["preemptions"], 1);
    EXPECT_EQ(r->results["faults"]["restarts"], 1);
    EXPECT_EQ(events_of(r->results, "joined"), std::vector<std::string>{"r0:3 state from r0:0"});
    EXPECT_GT(r->results["faults"]["lost_samples"].get<double>(), 0);  // its inner steps of round 1
  }
  ASSERT_FALSE(a.params.empty());
  EXPECT_LT(max_rel_diff(b.params, a.params), 1e-6);
  EXPECT_DOUBLE_EQ(b.results["simulated_s"].get<double>(), a.results["simulated_s"].get<double>());
  // The fault changed the run: the fault-free global copy differs.
  EXPECT_GT(max_rel_diff(testing::run_captured(diloco).params, a.params), 1e-4);
}

TEST(FaultsSync, PacTrainWithoutPruningEqualsElasticDdpUnderTheSamePreemption) {
  const json ddp = four_workers({{"name", "ddp"}, {"on_failure", "elastic"}}, 30);
  const double step_s = step_s_of(ddp);
  // Down in step 2 (of the 3 warm-up steps), back in step 12: it joins step 13 with its donor's
  // replica and mask (all ones).
  const auto a = testing::run_captured(add_outage(ddp, "pactrain.csv", step_s, 2, 12));
  const auto b = testing::run_captured(add_outage(
      four_workers({{"name", "pactrain"}, {"sparsity", 0.0}, {"warmup_steps", 3}, {"quantize", "none"}}, 30),
      "pactrain.csv", step_s, 2, 12));
  for (const auto* r : {&a, &b}) {
    EXPECT_EQ(r->results["faults"]["preemptions"], 1);
    EXPECT_EQ(events_of(r->results, "joined"), std::vector<std::string>{"r0:3 state from r0:0"});
    EXPECT_EQ(r->results["steps"], 30);
  }
  ASSERT_FALSE(a.params.empty());
  EXPECT_EQ(b.params, a.params);  // the same additions in the same order: bit for bit
  EXPECT_GT(max_rel_diff(testing::run_captured(ddp).params, a.params), 1e-4);
}

TEST(FaultsSync, TopkOfAllEntriesEqualsElasticDdpUnderTheSamePreemption) {
  const json ddp = four_workers({{"name", "ddp"}}, 30);
  const double step_s = step_s_of(ddp);
  const auto a = testing::run_captured(add_outage(ddp, "topk.csv", step_s, 6, 17));
  const auto b = testing::run_captured(
      add_outage(four_workers({{"name", "topk"}, {"ratio", 1.0}, {"error_feedback", false}}, 30), "topk.csv", step_s, 6, 17));
  for (const auto* r : {&a, &b}) {
    EXPECT_EQ(r->results["faults"]["preemptions"], 1);
    EXPECT_EQ(events_of(r->results, "joined"), std::vector<std::string>{"r0:3 state from r0:0"});
  }
  ASSERT_FALSE(a.params.empty());
  // The sum of 3 or 4 gradients in another order (rank order against the ring's).
  EXPECT_LT(rel_to_largest(b.params, a.params), 1e-5);
  EXPECT_GT(max_rel_diff(testing::run_captured(ddp).params, a.params), 1e-4);
}

TEST(FaultsSync, DgcSurvivesAPreemptionDeterministically) {
  const json s = four_workers({{"name", "dgc"}, {"ratio", 0.25}}, 40);
  const json clean = results_of(s);
  const json faulty = add_outage(s, "dgc.csv", step_s_of(s), 10, 20);
  const json a = results_of(faulty), b = results_of(faulty);
  EXPECT_EQ(a.dump(), b.dump());
  EXPECT_EQ(a["steps"], 40);
  EXPECT_EQ(a["faults"]["preemptions"], 1);
  EXPECT_EQ(a["faults"]["restarts"], 1);
  EXPECT_EQ(events_of(a, "preempted").size(), 1u);
  EXPECT_EQ(events_of(a, "back").size(), 1u);
  EXPECT_EQ(events_of(a, "joined"), std::vector<std::string>{"r0:3 state from r0:0"});
  // Worker 3's residual is lost with it and steps 10-20 average 3 gradients: the loss moves, by
  // less than 10% of the fault-free run's (6% here).
  const double clean_loss = clean["convergence"]["final_test_loss"].get<double>();
  const double loss = a["convergence"]["final_test_loss"].get<double>();
  EXPECT_NE(loss, clean_loss);
  EXPECT_NEAR(loss, clean_loss, 0.1 * clean_loss);
}

TEST(FaultsSync, PalsgdWorkersBackInTheWarmupOrAfterItEndInStep) {
  // Worker 3 is down during the DDP warm-up (steps 0-5) and again in the outer phase.  Back in
  // the warm-up it copies a replica; back later it takes the global copy and outer optimizer.
  json s = four_workers({{"name", "palsgd"}, {"H", 5}, {"p", 0.2}, {"eta", 0.5}, {"warmup_steps", 6}}, 31);
  const double step_s = step_s_of(s);
  const std::string trace = fmt::format("0,1\n{},0\n{},1\n{},0\n{},1\n", 1.5 * step_s * 1000, 3.5 * step_s * 1000,
                                        12.5 * step_s * 1000, 20.5 * step_s * 1000);
  s["fleet"][1]["preemption"] = {{"model", "trace"}, {"boot_s", 0}, {"trace", write_temp("palsgd2.csv", trace)}};
  s["faults"] = {{"retry_after_s", 0.001}};
  const auto r = run_replicas(s);
  EXPECT_EQ(r.results["faults"]["preemptions"], 2);
  EXPECT_EQ(events_of(r.results, "joined"), (std::vector<std::string>{"r0:3 state from r0:0", "r0:3 state from r0:0"}));
  // The last outer round sets every replica to its global copy: equal global copies (and outer
  // optimizers) on all four, the returned one included, give equal replicas bit for bit.
  ASSERT_EQ(r.params.size(), 4u);
  for (int w = 1; w < 4; ++w) EXPECT_EQ(r.params[w], r.params[0]) << "worker " << w;
  EXPECT_LT(r.results["convergence"]["final_test_loss"].get<double>(), 1.0);
}

TEST(FaultsSync, WaitingForTheReplacementCostsTheDowntime) {
  testing::UniformNet net;
  net.regions = 1;
  net.workers_per_region = 4;
  json s = testing::uniform_scenario(net, 1e6, "ring");
  s["workload"]["model"]["flops_per_sample"] = 2e12;  // 8 samples at 50 TFLOP/s: 0.32 s of compute a step
  s["workload"]["steps"] = 40;
  s["strategy"] = {{"name", "topk"}, {"ratio", 0.01}};
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 3}, {"pricing", "on_demand"}},
                            {{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"}}});
  const double clean = results_of(s)["simulated_s"].get<double>();
  const double step_s = clean / 40;
  constexpr double kDown_s = 3;
  const double down = 10.5 * step_s;  // the middle of step 10's compute
  s["fleet"][1]["preemption"] = {
      {"model", "trace"}, {"boot_s", 0},
      {"trace", write_temp("wait.csv", fmt::format("0,1\n{},0\n{},1\n", down * 1000, (down + kDown_s) * 1000))}};
  s["faults"] = {{"retry_after_s", 0.001}};
  s["strategy"]["on_failure"] = "elastic";
  const json elastic = results_of(s);
  s["strategy"]["on_failure"] = "wait";
  const json wait = results_of(s);
  EXPECT_EQ(wait["steps"], 40);
  EXPECT_EQ(elastic["steps"], 40);
  // Wait: the three others finish step 10's compute and wait; worker 3 comes back kDown_s after
  // the middle of step 10 and computes that step whole, so the run ends kDown_s + step_s / 2
  // late.  Elastic: the survivors go on without it and lose nothing.  Beside that, each run
  // differs by the returning worker's state pull (4 MB at 100 Gbit/s: 0.32 ms, plus latencies)
  // and elastic's all-gathers of 3 instead of 4 while it is away: well under 1 ms.
  constexpr double kSlack_s = 1e-3;
  EXPECT_NEAR(wait["simulated_s"].get<double>() - clean, kDown_s + step_s / 2, kSlack_s);
  EXPECT_NEAR(elastic["simulated_s"].get<double>(), clean, kSlack_s);
  EXPECT_NEAR(wait["simulated_s"].get<double>() - elastic["simulated_s"].get<double>(), kDown_s + step_s / 2,
              kSlack_s);
}

// PacTrain on 33 parameters (32 features and a bias), half pruned after a 3-step warm-up.
json pactrain_33(int steps) {
  json s = four_workers({{"name", "pactrain"}, {"sparsity", 0.5}, {"warmup_steps", 3}}, steps);
  s["workload"]["dataset"]["features"] = 32;
  return s;
}
constexpr std::size_t kPacParams = 33;

TEST(FaultsSync, APacTrainWorkerBackAfterThePruningHasItsDonorsMask) {
  const json s = pactrain_33(30);
  const auto clean = run_replicas(s);
  const double step_s = clean.results["simulated_s"].get<double>() / 30;
  const auto r = run_replicas(add_outage(s, "mask.csv", step_s, 8, 16));
  EXPECT_EQ(events_of(r.results, "joined"), std::vector<std::string>{"r0:3 state from r0:0"});
  const auto mask_zeros = zeros_of(clean.params[0]);
  ASSERT_EQ(mask_zeros.size(), kPacParams - kernels::pruning_kept_count(kPacParams, 0.5));
  ASSERT_EQ(r.params.size(), 4u);
  for (int w = 0; w < 4; ++w) {
    EXPECT_EQ(r.params[w], r.params[0]) << "worker " << w;  // replicas stay identical
    EXPECT_EQ(zeros_of(r.params[w]), mask_zeros) << "worker " << w;
  }
  EXPECT_NE(r.params[0], clean.params[0]);  // the fault changed the values, not the mask
}

TEST(FaultsSync, APacTrainGroupRolledBackToACheckpointKeepsItsMask) {
  json s = pactrain_33(30);
  const auto clean = run_replicas(s);
  const double step_s = clean.results["simulated_s"].get<double>() / 30;
  // All four preempted in the middle of step 12, back in the middle of step 14: the first one
  // back reloads the checkpoint of round 10 (written after the pruning), the others copy it.
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 4}, {"pricing", "spot"},
                             {"preemption", {{"model", "trace"}, {"boot_s", 0},
                                             {"trace", write_temp("rollback.csv", fmt::format("0,4\n{},0\n{},4\n",
                                                                                              12.5 * step_s * 1000,
                                                                                              14.5 * step_s * 1000))}}}}});
  s["checkpoint"] = {{"every_steps", 5}, {"store_region", "r0"}, {"write_Gbps", 8}, {"read_Gbps", 8}};
  s["faults"] = {{"retry_after_s", 0.001}};
  const auto r = run_replicas(s);
  const auto& f = r.results["faults"];
  EXPECT_EQ(f["preemptions"], 4);
  int from_checkpoint = 0;
  for (const auto& e : events_of(r.results, "joined")) from_checkpoint += e.ends_with("state from the checkpoint");
  EXPECT_EQ(from_checkpoint, 1);
  // SGD: 4 B of parameter and 1 B of mask per parameter in every checkpoint (all after the pruning).
  const auto bytes = f["checkpoint_bytes"].get<std::uint64_t>();
  EXPECT_EQ(bytes % (5 * kPacParams), 0u);
  EXPECT_EQ(bytes, 7 * 5 * kPacParams);  // written at rounds 5, 10, 15, 20, 25, 30; read once
  EXPECT_GT(r.results["work"]["steps"].get<int>(), 30);  // steps 10 and 11 done twice
  EXPECT_EQ(r.results["steps"], 30);                      // 30 committed
  const auto mask_zeros = zeros_of(clean.params[0]);
  for (int w = 0; w < 4; ++w) EXPECT_EQ(zeros_of(r.params[w]), mask_zeros) << "worker " << w;
}

}  // namespace
}  // namespace geotrain

namespace geotrain {
namespace {

TEST(FaultsSync, AJoinerWhoseDonorDiesBeforeTheCommitGoesOnAlone) {
  // Two workers, both spot.  b is away from step 5.5 to 10.5; it is admitted at the next round
  // (11), copies a's replica, and a is preempted for good in the middle of that round's compute,
  // before their first round together commits.  b holds the state of that round: the group re-formed around it must keep the round
  // (not roll back as if nobody held state) and b finishes the run alone.
  json s = four_workers({{"name", "ddp"}}, 30);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 2}, {"pricing", "spot"}}});
  const double step_s = step_s_of(s);
  const std::string trace = fmt::format("0,add,a\n0,add,b\n{},remove,b\n{},add,b\n{},remove,a\n", 5.5 * step_s * 1000,
                                        10.5 * step_s * 1000, 11.5 * step_s * 1000);
  s["fleet"][0]["preemption"] = {{"model", "trace"}, {"boot_s", 0}, {"trace", write_temp("donor-dies.csv", trace)}};
  s["faults"] = {{"retry_after_s", 0.001}};
  const json r = results_of(s);
  EXPECT_TRUE(r["stop_reason"].is_null()) << r["stop_reason"];
  EXPECT_EQ(events_of(r, "joined"), std::vector<std::string>{"r0:1 state from r0:0"});
  EXPECT_EQ(r["faults"]["preemptions"], 2);
  // b's steps: 5 before its preemption, then 10 with a's state up to step 30: done in about
  // 25 steps of time after its return, never at the time limit.
  EXPECT_LT(r["simulated_s"].get<double>(), 40 * step_s);
}

}  // namespace
}  // namespace geotrain
