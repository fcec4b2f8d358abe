// Goodput: results count the work the deployed model holds (useful samples and committed steps)
// apart from the work done and later lost.  Without faults both are the same, to the bit; with a
// preemption at a known time the lost work is the closed form (the steps since the last sync, or
// every step since the start when a lone worker rolls back to the initial model).  And a run with
// faults ends with no transfer left started (SimGrid prints a backtrace for one it frees), so its
// stderr holds no backtrace.
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cli_test_util.h"
#include "sim/isolate.h"
#include "sim/resilience/membership.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

constexpr int kBatch = 8;  // four_linear_workers' batch per worker

struct RunOut {
  json results;
  std::vector<std::string> last_timeline_row;  // cells of timeline.csv's last row
  std::vector<std::string> header;
};

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
  return cells;
}

RunOut run(const json& scenario) {
  const auto out = json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    const auto o = sim::run_scenario(s);
    return json{{"results", sim::deterministic_part(o.results)}, {"timeline", o.timeline_csv()}}.dump();
  }));
  std::stringstream lines(out["timeline"].get<std::string>());
  std::string line, header, last;
  std::getline(lines, header);
  while (std::getline(lines, line))
    if (!line.empty()) last = line;
  return {out["results"], cells_of(last), cells_of(header)};
}

std::string cell(const RunOut& r, const std::string& column) {
  for (std::size_t i = 0; i < r.header.size(); ++i)
    if (r.header[i] == column) return i < r.last_timeline_row.size() ? r.last_timeline_row[i] : "";
  return "no column " + column;
}

// The spot entry's single worker goes down in the middle of step `down_step` and comes back
// (booting in no time) in the middle of step `up_step`, steps of `step_s`.
json with_outage(json s, const std::string& name, double step_s, int down_step, int up_step) {
  const std::string trace = fmt::format("0,1\n{},0\n{},1\n", (down_step + 0.5) * step_s * 1000, (up_step + 0.5) * step_s * 1000);
  s["fleet"].back()["preemption"] = {
      {"model", "trace"}, {"boot_s", 0}, {"trace", testing::write_temp_file("geotrain_goodput_test", name, trace)}};
  s["faults"] = {{"retry_after_s", 0.001}};
  return s;
}

TEST(Goodput, WithoutFaultsGoodputIsThroughputExactly) {
  for (const json& strategy : {json{{"name", "ddp"}}, json{{"name", "diloco"}, {"H", 5}}}) {
    const RunOut r = run(testing::four_linear_workers(strategy, 20));
    const json& w = r.results["work"];
    EXPECT_EQ(r.results["throughput_samples_per_s"], w["throughput_samples_per_s"]) << strategy.dump();
    EXPECT_EQ(r.results["samples"], w["samples"]);
    EXPECT_EQ(r.results["samples"].get<double>(), 20.0 * 4 * kBatch);
    EXPECT_EQ(r.results["steps"], 20);
    EXPECT_EQ(w["steps"], 20);
    EXPECT_EQ(cell(r, "useful_samples"), cell(r, "samples"));
    EXPECT_EQ(cell(r, "useful_samples"), std::to_string(20 * 4 * kBatch));
  }
}

