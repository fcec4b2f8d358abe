// Tests of `geotrain validate` and analysis/recommend.h: training-state sizes and run lengths in
// closed form, a model too large for a T4, an unreachable region, a bandwidth-starved deployment
// (DiLoCo ranks above DDP), the egress warning, ranking order, deterministic JSON, bad input.
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analysis/recommend.h"
#include "analysis/replicas.h"
#include "cli_test_util.h"
#include "sim/deployment_plan.h"
#include "sim/faults.h"
#include "sim/catalog.h"

namespace {

namespace fs = std::filesystem;
namespace an = geotrain::analysis;
namespace sim = geotrain::sim;
using nlohmann::json;
using geotrain::testing::read_file;
using geotrain::testing::write_file;

// The tiny two-region scenario (cli_test_util.h) with 1000 planned steps and no strategy.
json tiny_deployment() {
  json d = json::parse(geotrain::testing::kTinyScenario);
  d.erase("strategy");
  d["workload"]["steps"] = 1000;
  return d;
}

// Writes `doc` to a fresh folder and runs `geotrain validate` on it with `args`.
struct Validated {
  geotrain::testing::CliRun run;
  fs::path dir;
};
Validated validate(const json& doc, const std::string& args = "") {
  const fs::path dir = geotrain::testing::fresh_dir("geotrain_validate");
  write_file(dir / "deployment.json", doc.dump(2));
  return {geotrain::testing::run_geotrain("validate deployment.json --jobs 2 " + args, dir), dir};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The strategy catalog as recommend reads it (what `geotrain strategies --json` prints).
json catalog() { return json::parse(sim::strategy_catalog_json(1, "sgd").dump()); }

// ---- analysis/recommend.h and the catalog's state sizes ----

TEST(RecommendTest, CatalogTrainingStateBytesPerParameterInClosedForm) {
  // weights 4 + gradients 4 + optimizer state (sgd 0, momentum 4, adamw 8), plus strategy copies.
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "ddp"}}, "sgd").worker_B_per_param, 8);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "ddp"}}, "adamw").worker_B_per_param, 16);
  // DiLoCo: + outer copy 4 + outer Nesterov momentum 4.
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "diloco"}, {"H", 64}}, "adamw").worker_B_per_param, 24);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "streaming_diloco"}}, "sgd").worker_B_per_param, 16);
  // Local SGD averages with outer SGD (no state); an AdamW outer keeps two copies.
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "local_sgd"}}, "sgd").worker_B_per_param, 12);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "diloco"}, {"outer", {{"name", "adamw"}, {"lr", 0.1}}}}, "sgd").worker_B_per_param,
            20);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "pactrain"}}, "momentum").worker_B_per_param, 13);  // + 1 B mask
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "topk"}}, "sgd").worker_B_per_param, 8);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "topk"}, {"error_feedback", true}}, "sgd").worker_B_per_param, 12);
  // hivemind's default (delay_grad_averaging false): no round in flight.
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "hivemind"}}, "sgd").worker_B_per_param, 12);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "hivemind"}, {"delay_grad_averaging", true}}, "sgd").worker_B_per_param, 16);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "hivemind"}, {"delayed_update", true}}, "sgd").worker_B_per_param, 16);
  // A declared precision (bf16 parameters, fp32 or bf16 AdamW state): the strategy's copies stay fp32.
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "ddp"}}, "adamw", 2, 4).worker_B_per_param, 12);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "ddp"}}, "adamw", 2, 4).worker_items,
            "weights 2 + gradients 2 + adamw state 8");
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "ddp"}}, "adamw", 2, 2).worker_B_per_param, 8);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "diloco"}}, "adamw", 2, 4).worker_B_per_param, 20);
  // Parameter server: the optimizer lives on the servers, each holding 1/K of it.
  const auto ps = sim::strategy_state_bytes({{"name", "parameter_server"}, {"mode", "sync"}, {"shards", 2}}, "adamw");
  EXPECT_EQ(ps.worker_B_per_param, 8);
  EXPECT_EQ(ps.server_B_per_param, (4 + 8 + 4) / 2.0);
  EXPECT_EQ(sim::strategy_state_bytes({{"name", "ddp"}}, "adamw").worker_items, "weights 4 + gradients 4 + adamw state 8");
}

TEST(RecommendTest, RepresentativeStepsCoverThreeSyncPeriods) {
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "ddp"}}, 1000), 3);
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "diloco"}, {"H", 64}}, 1000), 192);
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "diloco"}}, 1000), 1000);  // default H 500: capped at the plan
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "local_sgd"}}, 1000), 300);
  // A warm-up keeps its planned share: the whole plan up to kWarmupRunSteps = 2000 steps.
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "pactrain"}}, 1000), 1000);
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "pactrain"}}, 5000), 2000);
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "pactrain"}, {"warmup_steps", 2500}}, 5000), 2503);
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "pactrain"}, {"checkpoint", "w.bin"}}, 1000), 3);
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "pactrain"}, {"warmup_steps", 0}}, 1000), 3);
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "hivemind"}}, 1000), 3);  // rounds
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "easgd"}}, 1000), 12);
  EXPECT_EQ(an::representative_steps(catalog(), {{"name", "ddp"}}, 2), 2);
}

