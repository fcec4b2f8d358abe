// Communication-efficient strategies: equivalences with DDP / DiLoCo / plain training, traffic
// read from the ledger (PacTrain's (1-s)N, Top-k's growth with M, Streaming DiLoCo's 1/P peak,
// fp4's eighth), and Fashion-MNIST accuracy near DDP's with far fewer WAN bytes.
#include <map>

#include <gtest/gtest.h>

#include "sim/strategies/outer.h"
#include "sim/training.h"
#include "test_util.h"

namespace geotrain {
namespace {

using testing::real_scenario;
using testing::run_captured;
using testing::UniformNet;

const nlohmann::json kMlp = {{"type", "mlp"}, {"hidden", {16}}, {"activation", "tanh"}};
const nlohmann::json kSmallData = {{"name", "fashion_mnist"}, {"train_samples", 600}, {"test_samples", 100}};
const nlohmann::json kOuterSgd1 = {{"name", "sgd"}, {"lr", 1.0}, {"momentum", 0.0}};

UniformNet two_by_two() {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  return net;
}

using testing::max_rel_diff;

std::vector<float> params_of(const nlohmann::json& strategy, int steps, const UniformNet& net = two_by_two(),
                             int batch = 10) {
  return run_captured(real_scenario(net, kMlp, kSmallData, strategy, batch, steps, 0.1)).params;
}

TEST(Equivalence, DilocoWithH1AndOuterSgd1EqualsDdp) {
  const auto ddp = params_of({{"name", "ddp"}}, 20);
  const auto diloco = params_of({{"name", "diloco"}, {"H", 1}, {"outer", kOuterSgd1}}, 20);
  EXPECT_LT(max_rel_diff(diloco, ddp), 1e-5);
}

TEST(Equivalence, LocalSgdWithOneWorkerEqualsPlainTraining) {
  UniformNet one;
  one.workers_per_region = 1;
  const auto scenario = real_scenario(one, kMlp, kSmallData, {{"name", "local_sgd"}, {"H", 5}}, 10, 20, 0.1);
  const auto local = run_captured(scenario).params;
  const auto plain = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    sim::Training training(s, 1);
    auto t = training.make_trainer(0);
    for (int i = 0; i < 20; ++i) {
      t->forward_backward(10);
      t->optimizer_step(t->grads());
    }
    const auto v = t->params().values();
    return nlohmann::json(std::vector<float>(v.begin(), v.end())).dump();
  })).get<std::vector<float>>();
  // theta_g - (theta_g - theta_m) is theta_m up to one fp32 rounding per sync.
  ASSERT_EQ(local.size(), plain.size());
  for (std::size_t i = 0; i < local.size(); ++i) ASSERT_NEAR(local[i], plain[i], 1e-6 + 1e-5 * std::abs(plain[i])) << i;
}

TEST(Equivalence, StreamingDilocoWithOneFragmentNoOverlapEqualsDiloco) {
  const nlohmann::json outer = {{"name", "nesterov"}, {"lr", 0.7}, {"momentum", 0.9}};
  const auto diloco = params_of({{"name", "diloco"}, {"H", 5}, {"outer", outer}}, 20);
  const auto streaming = params_of({{"name", "streaming_diloco"}, {"H", 5}, {"fragments", 1}, {"tau", 0},
                                    {"alpha", 0.0}, {"wire_format", "fp32"}, {"outer", outer}}, 20);
  EXPECT_LT(max_rel_diff(streaming, diloco), 1e-6);
}

TEST(Equivalence, PalsgdWithP0EqualsDiloco) {
  const nlohmann::json outer = {{"name", "nesterov"}, {"lr", 0.7}, {"momentum", 0.9}};
  const auto diloco = params_of({{"name", "diloco"}, {"H", 5}, {"outer", outer}}, 20);
  const auto palsgd = params_of({{"name", "palsgd"}, {"H", 5}, {"p", 0.0}, {"outer", outer}}, 20);
  EXPECT_LT(max_rel_diff(palsgd, diloco), 1e-6);
}

