// The "collective" fidelity (sim/collectives/analytic.h) against message fidelity: the same
// simulated time on uncontended networks for every algorithm, the same values bit for bit (the
// ring's order of additions), the same bytes and dollars, whole runs with the same final model;
// the sharing rule in closed form; and what it refuses.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "runtime/rng.h"
#include "sim/collectives/analytic.h"
#include "sim/context.h"
#include "test_util.h"

namespace geotrain {
namespace {

using testing::UniformNet;

nlohmann::json with_fidelity(nlohmann::json s, const std::string& fidelity) {
  s["network"]["fidelity"] = fidelity;
  return s;
}

// One all-reduce of `numel` fp32 values (phantom): simulated time, egress dollars, WAN bytes.
nlohmann::json one_allreduce(const nlohmann::json& scenario, std::size_t numel, const std::string& algo) {
  const auto algo_enum = sim::allreduce_algo_from_name(algo);
  const auto r = testing::run_program_isolated(scenario, [&](sim::WorkerContext& ctx) {
    runtime::Tensor t = runtime::Tensor::phantom(numel);
    ctx.allreduce_mean(t, algo_enum);
  });
  return {{"s", r["simulated_s"]}, {"egress", r["cost_usd"]["egress"]}, {"collectives", r["collectives"]}};
}

// SimGrid rounds simulated times to about a nanosecond per event.
constexpr double kAgree_s = 1e-7;

// `overlap`: the algorithm's later phases overlap earlier ones on shared links, which message
// fidelity shares and the closed form does not (analytic.h): there it may be faster, by at most
// that fraction.
void expect_same_allreduce(const nlohmann::json& scenario, std::size_t numel, const std::string& algo,
                           const std::string& what, double overlap = 0) {
  const auto message = one_allreduce(with_fidelity(scenario, "message"), numel, algo);
  const auto analytic = one_allreduce(with_fidelity(scenario, "collective"), numel, algo);
  const double expect = message["s"].get<double>();
  if (overlap > 0) {
    EXPECT_LE(analytic["s"].get<double>(), expect + kAgree_s) << algo << " " << what;
    EXPECT_GE(analytic["s"].get<double>(), (1 - overlap) * expect) << algo << " " << what;
  } else {
    EXPECT_NEAR(analytic["s"].get<double>(), expect, kAgree_s + 1e-9 * expect) << algo << " " << what;
  }
  EXPECT_GT(analytic["s"].get<double>(), 0) << algo << " " << what;
  EXPECT_EQ(analytic["egress"], message["egress"]) << algo << " " << what;
}

TEST(CollectiveFidelity, SameTimeAndBytesAsMessagesOnUniformNetworks) {
  for (const std::string algo : {"ring", "tree", "hierarchical", "butterfly"})
    for (int regions : {1, 2, 3})
      for (int per_region : {1, 2, 4})
        for (bool cap : {false, true}) {
          if (regions * per_region < 2) continue;
          UniformNet net;
          net.regions = regions;
          net.workers_per_region = per_region;
          net.window_cap = cap;
          auto s = testing::uniform_scenario(net, 1e6, algo);
          if (cap) s["network"]["tcp_window_B"] = 65536;  // the cap binds on the WAN
          // The tree's broadcast: a member forwards down a WAN link while its parent still sends
          // to its sibling across the same link.  Message fidelity shares it; the closed form
          // counts the two in different phases: up to 3% faster here.
          const double overlap = algo == "tree" && regions > 1 ? 0.03 : 0;
          for (std::size_t numel : {std::size_t{7}, std::size_t{1000003}})
            expect_same_allreduce(s, numel, algo,
                                  fmt::format("regions={} per region={} cap={} numel={}", regions, per_region, cap, numel),
                                  overlap);
        }
}

TEST(CollectiveFidelity, SameTimeAndBytesAsMessagesOnUnequalWanLinks) {
  for (const std::string algo : {"ring", "tree", "hierarchical", "butterfly"})
    for (const std::vector<int>& counts : std::vector<std::vector<int>>{{1, 1, 1, 1}, {2, 3, 2, 1}, {4, 4, 4, 4}})
    {
      // The tree's phases overlap in message fidelity (a member forwards while its parent still
      // sends). With GCP's 4 NCCL sockets an in-region flow fills the 16 Gbit/s NIC, so a WAN
      // flow of an overlapping phase through the same NIC shares it; the closed form counts them
      // in different phases: up to 0.15% faster here.
      const bool in_region_pairs = *std::max_element(counts.begin(), counts.end()) > 1;
      const double overlap = algo == "tree" && in_region_pairs ? 0.005 : 0;
      expect_same_allreduce(testing::gcp_scenario(counts, 1e6, algo), 2500000, algo,
                            fmt::format("gcp {}", nlohmann::json(counts).dump()), overlap);
    }
}

// The ring in closed form, computed on its own: 2(M-1) (alpha + S / (M beta)).
TEST(CollectiveFidelity, RingScheduleMatchesTheClosedForm) {
  UniformNet net;
  net.workers_per_region = 5;
  const std::size_t numel = 1000000;  // divisible by 5: equal chunks
  const auto out = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(testing::uniform_scenario(net, 1, "ring"), "test.json");
    double seconds = 0;
    sim::run_program(s, [&](sim::WorkerContext& ctx) {
      if (ctx.rank() == 0)
        seconds = sim::schedule_time_s(ctx.platform(), sim::ring_allreduce_schedule(runtime::Tensor::phantom(numel),
                                                                                     ctx.platform().ring_order()));
    });
    return nlohmann::json(seconds).dump();
  }));
  const double alpha = net.lan_latency_ms * 1e-3, beta = net.nic_Gbps * 1e9 / 8;
  const double expect = 2 * 4 * (alpha + 4.0 * numel / 5 / beta);
  EXPECT_NEAR(out.get<double>(), expect, 1e-12 * expect);
}

