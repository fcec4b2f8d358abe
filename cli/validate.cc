// `geotrain validate DEPLOYMENT.json [--json FILE] [--jobs N] [--set /json/pointer=value]...`: is
// a planned deployment feasible (every fleet region reachable, the training state fits the GPUs,
// spot assumptions stated), and which strategy should it use? Runs every candidate strategy
// size-only (one process each) and prints them ranked by dollars per 1M samples. Not a
// convergence study: nothing real is trained.
#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "analysis/json_file.h"
#include "analysis/recommend.h"
#include "analysis/replicas.h"
#include "cli/commands.h"
#include "cli/overrides.h"
#include "cli/process_pool.h"
#include "sim/deployment_plan.h"
#include "sim/json_reader.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/catalog.h"

namespace {

namespace fs = std::filesystem;
namespace analysis = geotrain::analysis;
namespace sim = geotrain::sim;
using nlohmann::ordered_json;
using analysis::summary_stat_text;  // a figure of a projection summary, "-" when absent
using geotrain::cli::kExitBadInput;
using geotrain::cli::kExitCheckFailed;
using geotrain::cli::kExitOk;

constexpr double kBytesPerGB = 1e9;
constexpr double kPercent = 100;
constexpr double kHoursPerSecond = 1.0 / 3600;

struct ValidateOptions {
  std::string file, json_out;
  std::vector<std::string> sets;  // --set /json/pointer=value, applied in order before anything else
  std::string calibration;        // --calibration FILE: a "/calibration" set after the others
  int jobs = 0;  // 0: every usable core
  std::vector<std::string> cfgs;  // SimGrid options, KEY:VALUE
  long replicas = 0;  // --replicas N: draws of the whole planned job (0: 8 with a random fault process)
};

// Draws of the whole job when the deployment's fault process is random and --replicas is not given.
constexpr long kDefaultProjectionDraws = 8;

// The findings so far; written to --json FILE whatever the outcome (except bad input).
struct Report {
  ordered_json json = {{"deployment", ""}, {"feasible", true}, {"failures", ordered_json::array()}};
  void fail(const std::string& why) {
    json["feasible"] = false;
    json["failures"].push_back(why);
    fmt::print("FAIL  {}\n", why);
    fmt::print(stderr, "geotrain: validate: {}\n", why);
  }
  bool feasible() const { return json["feasible"].get<bool>(); }
};

// Spot entries: the catalog's interruption band and what the run assumes.
void state_spot_assumptions(const sim::Scenario& s, const nlohmann::json& doc, Report& report) {
  ordered_json spot = ordered_json::array();
  for (std::size_t i = 0; i < s.fleet.size(); ++i) {
    const auto& f = s.fleet[i];
    if (f.pricing != sim::Pricing::spot) continue;
    const sim::InstanceType& t = s.topology.instance_types.at(f.instance);
    const bool preemption = doc["fleet"][i].contains("preemption");
    const std::string band = t.spot_interruption_band.empty() ? "not given" : t.spot_interruption_band + " per month";
    const std::string assumption =
        fmt::format("{} spot instances available for the whole run; {}", f.count,
                    preemption ? "preemption as set in /fleet/" + std::to_string(i) + "/preemption"
                               : "no preemption modelled (every instance runs to the end)");
    fmt::print("  spot          {} x{} {} in {}: interruption band {} (catalog), ${:.4g}/h spot vs ${:.4g}/h on demand; assumes {}\n",
               f.instance, f.count, "spot", f.region, band, t.usd_per_hour_spot, t.usd_per_hour_on_demand, assumption);
    spot.push_back({{"fleet_index", i}, {"region", f.region}, {"instance", f.instance}, {"count", f.count},
                    {"interruption_band", t.spot_interruption_band.empty() ? ordered_json(nullptr) : ordered_json(t.spot_interruption_band)},
                    {"usd_per_hour_spot", t.usd_per_hour_spot}, {"usd_per_hour_on_demand", t.usd_per_hour_on_demand},
                    {"assumption", assumption}});
  }
  report.json["checks"]["spot"] = spot;
}

struct Planned {
  std::vector<analysis::Candidate> candidates;
  std::vector<sim::StateBytes> state;
  std::vector<sim::Scenario> scenarios;
  std::vector<std::string> excluded, skipped;
  std::string smallest_excluded;  // the exclusion with the least state per worker
};

// With faults: whole jobs (all the planned steps, the deployment's preemption model) over N draws
// of the fault process: the planned strategy's, and every candidate's over the same draws (the
// fault process depends on the fleet and the seed, not the strategy: each draw preempts every
// candidate alike).  Summaries as `geotrain run --replicas` writes them.
struct Projections {
  long draws = 0;
  ordered_json planned;                 // the planned job's summary
  std::vector<ordered_json> candidates;  // [candidate]: its job's summary
};

// What analysis::candidate_strategies needs to know of the deployment `base` planned with `planned`.
analysis::DeploymentShape deployment_shape(const sim::Scenario& base, const nlohmann::json& planned) {
  analysis::DeploymentShape shape;
  shape.planned_steps = base.workload.steps;
  shape.planned_strategy = planned;
  shape.workers = base.worker_count();
  shape.batch_per_worker = base.workload.batch_per_worker;
  std::set<int> regions;
  for (const auto& f : base.fleet) {
    regions.insert(f.region_index);
    shape.any_spot = shape.any_spot || f.pricing == sim::Pricing::spot;
  }
  shape.regions = static_cast<int>(regions.size());
  return shape;
}

// Candidates, their memory check, and their scenarios (validated before anything runs).
Planned plan_candidates(const sim::Scenario& base, const nlohmann::json& doc, const nlohmann::json& planned, Report& report) {
  Planned p;
  double smallest_B = 0;
  const auto catalog = sim::strategy_catalog_json(base.workload.parameters, base.workload.optimizer.name);
  for (auto& c : analysis::candidate_strategies(nlohmann::json::parse(catalog.dump()), deployment_shape(base, planned), p.skipped)) {
    const auto state = sim::candidate_state_bytes(base.workload, c.strategy);
    if (const auto why = sim::memory_problem(base, c.name + " " + c.knobs, c.strategy, state); !why.empty()) {
      p.excluded.push_back(why + (c.as_planned ? " (as planned)" : ""));
      if (p.smallest_excluded.empty() || state.worker_B_per_param < smallest_B) {
        p.smallest_excluded = why;
        smallest_B = state.worker_B_per_param;
      }
      if (c.as_planned) report.fail("memory: the planned strategy does not fit: " + why);
      continue;
    }
    // A candidate the deployment cannot be loaded with (server faults for a strategy without
    // servers; an actor per worker where the stacks do not fit, while the planned strategy needs
    // one for all) is skipped with the loader's reason; the planned strategy's own errors stand.
    try {
      p.scenarios.push_back(sim::parse_scenario(sim::candidate_doc(doc, c.strategy, c.steps), base.file));
    } catch (const sim::BadInput& e) {
      if (c.as_planned) throw;
      p.skipped.push_back(fmt::format("{} {}: {}", c.name, c.knobs, e.what()));
      continue;
    }
    p.candidates.push_back(std::move(c));
    p.state.push_back(state);
  }
  return p;
}

// Runs every candidate in its own process; fills `results` (same order).  Returns false on a failed run.
bool run_candidates(const Planned& p, int jobs, std::vector<analysis::CandidateResult>& results, Report& report) {
  results.assign(p.candidates.size(), {});
  bool ok = true;
  auto task = [&](std::size_t i) -> geotrain::cli::TaskResult {
    const nlohmann::json r = nlohmann::json::parse(sim::run_scenario(p.scenarios[i]).results.dump());
    return {0, analysis::result_summary(r).dump()};
  };
  auto done = [&](std::size_t i, const geotrain::cli::TaskOutcome& outcome) {
    if (outcome.code != 0) {
      ok = false;
      report.fail(fmt::format("run of {} {} failed: {}", p.candidates[i].name, p.candidates[i].knobs, outcome.message));
      return;
    }
    results[i] = analysis::candidate_result(nlohmann::json::parse(outcome.message));
  };
  geotrain::cli::run_in_processes(p.candidates.size(), jobs > 0 ? jobs : geotrain::cli::usable_cores(), task, done);
  return ok;
}

// Drops listed candidates that ran exactly as the planned strategy did (analysis::distinct_candidates).
void drop_duplicates_of_planned(Planned& p, std::vector<analysis::CandidateResult>& results) {
  const auto keep = analysis::distinct_candidates(p.candidates, results);
  Planned kept;
  std::vector<analysis::CandidateResult> kept_results;
  for (const std::size_t i : keep) {
    kept.candidates.push_back(p.candidates[i]);
    kept.state.push_back(p.state[i]);
    kept_results.push_back(results[i]);
  }
  p.candidates = std::move(kept.candidates);
  p.state = std::move(kept.state);
  results = std::move(kept_results);
}

// The result's warnings, then the candidate's note on how the run was scaled (if any).
std::vector<std::string> warnings_of(const analysis::Candidate& c, const analysis::CandidateResult& x) {
  auto w = analysis::candidate_warnings(x);
  if (!c.note.empty()) w.push_back(c.note);
  return w;
}

std::string label(const analysis::Candidate& c) { return c.name + (c.as_planned ? " (as planned)" : ""); }

std::string fixed(std::optional<double> v, const char* spec) {
  return v ? fmt::format(fmt::runtime(spec), *v) : std::string("-");
}

// A ranking row's projected whole job (a projection summary): expected and p95 dollars, expected
// hours, expected wasted dollars.
std::string projection_cells(const ordered_json& s) {
  return fmt::format("  {:>13}  {:>9}  {:>7}  {:>10}", summary_stat_text(s, "total_usd", "mean", 1),
                     summary_stat_text(s, "total_usd", "p95", 1), summary_stat_text(s, "simulated_s", "mean", kHoursPerSecond),
                     summary_stat_text(s, "wasted_usd", "mean", 1));
}

void print_ranking(const Planned& p, const std::vector<analysis::CandidateResult>& r, const std::vector<std::size_t>& order,
                   const std::optional<Projections>& projections) {
  std::size_t width = 8;
  for (const auto& c : p.candidates) width = std::max(width, label(c).size() + 1 + c.knobs.size());
  // With faults: the projected whole job first (expected and p95 dollars, expected hours and wasted dollars).
  const std::string projected_head =
      projections ? fmt::format("  {:>13}  {:>9}  {:>7}  {:>10}", "USD to finish", "p95 USD", "hours", "wasted USD") : "";
  fmt::print("\n  {:>4}  {:<{}}{}  {:>6}  {:>12}  {:>14}  {:>8}  {:>17}  {:>11}  {}\n", "rank", "strategy knobs", width,
             projected_head, "steps", "samples/s", "USD/1M samples", "egress %", "WAN GB/1M samples", "granularity", "warnings");
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& c = p.candidates[order[k]];
    const auto& x = r[order[k]];
    std::string warnings;
    for (const auto& w : warnings_of(c, x)) warnings += (warnings.empty() ? "" : "; ") + w;
    const std::string projected_cells = projections ? projection_cells(projections->candidates[order[k]]) : "";
    std::string line = fmt::format("  {:>4}  {:<{}}{}  {:>6}  {:>12.4g}  {:>14.4g}  {:>8.1f}  {:>17.4g}  {:>11}  {}", k + 1,
                                   label(c) + " " + c.knobs, width, projected_cells, c.steps, x.throughput_samples_per_s,
                                   x.usd_per_million_samples(), x.egress_share() * kPercent, x.wan_GB_per_million_samples(),
                                   fixed(x.granularity, "{:.3g}"), warnings);
    line.erase(line.find_last_not_of(' ') + 1);
    fmt::print("{}\n", line);
  }
}