TEST(Equivalence, PacTrainWithSparsity0EqualsDdp) {
  const auto ddp = params_of({{"name", "ddp"}}, 20);
  const auto pactrain = params_of({{"name", "pactrain"}, {"sparsity", 0.0}, {"warmup_steps", 3}}, 20);
  EXPECT_LT(max_rel_diff(pactrain, ddp), 1e-6);
}

TEST(Equivalence, HivemindAllAliveNoDelayTargetMbEqualsDdp) {
  const auto ddp = params_of({{"name", "ddp"}, {"allreduce", "butterfly"}}, 20);
  const auto hive = params_of({{"name", "hivemind"}, {"target_batch", 4 * 10}, {"matchmaking_s", 0},
                               {"compression", "fp32"}, {"delayed_update", false}}, 20);
  EXPECT_LT(max_rel_diff(hive, ddp), 1e-5);
}

// fp16's largest finite value is 65504: a peer that accumulates more samples than that in a
// round must still average (the sample count travels as a weight beside the compressed mean
// gradient, as hivemind's averager does, never inside the fp16 tensor).
nlohmann::json hivemind_linear(const std::string& compression, int samples_per_peer, int rounds) {
  UniformNet net;
  net.workers_per_region = 2;
  const nlohmann::json model = {{"type", "linear_regression"}};
  const nlohmann::json data = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 512}, {"noise", 0.1}};
  const nlohmann::json strategy = {{"name", "hivemind"}, {"target_batch", 2 * samples_per_peer},
                                   {"matchmaking_s", 0}, {"compression", compression}, {"delayed_update", false}};
  return real_scenario(net, model, data, strategy, samples_per_peer, rounds, 0.05);
}

TEST(Hivemind, Fp16RoundsOfMoreThan65504SamplesPerPeerMatchFp32) {
  constexpr int kSamplesPerPeer = 66000, kRounds = 10;
  const auto scenario = hivemind_linear("fp32", kSamplesPerPeer, kRounds);
  const auto fp32 = run_captured(scenario).params;
  const auto fp16 = run_captured(hivemind_linear("fp16", kSamplesPerPeer, kRounds)).params;
  ASSERT_EQ(fp16.size(), 9u);  // 8 weights and a bias, all finite
  EXPECT_LT(testing::distance_to_optimum(fp32, scenario), 0.8);  // the model moved (from 1: zeros)
  EXPECT_LT(max_rel_diff(fp16, fp32), 2e-3);                      // fp16 rounding of the mean gradient only
}

// Size-only traffic, read from the ledger.
nlohmann::json phantom_run(const UniformNet& net, double parameters, const nlohmann::json& strategy, int steps) {
  auto s = testing::uniform_scenario(net, parameters, "ring");
  s["strategy"] = strategy;
  s["workload"]["steps"] = steps;
  return nlohmann::json::parse(
      sim::run_isolated([&] { return sim::run_scenario(sim::parse_scenario(s, "t.json")).results.dump(); }));
}

TEST(Traffic, PacTrainSendsOneMinusSOfTheValues) {
  const UniformNet net = two_by_two();
  constexpr double kN = 1e6, kSparsity = 0.75;
  const auto r = phantom_run(net, kN, {{"name", "pactrain"}, {"sparsity", kSparsity}, {"warmup_steps", 0}}, 3);
  // Ring all-reduce of the compact vector: each of 4 workers sends 2(M-1)/M of it, 3 steps.
  const double kept = (1 - kSparsity) * kN;
  EXPECT_DOUBLE_EQ(r["traffic_bytes"]["total"].get<double>(), 3 * 4 * (2.0 * 3 / 4) * kept * 4);
}

