// Google Benchmark of how a run's cost grows with workers and steps (issue 19's growth table):
// DDP with the hierarchical all-reduce, size-only, 100M parameters, collective fidelity, over the
// first 16 regions of topologies/multicloud.json, default output (trace of steps, capped).  Each
// cell is a whole `geotrain run` (load, simulate, write results.json, timeline.csv, trace.json) in
// a fresh child process; counters: worker-steps per wall second, peak resident memory of the
// child, trace.json size.  The ratio printed at the end is each cell's wall time per worker-step
// against the 64 x 100 cell's, measured in the same run.  BM_Ddp runs the scenario as geotrain
// does (its workers are identical: one actor stands for all, sim/run.cc); BM_DdpActorPerWorker
// turns that rule off, the baseline the speedup column divides by (cells of hours there are
// left to the filter).  BM_DdpOverlap and BM_DdpOverlapActorPerWorker: the same fleet training a
// 12-layer GPT-2-small-shaped transformer with DDP's default overlap (gradient buckets of 25 MiB
// reduced while the backward goes on), whose buckets the collective fidelity times in one meeting.
//   build/tests/geotrain_scale_bench --benchmark_filter='Ddp/(64|1024)/' --benchmark_repetitions=3
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "bench_util.h"
#include "multicloud_scenario.h"
#include "sim/isolate.h"
#include "sim/identical_workers.h"
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
// (workers, steps, an actor per worker, overlap): the cells measured.
std::map<std::tuple<int, int, bool, bool>, std::vector<Cell>> g_cells;

// One `geotrain run` of the cell in a child; `actor_per_worker` turns the rule for identical
// workers off (sim/identical_workers.h), as the code before it ran.
Cell run_cell(int workers, int steps, bool actor_per_worker, bool overlap) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("geotrain-scale-bench-{}", ::getpid());
  const auto reply = nlohmann::json::parse(sim::run_isolated([&] {
    sim::set_identical_workers_rule(!actor_per_worker);
    const auto start = std::chrono::steady_clock::now();
    nlohmann::json doc = testing::multicloud_ddp_scenario(workers, steps);
    if (overlap) {
      doc["workload"]["model"] = {{"type", "transformer"}, {"layers", 12}, {"d_model", 768}, {"heads", 12},
                                  {"seq_len", 1024}, {"vocab", 50257}, {"tied_embeddings", true}};
      doc["workload"]["batch_per_worker"] = 8;
      doc["strategy"]["overlap"] = true;
    }
    const sim::Scenario scenario = sim::parse_scenario(doc, "scale.json");
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

void run_cells(benchmark::State& state, bool actor_per_worker, bool overlap = false) {
  const int workers = static_cast<int>(state.range(0)), steps = static_cast<int>(state.range(1));
  Cell cell;
  for (auto _ : state) {
    cell = run_cell(workers, steps, actor_per_worker, overlap);
    state.SetIterationTime(cell.wall_s);
    g_cells[{workers, steps, actor_per_worker, overlap}].push_back(cell);
  }
  state.counters["worker_steps_per_s"] = static_cast<double>(workers) * steps / cell.wall_s;
  state.counters["peak_MB"] = cell.peak_B / 1e6;
  state.counters["trace_MB"] = cell.trace_B / 1e6;
  state.counters["simulated_s"] = cell.simulated_s;
}

// As geotrain runs the scenario: its workers are identical, so one actor stands for all.
void BM_Ddp(benchmark::State& state) { run_cells(state, false); }
// The baseline: an actor per worker (the rule off).
void BM_DdpActorPerWorker(benchmark::State& state) { run_cells(state, true); }
// A transformer with DDP's overlapped buckets, one actor and an actor per worker.
void BM_DdpOverlap(benchmark::State& state) { run_cells(state, false, true); }
void BM_DdpOverlapActorPerWorker(benchmark::State& state) { run_cells(state, true, true); }

BENCHMARK(BM_Ddp)
    ->ArgsProduct({{64, 256, 1024, 4096, 10000}, {100, 1000, 10000}})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
// The fleet limit, 100,000 workers (10 steps: about 70 s and 620 MB on the 2-core VM); one actor,
// so it loads on a default vm.max_map_count.
BENCHMARK(BM_Ddp)->Args({100000, 10})->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(BM_DdpActorPerWorker)
    ->ArgsProduct({{64, 256, 1024, 4096, 10000}, {100, 1000, 10000}})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK(BM_DdpOverlap)
    ->ArgsProduct({{64, 256, 1024, 4096, 10000}, {100, 1000}})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK(BM_DdpOverlapActorPerWorker)
    ->ArgsProduct({{64, 256, 1024, 4096, 10000}, {100, 1000}})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  const auto median_wall = [](const std::vector<Cell>& cells) {
    std::vector<double> wall;
    for (const auto& c : cells) wall.push_back(c.wall_s);
    return median(wall);
  };
  const auto base = g_cells.find({64, 100, false, false});
  std::printf("\nworkers x steps (actors): median wall, worker-steps/s, peak resident, trace.json; ratio: wall per "
              "worker-step / the 64 x 100 cell's (one actor); speedup: the actor-per-worker cell's wall / this one's\n");
  for (const auto& [key, cells] : g_cells) {
    const auto [workers, steps, actor_per_worker, overlap] = key;
    std::vector<double> peak, trace;
    for (const auto& c : cells) peak.push_back(c.peak_B), trace.push_back(c.trace_B);
    const double ws = static_cast<double>(workers) * steps, wall = median_wall(cells);
    std::printf("%6d x %6d %s(%s)  %9.3f s  %11.0f /s  %8.0f MB  %7.1f MB", workers, steps, overlap ? "overlap " : "",
                actor_per_worker ? "each" : "one ", wall, ws / wall, median(peak) / 1e6, median(trace) / 1e6);
    if (base != g_cells.end()) std::printf("  ratio %.3f", (wall / ws) / (median_wall(base->second) / (64.0 * 100)));
    const auto each = g_cells.find({workers, steps, true, overlap});
    if (!actor_per_worker && each != g_cells.end()) std::printf("  speedup %.1f", median_wall(each->second) / wall);
    std::printf("\n");
  }
  benchmark::Shutdown();
  return 0;
}
