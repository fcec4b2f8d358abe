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

// `faster`: where SimGrid's max-min sharing and the collective fidelity's equal sharing part
// (analytic.h), the collective fidelity may be faster, by at most that fraction.
void expect_same_allreduce(const nlohmann::json& scenario, std::size_t numel, const std::string& algo,
                           const std::string& what, double faster = 0) {
  const auto message = one_allreduce(with_fidelity(scenario, "message"), numel, algo);
  const auto analytic = one_allreduce(with_fidelity(scenario, "collective"), numel, algo);
  const double expect = message["s"].get<double>();
  if (faster > 0) {
    EXPECT_LE(analytic["s"].get<double>(), expect + kAgree_s) << algo << " " << what;
    EXPECT_GE(analytic["s"].get<double>(), (1 - faster) * expect) << algo << " " << what;
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
          // The tree's phases overlap here (a member forwards down a WAN link while its parent
          // still sends to its sibling across the same link): the flows of both phases share it.
          // When only a phase's own flows shared a link, the tree was up to 3% faster.
          for (std::size_t numel : {std::size_t{7}, std::size_t{1000003}})
            expect_same_allreduce(s, numel, algo,
                                  fmt::format("regions={} per region={} cap={} numel={}", regions, per_region, cap, numel));
        }
}

TEST(CollectiveFidelity, SameTimeAndBytesAsMessagesOnUnequalWanLinks) {
  for (const std::string algo : {"ring", "tree", "hierarchical", "butterfly"})
    for (const std::vector<int>& counts : std::vector<std::vector<int>>{{1, 1, 1, 1}, {2, 3, 2, 1}, {4, 4, 4, 4}})
    {
      // The tree's phases overlap in message fidelity (a member forwards while its parent still
      // sends), and with GCP's 4 NCCL sockets an in-region flow and a WAN flow of another phase
      // share a NIC: SimGrid shares it max-min, the collective fidelity equally (analytic.h).
      // Measured: 0.076% faster with {2, 3, 2, 1} (0.15% before flows of different phases
      // shared links), equal with the other counts.
      const bool in_region_pairs = *std::max_element(counts.begin(), counts.end()) > 1;
      const double faster = algo == "tree" && in_region_pairs ? 0.001 : 0;
      expect_same_allreduce(testing::gcp_scenario(counts, 1e6, algo), 2500000, algo,
                            fmt::format("gcp {}", nlohmann::json(counts).dump()), faster);
    }
}

