// Replica summaries: seeds of the draws, order statistics, confidence intervals.
#include "analysis/replicas.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "sim/result_keys.h"  // header only: the results.json keys

namespace geotrain::analysis {
namespace {

namespace keys = geotrain::result_keys;

// splitmix64's finalizer: spreads (seed, index) over 64 bits.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Percentile p (0-100) of sorted values, linear between order statistics (Hyndman-Fan type 7).
double percentile(const std::vector<double>& sorted, double p) {
  const double at = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(at));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - static_cast<double>(lo));
}

nlohmann::ordered_json stats_json(const Stats& s) {
  return {{"n", s.n},           {"mean", s.mean}, {"sd", s.sd},
          {"p5", s.p5},         {"p50", s.p50},   {"p95", s.p95},
          {"ci95", {s.ci95_low, s.ci95_high}}};
}

}  // namespace

std::uint64_t replica_fault_seed(std::uint64_t seed, std::size_t index) {
  return index == 0 ? seed : mix(seed ^ mix(static_cast<std::uint64_t>(index)));
}

double t975(std::size_t df) {
  // Student's t, two-sided 95% (Abramowitz & Stegun table 26.10).
  static const double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                  2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                  2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df == 0) return 0;
  if (df <= 30) return kTable[df - 1];
  const double z = 1.959964, n = static_cast<double>(df);  // Cornish-Fisher expansion in 1/df
  return z + (z * z * z + z) / (4 * n) + (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * n * n);
}

std::vector<std::uint64_t> replica_fault_seeds(std::uint64_t seed, std::size_t draws) {
  std::vector<std::uint64_t> seeds;
  for (std::size_t i = 0; i < draws; ++i) seeds.push_back(replica_fault_seed(seed, i));
  return seeds;
}

Stats stats_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  Stats s;
  s.n = values.size();
  // Summed in sorted order: the same draws give the same bits whatever order they finished in.
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.n);
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.sd = s.n > 1 ? std::sqrt(ss / static_cast<double>(s.n - 1)) : 0;
  s.p5 = percentile(values, 5);
  s.p50 = percentile(values, 50);
  s.p95 = percentile(values, 95);
  const double half = s.n > 1 ? t975(s.n - 1) * s.sd / std::sqrt(static_cast<double>(s.n)) : 0;
  s.ci95_low = s.mean - half;
  s.ci95_high = s.mean + half;
  return s;
}

const std::vector<std::pair<std::string, std::string>>& replica_metrics() {
  static const std::vector<std::pair<std::string, std::string>> metrics = {
      {"simulated_s", keys::pointer(keys::kSimulatedS)},
      {"total_usd", keys::pointer(keys::kCostUsd, keys::cost::kTotal)},
      {"wasted_usd", keys::pointer(keys::kFaults, "wasted_usd")},
      {"goodput_samples_per_s", keys::pointer(keys::kThroughput)},
      {"samples", keys::pointer(keys::kSamples)},
      {"lost_samples", keys::pointer(keys::kFaults, "lost_samples")},
      {"preemptions", keys::pointer(keys::kFaults, "preemptions")},
      {"time_to_target_s", keys::pointer(keys::kConvergence, keys::convergence::kTimeToTargetS)},
  };
  return metrics;
}

nlohmann::ordered_json replica_figures(const nlohmann::ordered_json& results) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  for (const char* key : {keys::kScenario, keys::kSeed})
    if (results.contains(key)) doc[key] = results[key];
  if (results.contains(keys::kFaults)) doc[keys::kFaults] = nlohmann::ordered_json::object();
  for (const auto& [name, pointer] : replica_metrics()) {
    const nlohmann::ordered_json::json_pointer at(pointer);
    if (results.contains(at) && results.at(at).is_number()) doc[at] = results.at(at);
  }
  return doc;
}

nlohmann::ordered_json replica_summary(const std::vector<nlohmann::ordered_json>& results,
                                       const std::vector<std::uint64_t>& fault_seeds) {
  nlohmann::ordered_json doc;
  doc["scenario"] = results.at(0).value(keys::kScenario, "");
  doc["seed"] = results.at(0).value(keys::kSeed, std::uint64_t{0});
  doc["replicas"] = results.size();
  auto draws = nlohmann::ordered_json::array();
  auto metrics = nlohmann::ordered_json::object();
  std::vector<std::vector<double>> values(replica_metrics().size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    nlohmann::ordered_json draw = {{"replica", i}, {"fault_seed", fault_seeds.at(i)}, {"dir", fmt::format("replicas/{}", i)}};
    for (std::size_t m = 0; m < replica_metrics().size(); ++m) {
      const auto& [name, pointer] = replica_metrics()[m];
      const nlohmann::ordered_json::json_pointer at(pointer);
      // A run without faults has no faults block: nothing preempted, nothing wasted.
      const bool fault_figure = pointer.rfind(keys::pointer(keys::kFaults), 0) == 0;
      if (results[i].contains(at) && results[i].at(at).is_number()) {
        draw[name] = results[i].at(at);
        values[m].push_back(results[i].at(at).get<double>());
      } else if (fault_figure && !results[i].contains(keys::kFaults)) {
        draw[name] = 0;
        values[m].push_back(0);
      } else {
        draw[name] = nullptr;
      }
    }
    draws.push_back(std::move(draw));
  }
  for (std::size_t m = 0; m < replica_metrics().size(); ++m)
    metrics[replica_metrics()[m].first] = values[m].empty() ? nlohmann::ordered_json(nullptr) : stats_json(stats_of(values[m]));
  doc["summary"] = metrics;
  doc["draws"] = draws;
  return doc;
}

std::string summary_stat_text(const nlohmann::ordered_json& summary, const char* figure, const char* stat, double scale) {
  if (!summary.contains(figure) || !summary[figure].is_object()) return "-";
  return fmt::format("{:.4g}", summary[figure][stat].get<double>() * scale);
}

std::string summary_figure_text(const nlohmann::ordered_json& summary, const char* figure, double scale, const char* unit) {
  const auto& s = summary[figure];
  if (!s.is_object()) return "n/a";
  return fmt::format("mean {:.4g} {} (95% CI {:.4g} to {:.4g}), p5 {:.4g}, p95 {:.4g}", s["mean"].get<double>() * scale, unit,
                     s["ci95"][0].get<double>() * scale, s["ci95"][1].get<double>() * scale, s["p5"].get<double>() * scale,
                     s["p95"].get<double>() * scale);
}

}  // namespace geotrain::analysis