ordered_json candidate_json(const analysis::Candidate& c, const sim::StateBytes& s, const analysis::CandidateResult& x,
                            double parameters, std::size_t rank) {
  auto nullable = [](std::optional<double> v) { return v ? ordered_json(*v) : ordered_json(nullptr); };
  ordered_json w = ordered_json::array();
  for (const auto& text : warnings_of(c, x)) w.push_back(text);
  return {{"rank", rank},
          {"strategy", c.strategy},
          {"knobs", c.knobs},
          {"as_planned", c.as_planned},
          {"steps", c.steps},
          {"simulated_s", x.simulated_s},
          {"samples", x.samples},
          {"throughput_samples_per_s", x.throughput_samples_per_s},
          {"usd_per_million_samples", x.samples > 0 ? ordered_json(x.usd_per_million_samples()) : ordered_json(nullptr)},
          {"compute_usd", x.compute_usd},
          {"egress_usd", x.egress_usd},
          {"egress_share", x.egress_share()},
          {"wan_GB_per_million_samples", x.wan_GB_per_million_samples()},
          {"granularity", nullable(x.granularity)},
          {"staleness_mean", nullable(x.staleness_mean)},
          {"state_GB_per_worker", parameters * s.worker_B_per_param / kBytesPerGB},
          {"warnings", w}};
}

