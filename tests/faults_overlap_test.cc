// Faults in the strategies whose synchronization overlaps compute (Streaming DiLoCo, Hivemind):
// Streaming DiLoCo with one fragment and no overlap equals DiLoCo under the same preemption;
// with fragments in flight across a preemption and a return it ends, deterministically, with the
// live global copies identical (also after a rollback to a checkpoint, and when the group
// waits); Hivemind's averaging groups and samples follow the preemption schedule; a group that
// waits costs the outage; a link outage delays a run by about its length.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim/isolate.h"
#include "sim/json_reader.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;
using testing::max_rel_diff;

std::string write_temp(const std::string& name, const std::string& text) {
  return testing::write_temp_file("geotrain_faults_overlap_test", name, text);
}

json four_workers(const json& strategy, int steps) { return testing::four_linear_workers(strategy, steps); }

// The last fleet entry's instances follow `trace` (time_ms,available_count rows); they boot in
// no time; a failed round is retried after 1 ms.
json with_trace(json s, const std::string& name, const std::string& trace) {
  s["fleet"].back()["preemption"] = {{"model", "trace"}, {"boot_s", 0}, {"trace", write_temp(name, trace)}};
  s["faults"] = {{"retry_after_s", 0.001}};
  return s;
}

// Worker 3 down from `down_s` to `up_s`.
json with_outage(const json& s, const std::string& name, double down_s, double up_s) {
  return with_trace(s, name, fmt::format("0,1\n{},0\n{},1\n", down_s * 1000, up_s * 1000));
}

json results_of(const json& scenario) {
  return json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    return sim::deterministic_part(sim::run_scenario(s).results).dump();
  }));
}

std::vector<std::string> events_of(const json& results, const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& e : results["faults"]["events"])
    if (e["event"] == kind) out.push_back(e["worker"].get<std::string>() + " " + e["cause"].get<std::string>());
  return out;
}

// Runs the scenario; the deterministic results (with the strategy's own keys, e.g.
// live_global_copies) and the deployed parameters at the end.
struct Run {
  json results;
  std::vector<float> params;
};

class CaptureDeployed final : public testing::Wrapped {
 public:
  using Wrapped::Wrapped;
  void finish(sim::World& w) override {
    Wrapped::finish(w);
    params = w.deployed_parameters();
  }
  std::vector<float> params;
};

Run run_captured(const json& scenario) {
  const auto out = json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    CaptureDeployed capture(sim::make_strategy(s));
    const auto results = sim::deterministic_part(sim::run_strategy(s, capture).results);
    return json{{"results", results}, {"params", capture.params}}.dump();
  }));
  return {out["results"], out["params"].get<std::vector<float>>()};
}

double final_test_loss(const json& results) { return results["convergence"]["final_test_loss"].get<double>(); }

const json kOuter = {{"name", "nesterov"}, {"lr", 0.7}, {"momentum", 0.9}};

TEST(FaultsOverlap, StreamingDilocoWithOneFragmentAndNoOverlapIsDilocoUnderAPreemption) {
  // One fragment, tau 0, alpha 0: every H steps a blocking outer round, as DiLoCo (40 steps = 8
  // whole rounds, so DiLoCo has no extra last sync).  Worker 3 is away from 30% to 50% of the
  // fault-free run: the same rounds lose it, it rejoins at the same round from r0:0's copy.
  json diloco = four_workers({{"name", "diloco"}, {"H", 5}, {"outer", kOuter}}, 40);
  const double end = results_of(diloco)["simulated_s"].get<double>();
  diloco = with_outage(diloco, "p1.csv", 0.3 * end, 0.5 * end);
  json streaming = diloco;
  streaming["strategy"] = {{"name", "streaming_diloco"}, {"H", 5}, {"fragments", 1}, {"tau", 0}, {"alpha", 0},
                           {"outer", kOuter}};
  const auto a = run_captured(diloco), b = run_captured(streaming);
  EXPECT_EQ(b.results["faults"]["preemptions"], 1);
  EXPECT_EQ(b.results["faults"]["restarts"], 1);
  EXPECT_EQ(events_of(b.results, "joined"), std::vector<std::string>{"r0:3 state from r0:0"});
  EXPECT_GT(b.results["faults"]["lost_samples"].get<double>(), 0);
  // Same events, times, lost work and overhead; same model.
  EXPECT_EQ(b.results["faults"].dump(), a.results["faults"].dump());
  EXPECT_DOUBLE_EQ(b.results["simulated_s"].get<double>(), a.results["simulated_s"].get<double>());
  ASSERT_FALSE(a.params.empty());
  EXPECT_LT(max_rel_diff(b.params, a.params), 1e-6);
  EXPECT_NEAR(final_test_loss(b.results), final_test_loss(a.results), 1e-6 * final_test_loss(a.results));
}

