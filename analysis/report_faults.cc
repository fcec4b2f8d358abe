// The faults section of a run page: what preemptions cost (useful against lost work, wasted
// dollars by cause, checkpoint traffic and storage, the checkpoint interval), availability per
// fleet entry, spot prices paid, the fault events, and the spread over draws of a replica set.
#include <functional>

#include <fmt/format.h>

#include "analysis/json_file.h"
#include "analysis/report_pages.h"
#include "analysis/report_svg.h"
#include "sim/result_keys.h"  // header only: the results.json keys

namespace geotrain::analysis::report {
namespace {

namespace keys = geotrain::result_keys;
using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxEventRows = 200;
constexpr double kBytesPerGB = 1e9;

std::string number_or_dash(const Json& o, const char* key, const std::function<std::string(double)>& text) {
  return o.contains(key) && o[key].is_number() ? text(o[key].get<double>()) : "—";
}

// A string field, or a dash (missing, null).
std::string text_or_dash(const Json& o, const char* key) {
  return o.contains(key) && o[key].is_string() ? escape(o[key].get<std::string>()) : "—";
}

std::string availability_table(const Json& f) {
  if (!f.contains("availability") || !f["availability"].is_array() || f["availability"].empty()) return "";
  std::string html = "<table><tr><th>region</th><th>instance</th><th>model</th><th class=\"n\">rate (/h)</th>"
                     "<th>rate from</th><th class=\"n\">up (%)</th></tr>";
  for (const auto& a : f["availability"])
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                        text_or_dash(a, "region"), text_or_dash(a, "instance"), text_or_dash(a, "model"),
                        number_or_dash(a, "rate_per_hour", num), text_or_dash(a, "rate_source"),
                        number_or_dash(a, "availability", [](double v) { return num(100 * v); }));
  return html + "</table>";
}

std::string spot_prices_table(const Json& r) {
  const Json::json_pointer p("/cost_usd/spot_prices");
  if (!r.contains(p) || !r.at(p).is_array() || r.at(p).empty()) return "";
  std::string html = "<h3>Spot prices paid</h3><table><tr><th>region</th><th>instance</th><th>trace</th><th>zone</th>"
                     "<th class=\"n\">min ($/h)</th><th class=\"n\">mean ($/h)</th><th class=\"n\">max ($/h)</th>"
                     "<th class=\"n\">max_price ($/h)</th></tr>";
  for (const auto& s : r.at(p)) {
    const Json price = s.value("usd_per_hour", Json::object());
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                        "<td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                        text_or_dash(s, "region"), text_or_dash(s, "instance"),
                        text_or_dash(s, "trace"), text_or_dash(s, "zone"),
                        number_or_dash(price, "min", usd_text), number_or_dash(price, "mean", usd_text),
                        number_or_dash(price, "max", usd_text), number_or_dash(s, "max_price", usd_text));
  }
  return html + "</table>";
}

std::string events_table(const Json& f) {
  if (!f.contains("events") || !f["events"].is_array() || f["events"].empty())
    return "<p class=\"empty\">no fault events in this run</p>";
  const Json& events = f["events"];
  std::string html = "<table class=\"events\"><tr><th class=\"n\">time (s)</th><th>worker</th><th>event</th><th>cause</th></tr>";
  for (std::size_t i = 0; i < events.size() && i < kMaxEventRows; ++i) {
    const Json& e = events[i];
    html += fmt::format("<tr data-event=\"{}\"><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        text_or_dash(e, "event"), number_or_dash(e, "time_s", num), text_or_dash(e, "worker"),
                        text_or_dash(e, "event"), text_or_dash(e, "cause"));
  }
  html += "</table>";
  if (events.size() > kMaxEventRows)
    html += fmt::format("<p class=\"note\">The first {} of {} events are listed (results.json faults.events has all).</p>",
                        kMaxEventRows, events.size());
  return html;
}

