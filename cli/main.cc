// The geotrain command line: `geotrain run SCENARIO.json [--out DIR] [--set /pointer=value]...`
// and `geotrain summarize DIR...`.  Exit codes: 0 ok, 1 a check failed or an unexpected error,
// 2 bad input.
#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "analysis/sweep_table.h"
#include "cli/commands.h"
#include "cli/process_pool.h"
#include "runtime/dataset.h"
#include "runtime/math_pool.h"
#include "sim/json_reader.h"
#include "sim/run.h"
#include "sim/scenario.h"

namespace {

using geotrain::cli::kExitBadInput;

std::string human_bytes(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (b >= 1000 && u < 5) {
    b /= 1000;
    ++u;
  }
  return fmt::format("{:.3g} {}", b, units[u]);
}

std::string num(const nlohmann::ordered_json& v, const char* fmt_spec = "{:.4g}") {
  return v.is_null() ? "n/a" : fmt::format(fmt::runtime(fmt_spec), v.get<double>());
}

void print_summary(const nlohmann::ordered_json& r, const std::string& out_dir) {
  const auto& t = r["time_breakdown_s"];
  const auto& c = r["cost_usd"];
  fmt::print("scenario {} · {} workers · strategy {}\n", r["scenario"].get<std::string>(),
             r["workers"].get<int>(), r["strategy"].dump());
  fmt::print("  {:<28}{:>16}\n", "simulated time (s)", num(r["simulated_s"]));
  fmt::print("  {:<28}{:>16}\n", "steps", r["steps"].dump());
  fmt::print("  {:<28}{:>16}\n", "samples", num(r["samples"], "{:.0f}"));
  fmt::print("  {:<28}{:>16}\n", "throughput (samples/s)", num(r["throughput_samples_per_s"]));
  fmt::print("  {:<28}{:>16}\n", "compute per worker (s)", num(t["compute"]));
  fmt::print("  {:<28}{:>16}\n", "communication exposed (s)", num(t["communication_exposed"]));
  fmt::print("  {:<28}{:>16}\n", "idle (s)", num(t["idle"]));
  fmt::print("  {:<28}{:>16}\n", "granularity (compute/comm)", num(r["granularity"]));
  fmt::print("  {:<28}{:>16}\n", "compute cost (USD)", num(c["compute"], "{:.4f}"));
  fmt::print("  {:<28}{:>16}\n", "egress cost (USD)", num(c["egress"], "{:.4f}"));
  fmt::print("  {:<28}{:>16}\n", "total cost (USD)", num(c["total"], "{:.4f}"));
  fmt::print("  {:<28}{:>16}\n", "USD per 1M samples", num(r["usd_per_million_samples"], "{:.2f}"));
  fmt::print("  {:<28}{:>16}\n", "traffic total", human_bytes(r["traffic_bytes"]["total"].get<double>()));
  fmt::print("  {:<28}{:>16}\n", "traffic WAN", human_bytes(r["traffic_bytes"]["wan"].get<double>()));
  if (r.contains("faults")) {
    const auto& f = r["faults"];
    fmt::print("  {:<28}{:>16}\n", "preemptions / restarts", fmt::format("{} / {}", f["preemptions"].get<long>(),
                                                                          f["restarts"].get<long>()));
    fmt::print("  {:<28}{:>16}\n", "lost samples", num(f["lost_samples"], "{:.0f}"));
    fmt::print("  {:<28}{:>16}\n", "wasted (USD)", num(f["wasted_usd"], "{:.4f}"));
    fmt::print("  {:<28}{:>16}\n", "checkpoint traffic", human_bytes(f["checkpoint_bytes"].get<double>()));
    fmt::print("  {:<28}{:>16}\n", "checkpoint storage (USD)", num(f["checkpoint_usd"], "{:.4f}"));
    for (const auto& a : f["availability"])
      fmt::print("  {:<28}{:>16}\n", "availability " + a["region"].get<std::string>(),
                 fmt::format("{:.1f}%", 100 * a["availability"].get<double>()));
  }
  if (!r["stop_reason"].is_null()) fmt::print("  stopped: {}\n", r["stop_reason"].get<std::string>());
  if (!r["links"].empty()) {
    fmt::print("\n  {:<22} {:<22} {:>12} {:>10} {:>12}\n", "src_region", "dst_region", "bytes",
               "USD/GB", "egress_USD");
    for (const auto& l : r["links"])
      fmt::print("  {:<22} {:<22} {:>12} {:>10.4f} {:>12.4f}\n", l["src_region"].get<std::string>(),
                 l["dst_region"].get<std::string>(), human_bytes(l["bytes"].get<double>()),
                 l["usd_per_GB"].get<double>(), l["egress_usd"].get<double>());
  }
  if (!r["collectives"].empty()) {
    fmt::print("\n  {:<10} {:<13} {:>5} {:>10} {:>6} {:>12} {:>11} {:>11}\n", "op", "algorithm",
               "ranks", "size", "count", "time_s", "algbw_GB/s", "busbw_GB/s");
    for (const auto& k : r["collectives"])
      fmt::print("  {:<10} {:<13} {:>5} {:>10} {:>6} {:>12.6g} {:>11.4g} {:>11.4g}\n",
                 k["op"].get<std::string>(), k["algorithm"].get<std::string>(), k["ranks"].get<int>(),
                 human_bytes(k["size_B"].get<double>()), k["count"].get<int>(),
                 k["mean_time_s"].get<double>(), k["algbw_GBps"].get<double>(),
                 k["busbw_GBps"].get<double>());
  }
  fmt::print("\nwrote {0}/results.json, {0}/timeline.csv, {0}/trace.json\n", out_dir);
}

// Applies "--set /json/pointer=value" overrides (value is JSON; a bare word is taken as a string).
void apply_overrides(nlohmann::json& doc, const std::string& file, const std::vector<std::string>& sets) {
  for (const auto& set : sets) {
    const auto eq = set.find('=');
    if (set.empty() || set[0] != '/' || eq == std::string::npos)
      geotrain::sim::throw_bad_input(file, "--set " + set, "", "expected --set /json/pointer=value");
    const std::string pointer = set.substr(0, eq), text = set.substr(eq + 1);
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error&) {
      value = text;  // e.g. --set /strategy/name=gossip
    }
    try {
      doc[nlohmann::json::json_pointer(pointer)] = value;
    } catch (const nlohmann::json::exception& e) {
      geotrain::sim::throw_bad_input(file, pointer, text, std::string("cannot set this pointer: ") + e.what());
    }
  }
}