// At 10,000 workers the tree's broadcast runs phases of thousands of flows that overlap in time on
// the same WAN links.  When only a phase's own flows shared a link, the collective fidelity was
// 23% short here (62.16 against 80.44 s, measured 2026-12-04 with the old model put back).
TEST(CollectiveFidelity, TreeOfTenThousandWorkersTakesTheMessageTime) {
  if (sim::actors_on_threads()) GTEST_SKIP() << "actors on thread contexts: 10,000 OS threads";
  expect_same_allreduce(testing::gcp_scenario({2500, 2500, 2500, 2500}, 1e6, "tree"), 1000000, "tree",
                        "10,000 workers");
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

// A ring step is held as one entry and read back as its flows: in step s member i sends chunk
// (i + first - s) mod n, the first numel mod n chunks one value longer (10 values over 3: 4, 3, 3
// values, 16, 12, 12 bytes in fp32).  A phase keeps explicit flows and ring steps in the order
// they were added, also when phases run alongside.
TEST(CollectiveSchedules, RingStepsReadBackAsTheirFlowsInOrder) {
  const auto t = runtime::Tensor::phantom(10);
  const std::vector<int> ring = {5, 7, 9};
  const auto flows_of = [](const sim::Phase& phase) {
    std::vector<std::vector<std::uint64_t>> out;
    phase.for_each([&](const sim::Flow& f) {
      out.push_back({static_cast<std::uint64_t>(f.src), static_cast<std::uint64_t>(f.dst), f.bytes});
    });
    return out;
  };
  using Rows = std::vector<std::vector<std::uint64_t>>;
  const sim::Schedule rs = sim::ring_reduce_scatter_schedule(t, ring);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(flows_of(rs[0]), (Rows{{5, 7, 16}, {7, 9, 12}, {9, 5, 12}}));
  EXPECT_EQ(flows_of(rs[1]), (Rows{{5, 7, 12}, {7, 9, 16}, {9, 5, 12}}));
  const sim::Schedule ag = sim::ring_allgather_schedule(t, ring, 1);
  ASSERT_EQ(ag.size(), 2u);
  EXPECT_EQ(flows_of(ag[0]), (Rows{{5, 7, 12}, {7, 9, 12}, {9, 5, 16}}));
  EXPECT_EQ(flows_of(ag[1]), (Rows{{5, 7, 16}, {7, 9, 12}, {9, 5, 12}}));
  EXPECT_EQ(sim::ring_allreduce_schedule(t, ring).size(), 4u);

  sim::Schedule mixed = {{{1, 2, 3}}};
  mixed[0].append(rs[0]);
  mixed[0].push_back({4, 5, 6});
  sim::run_alongside(mixed, {{{8, 8, 8}}, {{9, 9, 9}}});
  ASSERT_EQ(mixed.size(), 2u);
  EXPECT_EQ(mixed[0].size(), 6u);
  EXPECT_EQ(flows_of(mixed[0]), (Rows{{1, 2, 3}, {5, 7, 16}, {7, 9, 12}, {9, 5, 12}, {4, 5, 6}, {8, 8, 8}}));
  std::vector<sim::Flow> expanded;
  mixed[0].expand(expanded);
  ASSERT_EQ(expanded.size(), 6u);
  EXPECT_EQ(expanded[4].dst, 5);
  for (std::size_t k = 0; k < expanded.size(); ++k) {  // random access walks the same order
    EXPECT_EQ(mixed[0].at(k).src, expanded[k].src) << k;
    EXPECT_EQ(mixed[0].at(k).dst, expanded[k].dst) << k;
    EXPECT_EQ(mixed[0].at(k).bytes, expanded[k].bytes) << k;
  }
  EXPECT_EQ(flows_of(mixed[1]), (Rows{{9, 9, 9}}));
}

// The ring's n(n-1) flows per pass are held as n-1 entries: a ring over 10,000 members is 9,999
// phases of one ring step each (2e8 flows as flows would be 2.4 GB).
TEST(CollectiveSchedules, ARingOfTenThousandIsHeldStepByStep) {
  std::vector<int> ring(10000);
  std::iota(ring.begin(), ring.end(), 0);
  const sim::Schedule rs = sim::ring_reduce_scatter_schedule(runtime::Tensor::phantom(25'000'001), ring);
  ASSERT_EQ(rs.size(), 9999u);
  EXPECT_EQ(rs.back().size(), 10000u);
  std::uint64_t bytes = 0;
  rs.back().for_each([&](const sim::Flow& f) { bytes += f.bytes; });
  EXPECT_EQ(bytes, 4u * 25'000'001u);  // one pass carries every chunk once
}

// Flows share what they cross equally while they move: two senders into one NIC get half of it
// each, also when they belong to different phases; a flow of a later phase waits for its sender
// and receiver, not for unrelated nodes.
TEST(CollectiveFidelity, FlowsMovingTogetherShareLinksAndLaterFlowsWaitOnlyForTheirNodes) {
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
      // 0 posted its receive from 3: 3-0 starts when 2-3 ends and shares 0's NIC with 1-0.
      seconds.push_back(time({{{1, 0, b}, {2, 3, b / 2}}, {{3, 0, b / 2, true}}}));
    });
    return seconds.dump();
  }));
  const double alpha = net.lan_latency_ms * 1e-3, beta = net.nic_Gbps * 1e9 / 8, bytes = 1e8;
  EXPECT_NEAR(out[0].get<double>(), alpha + bytes / beta, 1e-12);
  EXPECT_NEAR(out[1].get<double>(), alpha + 2 * bytes / beta, 1e-12);
  EXPECT_NEAR(out[2].get<double>(), alpha + bytes / beta, 1e-12);
  EXPECT_NEAR(out[3].get<double>(), 2 * alpha + bytes / beta, 1e-12);        // 2 x half a transfer
  EXPECT_NEAR(out[4].get<double>(), 2 * alpha + 1.5 * bytes / beta, 1e-12);  // after the whole 1-0
  // 1-0 alone until 3-0 moves (alpha after 2-3 ended, at 2 alpha + bytes/2 beta), then both at
  // half the NIC until 1-0 ends at 1.5 bytes/beta; 3-0's last alpha beta bytes alone.
  EXPECT_NEAR(out[5].get<double>(), alpha + 1.5 * bytes / beta, 1e-12);
}

