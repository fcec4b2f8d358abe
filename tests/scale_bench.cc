// Google Benchmark of how a run's cost grows with workers and steps (issue 19's growth table):
// DDP with the hierarchical all-reduce, size-only, 100M parameters, collective fidelity, over the
// first 16 regions of topologies/multicloud.json, default output (trace of steps, capped).  Each
// cell is a whole `geotrain run` (load, simulate, write results.json, timeline.csv, trace.json) in
// a fresh child process; counters: worker-steps per wall second, peak resident memory of the
// child, trace.json size.  The ratio printed at the end is each cell's wall time per worker-step
// against the 64 x 100 cell's, measured in the same run.
//   build/tests/geotrain_scale_bench --benchmark_filter='Ddp/(64|1024)/' --benchmark_repetitions=3
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "bench_util.h"
#include "multicloud_scenario.h"
#include "sim/isolate.h"
#include "sim/run.h"
#include "sim/scenario.h"

using namespace geotrain;

namespace {

using geotrain::bench::median;

double peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024;
  return 0;
}

struct Cell {
  double wall_s = 0, peak_B = 0, trace_B = 0, simulated_s = 0;
};
std::map<std::pair<int, int>, std::vector<Cell>> g_cells;

Cell run_cell(int workers, int steps) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("geotrain-scale-bench-{}", ::getpid());
  const auto reply = nlohmann::json::parse(sim::run_isolated([&] {
    const auto start = std::chrono::steady_clock::now();
    const sim::Scenario scenario = sim::parse_scenario(testing::multicloud_ddp_scenario(workers, steps), "scale.json");
    const sim::RunOutput out = sim::run_scenario(scenario);
    sim::write_outputs(out, dir.string());
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return nlohmann::json{{"wall_s", wall_s}, {"peak_B", peak_resident_bytes()},
                          {"trace_B", std::filesystem::file_size(dir / "trace.json")},
                          {"simulated_s", out.results["simulated_s"]}}.dump();
  }));
  std::filesystem::remove_all(dir);
  return {reply["wall_s"], reply["peak_B"], reply["trace_B"], reply["simulated_s"]};
}

void BM_Ddp(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0)), steps = static_cast<int>(state.range(1));
  Cell cell;
  for (auto _ : state) {
    cell = run_cell(workers, steps);
    state.SetIterationTime(cell.wall_s);
    g_cells[{workers, steps}].push_back(cell);
  }
  state.counters["worker_steps_per_s"] = static_cast<double>(workers) * steps / cell.wall_s;
  state.counters["peak_MB"] = cell.peak_B / 1e6;
  state.counters["trace_MB"] = cell.trace_B / 1e6;
  state.counters["simulated_s"] = cell.simulated_s;
}

BENCHMARK(BM_Ddp)
    ->ArgsProduct({{64, 256, 1024, 4096, 10000}, {100, 1000, 10000}})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  const auto base = g_cells.find({64, 100});
  std::printf("\nworkers x steps: median wall, worker-steps/s, peak resident, trace.json (ratio: wall per "
              "worker-step / the 64 x 100 cell's)\n");
  for (const auto& [key, cells] : g_cells) {
    std::vector<double> wall, peak, trace;
    for (const auto& c : cells) wall.push_back(c.wall_s), peak.push_back(c.peak_B), trace.push_back(c.trace_B);
    const double ws = static_cast<double>(key.first) * key.second;
    std::printf("%6d x %6d  %9.3f s  %11.0f /s  %8.0f MB  %7.1f MB", key.first, key.second, median(wall),
                ws / median(wall), median(peak) / 1e6, median(trace) / 1e6);
    if (base != g_cells.end()) {
      std::vector<double> base_wall;
      for (const auto& c : base->second) base_wall.push_back(c.wall_s);
      std::printf("  ratio %.3f", (median(wall) / ws) / (median(base_wall) / (64.0 * 100)));
    }
    std::printf("\n");
  }
  benchmark::Shutdown();
  return 0;
}