int cmd_run(const std::string& scenario_file, std::string out_dir, bool quiet, const std::vector<std::string>& sets,
            int threads) {
  geotrain::runtime::set_math_threads(threads > 0 ? threads : geotrain::cli::usable_cores());
  geotrain::sim::Scenario scenario;
  try {
    nlohmann::json doc = geotrain::sim::read_json_file(scenario_file);
    apply_overrides(doc, scenario_file, sets);
    scenario = geotrain::sim::parse_scenario(doc, scenario_file);
  } catch (const geotrain::sim::BadInput& e) {
    fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
    return kExitBadInput;
  }
  if (out_dir.empty()) out_dir = (std::filesystem::path("out") / scenario.name).string();
  fmt::print("seed {}\n", scenario.seed);  // first, so any run can be reproduced
  std::fflush(stdout);
  geotrain::sim::RunOutput output;
  try {
    output = geotrain::sim::run_scenario(scenario);
  } catch (const geotrain::runtime::DataError& e) {
    fmt::print(stderr, "geotrain: bad input: {}: {}\n", scenario_file, e.what());
    return kExitBadInput;
  }
  geotrain::sim::write_outputs(output, out_dir);
  if (!quiet) print_summary(output.results, out_dir);
  return 0;
}

// One CSV row per run folder: the figures people compare runs by (the metric columns are those of
// sweep.csv, analysis::sweep_metrics()).
int cmd_summarize(const std::vector<std::string>& dirs) {
  std::string header = "run,scenario,strategy,workers,samples";
  for (const auto& m : geotrain::analysis::sweep_metrics()) header += std::string(",") + m.column;
  fmt::print("{},staleness_mean,diverged\n", header);
  auto field = [](const nlohmann::json& v) { return v.is_null() ? std::string() : v.dump(); };
  for (const auto& dir : dirs) {
    const auto file = (std::filesystem::path(dir) / "results.json").string();
    nlohmann::json r;
    try {
      r = geotrain::sim::read_json_file(file);
    } catch (const geotrain::sim::BadInput& e) {
      fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
      return kExitBadInput;
    }
    std::string strategy = r["strategy"]["name"].get<std::string>();
    for (const char* knob : {"allreduce", "mode", "form"})
      if (r["strategy"].contains(knob)) strategy += "/" + r["strategy"][knob].get<std::string>();
    std::string row = fmt::format("{},{},{},{},{}", dir, r["scenario"].get<std::string>(), strategy, field(r["workers"]),
                                  field(r["samples"]));
    for (const auto& m : geotrain::analysis::sweep_metrics()) {
      const nlohmann::json::json_pointer pointer(m.pointer);
      row += ',';
      if (r.contains(pointer)) row += field(r.at(pointer));
    }
    fmt::print("{},{},{}\n", row, r.contains("staleness") ? field(r["staleness"]["mean"]) : "", field(r["diverged"]));
  }
  return 0;
}

}  // namespace

