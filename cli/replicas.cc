// `geotrain run SCENARIO --replicas N`: N draws of the scenario's fault process (draw 0 with the
// scenario's own seed, the others with seeds derived from it: analysis/replicas.h), one forked
// process per draw on the usable cores; DIR/replicas/<i>/ holds each draw's outputs and
// DIR/replicas.json the summary (mean, sd, p5/p50/p95, 95% CI of the mean).
#include "cli/replicas.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "analysis/json_file.h"
#include "analysis/replicas.h"
#include "cli/commands.h"
#include "cli/process_pool.h"
#include "runtime/dataset.h"
#include "sim/run.h"

namespace geotrain::cli {
namespace {

namespace fs = std::filesystem;

void print_summary(const nlohmann::ordered_json& doc, const std::string& out_dir) {
  fmt::print("scenario {} · {} draws of the fault process\n", doc["scenario"].get<std::string>(),
             doc["replicas"].get<long>());
  fmt::print("  {:<24}{:>12}{:>12}{:>12}{:>12}{:>26}\n", "figure", "mean", "sd", "p5", "p95", "95% CI of the mean");
  for (const auto& [name, s] : doc["summary"].items()) {
    if (s.is_null()) {
      fmt::print("  {:<24}{:>12}\n", name, "n/a");
      continue;
    }
    fmt::print("  {:<24}{:>12.5g}{:>12.4g}{:>12.5g}{:>12.5g}{:>26}\n", name, s["mean"].get<double>(), s["sd"].get<double>(),
               s["p5"].get<double>(), s["p95"].get<double>(),
               fmt::format("[{:.5g}, {:.5g}]", s["ci95"][0].get<double>(), s["ci95"][1].get<double>()));
  }
  fmt::print("\nwrote {0}/replicas.json and {0}/replicas/<i>/results.json\n", out_dir);
}

}  // namespace

int run_replicas(const sim::Scenario& scenario, const std::string& out_dir, long replicas, bool quiet) {
  const auto count = static_cast<std::size_t>(replicas);
  const std::vector<std::uint64_t> seeds = analysis::replica_fault_seeds(scenario.seed, count);
  fs::remove(fs::path(out_dir) / "replicas.json");  // a half-done set never looks finished
  std::string failure;
  int failed_code = 0;
  run_in_processes(
      count, usable_cores(),
      [&](std::size_t i) -> TaskResult {
        sim::Scenario draw = scenario;
        if (i > 0) draw.fault_seed = seeds[i];
        try {
          sim::write_outputs(sim::run_scenario(draw), (fs::path(out_dir) / "replicas" / std::to_string(i)).string());
        } catch (const runtime::DataError& e) {
          return {kExitBadInput, fmt::format("{}: {}", scenario.file, e.what())};
        }
        return {0, ""};
      },
      [&](std::size_t i, const TaskOutcome& outcome) {
        if (outcome.code != 0 && failure.empty()) {
          failure = fmt::format("draw {} (fault seed {}): {}", i, seeds[i], outcome.message);
          failed_code = outcome.code;
        }
      });
  if (!failure.empty()) {
    fmt::print(stderr, "geotrain: {}{}\n", failed_code == kExitBadInput ? "bad input: " : "error: ", failure);
    return failed_code == kExitBadInput ? kExitBadInput : 1;
  }
  std::vector<nlohmann::ordered_json> results;
  for (std::size_t i = 0; i < count; ++i)
    results.push_back(analysis::read_json((fs::path(out_dir) / "replicas" / std::to_string(i) / "results.json").string()));
  const nlohmann::ordered_json doc = analysis::replica_summary(results, seeds);
  const fs::path file = fs::path(out_dir) / "replicas.json", tmp = fs::path(out_dir) / "replicas.json.partial";
  std::ofstream(tmp, std::ios::binary | std::ios::trunc) << doc.dump(2) << "\n";
  fs::rename(tmp, file);
  if (!quiet) print_summary(doc, out_dir);
  return 0;
}

}  // namespace geotrain::cli
