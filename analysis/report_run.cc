// The run page of `geotrain report`: key figures, loss and accuracy against simulated time and
// dollars, the cost breakdown, the utilization timeline, the topology with traffic, collectives.
#include <algorithm>
#include <filesystem>
#include <functional>

#include <fmt/format.h>

#include "analysis/json_file.h"
#include "analysis/report_pages.h"
#include "analysis/report_svg.h"
#include "sim/result_keys.h"  // header only: the results.json keys

namespace geotrain::analysis::report {
namespace {

namespace fs = std::filesystem;
namespace keys = geotrain::result_keys;
using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxCostBars = 24;       // compute + the largest egress pairs; the rest summed
constexpr std::size_t kMaxLinkRows = 200;      // rows of the per-pair table
constexpr double kBytesPerGB = 1e9;            // GB as in README.md's output files

std::string or_dash(const std::optional<double>& v, const std::function<std::string(double)>& text) {
  return v ? text(*v) : "—";
}

std::string summary_html(const Json& r, const std::string& file) {
  auto opt = [&](const std::string& p) { return optional_number_at(r, p, file); };
  auto pct = [](double f) { return num(100 * f) + "%"; };
  std::vector<Fact> facts = {
      {"workers", num(number_at(r, keys::pointer(keys::kWorkers), file))},
      {"simulated time", duration_text(number_at(r, keys::pointer(keys::kSimulatedS), file))},
      {"samples", num(number_at(r, keys::pointer(keys::kSamples), file))},
      {"throughput (samples/s)", or_dash(opt(keys::pointer(keys::kThroughput)), num)},
      {"compute per worker", or_dash(opt(keys::pointer(keys::kTimeBreakdown, keys::time::kCompute)), duration_text)},
      {"communication exposed", or_dash(opt(keys::pointer(keys::kTimeBreakdown, keys::time::kCommunicationExposed)), duration_text)},
      {"compute cost ($)", usd_text(number_at(r, keys::pointer(keys::kCostUsd, keys::cost::kCompute), file))},
      {"egress cost ($)", usd_text(number_at(r, keys::pointer(keys::kCostUsd, keys::cost::kEgress), file))},
      {"total cost ($)", usd_text(number_at(r, keys::pointer(keys::kCostUsd, keys::cost::kTotal), file))},
      {"$ per 1M samples", or_dash(opt(keys::pointer(keys::kUsdPerMillionSamples)), usd_text)},
      {"traffic total (GB)", num(number_at(r, keys::pointer(keys::kTrafficBytes, keys::traffic::kTotal), file) / kBytesPerGB)},
      {"traffic WAN (GB)", num(number_at(r, keys::pointer(keys::kTrafficBytes, keys::traffic::kWan), file) / kBytesPerGB)},
      {"final train loss", or_dash(opt(keys::pointer(keys::kConvergence, keys::convergence::kFinalTrainLoss)), num)},
      {"final test loss", or_dash(opt(keys::pointer(keys::kConvergence, keys::convergence::kFinalTestLoss)), num)},
      {"final test accuracy (%)", or_dash(opt(keys::pointer(keys::kConvergence, keys::convergence::kFinalTestAccuracy)), pct)},
  };
  if (r.contains(Json::json_pointer(keys::pointer(keys::kConvergence, keys::convergence::kTarget))) &&
      r[keys::kConvergence][keys::convergence::kTarget].is_object()) {
    const auto& target = r[keys::kConvergence][keys::convergence::kTarget];
    facts.push_back({"target", target.contains("metric") && target.contains("value")
                                   ? value_text(target["metric"]) + " " + value_text(target["value"])
                                   : value_text(target)});
    facts.push_back({"time to target", or_dash(opt(keys::pointer(keys::kConvergence, keys::convergence::kTimeToTargetS)), duration_text)});
    facts.push_back({"cost to target ($)", or_dash(opt(keys::pointer(keys::kConvergence, keys::convergence::kCostToTargetUsd)), usd_text)});
  }
  if (r.contains(keys::kStopReason) && r[keys::kStopReason].is_string()) facts.push_back({"stopped early", r[keys::kStopReason].get<std::string>()});
  return facts_html(facts);
}

// The target line of a chart of `metric` ("test_accuracy" in %, "test_loss"), when the run has one.
void add_target(Chart& chart, const Json& r, const std::string& metric, double scale) {
  const Json::json_pointer p(keys::pointer(keys::kConvergence, keys::convergence::kTarget));
  if (!r.contains(p) || !r.at(p).is_object() || r.at(p).value("metric", "") != metric) return;
  if (!r.at(p).contains("value") || !r.at(p)["value"].is_number()) return;
  chart.y_reference = r.at(p)["value"].get<double>() * scale;
  chart.y_reference_label = "target " + num(*chart.y_reference) + (scale == 100 ? "%" : "");
}

// Loss and accuracy against one x (simulated time, or dollars), divided by x_unit (seconds per hour
// for a time axis in hours, else 1).
std::string progress_pair(const std::vector<TimelineRow>& rows, const Json& r, const std::string& x_name, const std::string& x_label,
                          double TimelineRow::*x_of, double x_unit, bool has_loss) {
  Chart loss = chart_of("Loss vs " + x_name, x_label, "loss (unitless)");
  Chart acc = chart_of("Test accuracy vs " + x_name, x_label, "test accuracy (%)");
  Series train = series_of("train loss (mean since the previous row)", colour(0));
  Series test_loss = series_of("test loss (evaluations)", colour(3));
  Series accuracy = series_of("test accuracy (evaluations)", colour(2));
  test_loss.markers = accuracy.markers = true;
  for (const auto& row : rows) {
    const double x = row.*x_of / x_unit;
    if (has_loss) train.points.emplace_back(x, row.train_loss);
    if (row.test_loss) test_loss.points.emplace_back(x, *row.test_loss);
    if (row.test_accuracy) accuracy.points.emplace_back(x, 100 * *row.test_accuracy);
  }
  loss.series = {train, test_loss};
  acc.series = {accuracy};
  add_target(loss, r, "test_loss", 1);
  add_target(acc, r, "test_accuracy", 100);
  loss.x_from_zero = acc.x_from_zero = true;
  std::string html = chart_html(loss);
  html += accuracy.points.empty() ? "<figure><figcaption>" + escape(acc.title) +
                                        "</figcaption><p class=\"empty\">no evaluations in this run</p></figure>"
                                  : chart_html(acc);
  return html;
}

// Workers up over simulated time (timeline.csv's alive_workers), for runs with faults or whose
// count changed: a step line that holds each row's count until the next row.  "" otherwise.
std::string alive_html(const std::vector<TimelineRow>& rows, const Json& r, const TimeUnit& unit) {
  const bool faults = r.contains("faults") && r["faults"].is_object();
  bool changed = false;
  for (const auto& row : rows) {
    if (!row.alive_workers) return "";
    changed = changed || *row.alive_workers != *rows.front().alive_workers;
  }
  if (!faults && !changed) return "";
  Chart chart = chart_of("Workers alive vs simulated time", std::string("simulated time (") + unit.name + ")", "workers alive (workers)");
  Series alive = series_of("workers alive (timeline.csv rows)", colour(3));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double x = rows[i].time_s / unit.seconds;
    if (i > 0 && *rows[i].alive_workers != *rows[i - 1].alive_workers) alive.points.emplace_back(x, *rows[i - 1].alive_workers);
    alive.points.emplace_back(x, *rows[i].alive_workers);
  }
  chart.series = {alive};
  chart.x_from_zero = chart.y_from_zero = true;
  if (faults && r["faults"].contains("preemptions") && r["faults"]["preemptions"].is_number())
    chart.notes.push_back(fmt::format("{} preemptions in this run (results.json faults).", num(r["faults"]["preemptions"].get<double>())));
  return chart_html(chart);
}

std::string progress_html(const std::vector<TimelineRow>& rows, const Json& r) {
  if (rows.empty()) return "<p class=\"empty\">timeline.csv has no rows: no progress to plot</p>";
  const TimeUnit unit = time_unit(rows.back().time_s);
  const std::string time_label = std::string("simulated time (") + unit.name + ")";
  const bool has_loss = std::any_of(rows.begin(), rows.end(), [](const TimelineRow& t) { return t.train_loss != 0; });
  const bool has_eval = std::any_of(rows.begin(), rows.end(), [](const TimelineRow& t) { return t.test_loss.has_value(); });
  std::string html;
  if (!has_loss && !has_eval)
    html += "<p class=\"empty\">no evaluations in this run (size-only workload: no loss or accuracy to plot)</p>";
  else
    html += "<div class=\"charts\">" + progress_pair(rows, r, "simulated time", time_label, &TimelineRow::time_s, unit.seconds, has_loss) +
            progress_pair(rows, r, "dollars", "total cost so far ($)", &TimelineRow::total_usd, 1, has_loss) + "</div>";
  Chart cost = chart_of("Cumulative cost vs simulated time", time_label, "cost so far ($)");
  Chart samples = chart_of("Samples vs simulated time", time_label, "samples trained (samples)");
  Series compute = series_of("compute (instances)", colour(0));
  Series egress = series_of("egress", colour(1));
  Series total = series_of("total", colour(6));
  Series trained = series_of("samples, all workers", colour(2));
  total.dashed = true;
  for (Series* s : {&compute, &egress, &total, &trained}) s->points.emplace_back(0, 0);  // cumulative: nothing at time 0
  for (const auto& row : rows) {
    const double x = row.time_s / unit.seconds;
    compute.points.emplace_back(x, row.compute_usd);
    egress.points.emplace_back(x, row.egress_usd);
    total.points.emplace_back(x, row.total_usd);
    trained.points.emplace_back(x, row.samples);
  }
  cost.series = {compute, egress, total};
  samples.series = {trained};
  cost.x_from_zero = cost.y_from_zero = samples.x_from_zero = samples.y_from_zero = true;
  return html + "<div class=\"charts\">" + chart_html(cost) + chart_html(samples) + alive_html(rows, r, unit) + "</div>";
}

std::vector<LinkTraffic> read_links(const Json& r, const std::string& file) {
  const Json::json_pointer p(keys::pointer(keys::kLinks));
  if (!r.contains(p) || !r.at(p).is_array())
    throw_input_error(file, keys::pointer(keys::kLinks), r.contains(p) ? value_text(r.at(p)) : "missing", "expected an array of region pairs");
  std::vector<LinkTraffic> links;
  for (std::size_t i = 0; i < r.at(p).size(); ++i) {
    const std::string at = keys::pointer(keys::kLinks, std::to_string(i)) + "/";
    links.push_back({string_at(r, at + keys::link::kSrcRegion, file), string_at(r, at + keys::link::kDstRegion, file),
                     number_at(r, at + keys::link::kBytes, file), number_at(r, at + keys::link::kUsdPerGB, file),
                     number_at(r, at + keys::link::kEgressUsd, file)});
  }
  return links;
}

std::string cost_html(const Json& r, const std::vector<LinkTraffic>& links, const std::string& file) {
  const double compute = number_at(r, keys::pointer(keys::kCostUsd, keys::cost::kCompute), file);
  const double egress = number_at(r, keys::pointer(keys::kCostUsd, keys::cost::kEgress), file);
  std::vector<Bar> bars = {{"compute (instances)", compute, colour(0), "data-kind=\"compute\" data-usd=\"" + exact_number(compute) + "\""}};
  std::vector<std::size_t> order(links.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return links[a].egress_usd > links[b].egress_usd; });
  double rest = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& l = links[order[k]];
    if (k + 1 < kMaxCostBars) {
      bars.push_back({"egress " + l.src_region + " → " + l.dst_region, l.egress_usd, colour(1),
                      fmt::format("data-kind=\"egress\" data-src=\"{}\" data-dst=\"{}\" data-usd=\"{}\"", escape(l.src_region),
                                  escape(l.dst_region), exact_number(l.egress_usd))});
    } else {
      rest += l.egress_usd;
    }
  }
  if (order.size() + 1 > kMaxCostBars)
    bars.push_back({fmt::format("egress, {} other region pairs", order.size() + 1 - kMaxCostBars), rest, colour(1), ""});
  std::string html = bars_html("Cost breakdown: compute vs egress per region pair", "cost ($)", bars, usd_text);
  html += "<table class=\"links\"><tr><th>from region</th><th>to region</th><th class=\"n\">traffic (GB)</th>"
          "<th class=\"n\">price ($/GB)</th><th class=\"n\">egress ($)</th></tr>";
  for (std::size_t k = 0; k < order.size() && k < kMaxLinkRows; ++k) {
    const auto& l = links[order[k]];
    html += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                        escape(l.src_region), escape(l.dst_region), num(l.bytes / kBytesPerGB), num(l.usd_per_GB), usd_text(l.egress_usd));
  }
  html += fmt::format("<tr class=\"sum\"><td colspan=\"4\">egress, all pairs</td><td class=\"n\">{}</td></tr>"
                      "<tr class=\"sum\"><td colspan=\"4\">compute (instances)</td><td class=\"n\">{}</td></tr>"
                      "<tr class=\"sum\"><td colspan=\"4\">total</td><td class=\"n\">{}</td></tr></table>",
                      usd_text(egress), usd_text(compute), usd_text(number_at(r, keys::pointer(keys::kCostUsd, keys::cost::kTotal), file)));
  if (order.size() > kMaxLinkRows) html += fmt::format("<p class=\"note\">The {} costliest of {} region pairs are listed.</p>", kMaxLinkRows, order.size());
  return html;
}