TEST(RecommendTest, CandidatesMarkThePlannedStrategyOnceAndSkipLongPeriods) {
  an::DeploymentShape shape{100, 2, false, json{{"name", "ddp"}, {"allreduce", "hierarchical"}}};
  std::vector<std::string> skipped;
  const auto c = an::candidate_strategies(catalog(), shape, skipped);
  EXPECT_EQ(std::count_if(c.begin(), c.end(), [](const an::Candidate& x) { return x.as_planned; }), 1);
  EXPECT_EQ(std::count_if(c.begin(), c.end(), [](const an::Candidate& x) { return x.knobs == "allreduce=hierarchical"; }), 1);
  EXPECT_EQ(skipped.size(), 1u);  // diloco H=256 > 100 planned steps
  EXPECT_TRUE(std::none_of(c.begin(), c.end(), [](const an::Candidate& x) { return x.name == "hivemind"; }));
  shape.any_spot = true;
  shape.planned_strategy = json{{"name", "local_sgd"}, {"H", 8}};
  const auto d = an::candidate_strategies(catalog(), shape, skipped);
  ASSERT_FALSE(d.empty());
  EXPECT_TRUE(d.front().as_planned);  // not in the list: first
  EXPECT_EQ(d.front().knobs, "H=8");
  EXPECT_EQ(d.front().steps, 24);
  EXPECT_TRUE(std::any_of(d.begin(), d.end(), [](const an::Candidate& x) { return x.name == "hivemind"; }));
}

// A Hivemind plan counts rounds of target_batch samples, the other strategies steps of
// workers x batch_per_worker samples: the candidates' lengths go through samples.
TEST(RecommendTest, HivemindRoundsAndStepsCompareThroughSamples) {
  // 10 rounds of 32768 samples = 327680 samples = 2560 steps of 2 workers x 64.
  an::DeploymentShape shape{10, 2, true, json{{"name", "hivemind"}, {"target_batch", 32768}, {"matchmaking_s", 5}}, 2, 64};
  EXPECT_EQ(an::planned_samples(shape), 327680);
  EXPECT_EQ(an::planned_length({{"name", "diloco"}, {"H", 256}}, shape), 2560);
  EXPECT_EQ(an::planned_length(shape.planned_strategy, shape), 10);
  std::vector<std::string> skipped;
  const auto c = an::candidate_strategies(catalog(), shape, skipped);
  EXPECT_TRUE(skipped.empty()) << skipped.front();  // before: every DiLoCo H > 10 "rounds" was skipped
  const auto steps_of = [&c](const std::string& knobs) {
    const auto it = std::find_if(c.begin(), c.end(), [&](const an::Candidate& x) { return x.knobs == knobs; });
    return it == c.end() ? -1 : it->steps;
  };
  EXPECT_EQ(steps_of("H=256 allreduce=hierarchical"), 3 * 256);
  EXPECT_EQ(steps_of("allreduce=ring"), 3);  // ddp: 3 sync periods of 1 step
  ASSERT_TRUE(c.front().as_planned);
  EXPECT_EQ(c.front().steps, 3);  // the plan: 3 of its 10 rounds
  EXPECT_EQ(steps_of("target_batch=32768"), 3);  // the listed Hivemind: 10 rounds too
  // The other way round: 100 steps of 2 x 64 = 12800 samples, under one round of 32768.
  shape.planned_steps = 100;
  shape.planned_strategy = json{{"name", "ddp"}};
  EXPECT_EQ(an::planned_length({{"name", "hivemind"}, {"target_batch", 32768}}, shape), 1);
  EXPECT_EQ(an::planned_length({{"name", "hivemind"}, {"target_batch", 6400}}, shape), 2);
  const auto d = an::candidate_strategies(catalog(), shape, skipped);
  const auto hive = std::find_if(d.begin(), d.end(), [](const an::Candidate& x) { return x.name == "hivemind"; });
  ASSERT_NE(hive, d.end());
  EXPECT_EQ(hive->steps, 1);  // one round stands for the plan's 12800 samples
  // Unknown fleet shape: no conversion.
  shape.workers = 0;
  EXPECT_EQ(an::planned_length({{"name", "hivemind"}}, shape), 100);
}

