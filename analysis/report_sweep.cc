// The sweep page of `geotrain report`: every point's speed against its dollars, a line per strategy
// through its own front, the Pareto front of pareto.csv ringed, and tables of the front and points.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "analysis/json_file.h"
#include "analysis/pareto.h"
#include "analysis/report_pages.h"
#include "analysis/report_svg.h"

namespace geotrain::analysis::report {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxScatterPoints = 3000;  // markers drawn (front always; others evenly thinned)
constexpr std::size_t kMaxTableRows = 300;       // rows of the all-points table
constexpr double kLogAxisRatio = 100;            // max/min beyond which an axis is logarithmic

struct SweepPoints {
  SweepCsv csv;
  std::vector<std::string> strategy;   // per row: its series (legend) name, series_names()
  std::vector<std::size_t> front;      // row indices, in pareto.csv order
  std::string speed_column;            // time_to_target_s or throughput_samples_per_s
  std::vector<std::string> notes;
};

// The row index of each point id of pareto.csv (which must all be in sweep.csv).
std::vector<std::size_t> front_rows(const SweepCsv& sweep, const std::string& pareto_file) {
  std::map<std::string, std::size_t> row_of;
  for (std::size_t i = 0; i < sweep.rows.size(); ++i) row_of.emplace(sweep.rows[i].id, i);
  std::vector<std::size_t> front;
  for (const auto& row : read_sweep_csv(pareto_file).rows) {
    const auto it = row_of.find(row.id);
    if (it == row_of.end()) throw_input_error(pareto_file, "column point", row.id, "expected a point of sweep.csv");
    if (!metric(row, "total_usd")) throw_input_error(pareto_file, "point " + row.id, "total_usd empty", "expected a number on the front");
    front.push_back(it->second);
  }
  return front;
}

// A point's strategy object (results.json) and the labels of its strategy axes (point.json).
struct PointStrategy {
  std::string label;                 // strategy_label(), or "unknown ..."
  nlohmann::ordered_json strategy;   // null when unknown
  std::string axis_labels;           // labels of axes under /strategy, joined; "" when none
};

PointStrategy strategy_of(const fs::path& dir, const std::string& id) {
  PointStrategy p{"unknown (no results.json)", nullptr, ""};
  const fs::path results = dir / "points" / id / "results.json";
  if (fs::exists(results)) {
    const auto doc = read_json(results.string());
    const bool known = doc.is_object() && doc.contains("strategy");
    p.label = known ? strategy_label(doc["strategy"]) : "unknown";
    if (known) p.strategy = doc["strategy"];
  }
  const fs::path record = dir / "points" / id / "point.json";
  if (fs::exists(record)) {
    const auto doc = read_json(record.string());
    if (doc.is_object() && doc.contains("labels") && doc["labels"].is_object())
      for (const auto& [pointer, label] : doc["labels"].items())
        if ((pointer == "/strategy" || pointer.rfind("/strategy/", 0) == 0) && label.is_string())
          p.axis_labels += (p.axis_labels.empty() ? "" : " ") + label.get<std::string>();
  }
  return p;
}

std::string knob_text(const nlohmann::ordered_json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The legend name of each point: the labels of its strategy axes when the sweep file gave them,
// else its strategy_label() plus the knobs that differ between points of that label ("diloco
// H=100" vs "diloco H=500"), so variants of one strategy are told apart.
std::vector<std::string> series_names(const std::vector<PointStrategy>& points) {
  std::map<std::string, std::vector<std::size_t>> by_label;
  for (std::size_t i = 0; i < points.size(); ++i) by_label[points[i].label].push_back(i);
  std::vector<std::string> names(points.size());
  for (const auto& [label, idx] : by_label) {
    std::vector<std::string> knobs;  // keys whose values differ inside the group, in order of first sight
    for (const std::size_t i : idx) {
      if (!points[i].strategy.is_object()) continue;
      for (const auto& [key, value] : points[i].strategy.items()) {
        if (std::find(knobs.begin(), knobs.end(), key) != knobs.end()) continue;
        for (const std::size_t j : idx) {
          const auto& other = points[j].strategy;
          if (other.is_object() && (!other.contains(key) || other[key] != value)) {
            knobs.push_back(key);
            break;
          }
        }
      }
    }
    for (const std::size_t i : idx) {
      std::string name = label;
      for (const auto& key : knobs)
        if (points[i].strategy.is_object() && points[i].strategy.contains(key))
          name += " " + key + "=" + knob_text(points[i].strategy[key]);
      names[i] = points[i].axis_labels.empty() ? name : points[i].axis_labels;
    }
  }
  return names;
}

SweepPoints load(const std::string& dir) {
  SweepPoints s;
  s.csv = read_sweep_csv((fs::path(dir) / "sweep.csv").string());
  const SweepPareto computed = sweep_pareto(s.csv.rows);
  s.speed_column = computed.speed_column;
  const fs::path pareto = fs::path(dir) / "pareto.csv";
  if (fs::exists(pareto)) {
    s.front = front_rows(s.csv, pareto.string());
    for (const std::size_t i : s.front)
      if (!metric(s.csv.rows[i], s.speed_column))
        throw_input_error(pareto.string(), "point " + s.csv.rows[i].id, s.speed_column + " empty in sweep.csv",
                          "expected front points to have the speed column of the front");
  } else {
    s.front = computed.rows;
    s.notes.push_back("No pareto.csv in this folder: the front was computed from sweep.csv.");
  }
  std::vector<PointStrategy> strategies;
  for (const auto& row : s.csv.rows) strategies.push_back(strategy_of(dir, row.id));
  s.strategy = series_names(strategies);
  return s;
}

std::string axes_of(const PointRow& row) {
  std::string text;
  for (const auto& [pointer, value] : row.axes.items()) text += (text.empty() ? "" : ", ") + pointer + "=" + value.get<std::string>();
  return text;
}

struct SpeedAxis {
  std::string label;
  bool maximize;
};
SpeedAxis speed_axis(const std::string& column) {
  if (column == "time_to_target_s") return {"time to target (s), lower is better", false};
  return {"throughput (samples/s), higher is better", true};
}

bool wide_range(const std::vector<double>& v) {
  if (v.empty()) return false;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return *lo > 0 && *hi / *lo > kLogAxisRatio;
}

std::pair<double, double> cost_and_speed(const SweepPoints& s, std::size_t i) {
  return {*metric(s.csv.rows[i], "total_usd"), *metric(s.csv.rows[i], s.speed_column)};
}

std::string point_title(const SweepPoints& s, std::size_t i) {
  const auto [usd, speed] = cost_and_speed(s, i);
  return fmt::format("{} · {} · {} · {} · {}", s.csv.rows[i].id, s.strategy[i], axes_of(s.csv.rows[i]), num(speed), usd_text(usd));
}

// One strategy: a marker per point (at most `cap`, evenly spaced by cost, front points always) and a
// line through the strategy's own front (the points no other point of the strategy beats).
void add_strategy(Chart& chart, const SweepPoints& s, const std::string& label, std::vector<std::size_t> idx, std::size_t colour_index,
                  std::size_t cap, std::size_t& thinned_out) {
  const std::set<std::size_t> on_front(s.front.begin(), s.front.end());
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return cost_and_speed(s, a).first < cost_and_speed(s, b).first; });
  const bool maximize = speed_axis(s.speed_column).maximize;
  std::vector<std::pair<double, double>> min_min;  // (cost, speed) with both minimized
  for (const std::size_t i : idx) min_min.emplace_back(cost_and_speed(s, i).first, (maximize ? -1 : 1) * cost_and_speed(s, i).second);
  Series line = series_of(label, colour(colour_index));
  for (const std::size_t k : pareto_front(min_min)) line.points.push_back(cost_and_speed(s, idx[k]));  // idx is sorted by cost
  Series markers = series_of(label, colour(colour_index));
  markers.line = false, markers.markers = true, markers.in_legend = false;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    const bool evenly_spaced = idx.size() <= cap || k * cap / idx.size() != (k + 1) * cap / idx.size();
    if (!evenly_spaced && !on_front.count(idx[k])) {
      ++thinned_out;
      continue;
    }
    markers.points.push_back(cost_and_speed(s, idx[k]));
    markers.titles.push_back(point_title(s, idx[k]));
  }
  chart.series.push_back(std::move(line));
  chart.series.push_back(std::move(markers));
}