// Two fragments, so a sync every 5 steps (of 62 ms), with tau 6 and a LAN of 60 ms one way:
// a ring all-reduce (6 hops, 360 ms) outlasts the 5 steps to the next sync but not the 6 before
// its result is applied.  So two syncs are in flight at once (a helper asks for round r+1 while
// round r is open), and a returning worker's donor holds committed outer gradients it has not
// applied yet.
json two_fragments(int steps) {
  json s = four_workers(
      {{"name", "streaming_diloco"}, {"H", 10}, {"fragments", 2}, {"tau", 6}, {"alpha", 0.5}, {"outer", kOuter}}, steps);
  s["topology"]["regions"][0]["lan_latency_ms"] = 60;
  return s;
}

TEST(FaultsOverlap, StreamingDilocoSurvivesAPreemptionWithSyncsInFlight) {
  json s = two_fragments(200);
  const auto clean = run_captured(s);
  const double end = clean.results["simulated_s"].get<double>();
  // With the fault machinery on and no fault, the same model as without it, bit for bit (the
  // outer steps and merges happen at fixed steps).  Not the same time: group views are
  // sequential, so a fragment's all-reduce waits for the previous round to commit, which here
  // (360 ms all-reduces every 310 ms) costs time that concurrent all-reduces did not.
  const auto quiet = run_captured(with_trace(s, "quiet.csv", "0,1\n"));
  ASSERT_FALSE(clean.params.empty());
  EXPECT_EQ(quiet.params, clean.params);
  EXPECT_EQ(quiet.results["live_global_copies"]["workers"], 4);
  EXPECT_EQ(quiet.results["live_global_copies"]["max_abs_diff"].get<double>(), 0.0);
  EXPECT_EQ(quiet.results["faults"]["lost_samples"].get<double>(), 0);

  s = with_outage(s, "p2.csv", 0.35 * end, 0.55 * end);
  const auto a = run_captured(s), b = run_captured(s);
  EXPECT_EQ(a.results.dump(), b.results.dump());  // same faults, same bytes
  EXPECT_EQ(a.params, b.params);
  const json& f = a.results["faults"];
  EXPECT_EQ(f["preemptions"], 1);
  EXPECT_EQ(f["restarts"], 1);
  EXPECT_EQ(events_of(a.results, "joined"), std::vector<std::string>{"r0:3 state from r0:0"});
  EXPECT_GT(f["lost_samples"].get<double>(), 0);
  // Every live worker, the returned one included, ends with the same global copy.
  EXPECT_EQ(a.results["live_global_copies"]["workers"], 4);
  EXPECT_EQ(a.results["live_global_copies"]["max_abs_diff"].get<double>(), 0.0);
  // 20% of the run with 3 workers of 4 barely changes where it ends: within 5% of the
  // fault-free run's test loss (it measures 1.1% here).
  ASSERT_FALSE(a.params.empty());
  EXPECT_NEAR(final_test_loss(a.results), final_test_loss(clean.results), 0.05 * final_test_loss(clean.results));
}

