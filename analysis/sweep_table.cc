// Sweep tables: metric extraction from results.json and CSV writing.
#include "analysis/sweep_table.h"

#include <algorithm>
#include <stdexcept>

#include "analysis/replicas.h"
#include "common/csv.h"

#include "sim/result_keys.h"  // header only: the results.json keys

namespace geotrain::analysis {

namespace keys = geotrain::result_keys;

const std::vector<MetricColumn>& sweep_metrics() {
  static const std::vector<MetricColumn> columns = {
      {"throughput_samples_per_s", keys::pointer(keys::kThroughput)},
      {"simulated_s", keys::pointer(keys::kSimulatedS)},
      {"time_to_target_s", keys::pointer(keys::kConvergence, keys::convergence::kTimeToTargetS)},
      {"cost_to_target_usd", keys::pointer(keys::kConvergence, keys::convergence::kCostToTargetUsd)},
      {"total_usd", keys::pointer(keys::kCostUsd, keys::cost::kTotal)},
      {"egress_usd", keys::pointer(keys::kCostUsd, keys::cost::kEgress)},
      {"wan_bytes", keys::pointer(keys::kTrafficBytes, keys::traffic::kWan)},
      {"final_test_loss", keys::pointer(keys::kConvergence, keys::convergence::kFinalTestLoss)},
      {"final_test_accuracy", keys::pointer(keys::kConvergence, keys::convergence::kFinalTestAccuracy)},
      // The work done including what faults lost (throughput above counts useful work only).
      {"work_throughput_samples_per_s", keys::pointer(keys::kWork, keys::work::kThroughput)},
      {"lost_samples", keys::pointer(keys::kFaults, "lost_samples")},
      {"wasted_usd", keys::pointer(keys::kFaults, "wasted_usd")},
  };
  return columns;
}

PointRow point_row(const std::string& id, const nlohmann::ordered_json& axes, const nlohmann::ordered_json& results) {
  PointRow row{id, axes, {}};
  for (const auto& m : sweep_metrics()) {
    const nlohmann::ordered_json::json_pointer pointer(m.pointer);
    if (results.contains(pointer) && results.at(pointer).is_number())
      row.metrics.push_back(results.at(pointer).get<double>());
    else if (m.pointer.rfind(keys::pointer(keys::kFaults), 0) == 0 && !results.contains(keys::kFaults))
      row.metrics.push_back(0.0);  // a run without faults lost and wasted nothing
    else
      row.metrics.push_back(std::nullopt);
  }
  return row;
}

const std::vector<std::string>& interval_metrics() {
  static const std::vector<std::string> names = {"throughput_samples_per_s", "simulated_s", "total_usd", "wasted_usd"};
  return names;
}

PointRow replica_row(const std::string& id, const nlohmann::ordered_json& axes,
                     const std::vector<nlohmann::ordered_json>& draws) {
  std::vector<PointRow> rows;
  for (const auto& results : draws) rows.push_back(point_row(id, axes, results));
  PointRow out{id, axes, {}};
  out.draws = draws.size();
  std::vector<Stats> stats;  // per metric, when every draw has it
  for (std::size_t m = 0; m < sweep_metrics().size(); ++m) {
    std::vector<double> values;
    for (const auto& r : rows)
      if (r.metrics[m]) values.push_back(*r.metrics[m]);
    if (values.size() == rows.size()) {
      stats.push_back(stats_of(values));
      out.metrics.push_back(stats.back().mean);
    } else {
      stats.emplace_back();
      out.metrics.push_back(std::nullopt);
    }
  }
  for (const auto& name : interval_metrics()) {
    std::size_t m = 0;
    while (sweep_metrics()[m].column != name) ++m;
    const bool have = out.metrics[m].has_value();
    for (double v : {stats[m].p5, stats[m].p95, stats[m].ci95_low, stats[m].ci95_high})
      out.intervals.push_back(have ? std::optional<double>(v) : std::nullopt);
  }
  return out;
}

namespace {
// Values `offset` and `offset` + 1 of interval metric `name`'s four (p5, p95, CI low, CI high).
std::optional<std::pair<double, double>> interval_pair(const PointRow& row, const std::string& name, std::size_t offset) {
  const auto& names = interval_metrics();
  const auto at = static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin()) * 4 + offset;
  if (at + 1 >= row.intervals.size() || !row.intervals[at] || !row.intervals[at + 1]) return std::nullopt;
  return std::make_pair(*row.intervals[at], *row.intervals[at + 1]);
}
}  // namespace

std::optional<std::pair<double, double>> ci95(const PointRow& row, const std::string& name) { return interval_pair(row, name, 2); }

std::optional<std::pair<double, double>> p5_p95(const PointRow& row, const std::string& name) { return interval_pair(row, name, 0); }

std::optional<double> metric(const PointRow& row, const std::string& column) {
  const auto& columns = sweep_metrics();
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (column == columns[i].column) return row.metrics.at(i);
  throw std::invalid_argument("no sweep metric column " + column);
}

std::string sweep_csv(const std::vector<std::string>& axis_pointers, const std::vector<PointRow>& rows,
                      bool with_intervals) {
  std::vector<std::string> header = {"point"};
  header.insert(header.end(), axis_pointers.begin(), axis_pointers.end());
  for (const auto& m : sweep_metrics()) header.emplace_back(m.column);
  if (with_intervals) {
    header.emplace_back("draws");
    for (const auto& name : interval_metrics())
      for (const char* suffix : {"_p5", "_p95", "_ci95_low", "_ci95_high"}) header.push_back(name + suffix);
  }
  csv::Writer out(header);
  for (const auto& row : rows) {
    out.text(row.id);
    for (const auto& pointer : axis_pointers) {
      const auto it = row.axes.find(pointer);
      out.text(it == row.axes.end() ? "" : it->is_string() ? it->get<std::string>() : it->dump());
    }
    for (const auto& value : row.metrics) out.number(value);
    if (with_intervals) {
      out.number(static_cast<double>(row.draws));
      for (std::size_t i = 0; i < interval_metrics().size() * 4; ++i)
        out.number(i < row.intervals.size() ? row.intervals[i] : std::nullopt);
    }
    out.end_row();
  }
  return out.str();
}

}  // namespace geotrain::analysis