TEST(RecommendTest, DilocoCandidatesCarryThePlannedWireFormat) {
  an::DeploymentShape shape{1000, 2, false, json{{"name", "ddp"}, {"wire_format", "int8"}}, 4, 32};
  EXPECT_EQ(an::planned_wire_format(shape), "int8");
  std::vector<std::string> skipped;
  int outer = 0;
  for (const auto& c : an::candidate_strategies(catalog(), shape, skipped)) {
    if (c.name != "diloco" && c.name != "streaming_diloco") continue;
    ++outer;
    EXPECT_EQ(c.strategy.value("wire_format", ""), "int8") << c.knobs;
  }
  EXPECT_EQ(outer, 4);  // diloco H = 16, 64, 256 and streaming_diloco
  shape.planned_strategy = json{{"name", "hivemind"}, {"compression", "bf16"}};
  EXPECT_EQ(an::planned_wire_format(shape), "bf16");
  shape.planned_strategy = json{{"name", "ddp"}, {"wire_format", "native"}};  // not a DiLoCo format
  EXPECT_EQ(an::planned_wire_format(shape), "");
  for (const auto& c : an::candidate_strategies(catalog(), shape, skipped)) {
    if (c.name == "diloco") EXPECT_FALSE(c.strategy.contains("wire_format")) << c.knobs;
    if (c.name == "streaming_diloco") EXPECT_EQ(c.strategy["wire_format"], "fp4");
  }
}

TEST(RecommendTest, ListedCandidateIdenticalToThePlannedOneIsDropped) {
  an::DeploymentShape shape{1000, 2, true, json{{"name", "hivemind"}, {"target_batch", 32768}, {"matchmaking_s", 5}}};
  std::vector<std::string> skipped;
  const auto c = an::candidate_strategies(catalog(), shape, skipped);
  ASSERT_TRUE(c.front().as_planned);
  std::vector<an::CandidateResult> r(c.size());
  for (std::size_t i = 0; i < r.size(); ++i) r[i].samples = c[i].name == "hivemind" ? 0 : static_cast<double>(i);
  const auto keep = an::distinct_candidates(c, r);
  EXPECT_EQ(keep.size(), c.size() - 1);
  for (const std::size_t i : keep) EXPECT_FALSE(c[i].name == "hivemind" && !c[i].as_planned);
  r[0].samples = 0.5;  // the planned one differs: the listed Hivemind stays
  EXPECT_EQ(an::distinct_candidates(c, r).size(), c.size());
}

TEST(RecommendTest, RankingByDollarsPerSampleThenThroughput) {
  std::vector<an::CandidateResult> r(3);
  r[0].samples = 1e6, r[0].compute_usd = 2, r[0].throughput_samples_per_s = 10;  // $2 per 1M
  r[1].samples = 1e6, r[1].compute_usd = 1, r[1].throughput_samples_per_s = 5;   // $1 per 1M
  r[2].samples = 1e6, r[2].compute_usd = 1, r[2].throughput_samples_per_s = 7;   // $1 per 1M, faster
  EXPECT_EQ(an::rank_candidates(r), (std::vector<std::size_t>{2, 1, 0}));
  EXPECT_EQ(an::fastest_candidate(r), 0u);
  r[0].egress_usd = 3;
  r[0].granularity = 0.5;
  EXPECT_DOUBLE_EQ(r[0].egress_share(), 0.6);
  const auto w = an::candidate_warnings(r[0]);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NE(w[0].find("egress exceeds compute cost"), std::string::npos);
  EXPECT_NE(w[1].find("granularity below 1"), std::string::npos);
  EXPECT_TRUE(an::candidate_warnings(r[1]).empty());
}

// With faults: by the mean dollars to finish, ties by the mean time, then in the order given.
TEST(RecommendTest, RankingByExpectedDollarsThenTime) {
  const auto summary = [](double usd, double s) {
    return nlohmann::ordered_json{{"total_usd", {{"mean", usd}, {"p95", 2 * usd}}}, {"simulated_s", {{"mean", s}}}};
  };
  const std::vector<nlohmann::ordered_json> s = {summary(3, 10), summary(1, 20), summary(1, 5), summary(1, 5)};
  EXPECT_EQ(an::rank_by_expected_dollars(s), (std::vector<std::size_t>{2, 3, 1, 0}));
}

// ---- sim/deployment_plan.h and the projection's summary text ----

// Regions a-b linked, c alone; the fleet in a, b, c, a: only the pairs with c are cut, in fleet
// order, each once.  Malformed links are skipped.
TEST(DeploymentPlanTest, UnreachableFleetPairsFromTheRawDocument) {
  const json doc = {{"topology",
                     {{"regions", {{{"name", "a"}}, {{"name", "b"}}, {{"name", "c"}}}},
                      {"links", {{{"a", "a"}, {"b", "b"}}, {{"a", "c"}}, {{"a", "c"}, {"b", "nowhere"}}}}}},
                    {"fleet", {{{"region", "a"}}, {{"region", "b"}}, {{"region", "c"}}, {{"region", "a"}}}}};
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(sim::unreachable_fleet_pairs(doc, "deployment.json"), (Pairs{{"a", "c"}, {"b", "c"}}));
  // No topology yet (or a file that does not exist): nothing to say, the loader reports it.
  EXPECT_TRUE(sim::unreachable_fleet_pairs({{"topology", "missing.json"}}, "deployment.json").empty());
}