TEST(FaultsOverlap, StreamingDilocoRollsBackToItsCheckpointWhenEveryWorkerIsLost) {
  // Both workers of a spot entry lost at 40% of the run and back at 60%: nobody holds the
  // state, so the first back reloads the last checkpoint (every 2 rounds, fragments and outer
  // optimizers) and the second copies it at the next round.
  json s = two_fragments(200);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 2}, {"pricing", "spot"}}});
  const json clean = results_of(s);
  const double end = clean["simulated_s"].get<double>();
  s = with_trace(s, "ckpt.csv", fmt::format("0,2\n{},0\n{},2\n", 0.4 * end * 1000, 0.6 * end * 1000));
  s["checkpoint"] = {{"every_steps", 2}, {"store_region", "r0"}, {"write_Gbps", 8}, {"read_Gbps", 8}};
  const auto run = run_captured(s);
  const json& f = run.results["faults"];
  EXPECT_EQ(f["preemptions"], 2);
  const auto joined = events_of(run.results, "joined");
  ASSERT_EQ(joined.size(), 2u);
  EXPECT_EQ(joined[0], "r0:0 state from the checkpoint");
  EXPECT_EQ(joined[1], "r0:1 state from r0:0");
  // A checkpoint: the parameters and the outer (Nesterov) momenta, fp32; some written, one read.
  ASSERT_FALSE(run.params.empty());
  const std::uint64_t bytes = 2 * 4 * run.params.size();
  EXPECT_EQ(f["checkpoint_bytes"].get<std::uint64_t>() % bytes, 0u);
  EXPECT_GE(f["checkpoint_bytes"].get<std::uint64_t>(), 2 * bytes);
  EXPECT_EQ(run.results["live_global_copies"]["workers"], 2);
  EXPECT_EQ(run.results["live_global_copies"]["max_abs_diff"].get<double>(), 0.0);
  // The rounds after the checkpoint are redone: within 5% of the fault-free loss (0.9% here).
  EXPECT_NEAR(final_test_loss(run.results), final_test_loss(clean), 0.05 * final_test_loss(clean));
}

TEST(FaultsOverlap, StreamingDilocoThatWaitsResumesWithEveryWorker) {
  // "wait": no round commits without worker 3.  The others go on until they must apply the
  // round it missed and wait there; back, it resumes after the last committed sync (at most
  // H/P = 5 steps before where it was lost) and everyone goes on at its pace.
  json s = two_fragments(100);
  s["topology"]["regions"][0]["lan_latency_ms"] = 0.05;  // all-reduces well within a step
  s["strategy"]["on_failure"] = "wait";
  const double end = results_of(s)["simulated_s"].get<double>(), step_s = end / 100;
  s = with_outage(s, "sdwait.csv", 0.3 * end, 0.5 * end);
  const auto run = run_captured(s);
  EXPECT_EQ(events_of(run.results, "joined"), std::vector<std::string>{"r0:3 state from r0:0"});
  EXPECT_EQ(run.results["live_global_copies"]["workers"], 4);
  EXPECT_EQ(run.results["live_global_copies"]["max_abs_diff"].get<double>(), 0.0);
  // Longer by the outage (0.2 x end) plus the steps redone, at most 5 (5 here).
  const double delay = run.results["simulated_s"].get<double>() - end;
  EXPECT_GT(delay, 0.2 * end - 0.5 * step_s);
  EXPECT_LT(delay, 0.2 * end + 5.5 * step_s);
}

// Hivemind, fp32, a target of one micro-batch per peer (4 x 8 samples) and a delayed update.
json hivemind_four(int rounds) {
  return four_workers({{"name", "hivemind"},
                       {"target_batch", 32},
                       {"matchmaking_s", 0.01},
                       {"compression", "fp32"},
                       {"delayed_update", true}},
                      rounds);
}