namespace geotrain::cli {

void add_run_command(CLI::App& app, int& exit_code) {
  struct Options {
    std::string scenario_file, out_dir;
    std::vector<std::string> sets;
    bool quiet = false;
    int threads = 0;  // 0: every usable core
  };
  auto opts = std::make_shared<Options>();
  auto* run = app.add_subcommand("run", "run one scenario and write results.json, timeline.csv, trace.json");
  run->add_option("scenario", opts->scenario_file, "scenario JSON file")->required();
  run->add_option("--out", opts->out_dir, "output folder (default: out/<scenario name>)");
  run->add_option("--set", opts->sets, "override a scenario value: /json/pointer=value (repeatable)");
  run->add_flag("--quiet", opts->quiet, "print only the seed, not the summary");
  run->add_option("--threads", opts->threads,
                  "threads for the workers' forward/backward passes with real training; the results do not "
                  "depend on it (default: every usable core)")
      ->check(CLI::Range(1, 4096));
  run->callback([opts, &exit_code] {
    exit_code = cmd_run(opts->scenario_file, opts->out_dir, opts->quiet, opts->sets, opts->threads);
  });
}

void add_summarize_command(CLI::App& app, int& exit_code) {
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto* summarize = app.add_subcommand("summarize", "print one CSV row of key figures per run folder");
  summarize->add_option("dirs", *dirs, "run folders holding results.json")->required();
  summarize->callback([dirs, &exit_code] { exit_code = cmd_summarize(*dirs); });
}

}  // namespace geotrain::cli

int main(int argc, char** argv) {
  CLI::App app{"geotrain: simulate geo-distributed deep learning training (time, convergence, dollars)"};
  app.require_subcommand(1);
  int exit_code = 0;
  geotrain::cli::add_run_command(app, exit_code);
  geotrain::cli::add_summarize_command(app, exit_code);
  geotrain::cli::add_utilization_command(app, exit_code);
  geotrain::cli::add_topo_command(app, exit_code);
  geotrain::cli::add_sweep_command(app, exit_code);
  geotrain::cli::add_check_command(app, exit_code);
  geotrain::cli::add_validate_command(app, exit_code);
  geotrain::cli::add_report_command(app, exit_code);
  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "geotrain: error: {}\n", e.what());
    return 1;
  }
  return exit_code;
}
