// Sweep tables: metric extraction from results.json and CSV writing.
#include "analysis/sweep_table.h"

#include <stdexcept>

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

std::optional<double> metric(const PointRow& row, const std::string& column) {
  const auto& columns = sweep_metrics();
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (column == columns[i].column) return row.metrics.at(i);
  throw std::invalid_argument("no sweep metric column " + column);
}

std::string sweep_csv(const std::vector<std::string>& axis_pointers, const std::vector<PointRow>& rows) {
  std::vector<std::string> header = {"point"};
  header.insert(header.end(), axis_pointers.begin(), axis_pointers.end());
  for (const auto& m : sweep_metrics()) header.emplace_back(m.column);
  csv::Writer out(header);
  for (const auto& row : rows) {
    out.text(row.id);
    for (const auto& pointer : axis_pointers) {
      const auto it = row.axes.find(pointer);
      out.text(it == row.axes.end() ? "" : it->is_string() ? it->get<std::string>() : it->dump());
    }
    for (const auto& value : row.metrics) out.number(value);
    out.end_row();
  }
  return out.str();
}

}  // namespace geotrain::analysis