TEST(FaultsOverlap, HivemindGroupsFollowThePreemptionSchedule) {
  json s = hivemind_four(100);
  const json clean = results_of(s);
  const double end = clean["simulated_s"].get<double>();
  const double down = 0.3 * end, up = 0.6 * end;
  s = with_outage(s, "hm.csv", down, up);
  const json a = results_of(s), b = results_of(s);
  EXPECT_EQ(a.dump(), b.dump());
  const json& rounds = a["averaging_rounds"];
  ASSERT_EQ(rounds.size(), 100u);  // every round averaged once, in order
  // A round's view opens when the previous one commits.  Peer 3 vanishes during the view open
  // at `down` (round c(down), c(t) = rounds committed before t): that round and the next ones
  // average 3 peers.  Back at `up`, it joins the view opened by the next commit: round c(up) + 1.
  auto committed_before = [&rounds](double t) {
    return static_cast<long>(std::count_if(rounds.begin(), rounds.end(),
                                           [t](const json& r) { return r["time_s"].get<double>() < t; }));
  };
  const long first_without = committed_before(down), first_back = committed_before(up) + 1;
  ASSERT_GT(first_without, 2);
  ASSERT_GT(first_back, first_without + 2);
  ASSERT_LT(first_back, 98);
  for (std::size_t r = 0; r < rounds.size(); ++r) {
    const long round = static_cast<long>(r);
    EXPECT_EQ(rounds[r]["round"], round);
    EXPECT_EQ(rounds[r]["members"], round < first_without || round >= first_back ? 4 : 3) << "round " << r;
  }
  // Peers report 8 samples before each micro-batch and stop at 32: a round averages 32
  // samples, except the one peer 3's gradients vanished from (3 x 8).
  int short_rounds = 0;
  for (const auto& r : rounds) {
    if (r["samples"] == 32) continue;
    ++short_rounds;
    EXPECT_EQ(r["samples"], 24);
    EXPECT_EQ(r["round"], first_without);
  }
  EXPECT_LE(short_rounds, 1);
  EXPECT_EQ(a["faults"]["preemptions"], 1);
  EXPECT_EQ(events_of(a, "joined"), std::vector<std::string>{"r0:3 state from r0:0"});
  // What peer 3 had trained and not yet averaged: one or two micro-batches.
  const double lost = a["faults"]["lost_samples"].get<double>();
  EXPECT_TRUE(lost == 8 || lost == 16) << lost;
  // Every live peer, the returned one included, ends with the same parameters.
  EXPECT_EQ(a["live_replicas"]["workers"], 4);
  EXPECT_EQ(a["live_replicas"]["max_abs_diff"].get<double>(), 0.0);
  // 25% of the rounds with 3 peers: within 5% of the fault-free test loss (0.1% here).
  EXPECT_NEAR(final_test_loss(a), final_test_loss(clean), 0.05 * final_test_loss(clean));
}

