// Strategies on real data: DDP equals large-batch SGD for every all-reduce, asynchronous PS
// with one worker equals sequential SGD and measures the staleness the timeline implies, gossip
// and EASGD reach the known optimum, Fashion-MNIST convergence, divergence handling.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "sim/json_reader.h"
#include "sim/strategies/strategy.h"
#include "sim/training.h"
#include "test_util.h"

namespace geotrain {
namespace {

using testing::UniformNet;
using testing::real_scenario;
using testing::run_captured;


TEST(Ddp, MWorkersWithBatchBEqualOneWorkerWithBatchMbForEveryAllreduce) {
  // Each worker's shard is exactly one batch, so every step uses the whole shard: the mean of
  // the M shard gradients is the gradient of the single worker's M*b batch.
  constexpr int kWorkersPerRegion = 3, kRegions = 2, kBatch = 10, kSteps = 20;
  const nlohmann::json model = {{"type", "mlp"}, {"hidden", {16}}, {"activation", "tanh"}};
  const nlohmann::json data = {{"name", "fashion_mnist"}, {"train_samples", kWorkersPerRegion * kRegions * kBatch},
                               {"test_samples", 100}};
  UniformNet one;
  one.regions = 1;
  one.workers_per_region = 1;
  const auto single = run_captured(real_scenario(one, model, data, {{"name", "ddp"}},
                                                 kWorkersPerRegion * kRegions * kBatch, kSteps, 0.1));
  for (const std::string algo : {"ring", "tree", "hierarchical"}) {
    UniformNet net;
    net.regions = kRegions;
    net.workers_per_region = kWorkersPerRegion;
    const auto many = run_captured(real_scenario(net, model, data, {{"name", "ddp"}, {"allreduce", algo}}, kBatch, kSteps, 0.1));
    EXPECT_LT(testing::max_rel_diff(many.params, single.params), 1e-5) << algo;
    EXPECT_NE(many.params, std::vector<float>(many.params.size(), 0.0f));
  }
}

TEST(ParameterServer, AsyncWithOneWorkerEqualsSequentialSgdExactly) {
  UniformNet net;
  net.workers_per_region = 1;
  const nlohmann::json model = {{"type", "mlp"}, {"hidden", {8}}};
  const nlohmann::json data = {{"name", "fashion_mnist"}, {"train_samples", 500}, {"test_samples", 100}};
  const auto scenario = real_scenario(net, model, data, {{"name", "parameter_server"}}, 16, 30, 0.05);
  const auto ps = run_captured(scenario);
  // The same trainer (same shard, same data order, same initial model) stepped by hand.
  const auto expected = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    sim::Training training(s, 1);
    auto trainer = training.make_trainer(0);
    for (int i = 0; i < 30; ++i) {
      trainer->forward_backward(16);
      trainer->optimizer_step(trainer->grads());
    }
    const auto v = trainer->params().values();
    return nlohmann::json(std::vector<float>(v.begin(), v.end())).dump();
  })).get<std::vector<float>>();
  EXPECT_EQ(ps.params, expected);
  EXPECT_EQ(ps.results["staleness"]["max"], 0);
  EXPECT_EQ(ps.results["staleness"]["updates"], 30);
}

// Staleness of an asynchronous PS whose two workers step every `round_s[i]` seconds with
// instant communication: a push's staleness is the number of pushes by others since its pull.
std::pair<double, long> expected_staleness(const std::vector<double>& round_s, long updates) {
  std::vector<std::pair<double, int>> pushes;  // (time, worker), enough of them
  for (int w = 0; w < 2; ++w)
    for (int k = 1; k <= updates; ++k) pushes.emplace_back(k * round_s[w], w);
  std::sort(pushes.begin(), pushes.end());
  pushes.resize(updates);
  double sum = 0;
  long max = 0;
  for (const auto& [t, w] : pushes) {
    long stale = 0;
    for (const auto& [u, v] : pushes)
      if (v != w && u > t - round_s[w] && u < t) ++stale;
    sum += stale;
    max = std::max(max, stale);
  }
  return {sum / updates, max};
}

