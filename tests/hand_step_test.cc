// Strategy steps against hand-computed ones (issue 22 item 7): PALSGD's pull toward the global
// copy with p > 0, Streaming DiLoCo's delayed merge with alpha > 0 and tau > 0, and Hivemind's
// weighted butterfly on unequal NICs (each peer's part sized by its NIC, the mean still exact).
// The scenario's own trainers replay the data order; the strategies' updates are written out here.
#include <deque>

#include <gtest/gtest.h>

#include "sim/collectives/collectives.h"
#include "sim/training.h"
#include "test_util.h"

namespace geotrain {
namespace {

using testing::max_rel_diff;
using testing::real_scenario;
using testing::UniformNet;

constexpr int kBatch = 8;
constexpr double kLr = 0.05;

const nlohmann::json kLinear = {{"type", "linear_regression"}};
const nlohmann::json kLinearData = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 512}, {"noise", 0.1}};

// One worker in one region: its steps are the timeline's rows, one per step.
nlohmann::json one_worker(const nlohmann::json& strategy, int steps) {
  UniformNet net;
  net.workers_per_region = 1;
  return real_scenario(net, kLinear, kLinearData, strategy, kBatch, steps, kLr);
}

// The deployed parameters at the end and, per timeline row, whether a step trained on data.
struct StepsSeen {
  std::vector<float> params;
  std::vector<bool> trained;
};

class SeeSteps final : public testing::Wrapped {
 public:
  using Wrapped::Wrapped;
  void finish(sim::World& w) override {
    Wrapped::finish(w);
    params = w.deployed_parameters();
    w.recorder.for_each_row([&](const sim::TimelineRow& row) { trained.push_back(row.trained); });
  }
  std::vector<float> params;
  std::vector<bool> trained;
};

StepsSeen run_seeing_steps(const nlohmann::json& scenario) {
  const auto out = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    SeeSteps see(sim::make_strategy(s));
    sim::run_strategy(s, see);
    return nlohmann::json{{"params", see.params}, {"trained", see.trained}}.dump();
  }));
  return {out["params"].get<std::vector<float>>(), out["trained"].get<std::vector<bool>>()};
}

std::vector<float> values_of(const runtime::Tensor& t) { return {t.values().begin(), t.values().end()}; }

// PALSGD, one worker, H = 6 (one outer round at the end), p = 0.5, eta = 0.5, outer SGD lr 0.5:
// a pull step is theta_m -= (lr/p) eta (theta_m - theta_g), a data step an SGD step with
// lr/(1-p); then theta_g -= 0.5 (theta_g - theta_m).  Which steps pulled is read from the run's
// timeline (a pull trains on no data); the seed gives pulls between data steps.
TEST(Palsgd, PullWithPAboveZeroMatchesAHandComputedStep) {
  constexpr int kSteps = 6;
  constexpr double kP = 0.5, kEta = 0.5, kOuterLr = 0.5;
  const nlohmann::json strategy = {{"name", "palsgd"}, {"H", kSteps}, {"p", kP}, {"eta", kEta},
                                   {"outer", {{"name", "sgd"}, {"lr", kOuterLr}}}};
  const auto scenario = one_worker(strategy, kSteps);
  const StepsSeen run = run_seeing_steps(scenario);
  ASSERT_EQ(run.trained.size(), static_cast<std::size_t>(kSteps));
  // The seed's draws: a pull after a data step (so the pull moves theta_m), and data steps.
  const auto first_data = std::find(run.trained.begin(), run.trained.end(), true);
  ASSERT_NE(std::find(first_data, run.trained.end(), false), run.trained.end()) << "no pull after a data step";

  const auto hand = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    sim::Training training(s, 1);
    auto t = training.make_trainer(0);
    const std::vector<float> theta_g = values_of(t->params());
    const float pull = static_cast<float>(kLr / kP * kEta);
    for (int step = 0; step < kSteps; ++step) {
      if (run.trained[step]) {
        t->forward_backward(kBatch);
        t->optimizer_step(t->grads(), 1.0 / (1.0 - kP));
      } else {
        auto w = t->params().values();
        for (std::size_t i = 0; i < w.size(); ++i) w[i] -= pull * (w[i] - theta_g[i]);
      }
    }
    const std::vector<float> theta_m = values_of(t->params());
    std::vector<float> out(theta_g.size());
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = theta_g[i] - static_cast<float>(kOuterLr) * (theta_g[i] - theta_m[i]);
    return nlohmann::json(out).dump();
  })).get<std::vector<float>>();
  ASSERT_EQ(run.params.size(), hand.size());
  EXPECT_LT(max_rel_diff(run.params, hand), 1e-5);
}