// The phase-by-phase shortcut (schedules whose flows move in lockstep) gives the bits of the
// event-by-event clock.
TEST(CollectiveFidelity, LockstepShortcutGivesTheEventClocksBits) {
  // [counts][algorithm]: {shortcut where it applies, event by event}
  const auto both_clocks = [](const std::vector<int>& counts) {
    return nlohmann::json::parse(sim::run_isolated([&] {
      const sim::Scenario s = sim::parse_scenario(testing::gcp_scenario(counts, 1e6, "ring"), "test.json");
      nlohmann::json rows = nlohmann::json::array();
      sim::run_program(s, [&](sim::WorkerContext& ctx) {
        if (ctx.rank() != 0) return;
        const auto& order = ctx.platform().ring_order();
        const auto t = runtime::Tensor::phantom(2500000);
        for (const sim::Schedule& sch : {sim::ring_allreduce_schedule(t, order),
                                         sim::hierarchical_allreduce_schedule(t, ctx.platform().region_groups()),
                                         sim::tree_allreduce_schedule(t, order)})
          rows.push_back({sim::schedule_time_s(ctx.platform(), sch), sim::flow_by_flow_time_s(ctx.platform(), sch)});
      });
      return rows.dump();
    }));
  };
  // Multiplying the shortcut's result by 1 + 1e-7 fails 7 of these 9 rows: the shortcut runs there (the
  // hierarchical rows with unequal chunks since the gather phase is timed alone).
  for (const std::vector<int>& counts : std::vector<std::vector<int>>{{2, 3, 2, 1}, {1, 1, 1, 1}, {4, 4, 4, 4}}) {
    const auto rows = both_clocks(counts);
    ASSERT_EQ(rows.size(), 3u);
    for (const auto& row : rows) EXPECT_EQ(row[0].get<double>(), row[1].get<double>()) << row.dump();
  }
}