TEST(ParameterServer, StalenessMatchesTheSimulatedTimeline) {
  // Linear regression on 4 features: 23 FLOP/sample (model.h), batch 8 -> 184 FLOP a step.
  // Fast worker 184 FLOP/s (1 s a step), slow one 184/2.618 FLOP/s (2.618 s a step), links far
  // faster than that.
  UniformNet net;
  net.workers_per_region = 1;
  net.regions = 2;
  net.lan_latency_ms = 1e-6;
  net.wan_latency_ms = 1e-6;
  const nlohmann::json model = {{"type", "linear_regression"}};
  const nlohmann::json data = {{"name", "synthetic_linear"}, {"features", 4}, {"train_samples", 256}};
  auto s = real_scenario(net, model, data, {{"name", "parameter_server"}}, 8, 20, 0.01);
  s["topology"]["instance_types"]["fast"] = {{"gpu_peak_tflops", 184e-12}, {"utilization", 1.0}, {"nic_Gbps", 100},
                                             {"usd_per_hour", {{"on_demand", 1}, {"spot", 1}}}};
  s["topology"]["instance_types"]["slow"] = s["topology"]["instance_types"]["fast"];
  s["topology"]["instance_types"]["slow"]["gpu_peak_tflops"] = 184e-12 / 2.618;
  s["fleet"][0]["instance"] = "fast";
  s["fleet"][1]["instance"] = "slow";
  const auto r = run_captured(s).results;
  const auto [mean, max] = expected_staleness({1.0, 2.618}, 40);
  EXPECT_EQ(r["staleness"]["updates"], 40);
  EXPECT_EQ(r["staleness"]["max"].get<long>(), max);
  EXPECT_NEAR(r["staleness"]["mean"].get<double>(), mean, 1e-12);
  EXPECT_GT(mean, 0.5);  // asynchrony really shows
}

TEST(Gossip, PullAndPushFormsReachTheKnownOptimum) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  const nlohmann::json model = {{"type", "linear_regression"}};
  const nlohmann::json data = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 2048}};
  for (const std::string form : {"pull", "push"}) {
    const auto s = real_scenario(net, model, data, {{"name", "gossip"}, {"form", form}}, 16, 400, 0.05);
    const auto r = run_captured(s);
    EXPECT_LT(testing::distance_to_optimum(r.params, s), 1e-3) << form;
    EXPECT_LT(r.results["convergence"]["final_test_loss"].get<double>(), 1e-6) << form;
  }
}

TEST(Easgd, ReachesTheKnownOptimum) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  const nlohmann::json model = {{"type", "linear_regression"}};
  const nlohmann::json data = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 2048}};
  const auto s = real_scenario(net, model, data, {{"name", "easgd"}, {"tau", 4}, {"beta", 0.2}}, 16, 400, 0.05);
  const auto r = run_captured(s);
  EXPECT_LT(testing::distance_to_optimum(r.params, s), 1e-3);
  EXPECT_LT(r.results["convergence"]["final_test_loss"].get<double>(), 1e-6);
  EXPECT_GT(r.results["traffic_bytes"]["total"].get<double>(), 0);
}

