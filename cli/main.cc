// The geotrain command line: `geotrain run SCENARIO.json [--out DIR]`.
// Exit codes: 0 ok, 1 a check failed (later subcommands), 2 bad input.
#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "sim/json_reader.h"
#include "sim/run.h"
#include "sim/scenario.h"

namespace {

constexpr int kExitBadInput = 2;

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

int cmd_run(const std::string& scenario_file, std::string out_dir, bool quiet) {
  geotrain::sim::Scenario scenario;
  try {
    scenario = geotrain::sim::load_scenario(scenario_file);
  } catch (const geotrain::sim::BadInput& e) {
    fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
    return kExitBadInput;
  }
  if (out_dir.empty()) out_dir = (std::filesystem::path("out") / scenario.name).string();
  fmt::print("seed {}\n", scenario.seed);  // first, so any run can be reproduced
  std::fflush(stdout);
  const auto output = geotrain::sim::run_scenario(scenario);
  geotrain::sim::write_outputs(output, out_dir);
  if (!quiet) print_summary(output.results, out_dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"geotrain: simulate geo-distributed deep learning training (time, convergence, dollars)"};
  app.require_subcommand(1);
  std::string scenario_file, out_dir;
  bool quiet = false;
  auto* run = app.add_subcommand("run", "run one scenario and write results.json, timeline.csv, trace.json");
  run->add_option("scenario", scenario_file, "scenario JSON file")->required();
  run->add_option("--out", out_dir, "output folder (default: out/<scenario name>)");
  run->add_flag("--quiet", quiet, "print only the seed, not the summary");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }
  try {
    if (*run) return cmd_run(scenario_file, out_dir, quiet);
  } catch (const std::exception& e) {
    fmt::print(stderr, "geotrain: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
