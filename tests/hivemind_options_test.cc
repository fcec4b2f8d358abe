// hivemind.Optimizer's options and the framework overheads every strategy declares, against
// closed forms: blocking vs delayed gradient averaging for 2 and 4 peers, an averager bounded by
// its software throughput, the offloaded optimizer step, and each overhead knob adding exactly its
// time.
#include <gtest/gtest.h>

#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

// n peers in one region; a micro-step of 8 samples x 1e12 FLOP at 50 TFLOP/s = 0.16 s; a round of
// 5 micro-steps per peer (target 40 n samples) = 0.8 s of compute; 1e6 parameters, fp16 on the
// wire = 2e6 B; the averager at 0.01 GB/s moves a peer's 2 (n-1)/n x 2e6 B in 0.2 s (n = 2) or
// 0.3 s (n = 4), far slower than the 100 Gbit/s network.
constexpr double kMicroStepS = 0.16, kRoundComputeS = 5 * kMicroStepS, kMatchmakingS = 0.5;
constexpr int kRounds = 3;

double averaging_s(int peers) { return 2.0 * (peers - 1) / peers * 2e6 / 1e7; }

json scenario(int peers, const json& extra) {
  testing::UniformNet net;
  net.workers_per_region = peers;
  json s = testing::uniform_scenario(net, 1e6, "ring");
  s["workload"]["model"]["flops_per_sample"] = 1e12;
  s["workload"]["steps"] = kRounds;
  s["strategy"] = {{"name", "hivemind"}, {"target_batch", 40 * peers}, {"matchmaking_s", kMatchmakingS},
                   {"averager_GBps", 0.01}};
  for (const auto& [k, v] : extra.items()) s["strategy"][k] = v;
  return s;
}

json results_of(const json& s) {
  return json::parse(sim::run_isolated([&] { return sim::run_scenario(sim::parse_scenario(s, "t.json")).results.dump(); }));
}

double simulated_s(const json& s) { return results_of(s)["simulated_s"].get<double>(); }

TEST(HivemindOptions, BlockingAveragingWaitsForTheAveragerEveryRound) {
  for (int peers : {2, 4}) {
    // hivemind's default: training waits for the averaging every round.
    EXPECT_NEAR(simulated_s(scenario(peers, json::object())),
                kRounds * (kRoundComputeS + kMatchmakingS + averaging_s(peers)), 1e-9)
        << peers << " peers";
  }
}

TEST(HivemindOptions, DelayedAveragingHidesItBehindTheNextRound) {
  for (int peers : {2, 4}) {
    // The averaging (shorter than a round's compute) overlaps the next round; the last one is
    // waited for at the end.
    EXPECT_NEAR(simulated_s(scenario(peers, {{"delay_grad_averaging", true}})),
                kRounds * (kRoundComputeS + kMatchmakingS) + averaging_s(peers), 1e-9)
        << peers << " peers";
  }
}

TEST(HivemindOptions, DelayGradAveragingIsTheFormerDelayedUpdate) {
  json a = results_of(scenario(2, {{"delay_grad_averaging", true}, {"averager_GBps", 0}}));
  json b = results_of(scenario(2, {{"delayed_update", true}, {"averager_GBps", 0}}));
  for (json* r : {&a, &b}) {
    r->erase("perf");
    r->erase("strategy");
  }
  EXPECT_EQ(a.dump(), b.dump());
  json c = results_of(scenario(2, {{"delayed_update", false}, {"averager_GBps", 0}}));
  json d = results_of(scenario(2, {{"averager_GBps", 0}}));  // the default: blocking
  for (json* r : {&c, &d}) {
    r->erase("perf");
    r->erase("strategy");
  }
  EXPECT_EQ(c.dump(), d.dump());
  EXPECT_NE(a.dump(), c.dump());
}

TEST(HivemindOptions, OffloadedOptimizerStepTakesHostMemoryTime) {
  // sgd: fp32 weights read and written + gradient read = 12 B per parameter, 1e6 parameters at
  // 1 GB/s = 0.012 s per round.
  constexpr double kStepS = 12e6 / 1e9;
  const double blocking = kRounds * (kRoundComputeS + kMatchmakingS + averaging_s(2));
  EXPECT_NEAR(simulated_s(scenario(2, {{"host_memory_GBps", 1.0}})), blocking + kRounds * kStepS, 1e-9);
  // In the background the step hides behind the next round; the last one is waited for.
  EXPECT_NEAR(simulated_s(scenario(2, {{"host_memory_GBps", 1.0}, {"delay_optimizer_step", true}})),
              blocking + kStepS, 1e-9);
}

TEST(HivemindOptions, OverheadKnobsAddTheirClosedFormTime) {
  const double base = kRounds * (kRoundComputeS + kMatchmakingS + averaging_s(2));
  // Per micro-step (5 per round): accumulation, and the common per-step overhead.
  EXPECT_NEAR(simulated_s(scenario(2, {{"accumulate_s", 0.01}})), base + kRounds * 5 * 0.01, 1e-9);
  EXPECT_NEAR(simulated_s(scenario(2, {{"step_overhead_s", 0.02}})), base + kRounds * 5 * 0.02, 1e-9);
  // The launch cost comes before the averaging (outside the averager's bound): once per round.
  EXPECT_NEAR(simulated_s(scenario(2, {{"collective_launch_s", 0.05}})), base + kRounds * 0.05, 1e-9);
}

TEST(StrategyOverheads, DdpPaysLaunchAndStepOverheadEveryStep) {
  testing::UniformNet net;
  net.workers_per_region = 2;
  json s = testing::uniform_scenario(net, 1e6, "ring");
  s["workload"]["steps"] = 4;
  const double plain = simulated_s(s);
  s["strategy"]["step_overhead_s"] = 0.25;
  s["strategy"]["collective_launch_s"] = 0.125;
  EXPECT_NEAR(simulated_s(s), plain + 4 * (0.25 + 0.125), 1e-9);
}

TEST(HivemindOptions, RefusesWhatHivemindRefuses) {
  EXPECT_NE(testing::parse_error(scenario(2, {{"delay_grad_averaging", true}, {"delay_optimizer_step", false}}))
                .find("delay_grad_averaging requires delay_optimizer_step"),
            std::string::npos);
  EXPECT_NE(testing::parse_error(scenario(2, {{"delay_optimizer_step", true}, {"offload_optimizer", false}}))
                .find("/strategy/offload_optimizer"),
            std::string::npos);
  EXPECT_NE(testing::parse_error(scenario(2, {{"delay_grad_averaging", true}, {"delayed_update", true}}))
                .find("not both"),
            std::string::npos);
  EXPECT_NE(testing::parse_error(scenario(2, {{"step_overhead_s", -1}})).find("/strategy/step_overhead_s"),
            std::string::npos);
}

}  // namespace
}  // namespace geotrain