TEST(FaultsOverlap, HivemindRollsBackToItsCheckpointWhenEveryPeerIsLost) {
  // Both peers of a spot entry lost in the middle of round 17 and back 8 rounds later, a
  // checkpoint every 5 rounds: the first back reloads it (round 15) and averages from its round
  // on, the second copies the first at the next round.
  json s = hivemind_four(40);
  s["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 2}, {"pricing", "spot"}}});
  s["strategy"]["target_batch"] = 16;
  const json clean = results_of(s);
  const double round_s = clean["simulated_s"].get<double>() / 40;
  s = with_trace(s, "hmckpt.csv", fmt::format("0,2\n{},0\n{},2\n", 17.5 * round_s * 1000, 25.5 * round_s * 1000));
  s["checkpoint"] = {{"every_steps", 5}, {"store_region", "r0"}, {"write_Gbps", 8}, {"read_Gbps", 8}};
  const json r = results_of(s);
  const auto joined = events_of(r, "joined");
  ASSERT_EQ(joined.size(), 2u);
  EXPECT_EQ(joined[0], "r0:0 state from the checkpoint");
  EXPECT_EQ(joined[1], "r0:1 state from r0:0");
  // Rounds go up to the outage, start again at the checkpoint's (a multiple of 5, before the
  // round that was open: rounds are redone) and go on to the last one.
  const json& rounds = r["averaging_rounds"];
  std::size_t back = 1;
  while (back < rounds.size() && rounds[back]["round"].get<long>() == rounds[back - 1]["round"].get<long>() + 1) ++back;
  ASSERT_LT(back, rounds.size());
  const long resumed = rounds[back]["round"].get<long>();
  EXPECT_EQ(resumed, 15);
  EXPECT_LT(resumed, rounds[back - 1]["round"].get<long>() + 1);
  EXPECT_GT(rounds[back]["time_s"].get<double>(), 25.5 * round_s);
  EXPECT_EQ(rounds[back]["members"], 1);  // the first back alone; the second joins at the next
  EXPECT_EQ(rounds.back()["round"], 39);
  EXPECT_EQ(rounds.size(), 40u + (rounds[back - 1]["round"].get<std::size_t>() + 1 - resumed));
  EXPECT_EQ(r["live_replicas"]["workers"], 2);
  EXPECT_EQ(r["live_replicas"]["max_abs_diff"].get<double>(), 0.0);
  EXPECT_GT(r["faults"]["checkpoint_bytes"].get<double>(), 0);
}

TEST(FaultsOverlap, HivemindThatWaitsAveragesEveryPeerEveryRound) {
  json s = hivemind_four(20);
  s["strategy"]["on_failure"] = "wait";
  const double end = results_of(s)["simulated_s"].get<double>(), round_s = end / 20;
  s = with_outage(s, "hmwait.csv", 0.3 * end, 0.5 * end);
  const json r = results_of(s);
  ASSERT_EQ(r["averaging_rounds"].size(), 20u);
  for (const auto& round : r["averaging_rounds"]) EXPECT_EQ(round["members"], 4);
  // The group waited for peer 3: the run is longer by its absence (0.2 x end), less what the
  // overlapped rounds hid and plus the round redone, each at most two rounds.
  const double delay = r["simulated_s"].get<double>() - end;
  EXPECT_GT(delay, 0.2 * end - 2 * round_s);
  EXPECT_LT(delay, 0.2 * end + 2 * round_s);
}

TEST(FaultsOverlap, ALinkOutageDelaysHivemindByAboutItsLength) {
  // Two regions of two peers, 1e7 parameters (size-only): a round takes 112 ms, nearly all of
  // it the fp16 butterfly across the WAN (40 ms links), overlapped with the next round's compute.
  // The WAN link is down from 1 s to 31 s; a failed butterfly is retried every second.
  testing::UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  json s = testing::uniform_scenario(net, 1e7, "ring");
  s["workload"]["steps"] = 200;
  s["strategy"] = {{"name", "hivemind"}, {"target_batch", 32}, {"matchmaking_s", 0}};
  const json clean = results_of(s);
  const double clean_s = clean["simulated_s"].get<double>(), round_s = clean_s / 200;
  s["faults"] = {{"retry_after_s", 1}, {"links", {{{"between", {"r0", "r1"}}, {"down", {{1.0, 31.0}}}}}}};
  const json faulty = results_of(s);
  // 30 s of outage, less at most the one round that overlapped it, plus at most one retry
  // interval and the aborted butterfly.
  EXPECT_GT(faulty["simulated_s"].get<double>(), clean_s + 30 - 2 * round_s);
  EXPECT_LT(faulty["simulated_s"].get<double>(), clean_s + 30 + 1 + 2 * round_s);
  EXPECT_EQ(faulty["averaging_rounds"].size(), 200u);
  for (const auto& round : faulty["averaging_rounds"]) EXPECT_EQ(round["members"], 4);  // nobody lost
}

TEST(FaultsOverlap, OnFailureIsAKnobOfBothStrategies) {
  const auto message = [](const json& s) { return testing::parse_error(s); };
  for (const char* name : {"streaming_diloco", "hivemind"}) {
    json s = with_outage(four_workers({{"name", name}, {"on_failure", "wait"}}, 10), "knob.csv", 1, 2);
    EXPECT_EQ(message(s), "no error") << name;
    s["strategy"]["on_failure"] = "retry";
    EXPECT_NE(message(s).find("f.json: /strategy/on_failure: \"retry\""), std::string::npos) << message(s);
  }
}

}  // namespace
}  // namespace geotrain