// DiLoCo, H = 5, 40 steps: worker 3 goes down in step 7 (outer round 1, after its inner steps 5
// and 6), returns in step 22 and joins outer round 5 (steps 25-39) from a peer.  Lost: its two
// unsynchronized inner steps, 2 x 8 samples.  Useful: 3 workers x 40 steps, plus worker 3's
// steps 0-4 and 25-39 (20 steps), x 8 samples.  Committed steps: all 40 of the plan.
TEST(Goodput, PreemptionLosesTheStepsSinceTheLastSync) {
  const json base = testing::four_linear_workers({{"name", "diloco"}, {"H", 5}}, 40);
  const double step_s = run(base).results["simulated_s"].get<double>() / 40;
  const RunOut r = run(with_outage(base, "diloco.csv", step_s, 7, 22));
  const json& f = r.results["faults"];
  ASSERT_EQ(f["preemptions"], 1);
  EXPECT_EQ(f["lost_samples"].get<double>(), 2.0 * kBatch);
  EXPECT_EQ(r.results["samples"].get<double>(), (3 * 40 + 20) * kBatch);
  EXPECT_EQ(r.results["work"]["samples"].get<double>(), (3 * 40 + 20 + 2) * kBatch);
  EXPECT_EQ(r.results["steps"], 40);
  const double simulated_s = r.results["simulated_s"].get<double>();
  EXPECT_DOUBLE_EQ(r.results["throughput_samples_per_s"].get<double>(), (3 * 40 + 20) * kBatch / simulated_s);
  EXPECT_DOUBLE_EQ(r.results["usd_per_million_samples"].get<double>(),
                   r.results["cost_usd"]["total"].get<double>() / ((3 * 40 + 20) * kBatch) * 1e6);
  EXPECT_EQ(cell(r, "useful_samples"), std::to_string((3 * 40 + 20) * kBatch));
}

// A lone DDP worker without a checkpoint goes down in step 6 (steps 0-5 committed) and comes back
// in step 9: nobody holds the state, so it restarts from the initial model and the 6 steps are
// lost; it then takes all 20 steps of the plan.  Committed steps 20, though 26 were taken.
TEST(Goodput, RollbackToTheInitialModelLosesEveryCommittedStep) {
  json base = testing::four_linear_workers({{"name", "ddp"}}, 20);
  base["fleet"] = json::array({{{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"}}});
  const double step_s = run(base).results["simulated_s"].get<double>() / 20;
  const RunOut r = run(with_outage(base, "ddp.csv", step_s, 6, 9));
  const json& f = r.results["faults"];
  ASSERT_EQ(f["preemptions"], 1);
  EXPECT_EQ(f["lost_samples"].get<double>(), 6.0 * kBatch);
  EXPECT_EQ(r.results["samples"].get<double>(), 20.0 * kBatch);
  EXPECT_EQ(r.results["work"]["samples"].get<double>(), 26.0 * kBatch);
  EXPECT_EQ(r.results["steps"], 20);
  EXPECT_GE(r.results["work"]["steps"].get<long>(), 26);
  // Wasted: the 6 lost steps' compute (62.4 ms each on these GPUs) at the spot price, $1.8/h.
  EXPECT_NEAR(f["lost_compute_s"].get<double>(), 6 * step_s, 6 * step_s * 0.02);
  EXPECT_EQ(cell(r, "useful_samples"), std::to_string(20 * kBatch));
}

// Counts the transfers the membership still holds started once the simulation is over.
class CountPending final : public testing::Wrapped {
 public:
  using Wrapped::Wrapped;
  void finish(sim::World& w) override {
    Wrapped::finish(w);
    pending = w.membership->pending_transfers();
  }
  int pending = -1;
};

TEST(Goodput, NoTransferIsLeftStartedWhenAFaultedRunEnds) {
  const json base = testing::four_linear_workers({{"name", "ddp"}}, 40);
  const double step_s = run(base).results["simulated_s"].get<double>() / 40;
  const json scenario = with_outage(base, "pending.csv", step_s, 7, 22);
  const int pending = std::stoi(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    CountPending count(sim::make_strategy(s));
    sim::run_strategy(s, count);
    return std::to_string(count.pending);
  }));
  EXPECT_EQ(pending, 0);  // 25-28 unmatched transfers of aborted rounds were left before the fix
  // The command line on a faulted regression scenario: only the load warnings on stderr.
  const auto out = testing::fresh_dir("geotrain_goodput");
  const testing::CliRun cli = testing::run_geotrain(std::string("run '") + GEOTRAIN_SOURCE_DIR +
                                                    "/scenarios/regression/m-ddp-ring-size-faults.json' --quiet --out '" +
                                                    out.string() + "'");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  std::stringstream lines(cli.err);
  for (std::string line; std::getline(lines, line);) EXPECT_EQ(line.rfind("geotrain: warning: ", 0), 0u) << line;
}

}  // namespace
}  // namespace geotrain
