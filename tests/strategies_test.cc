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
  net.lan_latency_ms = 1e-4;  // the smallest latency a topology may give (docs/TOPOLOGIES.md)
  net.wan_latency_ms = 1e-4;
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

// Four workers whose shards have optima of their own (a noise-free task gives every shard the
// same optimum, so a strategy that never exchanged anything would still reach it): linear
// regression with noisy targets, shards sorted by target value (label_skew), one shard per
// batch so each step is full-batch gradient descent on the worker's shard.
constexpr int kHeteroFeatures = 8, kHeteroWorkers = 4, kHeteroShard = 128;
const nlohmann::json kHeteroData = {{"name", "synthetic_linear"}, {"features", kHeteroFeatures},
                                    {"train_samples", kHeteroWorkers * kHeteroShard}, {"noise", 1.0},
                                    {"partition", "label_skew"}};

nlohmann::json heterogeneous_linear(const nlohmann::json& strategy, int steps) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  return real_scenario(net, {{"type", "linear_regression"}}, kHeteroData, strategy, kHeteroShard, steps, 0.05);
}

// Least-squares weights and bias over training samples [begin, end) of the target-sorted order.
std::vector<double> least_squares(const runtime::Dataset& d, const std::vector<std::uint32_t>& order,
                                  std::size_t begin, std::size_t end) {
  constexpr int kP = kHeteroFeatures + 1;  // the bias is the last unknown
  std::vector<double> a(kP * kP, 0.0), b(kP, 0.0);
  for (std::size_t k = begin; k < end; ++k) {
    const std::uint32_t i = order[k];
    std::vector<double> row(kP, 1.0);
    for (int f = 0; f < kHeteroFeatures; ++f) row[f] = d.x[i * kHeteroFeatures + f];
    for (int r = 0; r < kP; ++r) {
      b[r] += row[r] * d.y[i];
      for (int c = 0; c < kP; ++c) a[r * kP + c] += row[r] * row[c];
    }
  }
  for (int col = 0; col < kP; ++col)  // Gauss-Jordan (the normal matrix is positive definite)
    for (int r = 0; r < kP; ++r) {
      if (r == col) continue;
      const double f = a[r * kP + col] / a[col * kP + col];
      for (int c = 0; c < kP; ++c) a[r * kP + c] -= f * a[col * kP + c];
      b[r] -= f * b[col];
    }
  for (int r = 0; r < kP; ++r) b[r] /= a[r * kP + r];
  return b;
}

double distance(const std::vector<float>& p, const std::vector<double>& q) {
  double d2 = 0;
  for (std::size_t i = 0; i < q.size(); ++i) d2 += std::pow(p[i] - q[i], 2);
  return std::sqrt(d2);
}
double norm(const std::vector<double>& q) {
  return distance(std::vector<float>(q.size(), 0.0f), q);
}

// The training set's least-squares optimum, and each shard's (worker w: quarter w of the samples
// sorted by target).
struct Optima {
  std::vector<double> global;
  std::vector<std::vector<double>> shards;
};
Optima hetero_optima(const nlohmann::json& scenario) {
  const auto s = runtime::make_synthetic_linear(kHeteroFeatures, kHeteroWorkers * kHeteroShard, 1000, 1.0,
                                                scenario["seed"].get<std::uint64_t>());
  const runtime::Dataset& d = s.data.train;
  std::vector<std::uint32_t> order(d.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return d.y[a] < d.y[b]; });
  Optima o{least_squares(d, order, 0, d.size()), {}};
  for (int w = 0; w < kHeteroWorkers; ++w) o.shards.push_back(least_squares(d, order, w * kHeteroShard, (w + 1) * kHeteroShard));
  return o;
}

// Every worker's parameters at the end, and the deployed model.
struct Replicas {
  std::vector<float> deployed;
  std::vector<std::vector<float>> workers;
};
class CaptureReplicas final : public sim::Strategy {
 public:
  explicit CaptureReplicas(std::unique_ptr<sim::Strategy> inner) : inner_(std::move(inner)) {}
  std::vector<sim::ServerPlacement> servers(const sim::Scenario& s) const override { return inner_->servers(s); }
  void prepare(sim::World& w) override { inner_->prepare(w); }
  void run(sim::WorkerContext& ctx) override { inner_->run(ctx); }
  void run_server(sim::WorkerContext& ctx, int i) override { inner_->run_server(ctx, i); }
  void finish(sim::World& w) override {
    inner_->finish(w);
    out = {{"deployed", w.deployed_parameters()}, {"workers", nlohmann::json::array()}};
    for (const auto& t : w.trainers)
      out["workers"].push_back(std::vector<float>(t->params().values().begin(), t->params().values().end()));
  }
  nlohmann::json out;

 private:
  std::unique_ptr<sim::Strategy> inner_;
};
Replicas run_replicas(const nlohmann::json& scenario) {
  const auto out = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    CaptureReplicas capture(sim::make_strategy(s));
    sim::run_strategy(s, capture);
    return capture.out.dump();
  }));
  return {out["deployed"].get<std::vector<float>>(), out["workers"].get<std::vector<std::vector<float>>>()};
}

// The deployed model is near the training set's least-squares optimum and the replicas agree:
// alone, each worker would sit at its shard's optimum, and their average is far from the global
// one (the shards' target ranges bias their slopes).
void expect_consensus_at_the_optimum(const nlohmann::json& scenario, double max_rel_error, double max_spread,
                                     const std::string& label) {
  const Optima o = hetero_optima(scenario);
  const Replicas r = run_replicas(scenario);
  double shard_spread = 0, replica_spread = 0;
  for (int w = 0; w < kHeteroWorkers; ++w) {
    std::vector<float> shard(o.shards[w].begin(), o.shards[w].end());
    shard_spread = std::max(shard_spread, distance(shard, o.global));
    replica_spread = std::max(replica_spread, distance(r.workers[w], o.global));
  }
  EXPECT_GT(shard_spread / norm(o.global), 0.2) << label;  // the shards' optima differ
  EXPECT_LT(distance(r.deployed, o.global) / norm(o.global), max_rel_error) << label;
  EXPECT_LT(replica_spread / shard_spread, max_spread) << label << " replicas " << replica_spread << " shards " << shard_spread;
  // Gossip without any exchange, or EASGD without its pull: 0.43 and 1.06 (the replicas stay at
  // their shards' optima).
}

TEST(Gossip, PullAndPushFormsReachTheKnownOptimum) {
  for (const std::string form : {"pull", "push"})
    expect_consensus_at_the_optimum(heterogeneous_linear({{"name", "gossip"}, {"form", form}}, 400), 0.05, 0.1, form);
}

// EASGD's elastic force is finite: with shards of different curvature its center settles near,
// not at, the global optimum (0.20 of its norm here, replicas half as spread as the shards'
// optima); without the elastic pull the deployed average is 0.43 away and the replicas as spread
// as the shards' optima.
TEST(Easgd, ReachesTheKnownOptimum) {
  const auto s = heterogeneous_linear({{"name", "easgd"}, {"tau", 1}, {"beta", 0.2}}, 400);
  expect_consensus_at_the_optimum(s, 0.25, 0.7, "easgd");
  const auto r = run_captured(s);
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