std::string collectives_html(const Json& r, const std::string& file) {
  const Json::json_pointer p(keys::pointer(keys::kCollectives));
  if (!r.contains(p) || !r.at(p).is_array() || r.at(p).empty()) return "<p class=\"empty\">no collectives in this run</p>";
  std::string html = "<table><tr><th>op</th><th>algorithm</th><th class=\"n\">ranks</th><th class=\"n\">size per rank</th>"
                     "<th class=\"n\">count</th><th class=\"n\">mean time (s)</th><th class=\"n\">algbw (GB/s)</th>"
                     "<th class=\"n\">busbw (GB/s)</th></tr>";
  for (std::size_t i = 0; i < r.at(p).size(); ++i) {
    const std::string at = keys::pointer(keys::kCollectives, std::to_string(i)) + "/";
    html += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                        escape(string_at(r, at + keys::collective::kOp, file)), escape(string_at(r, at + keys::collective::kAlgorithm, file)),
                        num(number_at(r, at + keys::collective::kRanks, file)), escape(bytes_text(number_at(r, at + keys::collective::kSizeB, file))),
                        num(number_at(r, at + keys::collective::kCount, file)), num(number_at(r, at + keys::collective::kMeanTimeS, file)),
                        num(number_at(r, at + keys::collective::kAlgbwGBps, file)), num(number_at(r, at + keys::collective::kBusbwGBps, file)));
  }
  return html + "</table>";
}

