// Sweep tables: metric extraction from results.json and CSV writing.
#include "analysis/sweep_table.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace geotrain::analysis {
namespace {

// Whole numbers as integers (byte counts read as in results.json), others in the shortest text
// that reads back to the same double.
std::string number_text(double v) {
  constexpr double kExactIntegerLimit = 9007199254740992.0;  // 2^53: doubles are exact integers below it
  if (std::fabs(v) < kExactIntegerLimit && v == std::trunc(v)) return fmt::format("{}", static_cast<long long>(v));
  return nlohmann::json(v).dump();
}

}  // namespace

const std::vector<MetricColumn>& sweep_metrics() {
  static const std::vector<MetricColumn> columns = {
      {"throughput_samples_per_s", "/throughput_samples_per_s"},
      {"simulated_s", "/simulated_s"},
      {"time_to_target_s", "/convergence/time_to_target_s"},
      {"cost_to_target_usd", "/convergence/cost_to_target_usd"},
      {"total_usd", "/cost_usd/total"},
      {"egress_usd", "/cost_usd/egress"},
      {"wan_bytes", "/traffic_bytes/wan"},
      {"final_test_loss", "/convergence/final_test_loss"},
      {"final_test_accuracy", "/convergence/final_test_accuracy"},
  };
  return columns;
}

PointRow point_row(const std::string& id, const nlohmann::ordered_json& axes, const nlohmann::ordered_json& results) {
  PointRow row{id, axes, {}};
  for (const auto& m : sweep_metrics()) {
    const nlohmann::ordered_json::json_pointer pointer(m.pointer);
    if (results.contains(pointer) && results.at(pointer).is_number())
      row.metrics.push_back(results.at(pointer).get<double>());
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

std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string sweep_csv(const std::vector<std::string>& axis_pointers, const std::vector<PointRow>& rows) {
  std::string csv = "point";
  for (const auto& pointer : axis_pointers) csv += "," + csv_cell(pointer);
  for (const auto& m : sweep_metrics()) csv += std::string(",") + m.column;
  csv += "\n";
  for (const auto& row : rows) {
    csv += csv_cell(row.id);
    for (const auto& pointer : axis_pointers) {
      const auto it = row.axes.find(pointer);
      const std::string text = it == row.axes.end() ? "" : it->is_string() ? it->get<std::string>() : it->dump();
      csv += "," + csv_cell(text);
    }
    for (const auto& value : row.metrics) csv += "," + (value ? number_text(*value) : std::string());
    csv += "\n";
  }
  return csv;
}

}  // namespace geotrain::analysis