TEST(DeploymentPlanTest, CandidateDocRunsSizeOnlyWithItsStrategyAndSteps) {
  const json doc = {{"workload", {{"steps", 1000}, {"backend", "cpu"}}}, {"strategy", {{"name", "ddp"}}}};
  const json c = sim::candidate_doc(doc, {{"name", "diloco"}, {"H", 64}}, 192);
  EXPECT_EQ(c["workload"], (json{{"steps", 192}, {"backend", "none"}, {"compute_time", "model"}}));
  EXPECT_EQ(c["strategy"], (json{{"name", "diloco"}, {"H", 64}}));
  EXPECT_EQ(sim::candidate_doc(doc, {{"name", "ddp"}}, 0)["workload"]["steps"], 1000);  // 0: as planned
}

TEST(DeploymentPlanTest, SummaryTextScalesOrSaysAbsent) {
  const nlohmann::ordered_json summary = {
      {"simulated_s", {{"mean", 7200.0}, {"ci95", {3600.0, 10800.0}}, {"p5", 3600.0}, {"p95", 9000.0}}},
      {"time_to_target_s", nullptr}};
  EXPECT_EQ(an::summary_stat_text(summary, "simulated_s", "p95", 1.0 / 3600), "2.5");
  EXPECT_EQ(an::summary_stat_text(summary, "time_to_target_s", "mean", 1), "-");
  EXPECT_EQ(an::summary_stat_text(summary, "wasted_usd", "mean", 1), "-");
  EXPECT_EQ(an::summary_figure_text(summary, "simulated_s", 1.0 / 3600, "h"), "mean 2 h (95% CI 1 to 3), p5 1, p95 2.5");
  EXPECT_EQ(an::summary_figure_text(summary, "time_to_target_s", 1, "s"), "n/a");
}

// ---- geotrain validate ----

// 20B parameters on 16 GB T4s (g4dn.xlarge from topologies/instances.json), SGD: the smallest
// state is DDP's 8 B per parameter = 160 GB per worker; DiLoCo's 16 B = 320 GB.
TEST(ValidateTest, ModelTooLargeForTheGpuFailsWithNeededAndAvailable) {
  json d = tiny_deployment();
  d["topology"].erase("instance_types");
  d["topology"]["instance_catalog"] = GEOTRAIN_SOURCE_DIR "/topologies/instances.json";
  for (auto& r : d["topology"]["regions"]) r["cloud"] = "aws";
  d["topology"]["egress_usd_per_GB"] = {{"aws", d["topology"]["egress_usd_per_GB"]["c"]}};
  for (auto& f : d["fleet"]) f["instance"] = "g4dn.xlarge";
  d["workload"]["model"]["parameters"] = 20e9;
  const auto v = validate(d, "--json out.json");
  EXPECT_EQ(v.run.exit_code, 1) << v.run.out << v.run.err;
  EXPECT_NE(v.run.err.find("needs 160 GB per worker on g4dn.xlarge (2e+10 parameters x 8 B: weights 4 + gradients 4 + sgd state 0), "
                           "has 16 GB (1 GPU x 16 GB)"),
            std::string::npos)
      << v.run.err;
  EXPECT_NE(v.run.out.find("diloco H=16 allreduce=hierarchical: needs 320 GB per worker"), std::string::npos) << v.run.out;
  const json report = json::parse(read_file(v.dir / "out.json"));
  EXPECT_FALSE(report["feasible"].get<bool>());
  EXPECT_FALSE(report.contains("candidates"));  // nothing ran
}

