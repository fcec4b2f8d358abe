// Google Benchmark of `--replicas` (issue 18): what the summary of 64 draws costs against the 64
// draws themselves.  The scenario is spot-vs-on-demand's "DiLoCo H=100, spot 0.1/h" point (its
// sweep file, point 3) shortened to 3,000 steps.  BM_OneDraw runs one draw in a child process
// (parse, simulate, results); BM_Summary64 reads the 64 draws' results.json files and summarizes
// them as `geotrain run --replicas 64` does (analysis::read_json, analysis::replica_summary: order
// statistics and CIs of eight figures).  The ratio printed at the end is the summary's median over 64 draws' medians.  How
// the draws use the cores is timed on whole commands (docs/PERFORMANCE.md, "Replicas").
//   build/tests/geotrain_replicas_bench --benchmark_repetitions=5
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "analysis/json_file.h"
#include "analysis/replicas.h"
#include "analysis/sweep_plan.h"
#include "bench_util.h"
#include "sim/isolate.h"
#include "sim/run.h"
#include "sim/scenario.h"

using namespace geotrain;

namespace {

constexpr std::size_t kDraws = 64;
constexpr int kSteps = 3000;
constexpr std::size_t kSpotDilocoPoint = 3;  // "DiLoCo H=100", "spot 0.1/h"

std::vector<double> g_draw_s, g_summary_s;

nlohmann::json spot_diloco_scenario(std::string& base_file) {
  const auto plan = analysis::load_sweep(std::string(GEOTRAIN_SOURCE_DIR) + "/scenarios/spot-vs-on-demand.json");
  base_file = plan.base_file;
  nlohmann::json s = plan.points[kSpotDilocoPoint].scenario;
  s["workload"]["steps"] = kSteps;
  return s;
}

// The results of draw `d` (fault seed as geotrain run --replicas derives it) and its wall time.
std::pair<nlohmann::ordered_json, double> one_draw(std::size_t d) {
  const auto reply = nlohmann::json::parse(sim::run_isolated([d] {
    const auto start = std::chrono::steady_clock::now();
    std::string base_file;
    sim::Scenario s = sim::parse_scenario(spot_diloco_scenario(base_file), base_file);
    if (d > 0) s.fault_seed = analysis::replica_fault_seed(s.seed, d);
    auto results = sim::run_scenario(s).results;
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return nlohmann::json{{"results", results}, {"wall_s", wall_s}}.dump();
  }));
  return {nlohmann::ordered_json::parse(reply["results"].dump()), reply["wall_s"].get<double>()};
}

void BM_OneDraw(benchmark::State& state) {
  for (auto _ : state) {
    const auto [results, wall_s] = one_draw(1);
    state.SetIterationTime(wall_s);
    g_draw_s.push_back(wall_s);
    benchmark::DoNotOptimize(results);
  }
}

void BM_Summary64(benchmark::State& state) {
  // 64 distinct draws, computed and written once (not timed), as DIR/replicas/<d>/results.json.
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() / "geotrain-replicas-bench";
    for (std::size_t i = 0; i < kDraws; ++i) {
      std::filesystem::create_directories(d / std::to_string(i));
      std::ofstream(d / std::to_string(i) / "results.json") << one_draw(i).first.dump(2) << "\n";
    }
    return d;
  }();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<nlohmann::ordered_json> draws;
    for (std::size_t d = 0; d < kDraws; ++d) draws.push_back(analysis::read_json((dir / std::to_string(d) / "results.json").string()));
    const auto seeds = analysis::replica_fault_seeds(draws[0].value("seed", 0ULL), kDraws);
    auto summary = analysis::replica_summary(draws, seeds);
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(wall_s);
    g_summary_s.push_back(wall_s);
    benchmark::DoNotOptimize(summary);
  }
}

BENCHMARK(BM_OneDraw)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Summary64)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  if (!g_draw_s.empty() && !g_summary_s.empty()) {
    const double draw = bench::median(g_draw_s), summary = bench::median(g_summary_s);
    std::printf("\n%zu draws of %d steps: one draw %.1f ms (median of %zu), summary %.3f ms (median of %zu)\n", kDraws,
                kSteps, draw * 1e3, g_draw_s.size(), summary * 1e3, g_summary_s.size());
    std::printf("  summary / (64 draws) = %.5f%% (target < 1%%)\n", 100 * summary / (static_cast<double>(kDraws) * draw));
  }
  benchmark::Shutdown();
  return 0;
}
