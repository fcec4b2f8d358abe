// The table of all-reduce algorithms (sim/collectives/table.h): one row per algorithm, the
// worker context dispatches through it, and the weighted butterfly (Hivemind's) is an ordinary
// row: timed, metered and listed in collectives[], message-level in both fidelities.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/collectives/table.h"
#include "sim/context.h"
#include "sim/isolate.h"
#include "sim/run.h"
#include "test_util.h"

namespace geotrain {
namespace {

TEST(CollectiveTable, OneRowPerAlgorithmNamedAsInScenarios) {
  EXPECT_EQ(sim::allreduce_algo_names(),
            (std::vector<std::string>{"ring", "tree", "hierarchical", "butterfly", "weighted_butterfly"}));
  EXPECT_STREQ(sim::allreduce_entry(sim::AllreduceAlgo{}).name, "ring");  // the default handle
  for (const std::string& name : sim::allreduce_algo_names()) {
    const sim::AllreduceAlgo algo = sim::allreduce_algo_from_name(name);
    EXPECT_EQ(sim::allreduce_algo_name(algo), name);
    const sim::AllreduceEntry& e = sim::allreduce_entry(algo);
    EXPECT_EQ(std::string(e.label), name);
    EXPECT_NE(e.sum, nullptr) << name;
    EXPECT_NE(e.size_B, nullptr) << name;
    // Only Hivemind's weighted butterfly has no closed form (it stays message-level), and only it
    // has a weighted mean (Hivemind's averager).
    EXPECT_EQ(e.schedule == nullptr, name == "weighted_butterfly") << name;
    EXPECT_EQ(e.weighted_mean != nullptr, name == "weighted_butterfly") << name;
  }
}

// Three workers, one per region: two with a 100 Gbps NIC, the third with 300 Gbps.
nlohmann::json three_peers(const std::string& fidelity) {
  testing::UniformNet net;
  net.regions = 3;
  nlohmann::json topology = testing::uniform_topology(net);
  nlohmann::json fast = topology["instance_types"]["gpu"];
  fast["nic_Gbps"] = 300.0;
  topology["instance_types"]["fast"] = fast;
  nlohmann::json s = testing::scenario_json(topology, {1, 1, 1}, 1e3, "ring", false);
  s["fleet"][2]["instance"] = "fast";
  s["network"]["fidelity"] = fidelity;
  return s;
}

constexpr std::size_t kNumel = 1001;

// One allreduce_sum with `algo` of real values: worker r holds r + 1 + (k mod 7) at index k.
// Returns the results, with "wrong": how many values of all workers differ from the exact sum.
nlohmann::json one_sum(const nlohmann::json& scenario, const std::string& algo) {
  const auto handle = sim::allreduce_algo_from_name(algo);
  return nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    long wrong = 0;
    auto results = sim::run_program(s, [&](sim::WorkerContext& ctx) {
      std::vector<float> v(kNumel);
      for (std::size_t k = 0; k < kNumel; ++k) v[k] = static_cast<float>(ctx.rank() + 1 + k % 7);
      runtime::Tensor t = runtime::Tensor::from(v);
      ctx.allreduce_sum(t, handle, {0, 1, 2});
      for (std::size_t k = 0; k < kNumel; ++k)  // 1 + 2 + 3 + 3 (k mod 7): exact in fp32
        if (t.values()[k] != static_cast<float>(6 + 3 * (k % 7))) ++wrong;
    }).results;
    results["wrong"] = wrong;
    return results.dump();
  }));
}

// Bytes from region `a` to region `b` in the results' links[].
std::uint64_t link_bytes(const nlohmann::json& results, const std::string& a, const std::string& b) {
  for (const auto& l : results["links"])
    if (l["src_region"] == a && l["dst_region"] == b) return l["bytes"].get<std::uint64_t>();
  return 0;
}