// 1.5e9 parameters on a 16 GB GPU with SGD: DDP needs 12 GB and runs; the DiLoCo family's outer
// copy and Nesterov state (16 B per parameter = 24 GB) do not fit.
TEST(ValidateTest, DilocoOuterStateCountsInTheMemoryCheck) {
  json d = tiny_deployment();
  d["topology"]["instance_types"]["gpu"]["gpu_memory_GB"] = 16;
  d["workload"]["model"]["parameters"] = 1.5e9;
  const auto v = validate(d, "--json out.json");
  EXPECT_EQ(v.run.exit_code, 0) << v.run.out << v.run.err;
  EXPECT_NE(v.run.out.find("excluded diloco H=16 allreduce=hierarchical: needs 24 GB per worker on gpu"), std::string::npos)
      << v.run.out;
  const json report = json::parse(read_file(v.dir / "out.json"));
  int ddp = 0;
  for (const auto& c : report["candidates"]) {
    EXPECT_NE(c["strategy"]["name"], "diloco");
    EXPECT_LE(c["state_GB_per_worker"].get<double>(), 16.0);
    if (c["strategy"]["name"] == "ddp") {
      ++ddp;
      EXPECT_DOUBLE_EQ(c["state_GB_per_worker"].get<double>(), 12.0);  // 1.5e9 x 8 B
    }
    if (c["strategy"]["name"] == "pactrain") {
      EXPECT_DOUBLE_EQ(c["state_GB_per_worker"].get<double>(), 13.5);  // + 1 B mask
    }
  }
  EXPECT_EQ(ddp, 2);  // ring and hierarchical

  // Planned that way, the deployment is infeasible (exit 1), and the alternatives that fit still run.
  d["strategy"] = {{"name", "diloco"}, {"H", 64}};
  const auto planned = validate(d, "--json out.json");
  EXPECT_EQ(planned.run.exit_code, 1) << planned.run.out << planned.run.err;
  EXPECT_NE(planned.run.err.find("the planned strategy does not fit: diloco H=64: needs 24 GB per worker on gpu"), std::string::npos)
      << planned.run.err;
  const json planned_report = json::parse(read_file(planned.dir / "out.json"));
  EXPECT_FALSE(planned_report["feasible"].get<bool>());
  EXPECT_FALSE(planned_report["candidates"].empty());
}

// The same 1.5e9 parameters described as layers in bf16: weights and gradients take 2 B each, so
// DDP needs 6 GB and DiLoCo (+ fp32 outer copy and Nesterov state) 12 B per parameter = 18 GB.
TEST(ValidateTest, DeclaredPrecisionSizesTheMemoryCheck) {
  json d = tiny_deployment();
  d["topology"]["instance_types"]["gpu"]["gpu_memory_GB"] = 16;
  d["workload"]["model"] = {{"type", "layers"},
                            {"layers", {{{"name", "all"}, {"parameters", 1.5e9}, {"forward_flops", 1e9}}}}};
  d["workload"]["precision"] = {{"params", "bf16"}};
  const auto v = validate(d, "--json out.json");
  EXPECT_EQ(v.run.exit_code, 0) << v.run.out << v.run.err;
  EXPECT_NE(v.run.out.find("excluded diloco H=16 allreduce=hierarchical: needs 18 GB per worker on gpu (1.5e+09 "
                           "parameters x 12 B: weights 2 + gradients 2 + sgd state 0 + outer copy 4 + outer nesterov "
                           "state 4)"),
            std::string::npos)
      << v.run.out;
  EXPECT_NE(v.run.out.find("(weights and gradients 2 B, optimizer state 4 B, strategy copies fp32"), std::string::npos)
      << v.run.out;
  const json report = json::parse(read_file(v.dir / "out.json"));
  for (const auto& c : report["candidates"])
    if (c["strategy"]["name"] == "ddp") EXPECT_DOUBLE_EQ(c["state_GB_per_worker"].get<double>(), 6.0);  // 1.5e9 x 4 B
}

TEST(ValidateTest, UnreachableRegionFails) {
  json d = tiny_deployment();
  d["topology"]["regions"].push_back({{"name", "r2"}, {"cloud", "c"}, {"continent", "k2"}});
  d["fleet"][1]["region"] = "r2";
  const auto v = validate(d);
  EXPECT_EQ(v.run.exit_code, 1) << v.run.out << v.run.err;
  EXPECT_NE(v.run.err.find("fleet regions r0 and r2 are joined by no path of links"), std::string::npos) << v.run.err;
}

// A deployment whose faults only some strategies can take (a parameter server's shard goes down):
// the candidates that cannot load it are skipped with the loader's reason, and the planned
// strategy is still validated and ranked.  (They once made validate exit 2 on the first of them.)
TEST(ValidateTest, CandidatesThatCannotLoadTheDeploymentAreSkippedWithTheReason) {
  json d = tiny_deployment();
  d["workload"]["steps"] = 24;
  d["strategy"] = {{"name", "parameter_server"}, {"mode", "async"}};
  d["faults"] = {{"retry_after_s", 0.05}, {"servers", {{{"shard", 0}, {"down_at_s", 0.5}, {"for_s", 1}}}}};
  const auto v = validate(d, "--json report.json");
  ASSERT_EQ(v.run.exit_code, 0) << v.run.out << v.run.err;
  const json report = json::parse(read_file(v.dir / "report.json"));
  const std::string reason = "deployment.json: /faults/servers: strategy \"ddp\": server faults need a strategy with servers";
  bool ddp_skipped = false;
  for (const auto& why : report["skipped"]) ddp_skipped = ddp_skipped || why.get<std::string>().find(reason) != std::string::npos;
  EXPECT_TRUE(ddp_skipped) << report["skipped"].dump();
  ASSERT_FALSE(report["candidates"].empty());
  for (const auto& c : report["candidates"]) EXPECT_EQ(c["strategy"]["name"], "parameter_server") << c.dump();
  EXPECT_NE(v.run.out.find("skipped       ddp allreduce=ring: " + reason), std::string::npos) << v.run.out;
}