TEST(Traffic, TopkAllgatherVolumeGrowsWithWorkers) {
  constexpr double kN = 1e6, kRatio = 0.01;
  std::vector<double> per_worker;
  for (int per_region : {1, 2, 4}) {
    UniformNet net;
    net.regions = 2;
    net.workers_per_region = per_region;
    const int m = 2 * per_region;
    const auto r = phantom_run(net, kN, {{"name", "topk"}, {"ratio", kRatio}}, 1);
    // Every worker receives the (value, index) pairs of the M-1 others: 8 B each.
    EXPECT_DOUBLE_EQ(r["traffic_bytes"]["total"].get<double>(), m * (m - 1) * kRatio * kN * 8);
    per_worker.push_back(r["traffic_bytes"]["total"].get<double>() / m);
  }
  EXPECT_LT(per_worker[0], per_worker[1]);
  EXPECT_LT(per_worker[1], per_worker[2]);
}

TEST(Traffic, StreamingDilocoPeakInFlightIsAboutOneOverP) {
  const UniformNet net = two_by_two();
  constexpr double kN = 1e6;
  const auto diloco = phantom_run(net, kN, {{"name", "diloco"}, {"H", 8}}, 16);
  for (int p : {2, 4}) {
    const auto streaming = phantom_run(net, kN, {{"name", "streaming_diloco"}, {"H", 8}, {"fragments", p}, {"tau", 1},
                                                 {"wire_format", "fp32"}}, 16);
    const double ratio = streaming["traffic_bytes"]["peak_in_flight"].get<double>() /
                         diloco["traffic_bytes"]["peak_in_flight"].get<double>();
    EXPECT_NEAR(ratio, 1.0 / p, 0.01) << "P=" << p;
  }
}

// Strided fragments (the paper's layout): layer l of the layers with parameters in fragment
// l mod P, as ranges of the flat parameters; a layer without parameters takes no turn.
TEST(Fragments, StridedFragmentsTakeEveryPthLayer) {
  std::vector<runtime::Layer> layers;
  for (const double p : {10, 20, 0, 30, 40, 50, 60}) layers.push_back({"l", p, 0, 0});
  using R = std::vector<std::pair<std::size_t, std::size_t>>;
  const auto ranges = [&](int fragments, int f) {
    R out;
    const auto numel = static_cast<std::size_t>(runtime::total_parameters(layers));
    for (const auto& r : sim::strided_fragment(layers, numel, fragments, f)) out.emplace_back(r.begin, r.count);
    return out;
  };
  EXPECT_EQ(ranges(3, 0), (R{{0, 10}, {60, 40}}));
  EXPECT_EQ(ranges(3, 1), (R{{10, 20}, {100, 50}}));
  EXPECT_EQ(ranges(3, 2), (R{{30, 30}, {150, 60}}));
  EXPECT_EQ(ranges(1, 0), (R{{0, 210}}));  // one fragment: one range, as contiguous
  // Fractional counts ("layers" workloads take any number): a layer ends at its cumulative count,
  // truncated, the last at the vector's end; a layer left empty takes no turn.
  layers = {{"a", 1.5, 0, 0}, {"b", 2.5, 0, 0}, {"c", 0.4, 0, 0}, {"d", 0.6, 0, 0}};
  EXPECT_EQ(ranges(2, 0), (R{{0, 1}, {4, 1}}));
  EXPECT_EQ(ranges(2, 1), (R{{1, 3}}));
}