// Flows of one phase share what they cross equally: two senders into one NIC get half of it
// each; a flow of a later phase waits for its sender and receiver, not for unrelated nodes.
TEST(CollectiveFidelity, FlowsOfAPhaseShareLinksAndLaterFlowsWaitOnlyForTheirNodes) {
  UniformNet net;
  net.workers_per_region = 4;
  const auto out = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(testing::uniform_scenario(net, 1, "ring"), "test.json");
    nlohmann::json seconds = nlohmann::json::array();
    sim::run_program(s, [&](sim::WorkerContext& ctx) {
      if (ctx.rank() != 0) return;
      const std::uint64_t b = 100'000'000;
      const auto time = [&](const sim::Schedule& sch) { return sim::schedule_time_s(ctx.platform(), sch); };
      seconds.push_back(time({{{1, 0, b}}}));                        // alone
      seconds.push_back(time({{{1, 0, b}, {2, 0, b}}}));             // two into node 0's NIC
      seconds.push_back(time({{{1, 0, b}, {2, 3, b}}}));             // disjoint
      seconds.push_back(time({{{1, 0, b}, {2, 3, b / 2}}, {{3, 2, b / 2}}}));  // 3 waits only for 2-3
      seconds.push_back(time({{{1, 0, b}, {2, 3, b / 2}}, {{0, 2, b / 2}}}));  // 0 waits for 1-0
    });
    return seconds.dump();
  }));
  const double alpha = net.lan_latency_ms * 1e-3, beta = net.nic_Gbps * 1e9 / 8, bytes = 1e8;
  EXPECT_NEAR(out[0].get<double>(), alpha + bytes / beta, 1e-12);
  EXPECT_NEAR(out[1].get<double>(), alpha + 2 * bytes / beta, 1e-12);
  EXPECT_NEAR(out[2].get<double>(), alpha + bytes / beta, 1e-12);
  EXPECT_NEAR(out[3].get<double>(), 2 * alpha + bytes / beta, 1e-12);        // 2 x half a transfer
  EXPECT_NEAR(out[4].get<double>(), 2 * alpha + 1.5 * bytes / beta, 1e-12);  // after the whole 1-0
}

// Real values: every algorithm leaves, bit for bit, what the message-level ring leaves (chunk c
// summed along the ring from member c, times fp32 1/M), for 1..9 workers over 1 to 3 regions.
nlohmann::json real_allreduce(const std::string& fidelity, const std::string& algo, int m, std::size_t numel) {
  return testing::real_allreduce_values(with_fidelity(testing::spread_scenario(m, numel, algo), fidelity), algo, m,
                                        numel, 3000);
}

TEST(CollectiveFidelity, EveryAlgorithmLeavesTheRingMeanBitForBit) {
  for (int m = 1; m <= 9; ++m)
    for (std::size_t numel : {std::size_t{1}, std::size_t{5}, std::size_t{5000}}) {
      const auto ring = real_allreduce("message", "ring", m, numel);
      for (const std::string algo : {"ring", "tree", "hierarchical", "butterfly"})
        EXPECT_EQ(real_allreduce("collective", algo, m, numel), ring) << algo << " M=" << m << " numel=" << numel;
    }
}

