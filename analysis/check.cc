// Folder-level regression checks: layouts, matching runs, the moved-metrics table, JUnit XML.
#include "analysis/check.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "analysis/json_file.h"

namespace geotrain::analysis {
namespace {

namespace fs = std::filesystem;

constexpr const char* kResults = "results.json";

std::string detect_layout(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw_input_error(dir, "", "", ec && ec != std::errc::no_such_file_or_directory ? ec.message() : "no such folder");
  if (fs::exists(fs::path(dir) / kResults)) return "run";
  if (fs::is_directory(fs::path(dir) / "points")) return "sweep";
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory() && fs::exists(entry.path() / kResults)) return "suite";
  throw_input_error(dir, "", "", "holds no results: expected results.json (a run), points/ (a sweep) or */results.json (a suite)");
}

// name -> folder of each run in `dir`.  Sweep: every points/<id>/ folder (finished or not);
// suite: every subfolder holding results.json.
std::map<std::string, fs::path> runs_in(const std::string& dir, const std::string& layout) {
  std::map<std::string, fs::path> runs;
  if (layout == "run") {
    runs[fs::path(dir).lexically_normal().filename().string()] = dir;  // name only labels the report
    return runs;
  }
  const fs::path root = layout == "sweep" ? fs::path(dir) / "points" : fs::path(dir);
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory() && (layout == "sweep" || fs::exists(entry.path() / kResults)))
      runs[entry.path().filename().string()] = entry.path();
  return runs;
}

RunCheck check_one(const std::string& name, const fs::path* baseline, const fs::path* current, const Tolerances& tolerances) {
  RunCheck run{name, "", {}};
  if (!baseline) run.problem = "only in current (no baseline for it)";
  else if (!current) run.problem = "missing in current";
  else if (!fs::exists(*baseline / kResults)) run.problem = "the baseline has no results.json for it (unfinished run)";
  else if (!fs::exists(*current / kResults)) run.problem = "current has no results.json for it (unfinished or failed run)";
  if (!run.problem.empty()) return run;
  const auto b = read_json((*baseline / kResults).string());
  const auto c = read_json((*current / kResults).string());
  run.differences = compare_results(b, c, tolerances);
  return run;
}

std::string tolerance_text(const Difference& d) {
  return d.tolerance ? fmt::format("rel {:g} abs {:g}", d.tolerance->rel, d.tolerance->abs) : "exact";
}

}  // namespace

bool RunCheck::failed() const { return !problem.empty() || failed_metrics() > 0; }

int RunCheck::failed_metrics() const {
  return static_cast<int>(std::count_if(differences.begin(), differences.end(), [](const Difference& d) { return d.failed; }));
}

int CheckReport::failed_runs() const {
  return static_cast<int>(std::count_if(runs.begin(), runs.end(), [](const RunCheck& r) { return r.failed(); }));
}

CheckReport check_folders(const std::string& current, const std::string& baseline, const Tolerances& tolerances) {
  CheckReport report{current, baseline, detect_layout(baseline), {}};
  const std::string current_layout = detect_layout(current);
  if (current_layout != report.layout)
    throw_input_error(current, "", "", fmt::format("is a {} folder but the baseline {} is a {} folder", current_layout,
                                                    baseline, report.layout));
  const auto b = runs_in(baseline, report.layout);
  const auto c = runs_in(current, report.layout);
  if (report.layout == "run") {
    report.runs.push_back(check_one(b.begin()->first, &b.begin()->second, &c.begin()->second, tolerances));
    return report;
  }
  std::map<std::string, std::pair<const fs::path*, const fs::path*>> names;
  for (const auto& [name, path] : b) names[name].first = &path;
  for (const auto& [name, path] : c) names[name].second = &path;
  for (const auto& [name, sides] : names) report.runs.push_back(check_one(name, sides.first, sides.second, tolerances));
  return report;
}

std::string check_table(const CheckReport& report) {
  std::vector<std::vector<std::string>> rows = {{"run", "metric", "baseline", "current", "rel_change", "tolerance", "status"}};
  for (const auto& run : report.runs) {
    if (!run.problem.empty()) rows.push_back({run.name, "(whole run)", "", "", "", "", "FAIL: " + run.problem});
    for (const auto& d : run.differences)
      rows.push_back({run.name, d.pointer, d.baseline, d.current, d.rel_change ? fmt::format("{:+.3e}", *d.rel_change) : "",
                      tolerance_text(d), d.failed ? "FAIL: " + d.reason : "ok: " + d.reason});
  }
  std::string out;
  if (rows.size() > 1) {
    std::vector<std::size_t> width(rows[0].size(), 0);
    for (const auto& row : rows)
      for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    for (const auto& row : rows) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i)
        line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], width[i]) : row[i];
      out += line + "\n";
    }
  }
  int moved_ok = 0, moved_failed = 0;
  for (const auto& run : report.runs)
    for (const auto& d : run.differences) (d.failed ? moved_failed : moved_ok)++;
  out += fmt::format("check: {} {} compared with {}: {} passed, {} failed (metrics beyond tolerance: {}, within: {})\n",
                     report.runs.size(), report.runs.size() == 1 ? "run" : "runs", report.baseline,
                     static_cast<int>(report.runs.size()) - report.failed_runs(), report.failed_runs(), moved_failed, moved_ok);
  return out;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string junit_xml(const CheckReport& report) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += fmt::format("<testsuites tests=\"{0}\" failures=\"{1}\">\n  <testsuite name=\"geotrain check\" tests=\"{0}\" failures=\"{1}\">\n",
                     report.runs.size(), report.failed_runs());
  const std::string classname = xml_escape("geotrain.check." + fs::path(report.baseline).lexically_normal().filename().string());
  for (const auto& run : report.runs) {
    xml += fmt::format("    <testcase classname=\"{}\" name=\"{}\"", classname, xml_escape(run.name));
    if (!run.failed()) {
      xml += "/>\n";
      continue;
    }
    std::string body, message = run.problem;
    if (message.empty())
      message = fmt::format("{} {} moved beyond tolerance", run.failed_metrics(), run.failed_metrics() == 1 ? "metric" : "metrics");
    for (const auto& d : run.differences)
      if (d.failed)
        body += fmt::format("{}: baseline {} current {} ({}; tolerance {})\n", d.pointer, d.baseline, d.current, d.reason,
                            tolerance_text(d));
    xml += fmt::format(">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n", xml_escape(message),
                       xml_escape(body.empty() ? message : body));
  }
  xml += "  </testsuite>\n</testsuites>\n";
  return xml;
}

}  // namespace geotrain::analysis