// Six layers of 10..60 x 10^4 parameters in 3 fragments over two periods: strided fragments
// (layers {0, 3}, {1, 4}, {2, 5}: 50, 70, 90 x 10^4) send what contiguous ones (70 x 10^4 each)
// send; the largest fragment sets the peak in flight.
TEST(Traffic, StridedFragmentsSendTheSameBytesAsContiguousOnes) {
  auto s = testing::uniform_scenario(two_by_two(), 1, "ring");
  nlohmann::json layers = nlohmann::json::array();
  for (int l = 1; l <= 6; ++l) layers.push_back({{"name", "l" + std::to_string(l)}, {"parameters", l * 1e5}, {"forward_flops", 1e9}});
  s["workload"]["model"] = {{"type", "layers"}, {"layers", layers}};
  s["workload"]["steps"] = 12;
  const auto run = [&](const std::string& layout) {
    s["strategy"] = {{"name", "streaming_diloco"}, {"H", 6}, {"fragments", 3}, {"tau", 1}, {"wire_format", "fp32"}};
    if (!layout.empty()) s["strategy"]["fragment_layout"] = layout;
    return nlohmann::json::parse(
        sim::run_isolated([&] { return sim::run_scenario(sim::parse_scenario(s, "t.json")).results.dump(); }));
  };
  const auto strided = run("strided"), contiguous = run("contiguous");
  EXPECT_EQ(strided["traffic_bytes"]["total"], contiguous["traffic_bytes"]["total"]);
  EXPECT_NEAR(strided["traffic_bytes"]["peak_in_flight"].get<double>() /
                  contiguous["traffic_bytes"]["peak_in_flight"].get<double>(),
              90.0 / 70, 1e-6);
  // The default: strided, the model has 6 layers >= 3 fragments.
  EXPECT_EQ(run("")["traffic_bytes"]["peak_in_flight"], strided["traffic_bytes"]["peak_in_flight"]);
  s["strategy"]["fragments"] = 6;
  s["strategy"]["H"] = 12;
  s["workload"]["model"]["layers"].erase(5);
  EXPECT_EQ(testing::parse_error(s), "no error");  // 5 layers, 6 fragments: contiguous by default
  s["strategy"]["fragment_layout"] = "strided";
  EXPECT_EQ(testing::parse_error(s),
            "f.json: /strategy/fragment_layout: \"strided\": strided fragments need a layer with parameters per "
            "fragment: the model has 5, for 6 fragments; expected \"contiguous\" or fewer fragments");
}

// A merge whose all-reduce has not ended blocks only the forward of its fragment's layers: the
// forward runs up to the fragment's first layer meanwhile.  Two layers, fragment 0 = layer 0,
// fragment 1 = layer 1; every sync takes longer than a step, so each merge waits.  Swapping the
// layers' forward FLOPs (a, b) changes no total, only how much of the forward fragment 1's
// merges overlap: a in run A, b in run B.  Fragment 1 merges 4 times before a next step (steps 3,
// 7, 11, 15 of 16), fragment 0's merges overlap nothing: T_A - T_B = 4 x batch x (b - a) / rate.
TEST(Schedule, AStreamingMergeBlocksOnlyTheForwardOfItsFragmentsLayers) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 1;
  net.wan_Gbps = 0.5;  // a fragment's 40 MB all-reduce: ~0.64 s, a step: 0.192 s
  constexpr double kA = 1e11, kB = 3e11, kBackward = 4e11, kBatch = 8, kRate = 100e12 * 0.5;
  for (const std::string fidelity : {"message", "collective"}) {
    const auto run = [&](double forward0, double forward1) {
      auto s = testing::uniform_scenario(net, 1, "ring");
      s["workload"]["model"] = {{"type", "layers"},
                                {"layers", {{{"name", "l0"}, {"parameters", 1e7}, {"forward_flops", forward0}, {"backward_flops", kBackward}},
                                            {{"name", "l1"}, {"parameters", 1e7}, {"forward_flops", forward1}, {"backward_flops", kBackward}}}}};
      s["workload"]["steps"] = 16;
      s["network"]["fidelity"] = fidelity;
      s["strategy"] = {{"name", "streaming_diloco"}, {"H", 4}, {"fragments", 2}, {"tau", 1}, {"wire_format", "fp32"}};
      return nlohmann::json::parse(
          sim::run_isolated([&] { return sim::run_scenario(sim::parse_scenario(s, "t.json")).results.dump(); }));
    };
    const auto a = run(kA, kB), b = run(kB, kA);
    const double expected = 4 * kBatch * (kB - kA) / kRate;  // 0.128 s
    EXPECT_NEAR(a["simulated_s"].get<double>() - b["simulated_s"].get<double>(), expected, 1e-9) << fidelity;
    // Every merge waited: more than a step's compute of exposed communication per merge.
    EXPECT_GT(b["time_breakdown_s"]["communication_exposed"].get<double>(), 7 * 0.2) << fidelity;
    // The forward split around a merge still counts whole in the step breakdown.
    EXPECT_NEAR(a["step_breakdown_s"]["forward"].get<double>(), kBatch * (kA + kB) / kRate, 1e-12) << fidelity;
    EXPECT_NEAR(b["step_breakdown_s"]["forward"].get<double>(), kBatch * (kA + kB) / kRate, 1e-12) << fidelity;
  }
}