// Prints and records the ranked candidates, the recommendation and the fastest.
void report_ranking(const sim::Scenario& base, const Planned& p, const std::vector<analysis::CandidateResult>& r,
                    const std::optional<Projections>& projections, Report& report) {
  const auto order = projections ? analysis::rank_by_expected_dollars(projections->candidates) : analysis::rank_candidates(r);
  print_ranking(p, r, order, projections);
  ordered_json ranked = ordered_json::array();
  for (std::size_t k = 0; k < order.size(); ++k) {
    ranked.push_back(candidate_json(p.candidates[order[k]], p.state[order[k]], r[order[k]], base.workload.parameters, k + 1));
    if (projections)
      ranked.back()["projection"] = {{"draws", projections->draws},
                                     {"steps", p.candidates[order[k]].job_steps},
                                     {"summary", projections->candidates[order[k]]}};
  }
  report.json["candidates"] = ranked;
  const auto& best = p.candidates[order.front()];
  const std::size_t fast = analysis::fastest_candidate(r);
  if (projections) {
    const ordered_json& s = projections->candidates[order.front()];
    fmt::print("\nrecommended (lowest expected USD to finish under faults): {} {}: {} USD (p95 {}) in {} h\n", label(best),
               best.knobs, summary_stat_text(s, "total_usd", "mean", 1), summary_stat_text(s, "total_usd", "p95", 1),
               summary_stat_text(s, "simulated_s", "mean", kHoursPerSecond));
  } else {
    fmt::print("\nrecommended (lowest USD per 1M samples): {} {}: {:.4g} USD per 1M samples at {:.4g} samples/s\n", label(best),
               best.knobs, r[order.front()].usd_per_million_samples(), r[order.front()].throughput_samples_per_s);
  }
  fmt::print("fastest: {} {}: {:.4g} samples/s at {:.4g} USD per 1M samples\n", label(p.candidates[fast]),
             p.candidates[fast].knobs, r[fast].throughput_samples_per_s, r[fast].usd_per_million_samples());
  report.json["recommended"] = best.strategy;
  report.json["fastest"] = p.candidates[fast].strategy;
}