// A phase whose flows on a resource do not move over one interval (a gather of unequal chunks
// into one NIC) is timed event by event among its own flows, then the clock goes on phase by
// phase: the bits of the event-by-event clock, without listing the whole schedule.  Phases that
// overlap on a resource are left to the event clock.
TEST(CollectiveFidelity, PhaseOfUnequalFlowsIsTimedAloneWithTheEventClocksBits) {
  UniformNet net;
  net.workers_per_region = 4;
  const auto out = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(testing::uniform_scenario(net, 1, "ring"), "test.json");
    nlohmann::json rows = nlohmann::json::array();
    sim::run_program(s, [&](sim::WorkerContext& ctx) {
      if (ctx.rank() != 0) return;
      const std::uint64_t b = 100'000'000;
      const auto row = [&](const sim::Schedule& sch) {
        const std::optional<double> phased = sim::phase_by_phase_time_s(ctx.platform(), sch);
        rows.push_back({phased ? nlohmann::json(*phased) : nlohmann::json(), sim::flow_by_flow_time_s(ctx.platform(), sch)});
      };
      // Unequal chunks into node 0, then 0 sends on; a ring step after a gather.
      row({{{1, 0, b}, {2, 0, b / 2}}, {{0, 3, b}}});
      row({{{1, 0, b}, {2, 0, b / 2}, {3, 0, b / 4}}, {{0, 1, b}, {1, 2, b}, {2, 3, b / 2}, {3, 0, b / 4}}});
      // 3-0 is posted by 0 and moves while 1-0 still does: the phases overlap on 0's NIC.
      row({{{1, 0, b}, {2, 3, b / 2}}, {{3, 0, b / 2, true}}});
    });
    return rows.dump();
  }));
  const double alpha = net.lan_latency_ms * 1e-3, beta = net.nic_Gbps * 1e9 / 8, bytes = 1e8;
  ASSERT_EQ(out.size(), 3u);
  // 1-0 and 2-0 share 0's NIC until 2-0 ends at alpha + bytes/beta; 1-0's other half alone; then 0-3.
  ASSERT_FALSE(out[0][0].is_null());
  EXPECT_NEAR(out[0][0].get<double>(), 2 * alpha + 2.5 * bytes / beta, 1e-12);
  EXPECT_EQ(out[0][0].get<double>(), out[0][1].get<double>());
  ASSERT_FALSE(out[1][0].is_null());
  EXPECT_EQ(out[1][0].get<double>(), out[1][1].get<double>());
  EXPECT_TRUE(out[2][0].is_null());
  EXPECT_NEAR(out[2][1].get<double>(), alpha + 1.5 * bytes / beta, 1e-12);
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

// The whole fleet meets by each rank's position (Platform::all_group, built once), subsets by
// their members: two disjoint subsets reduce at the same time without meeting each other.
TEST(CollectiveFidelity, WholeFleetMeetsByPositionAndDisjointSubsetsMeetApart) {
  const auto scenario = with_fidelity(testing::gcp_scenario({2, 3, 2, 1}, 1, "ring"), "collective");
  const std::vector<int> a = {0, 3, 6}, b = {1, 2, 4, 5, 7};
  const auto out = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    nlohmann::json outputs = {{"whole", nlohmann::json::array()}, {"subset", nlohmann::json::array()}};
    for (int r = 0; r < 8; ++r) outputs["whole"].push_back(nullptr), outputs["subset"].push_back(nullptr);
    sim::run_program(s, [&](sim::WorkerContext& ctx) {
      const auto& group = ctx.platform().all_group();
      const auto& ring = ctx.platform().ring_order();
      const int place = static_cast<int>(std::find(ring.begin(), ring.end(), ctx.rank()) - ring.begin());
      if (group.position_of(ctx.rank()) != place || group.position_of(8) != -1 || !group.whole)
        outputs["whole"][ctx.rank()] = "wrong position";
      const auto algo = sim::allreduce_algo_from_name("ring");
      runtime::Tensor t = runtime::Tensor::from({float(ctx.rank() + 1)});
      ctx.allreduce_mean(t, algo);
      if (outputs["whole"][ctx.rank()].is_null()) outputs["whole"][ctx.rank()] = t.values()[0];
      const bool in_a = std::binary_search(a.begin(), a.end(), ctx.rank());
      runtime::Tensor u = runtime::Tensor::from({float(ctx.rank() + 1)});
      ctx.allreduce_mean(u, algo, in_a ? a : b);
      outputs["subset"][ctx.rank()] = u.values()[0];
    });
    return outputs.dump();
  }));
  for (int r = 0; r < 8; ++r) {
    EXPECT_EQ(out["whole"][r], 4.5) << r;  // (1 + ... + 8) / 8
    const bool in_a = std::binary_search(a.begin(), a.end(), r);
    EXPECT_FLOAT_EQ(out["subset"][r].get<float>(), in_a ? 4.0f : 4.8f) << r;  // 12 / 3, 24 / 5
  }
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