// Wasted dollars by cause, and what checkpoints cost to store.
std::string waste_bars(const Json& f) {
  std::vector<Bar> bars;
  if (f.contains("wasted_usd_by_cause") && f["wasted_usd_by_cause"].is_object()) {
    const Json& c = f["wasted_usd_by_cause"];
    if (c.contains("lost_work") && c["lost_work"].is_number())
      bars.push_back({"lost work (compute redone)", c["lost_work"].get<double>(), colour(3), "data-kind=\"lost_work\""});
    if (c.contains("boot_and_state_reload") && c["boot_and_state_reload"].is_number())
      bars.push_back({"boot and state reload", c["boot_and_state_reload"].get<double>(), colour(1), "data-kind=\"boot\""});
  } else if (f.contains("wasted_usd") && f["wasted_usd"].is_number()) {
    bars.push_back({"wasted (lost work, boot, reload)", f["wasted_usd"].get<double>(), colour(3), ""});
  }
  if (f.contains("checkpoint_usd") && f["checkpoint_usd"].is_number())
    bars.push_back({"checkpoint storage", f["checkpoint_usd"].get<double>(), colour(2), "data-kind=\"checkpoint\""});
  return bars.empty() ? "" : bars_html("Dollars lost to faults, by cause", "cost ($)", bars, usd_text);
}

// The spread of a replica set (DIR/replicas.json of geotrain run --replicas).
std::string replicas_table(const Json& doc) {
  if (!doc.contains("summary") || !doc["summary"].is_object()) return "";
  std::string html = fmt::format("<h3>Over {} draws of the fault process</h3>", escape(value_text(doc.value("replicas", Json()))));
  html += "<table class=\"replicas\"><tr><th>figure</th><th class=\"n\">mean</th><th class=\"n\">sd</th><th class=\"n\">p5</th>"
          "<th class=\"n\">p50</th><th class=\"n\">p95</th><th class=\"n\">95% CI of the mean</th></tr>";
  for (const auto& [name, s] : doc["summary"].items()) {
    if (!s.is_object()) {
      html += fmt::format("<tr><td>{}</td><td class=\"n\" colspan=\"6\">n/a (not in every draw)</td></tr>", escape(name));
      continue;
    }
    const bool ci = s.contains("ci95") && s["ci95"].is_array() && s["ci95"].size() == 2 && s["ci95"][0].is_number() &&
                    s["ci95"][1].is_number();
    html += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                        "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                        escape(name), number_or_dash(s, "mean", num), number_or_dash(s, "sd", num),
                        number_or_dash(s, "p5", num), number_or_dash(s, "p50", num), number_or_dash(s, "p95", num),
                        ci ? fmt::format("[{}, {}]", num(s["ci95"][0].get<double>()), num(s["ci95"][1].get<double>())) : "—");
  }
  return html + "</table>";
}

}  // namespace

std::string faults_html(const Json& r, const Json* replicas) {
  const bool faults = r.contains(keys::kFaults) && r[keys::kFaults].is_object();
  std::string html;
  if (!faults) {
    html = "<p class=\"empty\">no faults in this run (no preemption model, outage or checkpoint)</p>";
    html += spot_prices_table(r);
    return replicas ? html + replicas_table(*replicas) : html;
  }
  const Json& f = r[keys::kFaults];
  const Json work = r.value("work", Json::object());
  std::vector<Fact> facts = {
      {"preemptions", number_or_dash(f, "preemptions", num)},
      {"returns", number_or_dash(f, "restarts", num)},
      {"useful samples (goodput)", number_or_dash(r, keys::kSamples, num)},
      {"all samples trained", number_or_dash(work, "samples", num)},
      {"samples lost", number_or_dash(f, "lost_samples", num)},
      {"goodput (samples/s)", number_or_dash(r, keys::kThroughput, num)},
      {"work rate (samples/s)", number_or_dash(work, "throughput_samples_per_s", num)},
      {"compute lost", number_or_dash(f, "lost_compute_s", duration_text)},
      {"wasted ($)", number_or_dash(f, "wasted_usd", usd_text)},
      {"checkpoint traffic (GB)", number_or_dash(f, "checkpoint_bytes", [](double b) { return num(b / kBytesPerGB); })},
      {"checkpoint storage ($)", number_or_dash(f, "checkpoint_usd", usd_text)},
  };
  if (f.contains("checkpoint_interval") && f["checkpoint_interval"].is_object()) {
    const Json& c = f["checkpoint_interval"];
    facts.push_back({"checkpoint interval (auto)", number_or_dash(c, "interval_s", duration_text)});
    facts.push_back({"mean time between preemptions", number_or_dash(c, "mtbf_s", duration_text)});
    facts.push_back({"checkpoint write", number_or_dash(c, "checkpoint_s", duration_text)});
  }
  html += facts_html(facts);
  html += "<div class=\"charts\">" + waste_bars(f) + "</div>";
  html += availability_table(f);
  html += spot_prices_table(r);
  if (replicas) html += replicas_table(*replicas);
  html += "<h3>Fault events</h3>" + events_table(f);
  return html;
}

}  // namespace geotrain::analysis::report
