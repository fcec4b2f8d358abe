// sweep.csv and pareto.csv: one row per sweep point, the axis values and the key figures of its
// results.json. Reads results; never runs anything.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::analysis {

struct MetricColumn {
  const char* column;   // CSV header, unit in the name
  std::string pointer;  // where results.json keeps it
};

// throughput_samples_per_s, simulated_s, time_to_target_s, cost_to_target_usd, total_usd,
// egress_usd, wan_bytes, final_test_loss, final_test_accuracy, work_throughput_samples_per_s,
// lost_samples, wasted_usd: the figures people sort runs by, in the order of sweep.csv's metric
// columns and of `geotrain summarize`'s (one column set).
const std::vector<MetricColumn>& sweep_metrics();

struct PointRow {
  std::string id;
  nlohmann::ordered_json axes;                  // {"/pointer": value}
  std::vector<std::optional<double>> metrics;   // sweep_metrics() order; nullopt: null or absent
  // Replicas: the draws behind the row (its metrics are their means), and per interval_metrics()
  // figure its p5, p95 and 95% CI of the mean (4 values each; nullopt where a draw lacks it).
  std::size_t draws = 1;
  std::vector<std::optional<double>> intervals;
};

// The figures sweep.csv gives intervals for when a sweep has replicas (column names of
// sweep_metrics()), each followed by _p5, _p95, _ci95_low and _ci95_high columns.
const std::vector<std::string>& interval_metrics();

// The p5 and p95 over the draws of interval metric `name` in `row` (nullopt: no intervals, or a
// draw lacked it).
std::optional<std::pair<double, double>> p5_p95(const PointRow& row, const std::string& name);
// The 95% CI of the mean of interval metric `name` in `row` (nullopt: no intervals, or a draw lacked it).
std::optional<std::pair<double, double>> ci95(const PointRow& row, const std::string& name);

// The row of a point from the results.json of each of its draws (draw 0 first): every figure the
// mean over the draws (nullopt if a draw lacks it), with intervals (analysis/replicas.h stats).
PointRow replica_row(const std::string& id, const nlohmann::ordered_json& axes,
                     const std::vector<nlohmann::ordered_json>& draws);

// The row of one point from its results.json.
PointRow point_row(const std::string& id, const nlohmann::ordered_json& axes, const nlohmann::ordered_json& results);

// The metric `column` of a row (one of sweep_metrics()).  REQUIRES: column is one of them.
std::optional<double> metric(const PointRow& row, const std::string& column);

// CSV text: header "point,<axis pointers...>,<metric columns...>", then one line per row.
// Strings are written bare, other axis values as JSON; whole-number metrics as integers, others
// with round-trip precision; null metrics are empty cells; cells with
// a comma, quote, CR or LF are quoted (RFC 4180; the project's CSV writer, common/csv.h).
// `with_intervals` (a sweep with replicas) adds a "draws" column and the interval columns.
std::string sweep_csv(const std::vector<std::string>& axis_pointers, const std::vector<PointRow>& rows,
                      bool with_intervals = false);

}  // namespace geotrain::analysis
