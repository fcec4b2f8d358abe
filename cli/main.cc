// The geotrain command line: `geotrain run SCENARIO.json [--out DIR] [--set /pointer=value]...`,
// `geotrain summarize DIR...` and `geotrain --version`.  Exit codes: 0 ok, 1 a check failed or an
// unexpected error, 2 bad input.
#include <cstdio>
#include <filesystem>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "geotrain_version.h"  // generated at build time (cli/version.cmake)
#include "analysis/sweep_table.h"
#include "cli/commands.h"
#include "cli/overrides.h"
#include "cli/process_pool.h"
#include "cli/replicas.h"
#include "common/csv.h"
#include "runtime/dataset.h"
#include "runtime/math_pool.h"
#include "sim/json_reader.h"
#include "sim/result_keys.h"
#include "sim/run.h"
#include "sim/scenario.h"

namespace {

namespace keys = geotrain::result_keys;
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
  const auto& t = r[keys::kTimeBreakdown];
  const auto& c = r[keys::kCostUsd];
  fmt::print("scenario {} · {} workers · strategy {}\n", r[keys::kScenario].get<std::string>(),
             r[keys::kWorkers].get<int>(), r[keys::kStrategy].dump());
  fmt::print("  {:<28}{:>16}\n", "simulated time (s)", num(r[keys::kSimulatedS]));
  const auto& w = r[keys::kWork];
  const bool lost = r.contains(keys::kFaults);  // work and useful work differ only under faults
  fmt::print("  {:<28}{:>16}\n", lost ? "steps committed / done" : "steps",
             lost ? fmt::format("{} / {}", r[keys::kSteps].dump(), w[keys::work::kSteps].dump()) : r[keys::kSteps].dump());
  fmt::print("  {:<28}{:>16}\n", lost ? "samples useful / done" : "samples",
             lost ? num(r[keys::kSamples], "{:.0f}") + " / " + num(w[keys::work::kSamples], "{:.0f}")
                  : num(r[keys::kSamples], "{:.0f}"));
  fmt::print("  {:<28}{:>16}\n", lost ? "goodput (samples/s)" : "throughput (samples/s)", num(r[keys::kThroughput]));
  if (lost) fmt::print("  {:<28}{:>16}\n", "work done (samples/s)", num(w[keys::work::kThroughput]));
  if (r.contains("tokens_per_s")) fmt::print("  {:<28}{:>16}\n", "throughput (tokens/s)", num(r["tokens_per_s"]));
  if (r.contains("mfu_achieved")) fmt::print("  {:<28}{:>16}\n", "MFU achieved", num(r["mfu_achieved"], "{:.3g}"));
  fmt::print("  {:<28}{:>16}\n", "compute per worker (s)", num(t[keys::time::kCompute]));
  fmt::print("  {:<28}{:>16}\n", "communication exposed (s)", num(t[keys::time::kCommunicationExposed]));
  fmt::print("  {:<28}{:>16}\n", "idle (s)", num(t[keys::time::kIdle]));
  fmt::print("  {:<28}{:>16}\n", "granularity (compute/comm)", num(r[keys::kGranularity]));
  fmt::print("  {:<28}{:>16}\n", "compute cost (USD)", num(c[keys::cost::kCompute], "{:.4f}"));
  fmt::print("  {:<28}{:>16}\n", "egress cost (USD)", num(c[keys::cost::kEgress], "{:.4f}"));
  fmt::print("  {:<28}{:>16}\n", "total cost (USD)", num(c[keys::cost::kTotal], "{:.4f}"));
  fmt::print("  {:<28}{:>16}\n", "USD per 1M samples", num(r[keys::kUsdPerMillionSamples], "{:.2f}"));
  fmt::print("  {:<28}{:>16}\n", "traffic total", human_bytes(r[keys::kTrafficBytes][keys::traffic::kTotal].get<double>()));
  fmt::print("  {:<28}{:>16}\n", "traffic WAN", human_bytes(r[keys::kTrafficBytes][keys::traffic::kWan].get<double>()));
  if (r.contains(keys::kFaults)) {
    const auto& f = r[keys::kFaults];
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
  if (!r[keys::kStopReason].is_null()) fmt::print("  stopped: {}\n", r[keys::kStopReason].get<std::string>());
  if (!r[keys::kLinks].empty()) {
    fmt::print("\n  {:<22} {:<22} {:>12} {:>10} {:>12}\n", "src_region", "dst_region", "bytes",
               "USD/GB", "egress_USD");
    for (const auto& l : r[keys::kLinks])
      fmt::print("  {:<22} {:<22} {:>12} {:>10.4f} {:>12.4f}\n", l[keys::link::kSrcRegion].get<std::string>(),
                 l[keys::link::kDstRegion].get<std::string>(), human_bytes(l[keys::link::kBytes].get<double>()),
                 l[keys::link::kUsdPerGB].get<double>(), l[keys::link::kEgressUsd].get<double>());
  }
  if (!r[keys::kCollectives].empty()) {
    fmt::print("\n  {:<10} {:<13} {:>5} {:>10} {:>6} {:>12} {:>11} {:>11}\n", "op", "algorithm",
               "ranks", "size", "count", "time_s", "algbw_GB/s", "busbw_GB/s");
    for (const auto& k : r[keys::kCollectives])
      fmt::print("  {:<10} {:<13} {:>5} {:>10} {:>6} {:>12.6g} {:>11.4g} {:>11.4g}\n",
                 k[keys::collective::kOp].get<std::string>(), k[keys::collective::kAlgorithm].get<std::string>(), k[keys::collective::kRanks].get<int>(),
                 human_bytes(k[keys::collective::kSizeB].get<double>()), k[keys::collective::kCount].get<int>(),
                 k[keys::collective::kMeanTimeS].get<double>(), k[keys::collective::kAlgbwGBps].get<double>(),
                 k[keys::collective::kBusbwGBps].get<double>());
  }
  fmt::print("\nwrote {0}/results.json, {0}/timeline.csv, {0}/trace.json\n", out_dir);
}

// Refuses SimGrid options SimGrid does not take (before anything runs); installs the others.
bool install_simgrid_options(const std::vector<std::string>& cfgs) {
  if (const std::string problem = geotrain::sim::check_simgrid_options(cfgs); !problem.empty()) {
    fmt::print(stderr, "geotrain: bad input: {}\n", problem);
    return false;
  }
  geotrain::sim::set_simgrid_options(cfgs);
  return true;
}

int cmd_run(const std::string& scenario_file, std::string out_dir, bool quiet, const std::vector<std::string>& sets,
            int threads, const std::vector<std::string>& cfgs, std::optional<long> replicas) {
  if (replicas && (*replicas < 1 || *replicas > geotrain::cli::kMaxReplicas)) {
    fmt::print(stderr, "geotrain: bad input: --replicas: {}: expected an integer in [1, {}] (draws of the fault process)\n",
               *replicas, geotrain::cli::kMaxReplicas);
    return kExitBadInput;
  }
  // Draws run one per core: their real training then gets one thread each.
  geotrain::runtime::set_math_threads(threads > 0 ? threads : replicas ? 1 : geotrain::cli::usable_cores());
  geotrain::sim::Scenario scenario;
  try {
    nlohmann::json doc = geotrain::sim::read_json_file(scenario_file);
    geotrain::cli::apply_overrides(doc, scenario_file, sets);
    scenario = geotrain::sim::parse_scenario(doc, scenario_file);
  } catch (const geotrain::sim::BadInput& e) {
    fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
    return kExitBadInput;
  }
  if (!install_simgrid_options(cfgs)) return kExitBadInput;
  for (const auto& warning : scenario.warnings) fmt::print(stderr, "geotrain: warning: {}\n", warning);
  if (out_dir.empty()) out_dir = (std::filesystem::path("out") / scenario.name).string();
  fmt::print("seed {}\n", scenario.seed);  // first, so any run can be reproduced
  std::fflush(stdout);
  if (replicas) return geotrain::cli::run_replicas(scenario, out_dir, *replicas, quiet);
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

// The value at `keys` under `r`, or null when some key is missing or a parent is not an object.
const nlohmann::json& value_at(const nlohmann::json& r, std::initializer_list<const char*> keys) {
  static const nlohmann::json kNull;
  const nlohmann::json* at = &r;
  for (const char* key : keys) {
    if (!at->is_object()) return kNull;
    const auto it = at->find(key);
    if (it == at->end()) return kNull;
    at = &*it;
  }
  return *at;
}

// "name/allreduce/mode/form" of a results.json's strategy; throws BadInput when it is not there.
std::string strategy_label(const nlohmann::json& r, const std::string& file) {
  const auto& name = value_at(r, {"strategy", "name"});
  if (!value_at(r, {"scenario"}).is_string())
    geotrain::sim::throw_bad_input(file, "/scenario", geotrain::sim::json_value_text(value_at(r, {"scenario"})),
                                   "expected a string (a results.json written by geotrain run)");
  if (!name.is_string())
    geotrain::sim::throw_bad_input(file, "/strategy/name", geotrain::sim::json_value_text(name),
                                   "expected a string (a results.json written by geotrain run)");
  std::string label = name.get<std::string>();
  for (const char* knob : {"allreduce", "mode", "form"}) {
    const auto& v = value_at(r, {"strategy", knob});
    if (v.is_null()) continue;
    if (!v.is_string())
      geotrain::sim::throw_bad_input(file, std::string("/strategy/") + knob, geotrain::sim::json_value_text(v), "expected a string");
    label += "/" + v.get<std::string>();
  }
  return label;
}

// One CSV row per run folder: the figures people compare runs by, the metric columns those of
// sweep.csv (analysis::sweep_metrics(), one column set) in RFC 4180 cells: a run folder or
// scenario name with a comma, quote or newline is quoted; nulls are empty; counts integers.
int cmd_summarize(const std::vector<std::string>& dirs) {
  std::vector<std::string> header = {"run", "scenario", "strategy", "workers", "samples"};
  for (const auto& m : geotrain::analysis::sweep_metrics()) header.emplace_back(m.column);
  for (const char* column : {"staleness_mean", "diverged", "work_samples"}) header.emplace_back(column);
  geotrain::csv::Writer out(header);
  auto field = [&out](const nlohmann::json& v) {
    if (v.is_number_integer()) out.text(v.dump());  // exact digits, whatever the size
    else if (v.is_number()) out.number(v.get<double>());
    else if (v.is_string()) out.text(v.get<std::string>());
    else if (v.is_null()) out.empty();
    else out.text(v.dump());  // booleans
  };
  for (const auto& dir : dirs) {
    const auto file = (std::filesystem::path(dir) / "results.json").string();
    nlohmann::json r;
    std::string strategy;
    try {
      r = geotrain::sim::read_json_file(file);
      strategy = strategy_label(r, file);
    } catch (const geotrain::sim::BadInput& e) {
      fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
      return kExitBadInput;
    }
    out.text(dir).text(r["scenario"].get<std::string>()).text(strategy);
    field(value_at(r, {"workers"}));
    field(value_at(r, {"samples"}));
    // The sweep's metric columns (goodput: throughput counts useful samples; the work done, what
    // faults lost and the dollars they wasted follow, lost and wasted 0 in a run without faults).
    const auto row = geotrain::analysis::point_row(dir, nlohmann::ordered_json::object(), nlohmann::ordered_json(r));
    for (const auto& value : row.metrics) out.number(value);
    field(value_at(r, {"staleness", "mean"}));
    field(value_at(r, {"diverged"}));
    field(value_at(r, {"work", "samples"}));
    out.end_row();
  }
  fmt::print("{}", out.str());
  return 0;
}

}  // namespace

namespace geotrain::cli {

void add_run_command(CLI::App& app, int& exit_code) {
  struct Options {
    std::string scenario_file, out_dir, calibration;
    std::vector<std::string> sets, cfgs;
    bool quiet = false;
    int threads = 0;  // 0: every usable core
    long replicas = 0;
    CLI::Option* replicas_option = nullptr;
  };
  auto opts = std::make_shared<Options>();
  auto* run = app.add_subcommand("run", "run one scenario and write results.json, timeline.csv, trace.json");
  run->add_option("scenario", opts->scenario_file, "scenario JSON file")->required();
  run->add_option("--out", opts->out_dir, "output folder (default: out/<scenario name>)");
  run->add_option("--set", opts->sets, "override a scenario value: /json/pointer=value (repeatable)");
  run->add_option("--cfg", opts->cfgs, "pass a SimGrid option, KEY:VALUE (repeatable), e.g. --cfg network/TCP-gamma:4194304");
  run->add_option("--calibration", opts->calibration,
                  "apply a calibration (geotrain calibrate's calibration.json), as \"calibration\" in the scenario");
  run->add_flag("--quiet", opts->quiet, "print only the seed, not the summary");
  run->add_option("--threads", opts->threads,
                  "threads for the workers' forward/backward passes with real training; the results do not "
                  "depend on it (default: every usable core)")
      ->check(CLI::Range(1, 4096));
  opts->replicas_option = run->add_option(
      "--replicas", opts->replicas,
      "run N independent draws of the fault process (draw 0 with the scenario's seed) into OUT/replicas/<i>/ and "
      "summarize them in OUT/replicas.json");
  run->callback([opts, &exit_code] {
    if (!opts->calibration.empty())
      opts->sets.push_back("/calibration=" + std::filesystem::absolute(opts->calibration).lexically_normal().string());
    const auto replicas = opts->replicas_option->count() > 0 ? std::optional<long>(opts->replicas) : std::nullopt;
    exit_code = cmd_run(opts->scenario_file, opts->out_dir, opts->quiet, opts->sets, opts->threads, opts->cfgs, replicas);
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
  app.set_version_flag("--version", std::string("geotrain " GEOTRAIN_VERSION "\ngit commit: " GEOTRAIN_GIT_COMMIT
                                                "\nbuild type: " GEOTRAIN_BUILD_TYPE "\nSimGrid: ") +
                                        geotrain::sim::simgrid_version());
  int exit_code = 0;
  geotrain::cli::add_run_command(app, exit_code);
  geotrain::cli::add_summarize_command(app, exit_code);
  geotrain::cli::add_utilization_command(app, exit_code);
  geotrain::cli::add_topo_command(app, exit_code);
  geotrain::cli::add_sweep_command(app, exit_code);
  geotrain::cli::add_check_command(app, exit_code);
  geotrain::cli::add_schema_command(app, exit_code);
  geotrain::cli::add_validate_command(app, exit_code);
  geotrain::cli::add_report_command(app, exit_code);
  geotrain::cli::add_strategies_command(app, exit_code);
  geotrain::cli::add_calibrate_command(app, exit_code);
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