// Each of Streaming DiLoCo's fragment syncs is a trace span named after its fragment, in the
// helper (tau 1) and in the worker (tau 0); the collective statistics keep the plain key, and
// count the same syncs.
TEST(Trace, StreamingSyncSpansNameTheirFragment) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 1;
  for (const int tau : {0, 1})
    for (const std::string fidelity : {"message", "collective"}) {
      auto s = testing::uniform_scenario(net, 1, "ring");
      s["workload"]["model"] = {{"type", "layers"},
                                {"layers", {{{"name", "l0"}, {"parameters", 1e6}, {"forward_flops", 1e9}},
                                            {{"name", "l1"}, {"parameters", 1e6}, {"forward_flops", 1e9}}}}};
      s["workload"]["steps"] = 8;
      s["network"]["fidelity"] = fidelity;
      s["strategy"] = {{"name", "streaming_diloco"}, {"H", 4}, {"fragments", 2}, {"tau", tau}, {"wire_format", "fp32"}};
      const auto both = nlohmann::json::parse(sim::run_isolated([&] {
        const sim::RunOutput out = sim::run_scenario(sim::parse_scenario(s, "t.json"));
        return nlohmann::json{{"results", out.results}, {"trace", nlohmann::json::parse(out.trace_json())}}.dump();
      }));
      std::map<std::string, int> spans;
      for (const auto& e : both["trace"]["traceEvents"])
        if (e["ph"] == "X" && e["cat"] != "compute") ++spans[e["name"].get<std::string>()];
      const std::string what = fidelity + " tau " + std::to_string(tau);
      EXPECT_EQ(spans.count("allreduce/ring"), 0u) << what;
      // Fragment 1 syncs at steps 2 and 6, fragment 0 at step 4 (and 8, the end): per worker.
      EXPECT_EQ(spans["allreduce/ring fragment 1"], 2 * 2) << what;
      EXPECT_GE(spans["allreduce/ring fragment 0"], 1 * 2) << what;
      const auto& stats = both["results"]["collectives"][0];
      EXPECT_EQ(stats["algorithm"], "ring") << what;
      EXPECT_EQ(stats["count"].get<int>(), spans["allreduce/ring fragment 0"] + spans["allreduce/ring fragment 1"])
          << what;
    }
}

// A global copy of several ranges gathers them end to end, and its outer gradient and merge
// touch those ranges only.
TEST(Fragments, AGlobalCopyOfSeveralRangesGathersAndScattersThem) {
  const auto out = nlohmann::json::parse(sim::run_isolated([] {
    const auto scenario = testing::four_linear_workers({{"name", "diloco"}}, 1);  // 8 weights and a bias
    const sim::Scenario s = sim::parse_scenario(scenario, "t.json");
    sim::Training training(s, 1);
    auto t = training.make_trainer(0);
    auto p = t->params().values();
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(i);
    sim::GlobalCopy g(*t, std::vector<sim::ChunkRange>{{1, 2}, {5, 3}}, runtime::OptimizerSpec{});
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(10 * i);
    const auto delta = g.outer_gradient(*t, kernels::WireFormat::fp32);
    const auto theta_g = g.params().values();
    g.merge_into(*t, 0.0);
    return nlohmann::json{{"theta_g", std::vector<float>(theta_g.begin(), theta_g.end())},
                          {"delta", std::vector<float>(delta.values().begin(), delta.values().end())},
                          {"merged", std::vector<float>(p.begin(), p.end())}}
        .dump();
  }));
  EXPECT_EQ(out["theta_g"], (std::vector<float>{1, 2, 5, 6, 7}));
  EXPECT_EQ(out["delta"], (std::vector<float>{1 - 10, 2 - 20, 5 - 50, 6 - 60, 7 - 70}));
  EXPECT_EQ(out["merged"], (std::vector<float>{0, 1, 2, 30, 40, 5, 6, 7, 80}));
}