// The front of pareto.csv: a dashed line by cost, and a ring per point carrying its id (data-point),
// in pareto.csv order, so scripts can read the front back from the page.
void add_front(Chart& chart, const SweepPoints& s) {
  Series line = series_of("Pareto front of the sweep (pareto.csv): ringed, joined by the dashed line", "#000000");
  line.dashed = true;
  Series rings = series_of("", "#000000");
  rings.line = false, rings.markers = true, rings.in_legend = false, rings.marker_radius_px = 6.5;
  std::vector<std::size_t> by_cost = s.front;
  std::stable_sort(by_cost.begin(), by_cost.end(), [&](std::size_t a, std::size_t b) { return cost_and_speed(s, a).first < cost_and_speed(s, b).first; });
  for (const std::size_t i : by_cost) line.points.push_back(cost_and_speed(s, i));
  for (const std::size_t i : s.front) {
    rings.points.push_back(cost_and_speed(s, i));
    rings.titles.push_back("Pareto front: " + point_title(s, i));
    rings.marker_attrs.push_back("class=\"pareto\" data-point=\"" + escape(s.csv.rows[i].id) + "\"");
  }
  chart.series.push_back(std::move(line));
  chart.series.push_back(std::move(rings));
}

// A sweep with replicas: each point with several draws gets the 95% CI of its mean cost
// (horizontal) and, for throughput, of its mean speed (vertical), as thin grey segments.
void add_error_bars(Chart& chart, const SweepPoints& s) {
  bool first = true;
  for (std::size_t i = 0; i < s.csv.rows.size(); ++i) {
    const PointRow& row = s.csv.rows[i];
    if (row.draws < 2 || !metric(row, s.speed_column) || !metric(row, "total_usd")) continue;
    const auto [usd, speed] = cost_and_speed(s, i);
    auto bar = [&](std::pair<double, double> from, std::pair<double, double> to) {
      Series line = series_of(first ? "95% CI of the mean over the draws (replicas)" : "", "#888888");
      line.in_legend = first;
      first = false;
      line.points = {from, to};
      chart.series.push_back(std::move(line));
    };
    if (const auto cost = ci95(row, "total_usd")) bar({std::max(cost->first, usd * 0.01), speed}, {cost->second, speed});  // kept > 0 for log axes
    if (s.speed_column == "throughput_samples_per_s")
      if (const auto rate = ci95(row, "throughput_samples_per_s")) bar({usd, std::max(rate->first, speed * 0.01)}, {usd, rate->second});
  }
  if (!first) chart.notes.push_back("Points are means over their draws of the fault process (sweep.csv draws column).");
}

