// Deep Gradient Compression (Lin et al. 2018; sim/strategies/topk.cc, "dgc") against DGC stepped
// by hand on the scenario's own trainers: momentum correction, momentum factor masking, local
// gradient clipping and the sparsity warm-up, each on and off, and the warm-up's message sizes.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "sim/training.h"
#include "test_util.h"

namespace geotrain {
namespace {

constexpr int kWorkers = 2, kBatch = 8;
constexpr double kLr = 0.05, kMomentum = 0.9;

// Two workers in one region training linear regression on `features` features with momentum SGD.
nlohmann::json dgc_scenario(const nlohmann::json& knobs, int steps, int features = 8) {
  testing::UniformNet net;
  net.workers_per_region = kWorkers;
  const nlohmann::json model = {{"type", "linear_regression"}};
  const nlohmann::json data = {{"name", "synthetic_linear"}, {"features", features}, {"train_samples", 512}, {"noise", 0.1}};
  nlohmann::json strategy = {{"name", "dgc"}};
  strategy.update(knobs);
  nlohmann::json s = testing::real_scenario(net, model, data, strategy, kBatch, steps, kLr);
  s["workload"]["optimizer"] = {{"name", "momentum"}, {"lr", kLr}, {"momentum", kMomentum}};
  return s;
}

// What DGC does, written out from the paper (per worker r, every step):
//   g = clip(g_r, clip_norm / sqrt(N));  u = m u + g, v += u  (without correction: v += g)
//   idx = the k largest |v| (ties: lower index);  send v[idx];  v[idx] = 0;  u[idx] = 0 (masking)
//   w -= lr mean(sent)  (without correction: the momentum optimizer on mean(sent))
struct HandDgc {
  bool correction = true, masking = true;
  double clip_norm = 0;
  std::vector<std::size_t> k;  // entries sent at each step
};

std::vector<float> hand_dgc(const nlohmann::json& scenario, const HandDgc& h) {
  return nlohmann::json::parse(sim::run_isolated([&] {
           const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
           sim::Training training(s, kWorkers);
           std::vector<std::unique_ptr<runtime::Trainer>> t;
           for (int r = 0; r < kWorkers; ++r) t.push_back(training.make_trainer(r));
           const std::size_t n = t[0]->params().numel();
           std::vector<std::vector<float>> u(kWorkers, std::vector<float>(n, 0)), v = u;
           for (const std::size_t k : h.k) {
             std::vector<float> mean(n, 0.0f);
             for (int r = 0; r < kWorkers; ++r) {
               t[r]->forward_backward(kBatch);
               std::vector<float> g(t[r]->grads().values().begin(), t[r]->grads().values().end());
               if (h.clip_norm > 0) {
                 double norm = 0;
                 for (float x : g) norm += double{x} * x;
                 norm = std::sqrt(norm);
                 const double limit = h.clip_norm / std::sqrt(double{kWorkers});
                 if (norm > limit)
                   for (float& x : g) x *= static_cast<float>(limit / norm);
               }
               for (std::size_t i = 0; i < n; ++i) {
                 if (h.correction) {
                   u[r][i] = static_cast<float>(kMomentum) * u[r][i] + g[i];
                   v[r][i] += u[r][i];
                 } else {
                   v[r][i] += g[i];
                 }
               }
               std::vector<std::size_t> order(n);
               std::iota(order.begin(), order.end(), 0);
               std::stable_sort(order.begin(), order.end(),
                                [&](std::size_t a, std::size_t b) { return std::abs(v[r][a]) > std::abs(v[r][b]); });
               std::vector<std::size_t> sent(order.begin(), order.begin() + static_cast<long>(k));
               std::sort(sent.begin(), sent.end());  // summed in index order, as the pairs travel
               for (std::size_t i : sent) {
                 mean[i] += v[r][i];
                 v[r][i] = 0;
                 if (h.masking) u[r][i] = 0;
               }
             }
             for (float& x : mean) x /= static_cast<float>(kWorkers);
             for (auto& tr : t) {
               if (h.correction) {
                 auto w = tr->params().values();
                 for (std::size_t i = 0; i < n; ++i) w[i] -= static_cast<float>(kLr) * mean[i];
               } else {
                 tr->optimizer_step(runtime::Tensor::from(mean));
               }
             }
           }
           const auto w = t[0]->params().values();
           return nlohmann::json(std::vector<float>(w.begin(), w.end())).dump();
         }))
      .get<std::vector<float>>();
}

void expect_same(const std::vector<float>& simulated, const std::vector<float>& hand) {
  ASSERT_EQ(simulated.size(), hand.size());
  for (std::size_t i = 0; i < hand.size(); ++i) ASSERT_NEAR(simulated[i], hand[i], 1e-6 + 1e-5 * std::abs(hand[i])) << i;
}

// 9 values (8 weights and a bias), ratio 0.25: k = 2 per step, no warm-up, 6 steps.
constexpr int kSteps = 6;
const nlohmann::json kNoWarmup = {{"ratio", 0.25}, {"warmup_steps", 0}};

TEST(Dgc, MomentumCorrectionAndMaskingMatchAHandComputedStep) {
  const auto s = dgc_scenario(kNoWarmup, kSteps);
  HandDgc h;
  h.k.assign(kSteps, 2);
  expect_same(testing::run_captured(s).params, hand_dgc(s, h));
}

// With `knob` false the run matches the hand-computed step with `switched` false, and the step
// with it true differs: the switch changes the steps.
void expect_switch_off_matches_hand(const char* knob, bool HandDgc::*switched) {
  nlohmann::json knobs = kNoWarmup;
  knobs[knob] = false;
  const auto s = dgc_scenario(knobs, kSteps);
  HandDgc h;
  h.*switched = false;
  h.k.assign(kSteps, 2);
  const auto simulated = testing::run_captured(s).params;
  expect_same(simulated, hand_dgc(s, h));
  HandDgc on = h;
  on.*switched = true;
  EXPECT_GT(testing::max_rel_diff(simulated, hand_dgc(s, on)), 1e-3) << knob;
}

TEST(Dgc, MomentumCorrectionWithoutMaskingMatchesAHandComputedStep) {
  expect_switch_off_matches_hand("momentum_masking", &HandDgc::masking);
}

TEST(Dgc, WithoutMomentumCorrectionTheOptimizerAppliesTheMomentum) {
  expect_switch_off_matches_hand("momentum_correction", &HandDgc::correction);
}

// The workers' gradients start far above 0.1 in norm: each is clipped to 0.1 / sqrt(2).
TEST(Dgc, LocalClippingAtThresholdOverRootNMatchesAHandComputedStep) {
  nlohmann::json knobs = kNoWarmup;
  knobs["clip_norm"] = 0.1;
  const auto s = dgc_scenario(knobs, kSteps);
  HandDgc h;
  h.clip_norm = 0.1;
  h.k.assign(kSteps, 2);
  const auto simulated = testing::run_captured(s).params;
  expect_same(simulated, hand_dgc(s, h));
  HandDgc unclipped = h;
  unclipped.clip_norm = 0;
  EXPECT_GT(testing::max_rel_diff(simulated, hand_dgc(s, unclipped)), 1e-3);
}

// 64 values, ratio 0.001, warm-up over 8 steps: four stages of 2 steps at densities 0.25,
// 0.0625, 0.015625 and 0.0039 (k = 16, 4, 1, max(1, 0) = 1), then k = max(1, 0.064) = 1.
TEST(Dgc, SparsityWarmUpSendsAQuarterOfThePreviousDensityPerStage) {
  constexpr int kWarmupSteps = 8, kAllSteps = 10;
  const auto s = dgc_scenario({{"ratio", 0.001}, {"warmup_steps", kWarmupSteps}}, kAllSteps, 63);
  HandDgc h;
  h.k = {16, 16, 4, 4, 1, 1, 1, 1, 1, 1};
  const auto run = testing::run_captured(s);
  expect_same(run.params, hand_dgc(s, h));
  // Each step each worker sends its k (value, index) pairs, 8 B each, to the other.
  const std::size_t pairs = std::accumulate(h.k.begin(), h.k.end(), std::size_t{0});
  EXPECT_EQ(run.results["traffic_bytes"]["total"].get<std::uint64_t>(), kWorkers * 8 * pairs);
}

// Without "warmup_steps" the warm-up lasts the paper's 4 epochs: 512 samples / (2 workers x 8)
// = 32 steps per epoch, 128 steps; the first stage (32 steps) sends a quarter of the entries.
TEST(Dgc, WarmUpDefaultsToFourEpochs) {
  const auto s = dgc_scenario({{"ratio", 0.001}}, 2, 63);
  const auto run = testing::run_captured(s);
  EXPECT_EQ(run.results["traffic_bytes"]["total"].get<std::uint64_t>(), 2u * kWorkers * 8 * 16);
}

}  // namespace
}  // namespace geotrain