// A 0.1 Gbit/s WAN, 1 s of compute per step, a 400 MB gradient: DDP's ring all-reduce sends
// 100 MB chunks through the link (8 s each, 6 steps: ~48 s per step), so it is communication-
// bound and DiLoCo, which synchronizes every H steps, ranks above it.
TEST(ValidateTest, BandwidthStarvedDeploymentRanksDilocoAboveDdp) {
  json d = tiny_deployment();
  d["topology"]["links"][0]["capacity_Gbps"] = 0.1;
  d["workload"]["model"]["parameters"] = 1e8;
  d["workload"]["model"]["flops_per_sample"] = 100e12 * 0.5 * 1.0 / 8;  // 1 s per step of 8 samples
  const auto v = validate(d, "--json out.json");
  ASSERT_EQ(v.run.exit_code, 0) << v.run.out << v.run.err;
  const json report = json::parse(read_file(v.dir / "out.json"));
  int best_ddp = 1 << 30, best_diloco = 1 << 30;
  for (const auto& c : report["candidates"]) {
    const std::string name = c["strategy"]["name"];
    const int rank = c["rank"];
    std::vector<std::string> warnings = c["warnings"];
    const bool low_granularity = std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
      return w.find("granularity below 1") != std::string::npos;
    });
    EXPECT_EQ(low_granularity, c["granularity"].is_number() && c["granularity"].get<double>() < 1) << c.dump();
    if (name == "ddp") {
      best_ddp = std::min(best_ddp, rank);
      EXPECT_TRUE(low_granularity) << c.dump();
      EXPECT_LT(c["granularity"].get<double>(), 0.05) << c.dump();  // ~1 s compute per ~48 s all-reduce
    }
    if (name == "diloco") best_diloco = std::min(best_diloco, rank);
    if (name == "diloco" && c["strategy"]["H"] == 256) {
      EXPECT_GT(c["granularity"].get<double>(), 1) << c.dump();
    }
  }
  EXPECT_LT(best_diloco, best_ddp);
  EXPECT_NE(v.run.out.find("granularity below 1"), std::string::npos);
}

// Cheap instances, dear egress: egress exceeds compute for the chatty strategies, and the warning
// appears exactly where the JSON's dollars say so. Also: ranking order, the table, the planned
// strategy's mark, spot assumptions and byte-identical JSON across two runs.
TEST(ValidateTest, EgressWarningRankingAndDeterministicJson) {
  json d = tiny_deployment();
  d["topology"]["instance_types"]["gpu"]["usd_per_hour"] = {{"on_demand", 0.036}, {"spot", 0.018}};
  d["topology"]["egress_usd_per_GB"]["c"]["inter_continent"] = 0.5;
  d["fleet"][1]["pricing"] = "spot";
  d["strategy"] = {{"name", "gossip"}};
  const auto v = validate(d, "--json a.json");
  ASSERT_EQ(v.run.exit_code, 0) << v.run.out << v.run.err;
  EXPECT_EQ(geotrain::testing::run_geotrain("validate deployment.json --jobs 1 --json b.json", v.dir).exit_code, 0);
  const std::string a = read_file(v.dir / "a.json");
  EXPECT_EQ(a, read_file(v.dir / "b.json"));
  const json report = json::parse(a);
  EXPECT_NE(v.run.out.find("gpu x2 spot in r1: interruption band not given"), std::string::npos) << v.run.out;
  EXPECT_NE(v.run.out.find("no preemption modelled"), std::string::npos);
  int egress_heavy = 0, planned = 0, hivemind = 0;
  double previous_usd = 0;
  const auto out_lines = lines_of(v.run.out);
  auto table_row = std::find_if(out_lines.begin(), out_lines.end(), [](const std::string& l) { return l.rfind("  rank  ", 0) == 0; });
  ASSERT_NE(table_row, out_lines.end());
  for (std::size_t k = 0; k < report["candidates"].size(); ++k) {
    const auto& c = report["candidates"][k];
    EXPECT_EQ(c["rank"].get<std::size_t>(), k + 1);
    const double usd = c["usd_per_million_samples"], egress = c["egress_usd"], compute = c["compute_usd"];
    EXPECT_GE(usd, previous_usd);
    previous_usd = usd;
    EXPECT_NEAR(c["egress_share"].get<double>(), egress / (egress + compute), 1e-12);
    const std::string warnings = c["warnings"].dump();
    EXPECT_EQ(warnings.find("egress exceeds compute cost") != std::string::npos, egress > compute) << c.dump();
    egress_heavy += egress > compute;
    planned += c["as_planned"].get<bool>();
    hivemind += c["strategy"]["name"] == "hivemind";
    // The printed table lists the same candidates in the same order.
    ++table_row;
    ASSERT_NE(table_row, out_lines.end());
    const std::string label = c["strategy"]["name"].get<std::string>() + (c["as_planned"].get<bool>() ? " (as planned) " : " ") +
                              c["knobs"].get<std::string>();
    EXPECT_EQ(table_row->rfind(std::string(4 - std::to_string(k + 1).size() + 2, ' ') + std::to_string(k + 1) + "  " + label, 0), 0u)
        << *table_row << " vs " << label;
  }
  EXPECT_GT(egress_heavy, 0);
  EXPECT_EQ(planned, 1);
  EXPECT_EQ(hivemind, 1);  // a spot fleet adds Hivemind
  EXPECT_EQ(report["recommended"], report["candidates"][0]["strategy"]);
}

