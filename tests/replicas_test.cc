// Monte-Carlo over the fault process (`geotrain run --replicas N`): the mean preemption count of
// N draws of a hazard scenario holds the renewal-process expectation within its 95% interval; the
// same seed and N give the same bytes; one draw is a plain run; bad counts exit 2.  And the
// summary statistics themselves against hand-computed values.
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analysis/replicas.h"
#include "cli_test_util.h"

namespace {

namespace fs = std::filesystem;
namespace an = geotrain::analysis;
using geotrain::testing::CliRun;
using geotrain::testing::fresh_dir;
using geotrain::testing::read_file;
using geotrain::testing::run_geotrain;
using geotrain::testing::write_file;
using nlohmann::json;

// Four spot workers preempted at 36 per hour each (0.01/s), back after a fixed 1 s with no boot;
// steps of 10 s that never finish the plan, so every draw runs to the 1000 s time limit.
constexpr double kRatePerS = 0.01, kDownS = 1, kHorizonS = 1000;
constexpr int kWorkers = 4;

json hazard_scenario() {
  return json::parse(R"({
  "name": "hazard", "seed": 7,
  "topology": {
    "name": "one",
    "regions": [{"name": "r0", "cloud": "c", "continent": "k0", "lan_latency_ms": 0.05}],
    "links": [],
    "instance_types": {"gpu": {"gpus": 1, "gpu_peak_tflops": 100, "utilization": 0.5, "hbm_GBps": 1000,
                               "nic_Gbps": 100, "usd_per_hour": {"on_demand": 3.6, "spot": 1.8}}},
    "egress_usd_per_GB": {"c": {"cross_zone": 0.01, "same_continent": 0.02, "inter_continent": 0.05, "internet": 0.09}}
  },
  "fleet": [{"region": "r0", "instance": "gpu", "count": 4, "pricing": "spot",
             "preemption": {"model": "hazard", "rate_per_hour": 36, "boot_s": 0,
                            "restart_delay_s": {"distribution": "fixed", "value_s": 1}}}],
  "workload": {"model": {"type": "profile", "parameters": 1e6, "flops_per_sample": 5e14},
               "batch_per_worker": 1, "steps": 1000000},
  "strategy": {"name": "ddp", "allreduce": "ring"},
  "faults": {"time_limit_s": 1000, "retry_after_s": 0.1}
})");
}

fs::path write_scenario(const fs::path& dir) {
  const fs::path file = dir / "hazard.json";
  write_file(file, hazard_scenario().dump(2));
  return file;
}

TEST(Replicas, MeanPreemptionsMatchThePoissonExpectationWithinTheInterval) {
  const fs::path dir = fresh_dir("geotrain_replicas");
  const CliRun run = run_geotrain("run '" + write_scenario(dir).string() + "' --out '" + (dir / "out").string() +
                                  "' --replicas 32 --quiet");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json doc = json::parse(read_file(dir / "out" / "replicas.json"));
  EXPECT_EQ(doc["replicas"], 32);
  ASSERT_EQ(doc["draws"].size(), 32u);
  const json& p = doc["summary"]["preemptions"];
  // Each instance alternates up ~ Exp(rate) and down 1 s: a renewal process, whose expected
  // preemptions over the horizon are horizon / (1/rate + down) (to within one cycle's edge).
  const double expected = kWorkers * kHorizonS / (1 / kRatePerS + kDownS);  // 39.6
  EXPECT_LE(p["ci95"][0].get<double>(), expected) << p.dump();
  EXPECT_GE(p["ci95"][1].get<double>(), expected) << p.dump();
  // Poisson: the spread is about the square root of the mean (39.6 -> 6.3).
  EXPECT_NEAR(p["sd"].get<double>(), std::sqrt(expected), 0.5 * std::sqrt(expected));
  EXPECT_EQ(doc["summary"]["simulated_s"]["mean"], kHorizonS);
  EXPECT_EQ(doc["summary"]["time_to_target_s"], nullptr);  // no target
  // Draws differ (their fault seeds do), draw 0 keeps the scenario's seed.
  EXPECT_EQ(doc["draws"][0]["fault_seed"], 7);
  EXPECT_NE(doc["draws"][1]["fault_seed"], doc["draws"][2]["fault_seed"]);
}

