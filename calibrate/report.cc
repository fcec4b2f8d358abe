// The fit report: Markdown for people, JSON for tools.
#include <cmath>

#include <fmt/format.h>

#include "calibrate/fit.h"

namespace geotrain::calibrate {
namespace {

std::string sigma_text(double sigma) { return std::isnan(sigma) ? "not determined" : fmt::format("{:.4g}", sigma); }

}  // namespace

std::string fit_report_markdown(const FitResult& r, const std::string& measurements_name) {
  std::string s = fmt::format("# Fit report: {}\n\n", measurements_name);
  s += "## Parameters\n\n| parameter | value | standard error | unit |\n| --- | ---: | ---: | --- |\n";
  for (const auto& p : r.parameters) s += fmt::format("| {} | {:.6g} | {} | {} |\n", p.name, p.value, sigma_text(p.sigma), p.unit);
  s += "\n## Measurements and calibrated predictions\n\n"
       "| kind | what | where (JSON path) | quantity | measured | predicted | residual (%) |\n"
       "| --- | --- | --- | --- | ---: | ---: | ---: |\n";
  for (const auto& w : r.rows)
    s += fmt::format("| {} | {} | {} | {} | {:.6g} | {:.6g} | {:+.2f} |\n", w.kind, w.name, w.path, w.quantity, w.measured,
                     w.predicted, 100 * w.residual_rel());
  s += "\n## Warnings\n\n";
  if (r.warnings.empty()) s += "none\n";
  for (const auto& w : r.warnings) s += "- " + w + "\n";
  return s;
}

nlohmann::ordered_json fit_report_json(const FitResult& r, const std::string& measurements_name) {
  nlohmann::ordered_json j = {{"measurements", measurements_name}};
  j["parameters"] = nlohmann::ordered_json::array();
  for (const auto& p : r.parameters)
    j["parameters"].push_back({{"name", p.name}, {"value", p.value},
                               {"standard_error", std::isnan(p.sigma) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(p.sigma)},
                               {"unit", p.unit}});
  j["rows"] = nlohmann::ordered_json::array();
  for (const auto& w : r.rows)
    j["rows"].push_back({{"kind", w.kind}, {"name", w.name}, {"path", w.path}, {"quantity", w.quantity},
                         {"measured", w.measured}, {"predicted", w.predicted}, {"residual_rel", w.residual_rel()}});
  j["warnings"] = r.warnings;
  return j;
}

}  // namespace geotrain::calibrate