void print_header(const sim::Scenario& s, const std::string& file) {
  std::map<std::string, int> per_region;
  for (const auto& f : s.fleet) per_region[f.region] += f.count;
  std::string regions;
  for (const auto& [name, n] : per_region) regions += fmt::format("{}{} x{}", regions.empty() ? "" : ", ", name, n);
  fmt::print("validate {} · {} workers in {} regions ({}) · {:.4g} parameters · batch {} per worker · {} planned steps\n", file,
             s.worker_count(), per_region.size(), regions, s.workload.parameters, s.workload.batch_per_worker,
             s.workload.steps);
}

// Every fleet region reaches every other along the simulator's routes (the loader guarantees it
// for a topology it accepts; stated here with the worst route latency).
void state_reachability(const sim::Scenario& s, Report& report) {
  const sim::FleetRoute worst = sim::longest_fleet_route(s);
  fmt::print("  reachability  ok: every fleet region reaches every other (longest route {}: {:.1f} ms one way)\n", worst.regions,
             worst.latency_s * 1e3);
  report.json["checks"]["reachability"] = {
      {"ok", true}, {"longest_route", worst.regions}, {"longest_route_latency_ms", worst.latency_s * 1e3}};
}

// The GPU memory of the fleet's instance types and the candidates left out for lack of it.
void state_memory(const sim::Scenario& s, const Planned& p, Report& report) {
  ordered_json types = ordered_json::array();
  std::set<std::string> seen;
  for (const auto& f : s.fleet) {
    const sim::InstanceType& t = s.topology.instance_types.at(f.instance);
    if (!seen.insert(f.instance).second) continue;
    const auto gb = [](double B) { return B > 0 ? ordered_json(B / kBytesPerGB) : ordered_json(nullptr); };
    types.push_back({{"instance", f.instance}, {"gpus", t.gpus}, {"gpu_memory_GB", gb(t.gpu_memory_B)},
                     {"available_GB", gb(t.gpus * t.gpu_memory_B)}});
    if (t.gpu_memory_B <= 0) fmt::print("  memory        not checked on {}: its instance type gives no gpu_memory_GB\n", f.instance);
  }
  for (const auto& why : p.excluded) fmt::print("  memory        excluded {}\n", why);
  if (!p.candidates.empty())
    fmt::print("  memory        {} of {} candidates fit ({}, sharded over an instance's GPUs; activations not counted)\n",
               p.candidates.size(), p.candidates.size() + p.excluded.size(),
               s.workload.has_architecture()
                   ? fmt::format("weights and gradients {} B, optimizer state {} B, strategy copies fp32",
                                 s.workload.wire_bytes_per_param, s.workload.optimizer_state_bytes_per_value)
                   : std::string("fp32 weights, gradients, optimizer state and strategy copies"));
  report.json["checks"]["memory"] = {{"instance_types", types}, {"excluded", p.excluded}};
  report.json["skipped"] = p.skipped;
}