std::string scatter_html(const SweepPoints& s) {
  std::map<std::string, std::vector<std::size_t>> by_strategy;  // drawable rows, by label
  std::size_t undrawable = 0, thinned_out = 0;
  std::vector<double> xs, ys;
  for (std::size_t i = 0; i < s.csv.rows.size(); ++i) {
    if (!metric(s.csv.rows[i], s.speed_column) || !metric(s.csv.rows[i], "total_usd")) {
      ++undrawable;
      continue;
    }
    by_strategy[s.strategy[i]].push_back(i);
    xs.push_back(cost_and_speed(s, i).first), ys.push_back(cost_and_speed(s, i).second);
  }
  if (xs.empty()) return "<p class=\"empty\">no point of sweep.csv has both " + escape(s.speed_column) + " and total_usd</p>";
  Chart chart = chart_of("Speed vs cost: each strategy's points, its line through its own best trade-offs", "total cost ($)",
                         speed_axis(s.speed_column).label);
  chart.wide = true;
  chart.x_from_zero = chart.y_from_zero = true;  // ignored on a log axis
  const std::size_t cap = std::max<std::size_t>(2, kMaxScatterPoints / by_strategy.size());
  std::size_t colour_index = 0;
  for (const auto& [label, idx] : by_strategy) add_strategy(chart, s, label, idx, colour_index++, cap, thinned_out);
  add_front(chart, s);
  if (s.csv.intervals) add_error_bars(chart, s);
  chart.log_x = wide_range(xs), chart.log_y = wide_range(ys);
  if (chart.log_x) chart.x_label += ", log scale";
  if (chart.log_y) chart.y_label += ", log scale";
  if (thinned_out > 0)
    chart.notes.push_back(fmt::format("{} of {} points are not drawn (at most {} per strategy, evenly spaced by cost; front points always).",
                                      thinned_out, s.csv.rows.size(), cap));
  if (undrawable > 0) chart.notes.push_back(fmt::format("{} points have no {} or total_usd and are not drawn.", undrawable, s.speed_column));
  return chart_html(chart);
}