// With a random fault process, validate projects the whole planned job over draws of it: the
// figures are those of `geotrain run --replicas` of the same (size-only) deployment, and the
// checkpoint interval is Daly's for the state's write time and the fleet's preemption rate.
TEST(ValidateTest, FaultsProjectTheWholeJobOverDraws) {
  json d = json::parse(geotrain::testing::kTinyScenario);
  d["workload"]["steps"] = 30;
  d["fleet"][1]["pricing"] = "spot";
  const double rate_per_hour = 900;
  d["fleet"][1]["preemption"] = {{"model", "hazard"}, {"rate_per_hour", rate_per_hour}, {"boot_s", 0.01},
                                 {"restart_delay_s", {{"distribution", "exponential"}, {"mean_s", 0.05}}}};
  d["checkpoint"] = {{"every_steps", 10}, {"store_region", d["fleet"][0]["region"]}, {"write_Gbps", 1}, {"read_Gbps", 1}};
  const Validated v = validate(d, "--replicas 3 --json report.json");
  ASSERT_EQ(v.run.exit_code, 0) << v.run.out << v.run.err;
  EXPECT_NE(v.run.out.find("projection of the whole job as planned (30 steps, ddp): 3 draws of the fault process"),
            std::string::npos) << v.run.out;
  const json report = json::parse(read_file(v.dir / "report.json"));
  const json& projection = report["projection"];
  EXPECT_EQ(projection["draws"], 3);
  // The same draws as run --replicas 3 (validate runs the deployment size-only, as here).
  json size_only = d;
  size_only["workload"]["backend"] = "none";
  write_file(v.dir / "plain.json", size_only.dump());
  const auto run = geotrain::testing::run_geotrain("run plain.json --replicas 3 --out set --quiet", v.dir);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json set = json::parse(read_file(v.dir / "set" / "replicas.json"));
  for (const char* figure : {"simulated_s", "total_usd", "preemptions"})
    EXPECT_EQ(projection["summary"][figure]["mean"], set["summary"][figure]["mean"]) << figure;
  EXPECT_GT(projection["summary"]["preemptions"]["mean"].get<double>(), 0);
  // Daly's interval: the fp32 state (SGD: 4 B per parameter) at 1 Gbit/s, M = 1 / (count x rate).
  const double parameters = d["workload"]["model"]["parameters"].get<double>();
  const double cost_s = parameters * 4 / (1e9 / 8);
  const double mtbf_s = 3600 / (d["fleet"][1]["count"].get<double>() * rate_per_hour);
  EXPECT_DOUBLE_EQ(projection["checkpoint"]["checkpoint_s"].get<double>(), cost_s);
  EXPECT_DOUBLE_EQ(projection["checkpoint"]["mtbf_s"].get<double>(), mtbf_s);
  EXPECT_DOUBLE_EQ(projection["checkpoint"]["interval_s"].get<double>(), sim::daly_interval_s(cost_s, mtbf_s));
  // Every candidate's whole job is projected over the same draws, and they are ranked by its
  // expected dollars: each candidate's figures are those of run --replicas 3 with its strategy.
  EXPECT_EQ(report["method"]["ranking"].get<std::string>().rfind("projection.summary.total_usd.mean ascending", 0), 0u);
  EXPECT_NE(v.run.out.find("USD to finish"), std::string::npos) << v.run.out;
  EXPECT_NE(v.run.out.find("recommended (lowest expected USD to finish under faults)"), std::string::npos) << v.run.out;
  const json& candidates = report["candidates"];
  ASSERT_GE(candidates.size(), 3u);
  EXPECT_EQ(report["recommended"], candidates[0]["strategy"]);
  double previous_usd = 0;
  int checked = 0;
  for (const json& c : candidates) {
    ASSERT_EQ(c["projection"]["draws"], 3) << c.dump();
    // The whole plan in the candidate's unit: 30 steps of 4 x 8 samples, one Hivemind round of 32768.
    EXPECT_EQ(c["projection"]["steps"], c["strategy"]["name"] == "hivemind" ? 1 : 30) << c.dump();
    const double usd = c["projection"]["summary"]["total_usd"]["mean"].get<double>();
    EXPECT_GE(usd, previous_usd) << c.dump();
    previous_usd = usd;
    if (c["as_planned"].get<bool>()) {
      EXPECT_EQ(c["projection"]["summary"], projection["summary"]);
    } else if (checked++ == 0) {  // the best other, run as run --replicas would
      json alone = size_only;
      alone["strategy"] = c["strategy"];
      alone["workload"]["steps"] = c["projection"]["steps"];
      write_file(v.dir / "alone.json", alone.dump());
      const auto draws = geotrain::testing::run_geotrain("run alone.json --replicas 3 --out alone --quiet", v.dir);
      ASSERT_EQ(draws.exit_code, 0) << draws.err;
      const json alone_set = json::parse(read_file(v.dir / "alone" / "replicas.json"));
      for (const char* figure : {"simulated_s", "total_usd", "wasted_usd", "preemptions"})
        EXPECT_EQ(c["projection"]["summary"][figure], alone_set["summary"][figure]) << figure << " " << c.dump();
      fs::remove_all(v.dir / "alone");
    }
  }
  EXPECT_GT(checked, 0);
  // Without faults there is no projection.
  const Validated plain = validate(tiny_deployment(), "--json report.json");
  EXPECT_FALSE(json::parse(read_file(plain.dir / "report.json")).contains("projection"));
}