TEST(Replicas, SameSeedAndCountGiveTheSameBytesAndOneDrawIsAPlainRun) {
  const fs::path dir = fresh_dir("geotrain_replicas");
  const fs::path scenario = write_scenario(dir);
  for (const char* out : {"a", "b"})
    ASSERT_EQ(run_geotrain("run '" + scenario.string() + "' --out '" + (dir / out).string() + "' --replicas 5 --quiet").exit_code, 0);
  EXPECT_EQ(read_file(dir / "a" / "replicas.json"), read_file(dir / "b" / "replicas.json"));
  EXPECT_EQ(read_file(dir / "a" / "replicas" / "4" / "timeline.csv"), read_file(dir / "b" / "replicas" / "4" / "timeline.csv"));

  ASSERT_EQ(run_geotrain("run '" + scenario.string() + "' --out '" + (dir / "one").string() + "' --replicas 1 --quiet").exit_code, 0);
  ASSERT_EQ(run_geotrain("run '" + scenario.string() + "' --out '" + (dir / "plain").string() + "' --quiet").exit_code, 0);
  auto without_perf = [](const fs::path& file) {
    json r = json::parse(read_file(file));
    r.erase("perf");
    return r.dump();
  };
  EXPECT_EQ(without_perf(dir / "one" / "replicas" / "0" / "results.json"), without_perf(dir / "plain" / "results.json"));
  EXPECT_EQ(read_file(dir / "one" / "replicas" / "0" / "timeline.csv"), read_file(dir / "plain" / "timeline.csv"));
  EXPECT_EQ(read_file(dir / "one" / "replicas" / "0" / "trace.json"), read_file(dir / "plain" / "trace.json"));
  // And draw 0 of five is that same run.
  EXPECT_EQ(read_file(dir / "a" / "replicas" / "0" / "trace.json"), read_file(dir / "plain" / "trace.json"));
}

TEST(Replicas, ZeroOrTooManyDrawsExitTwoNamingTheFlagValueAndRange) {
  const fs::path dir = fresh_dir("geotrain_replicas");
  const fs::path scenario = write_scenario(dir);
  for (const char* n : {"0", "-3", "100001"}) {
    const CliRun run = run_geotrain("run '" + scenario.string() + "' --out '" + (dir / "out").string() + "' --replicas " + n);
    EXPECT_EQ(run.exit_code, 2) << n;
    EXPECT_EQ(run.err, std::string("geotrain: bad input: --replicas: ") + n +
                           ": expected an integer in [1, 100000] (draws of the fault process)\n");
    EXPECT_FALSE(fs::exists(dir / "out"));
  }
}

TEST(Replicas, StatisticsOfHandComputedDraws) {
  const an::Stats s = an::stats_of({4, 1, 3, 2});
  EXPECT_EQ(s.n, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(5.0 / 3.0));            // sum of squares 5 over n - 1
  EXPECT_DOUBLE_EQ(s.p50, 2.5);                             // between 2 and 3
  EXPECT_DOUBLE_EQ(s.p5, 1.15);                             // 1 + 0.15 x (2 - 1)
  EXPECT_DOUBLE_EQ(s.p95, 3.85);                            // 3 + 0.85 x (4 - 3)
  const double half = 3.182 * std::sqrt(5.0 / 3.0) / 2;     // t(0.975, 3) sd / sqrt(4)
  EXPECT_DOUBLE_EQ(s.ci95_low, 2.5 - half);
  EXPECT_DOUBLE_EQ(s.ci95_high, 2.5 + half);
  const an::Stats one = an::stats_of({7});
  EXPECT_EQ(one.sd, 0);
  EXPECT_EQ(one.ci95_low, 7);
  EXPECT_EQ(one.p95, 7);
  EXPECT_NEAR(an::t975(100), 1.984, 0.001);  // Cornish-Fisher beyond the table
  EXPECT_EQ(an::replica_fault_seed(11, 0), 11u);
  EXPECT_NE(an::replica_fault_seed(11, 1), an::replica_fault_seed(11, 2));
}

}  // namespace