void write_json(const Report& report, const std::string& file) {
  if (file.empty()) return;
  analysis::write_text_atomically(file, report.json.dump(2) + "\n");
  fmt::print("wrote {}\n", file);
}

// Runs draws of `scenarios` (one process per scenario and draw); their summaries in order.  A
// failed draw is reported and leaves nullopt.
std::optional<std::vector<ordered_json>> run_draws(const std::vector<sim::Scenario>& scenarios,
                                                   const std::vector<std::string>& names,
                                                   const std::vector<std::uint64_t>& seeds, int jobs, Report& report) {
  const std::size_t draws = seeds.size();
  std::vector<std::vector<nlohmann::ordered_json>> results(scenarios.size(),
                                                           std::vector<nlohmann::ordered_json>(draws));
  bool ok = true;
  auto task = [&](std::size_t k) -> geotrain::cli::TaskResult {
    sim::Scenario s = scenarios[k / draws];
    if (k % draws > 0) s.fault_seed = seeds[k % draws];
    return {0, analysis::replica_figures(sim::run_scenario(s).results).dump()};
  };
  auto done = [&](std::size_t k, const geotrain::cli::TaskOutcome& outcome) {
    if (outcome.code != 0) {
      ok = false;
      report.fail(fmt::format("projection of {}, draw {}, failed: {}", names[k / draws], k % draws, outcome.message));
      return;
    }
    results[k / draws][k % draws] = nlohmann::ordered_json::parse(outcome.message);
  };
  geotrain::cli::run_in_processes(scenarios.size() * draws, jobs > 0 ? jobs : geotrain::cli::usable_cores(), task, done);
  if (!ok) return std::nullopt;
  std::vector<ordered_json> summaries;
  for (const auto& r : results) summaries.push_back(analysis::replica_summary(r, seeds)["summary"]);
  return summaries;
}