std::string missing_file_html(const std::string& name, const std::string& what) {
  return "<p class=\"empty\">no " + escape(name) + " in this run folder: " + escape(what) + "</p>";
}

}  // namespace

std::string facts_html(const std::vector<Fact>& facts) {
  std::string html = "<div class=\"facts\">";
  for (const auto& f : facts) html += "<div><span>" + escape(f.label) + "</span><b>" + escape(f.value) + "</b></div>";
  return html + "</div>";
}

Page run_page(const std::string& dir, const std::string& replicas_file) {
  const std::string file = (fs::path(dir) / "results.json").string();
  const Json r = read_json(file);
  if (!r.is_object()) throw_input_error(file, "", value_text(r), "expected a JSON object (results.json of geotrain run)");
  const std::string scenario = string_at(r, keys::pointer(keys::kScenario), file);
  const Json::json_pointer strategy_ptr(keys::pointer(keys::kStrategy));
  if (!r.contains(strategy_ptr) || !r.at(strategy_ptr).is_object())
    throw_input_error(file, keys::pointer(keys::kStrategy), r.contains(strategy_ptr) ? value_text(r.at(strategy_ptr)) : "missing", "expected an object");
  const auto links = read_links(r, file);
  Page page{"run " + scenario, ""};
  std::string& b = page.body;
  b += "<h1>geotrain report · run " + escape(scenario) + "</h1>";
  const auto seed = optional_number_at(r, keys::pointer(keys::kSeed), file);
  b += "<p class=\"sub\">strategy <code>" + escape(r.at(strategy_ptr).dump()) + "</code>" +
       (seed ? " · seed " + escape(num(*seed)) : std::string()) + " · simulated time and dollars, not wall clock</p>";
  b += "<h2>Key figures</h2>" + summary_html(r, file);
  b += "<h2>Training progress</h2>";
  const fs::path timeline = fs::path(dir) / "timeline.csv";
  b += fs::exists(timeline) ? progress_html(read_timeline(timeline.string()), r)
                            : missing_file_html("timeline.csv", "no progress over time to plot");
  b += "<h2>Cost breakdown</h2>" + cost_html(r, links, file);
  const Json replicas = replicas_file.empty() ? Json() : read_json(replicas_file);
  const bool priced = r.contains(Json::json_pointer("/cost_usd/spot_prices"));
  if (r.contains(keys::kFaults) || priced || !replicas.is_null())
    b += "<h2>Faults and spot</h2>" + faults_html(r, replicas.is_null() ? nullptr : &replicas);
  b += "<h2>Utilization per worker</h2>";
  const fs::path trace = fs::path(dir) / "trace.json";
  b += fs::exists(trace) ? utilization_html(read_trace(trace.string()), number_at(r, keys::pointer(keys::kSimulatedS), file))
                         : missing_file_html("trace.json", "no utilization timeline");
  b += "<h2>Topology and traffic</h2>" + topology_html(links);
  b += "<h2>Collectives</h2>" + collectives_html(r, file);
  return page;
}

}  // namespace geotrain::analysis::report