std::string table_html(const SweepPoints& s, const std::vector<std::size_t>& idx, const std::set<std::size_t>& front) {
  const bool time = !speed_axis(s.speed_column).maximize;  // time to target: seconds, or hours above 2 h
  // With replicas the figures are means over the draws (the front is taken on them); beside them
  // the bad tail: the p5 of throughput and the p95 of the total.
  const bool draws = s.csv.intervals, rate_tail = draws && s.speed_column == "throughput_samples_per_s";
  std::string html = fmt::format("<table><tr><th>point</th><th>strategy</th><th>axes</th><th class=\"n\">{}{}</th>{}"
                                 "<th class=\"n\">total{} ($)</th>{}<th class=\"n\">egress ($)</th><th class=\"n\">WAN (GB)</th></tr>",
                                 time ? "time to target" : "throughput (samples/s)", draws ? ", mean" : "",
                                 rate_tail ? "<th class=\"n\">throughput p5</th>" : "", draws ? ", mean" : "",
                                 draws ? "<th class=\"n\">total p95 ($)</th>" : "");
  auto cell = [](const std::optional<double>& v, auto text) { return v ? text(*v) : std::string("—"); };
  auto tail = [&](const PointRow& row, const char* name, bool high, bool shown, auto text) {
    if (!shown) return std::string();
    const auto p = p5_p95(row, name);
    return "<td class=\"n\">" + cell(p ? std::optional<double>(high ? p->second : p->first) : std::nullopt, text) + "</td>";
  };
  constexpr double kBytesPerGB = 1e9;
  for (const std::size_t i : idx) {
    const auto& row = s.csv.rows[i];
    html += fmt::format("<tr{}><td class=\"id\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>{}<td class=\"n\">{}</td>{}"
                        "<td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                        front.count(i) ? " class=\"front\"" : "", escape(row.id), escape(s.strategy[i]), escape(axes_of(row)),
                        cell(metric(row, s.speed_column), time ? duration_text : num),
                        tail(row, "throughput_samples_per_s", false, rate_tail, num), cell(metric(row, "total_usd"), usd_text),
                        tail(row, "total_usd", true, draws, usd_text), cell(metric(row, "egress_usd"), usd_text),
                        cell(metric(row, "wan_bytes"), [](double b) { return num(b / kBytesPerGB); }));
  }
  return html + "</table>";
}

}  // namespace

Page sweep_page(const std::string& dir) {
  const SweepPoints s = load(dir);
  std::string name = fs::path(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(dir).lexically_normal().parent_path().filename().string();
  Page page{"sweep " + name, ""};
  std::string& b = page.body;
  b += "<h1>geotrain report · sweep " + escape(name) + "</h1>";
  std::string axes;
  for (const auto& p : s.csv.axis_pointers) axes += (axes.empty() ? "" : ", ") + p;
  b += fmt::format("<p class=\"sub\">{} points · {} on the Pareto front ({} vs total_usd) · axes: {}</p>", s.csv.rows.size(),
                   s.front.size(), escape(speed_axis(s.speed_column).maximize ? "throughput maximized" : "time to target minimized"),
                   escape(axes.empty() ? "none" : axes));
  b += "<h2>Speed vs cost</h2>";
  for (const auto& n : s.notes) b += "<p class=\"note\">" + escape(n) + "</p>";
  b += scatter_html(s);
  const std::set<std::size_t> front(s.front.begin(), s.front.end());
  b += "<h2>Pareto front</h2>" + table_html(s, s.front, front);
  std::vector<std::size_t> all;
  for (std::size_t i = 0; i < s.csv.rows.size() && i < kMaxTableRows; ++i) all.push_back(i);
  b += "<h2>All points</h2>" + table_html(s, all, front);
  if (s.csv.rows.size() > kMaxTableRows)
    b += fmt::format("<p class=\"note\">The first {} of {} points are listed; sweep.csv has them all.</p>", kMaxTableRows, s.csv.rows.size());
  return page;
}

}  // namespace geotrain::analysis::report