// One figure of a summary: mean (95% CI), p5, p95 (analysis::summary_figure_text).
void print_projected(const ordered_json& summary, const char* label, const char* figure, double scale, const char* unit) {
  fmt::print("  {:<13} {}\n", label, analysis::summary_figure_text(summary, figure, scale, unit));
}

// The jobs a projection runs: the planned one first, then each candidate whose strategy differs
// from it (its whole plan in its own unit, Candidate::job_steps: a Hivemind candidate's rounds of
// target_batch cover the plan's samples).
struct ProjectionJobs {
  std::vector<sim::Scenario> scenarios;
  std::vector<std::string> names;   // [job]: what a failed draw's message names
  std::vector<std::size_t> job_of;  // [candidate]: its job (0: the planned one)
};

ProjectionJobs projection_jobs(const sim::Scenario& planned, const nlohmann::json& doc, const Planned& p) {
  ProjectionJobs jobs{{planned}, {"the planned job"}, std::vector<std::size_t>(p.candidates.size(), 0)};
  const nlohmann::json planned_strategy = planned.strategy;
  for (std::size_t i = 0; i < p.candidates.size(); ++i) {
    if (p.candidates[i].strategy == planned_strategy) continue;
    jobs.job_of[i] = jobs.scenarios.size();
    jobs.scenarios.push_back(
        sim::parse_scenario(sim::candidate_doc(doc, p.candidates[i].strategy, p.candidates[i].job_steps), planned.file));
    jobs.names.push_back(p.candidates[i].name + " " + p.candidates[i].knobs);
  }
  return jobs;
}

// Daly's checkpoint interval for the fleet's preemption rate (sim::daly_checkpoint_advice), or
// why there is none; recorded in `projection`.  Nothing when the fleet is never preempted.
void state_checkpoint_advice(const sim::Scenario& planned, ordered_json& projection) {
  const double rate = sim::fleet_preemption_rate_per_s(planned.fleet, planned.faults.zone_outages);
  if (rate > 0 && planned.faults.checkpoint) {
    const sim::CheckpointAdvice a = sim::daly_checkpoint_advice(planned, rate);
    fmt::print("  checkpoint    every {:.4g} s of work (Daly's optimum: a checkpoint of {:.3g} GB takes {:.3g} s; the fleet's "
               "mean time between preemptions is {:.4g} s); \"every_steps\": \"auto\" does this\n",
               a.interval_s, a.bytes / kBytesPerGB, a.checkpoint_s, a.mtbf_s);
    projection["checkpoint"] = {{"interval_s", a.interval_s}, {"checkpoint_s", a.checkpoint_s}, {"mtbf_s", a.mtbf_s}};
  } else if (rate > 0) {
    fmt::print("  checkpoint    none configured: a returning worker copies a live peer, and losing every worker "
               "restarts from the initial model\n");
  }
}

