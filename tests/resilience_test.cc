// The resilience layer's contract (sim/resilience/): the agreement of live replicas checked at
// every commit, strategies' traits checked against the scenario's faults, and the declared state
// a returning worker reloads.
#include <gtest/gtest.h>

#include "sim/resilience/replica.h"
#include "sim/strategies/strategy.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

// DDP on the resilience layer, except that worker `drift` nudges its first parameter after
// applying round `at` (a broken algorithm whose replicas no longer agree).
class DriftingDdp final : public sim::Strategy {
 public:
  DriftingDdp(int drift, long at) : drift_(drift), at_(at) {}
  void run(sim::WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const sim::Workload& w = ctx.scenario().workload;
    for (long step = ctx.start_round(); step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      const auto members = sim::resilience::allreduce_round(ctx, step, trainer.grads(), sim::allreduce_algo_from_name("ring"));
      trainer.optimizer_step(trainer.grads());
      if (ctx.rank() == drift_ && step + 1 == at_) trainer.params().values()[0] += 1e-6f;
      sim::resilience::applied(ctx, step + 1, members);
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
    }
  }

 private:
  int drift_;
  long at_;
};

json ddp_scenario() { return testing::four_linear_workers({{"name", "ddp"}}, 6); }

void run_drifting(int drift, long at) {
  const sim::Scenario s = sim::parse_scenario(ddp_scenario(), "test.json");
  DriftingDdp strategy(drift, at);
  sim::run_strategy(s, strategy);
}

TEST(Resilience, ReplicasThatDisagreeAfterACommitStopTheRunNamingSeedRoundAndWorkers) {
  // Worker r0:2 drifts after round 3: it and the first other worker to apply that round differ.
  EXPECT_DEATH(run_drifting(2, 3),
               "replicas disagree after a committed round: seed [0-9]+, round 3, workers r0:[0-3] and r0:[0-3] hold "
               "different states");
}

TEST(Resilience, ReplicasThatAgreeRunToTheEnd) {
  // The same program without the drift (drift round past the end) runs through, as DDP does.
  const auto out = json::parse(sim::run_isolated([] {
    const sim::Scenario s = sim::parse_scenario(ddp_scenario(), "test.json");
    DriftingDdp strategy(2, 100);
    return sim::run_strategy(s, strategy).results.dump();
  }));
  EXPECT_EQ(out["steps"], 6);
  const auto ddp = testing::run_captured(ddp_scenario());
  EXPECT_EQ(out["simulated_s"], ddp.results["simulated_s"]);
}

TEST(Resilience, TraitsDecideWhichFaultsAStrategyAccepts) {
  json s = testing::four_linear_workers({{"name", "gossip"}}, 6);
  s["checkpoint"] = {{"every_steps", 2}, {"store_region", "r0"}, {"write_Gbps", 8}, {"read_Gbps", 8}};
  EXPECT_EQ(testing::parse_error(s),
            "f.json: /checkpoint: strategy \"gossip\": gossip writes no checkpoints (a returning worker copies a "
            "live peer); remove \"checkpoint\"");
  s = testing::four_linear_workers({{"name", "ddp"}, {"on_failure", "wait"}}, 6);
  const sim::Scenario parsed = sim::parse_scenario(s, "test.json");
  EXPECT_EQ(sim::make_strategy(parsed)->traits.on_failure, sim::OnFailure::wait);
  EXPECT_TRUE(sim::make_strategy(parsed)->traits.group_rounds);
  s = testing::four_linear_workers({{"name", "parameter_server"}}, 6);
  const auto ps = sim::make_strategy(sim::parse_scenario(s, "test.json"));
  EXPECT_FALSE(ps->traits.group_rounds);
  EXPECT_FALSE(ps->traits.survives_link_down);
}

TEST(Resilience, DilocoDeclaresItsGlobalCopyAndOuterOptimizerAsItsReplica) {
  // DiLoCo's replica is the global copy (not theta_m) with the outer optimizer, sized as fp32
  // values plus one Nesterov moment.
  const json s = testing::four_linear_workers({{"name", "diloco"}, {"H", 2}}, 4);
  const auto out = json::parse(sim::run_isolated([&] {
    const sim::Scenario parsed = sim::parse_scenario(s, "test.json");
    json declared;
    struct Probe final : testing::Wrapped {
      using Wrapped::Wrapped;
      json* out = nullptr;
      void finish(sim::World& w) override {
        Wrapped::finish(w);
        const sim::ReplicaState state = replica(w, 1, 0);
        const auto g = state.tensors.front().values;
        const auto m = w.trainers[1]->params().values();
        (*out)["tensors"] = state.tensors.size();
        (*out)["optimizers"] = state.optimizers.size();
        (*out)["bytes"] = state.bytes;
        (*out)["values"] = g.size();
        (*out)["equals_theta_m"] = std::equal(g.begin(), g.end(), m.begin());
      }
    };
    Probe p(sim::make_strategy(parsed));
    p.out = &declared;
    sim::run_strategy(parsed, p);
    return declared.dump();
  }));
  EXPECT_EQ(out["tensors"], 1);
  EXPECT_EQ(out["optimizers"], 1);
  EXPECT_EQ(out["values"], 9);                // 8 weights and the bias
  EXPECT_EQ(out["bytes"], 9 * 4 * 2);         // fp32 values and one momentum copy
  EXPECT_EQ(out["equals_theta_m"], true);     // after the last outer round theta_m = theta_g
}

}  // namespace
}  // namespace geotrain