TEST(CollectiveTable, EveryAlgorithmLeavesTheSumInBothFidelities) {
  for (const std::string fidelity : {"message", "collective"})
    for (const std::string& name : sim::allreduce_algo_names()) {
      EXPECT_EQ(one_sum(three_peers(fidelity), name)["wrong"], 0) << fidelity << " " << name;
    }
}

TEST(CollectiveTable, WeightedButterflySizesPartsByNicAndIsListedInCollectives) {
  const auto r = one_sum(three_peers("message"), "weighted_butterfly");
  // NICs 1:1:3 cut 1001 values at 1001 x 1/5 and 1001 x 2/5: parts of 200, 200 and 601 values.
  // Each pair exchanges the receiver's part (reduce-scatter) and the sender's part (all-gather).
  EXPECT_EQ(link_bytes(r, "r0", "r1"), 4u * (200 + 200));
  EXPECT_EQ(link_bytes(r, "r0", "r2"), 4u * (601 + 200));
  EXPECT_EQ(link_bytes(r, "r2", "r1"), 4u * (200 + 601));
  // The equal butterfly cuts 333, 334, 334.
  const auto equal = one_sum(three_peers("message"), "butterfly");
  EXPECT_EQ(link_bytes(equal, "r0", "r1"), 4u * (334 + 333));
  ASSERT_EQ(r["collectives"].size(), 1u);
  const auto& c = r["collectives"][0];
  EXPECT_EQ(c["op"], "allreduce");
  EXPECT_EQ(c["algorithm"], "weighted_butterfly");
  EXPECT_EQ(c["ranks"], 3);
  EXPECT_EQ(c["size_B"], 4 * kNumel);
  EXPECT_EQ(c["count"], 3);  // each rank times its own call
  EXPECT_GT(c["mean_time_s"].get<double>(), 0);
}

TEST(CollectiveTable, AnEntryWithoutAScheduleRunsAsMessagesInTheCollectiveFidelity) {
  const auto message = one_sum(three_peers("message"), "weighted_butterfly");
  const auto collective = one_sum(three_peers("collective"), "weighted_butterfly");
  EXPECT_EQ(collective["simulated_s"], message["simulated_s"]);
  EXPECT_EQ(collective["links"], message["links"]);
  EXPECT_EQ(collective["collectives"], message["collectives"]);
  // An entry with a schedule does not: the closed form's time differs from the flows' here (the
  // butterfly's flows of one phase finish at different times on these unequal NICs).
  const auto closed = one_sum(three_peers("collective"), "butterfly");
  const auto flows = one_sum(three_peers("message"), "butterfly");
  EXPECT_NE(closed["simulated_s"], flows["simulated_s"]);
}

// Hivemind averages through the table: each averaging round is one timed weighted_butterfly
// all-reduce per peer in collectives[], keyed by the fp16 gradient's bytes (2 per value).
TEST(CollectiveTable, HivemindAveragingIsAWeightedButterflyRowOfCollectives) {
  nlohmann::json s = three_peers("message");
  s["workload"]["steps"] = 4;
  s["strategy"] = {{"name", "hivemind"}, {"target_batch", 3 * s["workload"]["batch_per_worker"].get<int>()},
                   {"matchmaking_s", 0}, {"delayed_update", false}};
  const auto r = nlohmann::json::parse(sim::run_isolated([&] {
    return sim::run_scenario(sim::parse_scenario(s, "test.json")).results.dump();
  }));
  ASSERT_EQ(r["collectives"].size(), 1u) << r["collectives"].dump();
  const auto& c = r["collectives"][0];
  EXPECT_EQ(c["algorithm"], "weighted_butterfly");
  EXPECT_EQ(c["ranks"], 3);
  const double params = s["workload"]["model"]["parameters"].get<double>();
  EXPECT_EQ(c["size_B"].get<double>(), 2 * params);
  // One round per step of all three peers (target batch = 3 peers x batch): 4 rounds x 3 peers.
  EXPECT_EQ(c["count"], 12);
}

}  // namespace
}  // namespace geotrain