// The planned job and every candidate's, N draws each; prints the planned job's projection and
// Daly's checkpoint interval.  Nothing without faults; nullopt when a draw failed.
std::optional<Projections> project_with_faults(const sim::Scenario& planned, const nlohmann::json& doc, const Planned& p,
                                               const ValidateOptions& o, Report& report) {
  if (!planned.has_faults()) return std::nullopt;
  const bool random = sim::fault_process_is_random(planned.fleet, planned.faults.zone_outages);
  Projections out;
  out.draws = o.replicas > 0 ? o.replicas : random ? kDefaultProjectionDraws : 1;
  const auto seeds = analysis::replica_fault_seeds(planned.seed, static_cast<std::size_t>(out.draws));
  const ProjectionJobs jobs = projection_jobs(planned, doc, p);
  const std::size_t n = jobs.scenarios.size();
  fmt::print("\nprojection of the whole job as planned ({} steps, {}): {} draw{} of the fault process, one process each; "
             "{} candidate{} projected over the same draws ({} runs)\n",
             planned.workload.steps, planned.strategy.value("name", "ddp"), out.draws, out.draws > 1 ? "s" : "", n - 1,
             n == 2 ? "" : "s", static_cast<long>(n) * out.draws);
  const auto summaries = run_draws(jobs.scenarios, jobs.names, seeds, o.jobs, report);
  if (!summaries) return std::nullopt;
  out.planned = (*summaries)[0];
  for (std::size_t i = 0; i < p.candidates.size(); ++i) out.candidates.push_back((*summaries)[jobs.job_of[i]]);
  print_projected(out.planned, "time", "simulated_s", kHoursPerSecond, "h");
  print_projected(out.planned, "dollars", "total_usd", 1, "USD");
  print_projected(out.planned, "wasted", "wasted_usd", 1, "USD");
  print_projected(out.planned, "preemptions", "preemptions", 1, "");
  print_projected(out.planned, "goodput", "goodput_samples_per_s", 1, "samples/s");
  ordered_json projection = {{"draws", out.draws}, {"summary", out.planned}};
  state_checkpoint_advice(planned, projection);
  report.json["projection"] = projection;
  return out;
}

// How the candidates ran and how they are ranked: by the projection under faults, else by the short runs.
void state_method(bool projected, Report& report) {
  fmt::print("\ncandidates: size-only (workload backend \"none\"), each {} sync periods (steps column), one process each;\n"
             "{}\n", analysis::kSyncPeriods,
             projected ? "ranked by expected USD to finish the whole job under the deployment's faults (the mean over the "
                         "projection's draws), ties by expected hours; the other columns are the short runs'"
                       : "ranked by USD per 1M samples, ties by throughput");
  report.json["method"] = {{"workload_backend", "none"}, {"sync_periods", analysis::kSyncPeriods},
                           {"ranking", projected ? "projection.summary.total_usd.mean ascending, then projection.summary.simulated_s.mean ascending"
                                                 : "usd_per_million_samples ascending, then throughput_samples_per_s descending"},
                           {"memory", "fp32 weights + gradients + optimizer state (+ strategy copies) per parameter; activations not counted"}};
}

// The deployment document with the --set overrides applied in order, then --calibration's.
nlohmann::json load_deployment(const ValidateOptions& o) {
  nlohmann::json doc = sim::read_json_file(o.file);
  std::vector<std::string> sets = o.sets;
  if (!o.calibration.empty())
    sets.push_back("/calibration=" + std::filesystem::absolute(o.calibration).lexically_normal().string());
  geotrain::cli::apply_overrides(doc, o.file, sets);
  return doc;
}