TEST(Traffic, Fp4SendsAnEighthOfFp32PlusScales) {
  const UniformNet net = two_by_two();
  constexpr double kN = 1 << 20;
  const auto fp32 = phantom_run(net, kN, {{"name", "diloco"}, {"H", 4}, {"wire_format", "fp32"}}, 8);
  const auto fp4 = phantom_run(net, kN, {{"name", "diloco"}, {"H", 4}, {"wire_format", "fp4"}}, 8);
  const double ratio = fp4["traffic_bytes"]["total"].get<double>() / fp32["traffic_bytes"]["total"].get<double>();
  // 4 bits a value plus one fp32 scale per 256 values: (0.5 + 4/256) / 4.
  EXPECT_NEAR(ratio, (0.5 + 4.0 / 256) / 4, 1e-4);
}

// Fashion-MNIST, 4 workers in 2 regions, the same samples for everyone.
nlohmann::json fmnist_run(const nlohmann::json& strategy, const nlohmann::json& optimizer) {
  auto s = real_scenario(two_by_two(), {{"type", "mlp"}, {"hidden", {100}}}, {{"name", "fashion_mnist"}}, strategy,
                         32, 1200, 0.05);
  s["workload"]["optimizer"] = optimizer;
  return run_captured(s).results;
}

TEST(Convergence, CommunicationEfficientStrategiesMatchDdpWithFarFewerWanBytes) {
  const nlohmann::json momentum = {{"name", "momentum"}, {"lr", 0.05}, {"momentum", 0.9}};
  const nlohmann::json adamw = {{"name", "adamw"}, {"lr", 0.001}};
  const auto ddp = fmnist_run({{"name", "ddp"}}, momentum);
  const double ddp_acc = ddp["convergence"]["final_test_accuracy"];
  const double ddp_wan = ddp["traffic_bytes"]["wan"];
  struct Case {
    nlohmann::json strategy;
    nlohmann::json optimizer;
    double min_wan_reduction;
  };
  const std::vector<Case> cases = {
      {{{"name", "diloco"}, {"H", 50}}, adamw, 10},
      {{{"name", "streaming_diloco"}, {"H", 50}, {"fragments", 2}, {"tau", 1}, {"wire_format", "fp4"}}, adamw, 10},
      {{{"name", "palsgd"}, {"H", 50}, {"p", 0.1}, {"eta", 0.5}}, adamw, 10},
      {{{"name", "pactrain"}, {"sparsity", 0.5}, {"warmup_steps", 0}}, momentum, 1 / (1 - 0.5)}};
  for (const auto& c : cases) {
    const auto r = fmnist_run(c.strategy, c.optimizer);
    // PALSGD's pull steps skip the backward pass and use no samples: it may see fewer.
    if (c.strategy["name"] == "palsgd") EXPECT_LE(r["samples"].get<double>(), ddp["samples"].get<double>());
    else EXPECT_EQ(r["samples"], ddp["samples"]);
    EXPECT_GE(r["convergence"]["final_test_accuracy"].get<double>(), ddp_acc - 0.02)
        << c.strategy.dump() << " vs DDP " << ddp_acc;
    EXPECT_GE(ddp_wan / r["traffic_bytes"]["wan"].get<double>(), c.min_wan_reduction - 1e-9) << c.strategy.dump();
  }
}

}  // namespace
}  // namespace geotrain
