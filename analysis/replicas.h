// Monte-Carlo over the fault process: the summary of N draws of one scenario (`geotrain run
// --replicas N`), from their results.json documents: per figure the mean, standard deviation,
// percentiles and a 95% confidence interval of the mean.  Reads results only (no simulation).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::analysis {

// The fault seed of draw `index` of a scenario seeded `seed`: the scenario's own seed for draw 0
// (one draw is a plain run), then sub-streams of it.  Deterministic.
std::uint64_t replica_fault_seed(std::uint64_t seed, std::size_t index);
// The fault seeds of draws 0 to draws - 1.
std::vector<std::uint64_t> replica_fault_seeds(std::uint64_t seed, std::size_t draws);

struct Stats {
  std::size_t n = 0;     // draws that have the figure (time to target: those that reached it)
  double mean = 0, sd = 0;  // sd: sample standard deviation (n - 1), 0 for one draw
  double p5 = 0, p50 = 0, p95 = 0;  // percentiles, linear between order statistics
  double ci95_low = 0, ci95_high = 0;  // mean -+ t(0.975, n - 1) sd / sqrt(n); the mean for one draw
};

// Statistics of `values` (any order).  REQUIRES: not empty.
Stats stats_of(std::vector<double> values);

// Student's t quantile at 0.975 for `df` degrees of freedom (table to 30, then Cornish-Fisher).
double t975(std::size_t df);

// The figures summarized, as (name in the summary, JSON pointer in results.json).
const std::vector<std::pair<std::string, std::string>>& replica_metrics();

// What replica_summary reads of one results.json: its scenario, seed, the figures of
// replica_metrics() and whether it has a faults block (small enough for a process pool's pipe).
nlohmann::ordered_json replica_figures(const nlohmann::ordered_json& results);

// The summary document of draws `results` (in draw order) whose fault seeds are `fault_seeds`.
nlohmann::ordered_json replica_summary(const std::vector<nlohmann::ordered_json>& results,
                                       const std::vector<std::uint64_t>& fault_seeds);

// One statistic of one figure of a summary (replica_summary's "summary"): `stat` ("mean", "p95",
// ...) times `scale`, as {:.4g}; "-" when the summary has no such figure or no draw had it.
std::string summary_stat_text(const nlohmann::ordered_json& summary, const char* figure, const char* stat, double scale);
// One figure of a summary times `scale`, in `unit`: "mean M unit (95% CI L to H), p5 A, p95 B";
// "n/a" when no draw had it.  REQUIRES: the summary has the figure (a replica_metrics() name).
std::string summary_figure_text(const nlohmann::ordered_json& summary, const char* figure, double scale, const char* unit);

}  // namespace geotrain::analysis