// Feasibility, then the candidates' runs and the ranking.  Throws BadInput on bad input.
int validate(const ValidateOptions& o, Report& report) {
  const nlohmann::json doc = load_deployment(o);
  report.json["deployment"] = o.file;
  if (const auto pairs = sim::unreachable_fleet_pairs(doc, o.file); !pairs.empty()) {
    for (const auto& [a, b] : pairs) report.fail("reachability: fleet regions " + a + " and " + b + " are joined by no path of links");
    return kExitCheckFailed;
  }
  const nlohmann::json planned = doc.is_object() && doc.contains("strategy") ? doc["strategy"] : nlohmann::json(nullptr);
  const sim::Scenario base =
      sim::parse_scenario(sim::candidate_doc(doc, planned.is_null() ? nlohmann::json{{"name", "ddp"}} : planned, 0), o.file);
  print_header(base, o.file);
  report.json["scenario"] = base.name;
  report.json["workers"] = base.worker_count();
  fmt::print("checks\n");
  state_reachability(base, report);
  state_spot_assumptions(base, doc, report);
  Planned p = plan_candidates(base, doc, planned, report);
  state_memory(base, p, report);
  if (p.candidates.empty()) {
    report.fail("memory: no candidate strategy fits; the smallest, " + p.smallest_excluded);
    return kExitCheckFailed;
  }
  for (const auto& why : p.skipped) fmt::print("  skipped       {}\n", why);
  std::vector<analysis::CandidateResult> results;
  if (!run_candidates(p, o.jobs, results, report)) return kExitCheckFailed;
  drop_duplicates_of_planned(p, results);
  const std::optional<Projections> projections = project_with_faults(base, doc, p, o, report);
  if (base.has_faults() && !projections) return kExitCheckFailed;
  state_method(projections.has_value(), report);
  report_ranking(base, p, results, projections, report);
  fmt::print("note: size-only runs price time, not convergence: larger H, sparsity, compression and staleness cost accuracy per "
             "sample, which is not simulated here\n");
  return report.feasible() ? kExitOk : kExitCheckFailed;
}

// The --json target: a file that can be written (not a folder, in an existing folder).
void check_json_target(const std::string& file) {
  if (file.empty()) return;
  std::error_code ec;
  if (fs::is_directory(file, ec)) sim::throw_bad_input(file, "--json", "", "is a folder; expected the path of a JSON file to write");
  const fs::path parent = fs::path(file).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    sim::throw_bad_input(file, "--json", "", "its folder " + parent.string() + " does not exist");
}

int cmd_validate(const ValidateOptions& o) {
  Report report;
  int code = kExitOk;
  try {
    check_json_target(o.json_out);
    if (const std::string problem = sim::check_simgrid_options(o.cfgs); !problem.empty()) throw sim::BadInput(problem);
    sim::set_simgrid_options(o.cfgs);
    code = validate(o, report);
  } catch (const sim::BadInput& e) {
    fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
    return kExitBadInput;
  }
  write_json(report, o.json_out);
  fmt::print("{}\n", code == kExitOk ? "deployment feasible" : "validation FAILED (see the FAIL lines)");
  return code;
}

}  // namespace

namespace geotrain::cli {

void add_validate_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ValidateOptions>();
  auto* cmd = app.add_subcommand("validate", "check a planned deployment and rank candidate strategies (size-only)");
  cmd->add_option("deployment", opts->file, "scenario JSON file; its strategy is optional")->required();
  cmd->add_option("--json", opts->json_out, "also write the checks and the ranking to this JSON file");
  cmd->add_option("--cfg", opts->cfgs, "pass a SimGrid option to every candidate's run, KEY:VALUE (repeatable)");
  cmd->add_option("--jobs", opts->jobs, "simulations at once (default: every usable core)")->check(CLI::Range(1, 4096));
  cmd->add_option("--calibration", opts->calibration,
                  "apply a calibration (geotrain calibrate's calibration.json) to the deployment and its candidates");
  cmd->add_option("--set", opts->sets, "override a deployment value: /json/pointer=value (repeatable), as in run");
  cmd->add_option("--replicas", opts->replicas,
                  "with faults: draws of the whole planned job (default 8 when its fault process is random)")
      ->check(CLI::Range(1L, 100000L));
  cmd->callback([opts, &exit_code] { exit_code = cmd_validate(*opts); });
}

}  // namespace geotrain::cli