// Streaming DiLoCo, one worker, 8 steps, H = 4, two fragments (offsets 0 and 2: fragment 1 syncs
// at steps 2 and 6, fragment 0 at 4 and 8), tau = 1, alpha = 0.5, outer SGD lr 0.7, fp32 wire:
// at a sync step the fragment's delta = theta_g - theta_m is taken; one step later
//   theta_g = theta_g - 0.7 delta;  theta_m = 0.5 theta_m + 0.5 theta_g   (on the fragment),
// the last sync's after the final step.
TEST(StreamingDiloco, MergeWithAlphaAndTauMatchesAHandComputedMerge) {
  constexpr int kSteps = 8, kH = 4, kFragments = 2, kTau = 1;
  constexpr double kAlpha = 0.5, kOuterLr = 0.7;
  const nlohmann::json strategy = {{"name", "streaming_diloco"}, {"H", kH}, {"fragments", kFragments},
                                   {"tau", kTau}, {"alpha", kAlpha}, {"wire_format", "fp32"},
                                   {"outer", {{"name", "sgd"}, {"lr", kOuterLr}}}};
  const auto scenario = one_worker(strategy, kSteps);
  const std::vector<float> simulated = testing::run_captured(scenario).params;

  const auto hand = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    sim::Training training(s, 1);
    auto t = training.make_trainer(0);
    std::vector<float> theta_g = values_of(t->params());
    const std::size_t n = theta_g.size();
    struct Pending {
      int fragment, apply_at;
      std::vector<float> delta;  // over the whole vector; only the fragment's range is used
    };
    std::deque<Pending> pending;
    auto apply = [&](const Pending& p) {
      const sim::ChunkRange r = sim::chunk_range(n, kFragments, p.fragment);
      auto w = t->params().values();
      for (std::size_t i = r.begin; i < r.begin + r.count; ++i) {
        theta_g[i] -= static_cast<float>(kOuterLr) * p.delta[i];
        w[i] = static_cast<float>(kAlpha) * w[i] + static_cast<float>(1 - kAlpha) * theta_g[i];
      }
    };
    const std::vector<std::pair<int, int>> syncs = {{2, 1}, {4, 0}, {6, 1}, {8, 0}};  // (step, fragment)
    for (int step = 1; step <= kSteps; ++step) {
      t->forward_backward(kBatch);
      t->optimizer_step(t->grads());
      while (!pending.empty() && pending.front().apply_at <= step) {
        apply(pending.front());
        pending.pop_front();
      }
      for (const auto& [at, f] : syncs)
        if (at == step) {
          std::vector<float> delta(n);
          const auto w = t->params().values();
          for (std::size_t i = 0; i < n; ++i) delta[i] = theta_g[i] - w[i];
          pending.push_back({f, step + kTau, delta});
        }
    }
    for (const auto& p : pending) apply(p);
    return nlohmann::json(theta_g).dump();
  })).get<std::vector<float>>();
  ASSERT_EQ(simulated.size(), hand.size());
  EXPECT_LT(max_rel_diff(simulated, hand), 1e-5);
}

// Three Hivemind peers, one per region, NICs 100, 100 and 300 Gbps, training linear regression on
// 1000 features (1001 values), one round per step (target batch = 3 peers x batch).
nlohmann::json hivemind_unequal_nics(const std::string& compression, int rounds) {
  UniformNet net;
  net.regions = 3;
  net.workers_per_region = 1;
  const nlohmann::json data = {{"name", "synthetic_linear"}, {"features", 1000}, {"train_samples", 256}, {"noise", 0.1}};
  const nlohmann::json strategy = {{"name", "hivemind"}, {"target_batch", 3 * kBatch}, {"matchmaking_s", 0},
                                   {"compression", compression}, {"delayed_update", false}};
  nlohmann::json s = real_scenario(net, kLinear, data, strategy, kBatch, rounds, kLr);
  nlohmann::json fast = s["topology"]["instance_types"]["gpu"];
  fast["nic_Gbps"] = 300.0;
  s["topology"]["instance_types"]["fast"] = fast;
  s["fleet"][2]["instance"] = "fast";
  return s;
}

std::uint64_t link_bytes(const nlohmann::json& results, const std::string& a, const std::string& b) {
  for (const auto& l : results["links"])
    if (l["src_region"] == a && l["dst_region"] == b) return l["bytes"].get<std::uint64_t>();
  return 0;
}

// The butterfly's parts follow the NICs (1:1:3 cuts 1001 values into 200, 200 and 601): per
// round and fp16 value (2 B) each pair carries the receiver's part (reduce-scatter) and the
// sender's part (all-gather); the sample weight travels beside the values, not as bytes of them.
TEST(Hivemind, UnequalNicsSizeTheButterflysPartsByBandwidth) {
  constexpr int kRounds = 3;
  constexpr std::uint64_t kFp16 = 2;
  const auto r = testing::run_captured(hivemind_unequal_nics("fp16", kRounds)).results;
  EXPECT_EQ(link_bytes(r, "r0", "r1"), kRounds * kFp16 * (200 + 200));
  EXPECT_EQ(link_bytes(r, "r1", "r0"), kRounds * kFp16 * (200 + 200));
  EXPECT_EQ(link_bytes(r, "r0", "r2"), kRounds * kFp16 * (601 + 200));
  EXPECT_EQ(link_bytes(r, "r2", "r0"), kRounds * kFp16 * (200 + 601));
  EXPECT_EQ(link_bytes(r, "r1", "r2"), kRounds * kFp16 * (601 + 200));
  EXPECT_EQ(link_bytes(r, "r2", "r1"), kRounds * kFp16 * (200 + 601));
}

// Whatever the parts, the average is the peers' mean gradient: in fp32 the run steps as
// synchronous SGD on the mean of the three peers' gradients (stepped here by hand), to within
// |a - b| <= 1e-6 + 1e-5 |b|.
TEST(Hivemind, UnequalNicsStillAverageTheMeanGradient) {
  constexpr int kRounds = 5;
  const auto scenario = hivemind_unequal_nics("fp32", kRounds);
  const auto simulated = testing::run_captured(scenario).params;
  const auto hand = testing::hand_stepped_mean_sgd(scenario, 3, kRounds, kBatch, [](int) { return 3; });
  ASSERT_EQ(simulated.size(), 1001u);
  // The parts sum in their owners' order, the hand in rank order: a few fp32 ulps apart.
  for (std::size_t i = 0; i < hand.size(); ++i)
    ASSERT_NEAR(simulated[i], hand[i], 1e-6 + 1e-5 * std::abs(hand[i])) << i;
}

}  // namespace
}  // namespace geotrain