TEST(CollectiveFidelity, BroadcastAndAllgatherCarryRealValues) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 3;
  std::map<std::string, double> seconds;
  for (const std::string fidelity : {"message", "collective"}) {
    const auto scenario = with_fidelity(testing::uniform_scenario(net, 10, "ring"), fidelity);
    const auto out = nlohmann::json::parse(sim::run_isolated([&] {
      const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
      nlohmann::json outputs = {{"values", nlohmann::json::array()}};
      const auto r = sim::run_program(s, [&](sim::WorkerContext& ctx) {
        runtime::Tensor b = runtime::Tensor::from({float(ctx.rank()), 1.5f * ctx.rank()});
        ctx.broadcast(b, 4);
        runtime::Tensor g = ctx.allgather(runtime::Tensor::from({float(ctx.rank()), -float(ctx.rank())}));
        if (ctx.rank() == 2) {
          outputs["values"].push_back(std::vector<float>(b.values().begin(), b.values().end()));
          outputs["values"].push_back(std::vector<float>(g.values().begin(), g.values().end()));
        }
      });
      outputs["s"] = r.results["simulated_s"];
      return outputs.dump();
    }));
    EXPECT_EQ(out["values"][0].get<std::vector<float>>(), (std::vector<float>{4.0f, 6.0f})) << fidelity;
    EXPECT_EQ(out["values"][1].get<std::vector<float>>(),
              (std::vector<float>{0, -0.0f, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5}))
        << fidelity;
    seconds[fidelity] = out["s"].get<double>();
  }
  // The tree broadcast then the ring all-gather, timed as message fidelity times them.
  EXPECT_NEAR(seconds["collective"], seconds["message"], kAgree_s);
}

// Whole runs with real training: the same final model bit for bit, the same simulated time,
// bytes and dollars, for DDP (ring, hierarchical), DiLoCo and Streaming DiLoCo (overlapped
// all-reduces in helper actors) on unequal WAN links.
TEST(CollectiveFidelity, WholeRunsGiveTheSameModelTimeAndCost) {
  const std::vector<nlohmann::json> strategies = {
      {{"name", "ddp"}, {"allreduce", "ring"}},
      {{"name", "ddp"}, {"allreduce", "hierarchical"}},
      {{"name", "diloco"}, {"H", 4}},
      {{"name", "streaming_diloco"}, {"H", 4}, {"fragments", 2}}};
  for (const auto& strategy : strategies) {
    auto s = testing::gcp_scenario({2, 1, 1, 0}, 1, "ring");
    s["workload"] = {{"model", {{"type", "mlp"}, {"hidden", {16}}}},
                     {"dataset", {{"name", "fashion_mnist"}, {"train_samples", 640}, {"test_samples", 100}}},
                     {"backend", "cpu"}, {"optimizer", {{"name", "sgd"}, {"lr", 0.1}}},
                     {"batch_per_worker", 16}, {"steps", 12}};
    s["strategy"] = strategy;
    const auto message = testing::run_captured(with_fidelity(s, "message"));
    const auto analytic = testing::run_captured(with_fidelity(s, "collective"));
    ASSERT_FALSE(message.params.empty());
    const bool ring = strategy.value("allreduce", "ring") == "ring";
    if (ring) {
      EXPECT_EQ(analytic.params, message.params) << strategy.dump();
    } else {  // hierarchical sums in its own order with messages, in the ring's here
      EXPECT_NE(analytic.params, message.params) << strategy.dump();
      EXPECT_LT(testing::max_rel_diff(analytic.params, message.params), 1e-4) << strategy.dump();
    }
    const double t = message.results["simulated_s"].get<double>();
    EXPECT_NEAR(analytic.results["simulated_s"].get<double>(), t, kAgree_s + 1e-9 * t) << strategy.dump();
    EXPECT_EQ(analytic.results["cost_usd"]["egress"], message.results["cost_usd"]["egress"]) << strategy.dump();
    // DDP's workers end every step together; DiLoCo's leave an all-reduce at slightly
    // different times with messages (and together here), so timeline rows group other steps.
    if (strategy["name"] == "ddp" && ring)
      EXPECT_EQ(analytic.results["convergence"]["final_train_loss"],
                message.results["convergence"]["final_train_loss"]);
  }
}

TEST(CollectiveFidelity, RefusedWithFaultsAndUnknownFidelitiesListTheAllowed) {
  auto s = testing::four_linear_workers({{"name", "ddp"}}, 3);
  s["network"]["fidelity"] = "collective";
  EXPECT_EQ(testing::parse_error(s), "no error");
  s["fleet"][1]["preemption"] = {{"model", "hazard"}, {"rate_per_hour", 1}};
  const std::string faults = testing::parse_error(s);
  EXPECT_NE(faults.find("/network/fidelity"), std::string::npos) << faults;
  EXPECT_NE(faults.find("does not model faults"), std::string::npos) << faults;
  s["network"]["fidelity"] = "packet";
  const std::string unknown = testing::parse_error(s);
  EXPECT_NE(unknown.find("\"message\" | \"collective\""), std::string::npos) << unknown;
}

}  // namespace
}  // namespace geotrain