TEST(Convergence, MlpWithDdpOnFashionMnistReaches85Percent) {
  // CI variant of scenarios/jin2016-sync-vs-async.json's DDP point: 4 workers x 32 samples, the
  // full training set, MLP with 100 ReLU units, momentum SGD; 1500 steps = 3.2 epochs.
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  auto s = real_scenario(net, {{"type", "mlp"}, {"hidden", {100}}}, {{"name", "fashion_mnist"}},
                         {{"name", "ddp"}, {"allreduce", "ring"}}, 32, 1500, 0.05);
  s["workload"]["optimizer"] = {{"name", "momentum"}, {"lr", 0.05}, {"momentum", 0.9}};
  s["workload"]["eval_every"] = 500;
  s["workload"]["target"] = {{"test_accuracy", 0.85}};
  const auto r = run_captured(s).results;
  EXPECT_GE(r["convergence"]["final_test_accuracy"].get<double>(), 0.85);
  EXPECT_FALSE(r["convergence"]["time_to_target_s"].is_null());
  EXPECT_LE(r["convergence"]["time_to_target_s"].get<double>(), r["simulated_s"].get<double>());
  EXPECT_FALSE(r["diverged"].get<bool>());
}

TEST(Convergence, ANanLossStopsTheRunMarkedDiverged) {
  UniformNet net;
  net.workers_per_region = 2;
  const auto s = real_scenario(net, {{"type", "linear_regression"}},
                               {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 256}},
                               {{"name", "ddp"}}, 16, 1000, 50.0);  // far too large a step
  const auto r = run_captured(s).results;
  EXPECT_TRUE(r["diverged"].get<bool>());
  EXPECT_NE(r["stop_reason"].get<std::string>().find("diverged"), std::string::npos);
  EXPECT_LT(r["steps"].get<int>(), 1000);
}

TEST(Convergence, MissingFashionMnistNamesTheDebianPackage) {
  UniformNet net;
  const auto s = real_scenario(net, {{"type", "mlp"}, {"hidden", {10}}},
                               {{"name", "fashion_mnist"}, {"path", "/nonexistent-dir"}}, {{"name", "ddp"}}, 8, 1, 0.1);
  try {
    sim::parse_scenario(s, "s.json");
    FAIL() << "no error";
  } catch (const sim::BadInput& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/workload/dataset/path"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dataset-fashion-mnist"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace geotrain

namespace geotrain {
namespace {

TEST(ParameterServer, SyncWithShardsEqualsDdp) {
  // A synchronous PS averages the M gradients of a round and steps once: DDP, sharded.
  testing::UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  const nlohmann::json model = {{"type", "mlp"}, {"hidden", {8}}};
  const nlohmann::json data = {{"name", "fashion_mnist"}, {"train_samples", 400}, {"test_samples", 100}};
  const auto ddp = testing::run_captured(testing::real_scenario(net, model, data, {{"name", "ddp"}}, 10, 15, 0.1));
  const auto ps = testing::run_captured(testing::real_scenario(
      net, model, data, {{"name", "parameter_server"}, {"mode", "sync"}, {"shards", 2}}, 10, 15, 0.1));
  ASSERT_EQ(ps.params.size(), ddp.params.size());
  for (std::size_t i = 0; i < ps.params.size(); ++i)
    ASSERT_NEAR(ps.params[i], ddp.params[i], 1e-6 + 1e-5 * std::abs(ddp.params[i])) << i;
  EXPECT_FALSE(ps.results.contains("staleness"));  // synchronous: nothing is stale
}

TEST(Convergence, MeasuredComputeTimeUsesTheBackendClock) {
  testing::UniformNet net;
  net.workers_per_region = 2;
  auto s = testing::real_scenario(net, {{"type", "mlp"}, {"hidden", {64}}},
                                  {{"name", "fashion_mnist"}, {"train_samples", 2000}, {"test_samples", 100}},
                                  {{"name", "ddp"}}, 64, 20, 0.1);
  s["workload"]["compute_time"] = "measured";
  const auto r = testing::run_captured(s).results;
  // 20 real forward/backward passes of 64 samples take real time (well above 0, well below 5 s
  // each); the model's figure would be 64 x 2e5 FLOP / 50 TFLOP/s = 0.26 us a step.
  const double compute = r["time_breakdown_s"]["compute"].get<double>();
  EXPECT_GT(compute, 20 * 1e-6);
  EXPECT_LT(compute, 20 * 5.0);
}

}  // namespace
}  // namespace geotrain