// --calibration applies geotrain calibrate's file to the deployment and to every candidate, as
// `run --calibration` does: a DDP step overhead of 0.25 s adds 0.25 s to each simulated step of
// both DDP candidates (the planned ring and the hierarchical one) and changes no other
// strategy's figures.  A missing file is bad input naming /calibration and the file.
TEST(ValidateTest, CalibrationAppliesToTheDeploymentAndEveryCandidate) {
  const auto plain = validate(tiny_deployment(), "--json plain.json");
  ASSERT_EQ(plain.run.exit_code, 0) << plain.run.err;
  write_file(plain.dir / "cal.json",
             json{{"format", "geotrain-calibration-1"}, {"strategies", {{"ddp", {{"step_overhead_s", 0.25}}}}}}.dump());
  const auto calibrated = geotrain::testing::run_geotrain("validate deployment.json --jobs 2 --json cal_report.json --calibration cal.json", plain.dir);
  ASSERT_EQ(calibrated.exit_code, 0) << calibrated.err;
  const json before = json::parse(read_file(plain.dir / "plain.json")), after = json::parse(read_file(plain.dir / "cal_report.json"));
  const auto by_label = [](const json& report) {
    std::map<std::string, json> out;
    for (const auto& c : report["candidates"]) out[c["strategy"].dump() + (c["as_planned"].get<bool>() ? " planned" : "")] = c;
    return out;
  };
  const auto a = by_label(before), b = by_label(after);
  ASSERT_EQ(a.size(), b.size());
  int ddp = 0;
  for (const auto& [label, c] : a) {
    const json& d = b.at(label);
    const double steps = c["steps"];
    if (c["strategy"]["name"] == "ddp") {
      ++ddp;
      EXPECT_NEAR(d["simulated_s"].get<double>() - c["simulated_s"].get<double>(), 0.25 * steps, 1e-9) << label;
    } else {
      EXPECT_EQ(d["simulated_s"], c["simulated_s"]) << label;
    }
  }
  EXPECT_EQ(ddp, 2);
  const auto missing = geotrain::testing::run_geotrain("validate deployment.json --calibration nowhere.json", plain.dir);
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
  EXPECT_NE(missing.err.find("/calibration"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("nowhere.json"), std::string::npos) << missing.err;
}

TEST(ValidateTest, BadInputExitsTwoNamingFileAndPath) {
  const fs::path dir = geotrain::testing::fresh_dir("geotrain_validate_bad");
  write_file(dir / "broken.json", "{\"seed\": 7,");
  auto r = geotrain::testing::run_geotrain("validate broken.json --json out.json", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("broken.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out.json"));

  json d = tiny_deployment();
  d["fleet"][0]["count"] = 0;
  auto v = validate(d, "--json out.json");
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find("deployment.json: /fleet/0/count: 0: expected an integer in [1, 100000]"), std::string::npos) << v.run.err;
  EXPECT_FALSE(fs::exists(v.dir / "out.json"));

  d = tiny_deployment();
  d["strategy"] = {{"name", "diloco"}, {"H", 0}};
  v = validate(d);
  EXPECT_EQ(v.run.exit_code, 2);
  EXPECT_NE(v.run.err.find("/strategy/H"), std::string::npos) << v.run.err;
}

}  // namespace
