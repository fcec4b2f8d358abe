// Reading results.json, timeline.csv, trace.json, sweep.csv and pareto.csv for `geotrain report`.
#include "analysis/report_data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "analysis/json_file.h"

namespace geotrain::analysis::report {
namespace {

using Json = nlohmann::ordered_json;

const Json* find(const Json& doc, const std::string& pointer) {
  const Json::json_pointer p(pointer);
  return doc.contains(p) ? &doc.at(p) : nullptr;
}

std::string shown(const Json* v) { return v ? value_text(*v) : std::string("missing"); }

// A CSV cell as a finite number; `empty_ok`: an empty cell is nullopt.
std::optional<double> cell_number(const std::string& cell, const std::string& file, std::size_t line, const std::string& column,
                                  bool empty_ok) {
  if (cell.empty() && empty_ok) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(cell.c_str(), &end);
  if (cell.empty() || end != cell.c_str() + cell.size() || errno == ERANGE || !std::isfinite(v))
    throw_input_error(file, fmt::format("line {}, column {}", line, column), cell.empty() ? "empty" : "\"" + cell + "\"",
                      empty_ok ? "expected a number or an empty cell" : "expected a number");
  return v;
}

std::vector<CsvRecord> read_csv_file(const std::string& file) {
  std::string text;
  if (!read_text(file, text)) throw_input_error(file, "", "", "cannot read this file (missing or unreadable)");
  auto records = parse_csv(text, file);
  if (records.empty()) throw_input_error(file, "", "", "empty file: expected a header line");
  for (const auto& r : records)
    if (r.cells.size() != records[0].cells.size())
      throw_input_error(file, fmt::format("line {}", r.line), fmt::format("{} cells", r.cells.size()),
                        fmt::format("expected {} cells, as in the header", records[0].cells.size()));
  return records;
}

Activity activity_of(const std::string& category) {
  if (category == "compute") return Activity::compute;
  if (category == "communication") return Activity::communication;
  if (category == "overlapped") return Activity::overlapped;
  return Activity::other;
}

}  // namespace

std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& file) {
  std::vector<CsvRecord> records;
  CsvRecord record{1, {}};
  std::string cell;
  std::size_t line = 1;
  bool quoted = false, was_quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') cell += '"', ++i;
      else if (c == '"') quoted = false, was_quoted = true;
      else cell += c, line += c == '\n';
      continue;
    }
    if (c == '"' && cell.empty() && !was_quoted) {
      quoted = true, any = true;
    } else if (c == ',') {
      record.cells.push_back(std::move(cell)), cell.clear(), was_quoted = false, any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !cell.empty()) record.cells.push_back(std::move(cell)), records.push_back(std::move(record));
      cell.clear(), record = CsvRecord{++line, {}}, was_quoted = false, any = false;
    } else if (was_quoted) {
      throw_input_error(file, fmt::format("line {}", line), std::string(1, c), "text after a closing quote: expected , or a line end");
    } else {
      cell += c, any = true;
    }
  }
  if (quoted) throw_input_error(file, fmt::format("line {}", record.line), "", "unterminated quoted cell");
  if (any || !cell.empty()) record.cells.push_back(std::move(cell)), records.push_back(std::move(record));
  return records;
}

double number_at(const Json& doc, const std::string& pointer, const std::string& file) {
  const Json* v = find(doc, pointer);
  if (!v || !v->is_number()) throw_input_error(file, pointer, shown(v), "expected a number");
  return v->get<double>();
}

std::string string_at(const Json& doc, const std::string& pointer, const std::string& file) {
  const Json* v = find(doc, pointer);
  if (!v || !v->is_string()) throw_input_error(file, pointer, shown(v), "expected a string");
  return v->get<std::string>();
}

std::optional<double> optional_number_at(const Json& doc, const std::string& pointer, const std::string& file) {
  const Json* v = find(doc, pointer);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_number()) throw_input_error(file, pointer, shown(v), "expected a number or null");
  return v->get<double>();
}

std::string strategy_label(const Json& strategy) {
  if (!strategy.is_object() || !strategy.contains("name") || !strategy["name"].is_string()) return value_text(strategy);
  std::string label = strategy["name"].get<std::string>();
  for (const char* knob : {"allreduce", "mode", "form"})
    if (strategy.contains(knob) && strategy[knob].is_string()) label += "/" + strategy[knob].get<std::string>();
  return label;
}

std::vector<TimelineRow> read_timeline(const std::string& file) {
  const auto records = read_csv_file(file);
  static const std::vector<std::string> kColumns = {"step",      "time_s",    "samples",    "compute_usd", "egress_usd",
                                                     "total_usd", "wan_bytes", "train_loss", "test_loss",   "test_accuracy"};
  std::vector<std::size_t> at;  // kColumns[k] is cell at[k]
  for (const auto& name : kColumns) {
    const auto& header = records[0].cells;
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw_input_error(file, "line 1", "no column " + name, "expected the columns of timeline.csv (README.md)");
    at.push_back(static_cast<std::size_t>(it - header.begin()));
  }
  const auto& header = records[0].cells;
  const auto alive_at = std::find(header.begin(), header.end(), "alive_workers");
  std::vector<TimelineRow> rows;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    std::vector<std::optional<double>> v;
    for (std::size_t k = 0; k < kColumns.size(); ++k)
      v.push_back(cell_number(rec.cells[at[k]], file, rec.line, kColumns[k], k >= 7));  // train_loss on: may be empty
    rows.push_back({*v[0], *v[1], *v[2], *v[3], *v[4], *v[5], *v[6], v[7].value_or(0), v[8], v[9], std::nullopt});
    if (alive_at != header.end())
      rows.back().alive_workers =
          cell_number(rec.cells[static_cast<std::size_t>(alive_at - header.begin())], file, rec.line, "alive_workers", false);
  }
  return rows;
}

Trace read_trace(const std::string& file) {
  const Json doc = read_json(file);
  const Json* events = find(doc, "/traceEvents");
  if (!events || !events->is_array()) throw_input_error(file, "/traceEvents", shown(events), "expected an array of trace events");
  constexpr double kSecondsPerMicrosecond = 1e-6;
  std::map<long long, std::string> names;  // tid -> thread name
  struct RawSpan {
    long long tid;
    Activity activity;
    double start_s, end_s, busy_s;
  };
  std::vector<RawSpan> raw;
  for (std::size_t i = 0; i < events->size(); ++i) {
    const Json& e = (*events)[i];
    const std::string path = fmt::format("/traceEvents/{}", i);
    if (!e.is_object()) throw_input_error(file, path, value_text(e), "expected a trace event object");
    const std::string ph = e.contains("ph") && e["ph"].is_string() ? e["ph"].get<std::string>() : "";
    const bool thread_name = ph == "M" && e.contains("name") && e["name"].is_string() && e["name"] == "thread_name";
    if (ph != "X" && !thread_name) continue;
    const Json* tid = find(e, "/tid");
    if (!tid || !tid->is_number_integer() || tid->get<long long>() < 0)
      throw_input_error(file, path + "/tid", shown(tid), "expected an integer >= 0");
    if (ph == "M") {
      const Json* name = find(e, "/args/name");
      if (!name || !name->is_string()) throw_input_error(file, path + "/args/name", shown(name), "expected a string");
      names[tid->get<long long>()] = name->get<std::string>();
      continue;
    }
    const Json* ts = find(e, "/ts");
    const Json* dur = find(e, "/dur");
    if (!ts || !ts->is_number()) throw_input_error(file, path + "/ts", shown(ts), "expected a number (microseconds)");
    if (!dur || !dur->is_number() || dur->get<double>() < 0)
      throw_input_error(file, path + "/dur", shown(dur), "expected a number >= 0 (microseconds)");
    const std::string cat = e.contains("cat") && e["cat"].is_string() ? e["cat"].get<std::string>() : "";
    const double start_us = ts->get<double>(), end_us = start_us + dur->get<double>();
    // An aggregate of spans past the trace's cap (sim/recorder.h) is busy for its busy_s only.
    double busy_s = -1;
    if (const Json* busy = find(e, "/args/busy_s")) {
      const double extent_s = (end_us - start_us) * kSecondsPerMicrosecond;
      if (!busy->is_number() || busy->get<double>() < 0 || busy->get<double>() > extent_s * (1 + 1e-9))
        throw_input_error(file, path + "/args/busy_s", shown(busy), "expected a number in [0, dur]");
      busy_s = std::min(extent_s, busy->get<double>());
    }
    raw.push_back({tid->get<long long>(), activity_of(cat), start_us * kSecondsPerMicrosecond,
                   end_us * kSecondsPerMicrosecond, busy_s});
  }
  for (const auto& s : raw) names.try_emplace(s.tid, fmt::format("tid {}", s.tid));
  Trace trace;
  std::map<long long, std::size_t> index;
  for (const auto& [tid, name] : names) index[tid] = trace.tracks.size(), trace.tracks.push_back(name);
  for (const auto& s : raw) trace.spans.push_back({index[s.tid], s.activity, s.start_s, s.end_s, s.busy_s});
  return trace;
}

SweepCsv read_sweep_csv(const std::string& file) {
  const auto records = read_csv_file(file);
  const auto& header = records[0].cells;
  const auto& metrics = sweep_metrics();
  std::string expected = "point,<axis pointers...>";
  for (const auto& m : metrics) expected += std::string(",") + m.column;
  // A sweep with replicas ends with "draws" and the interval columns (sweep_table.h).
  std::vector<std::string> tail = {"draws"};
  for (const auto& name : interval_metrics())
    for (const char* suffix : {"_p5", "_p95", "_ci95_low", "_ci95_high"}) tail.push_back(name + suffix);
  bool intervals = header.size() >= metrics.size() + tail.size() + 1;
  for (std::size_t k = 0; intervals && k < tail.size(); ++k) intervals = header[header.size() - tail.size() + k] == tail[k];
  const std::size_t tail_size = intervals ? tail.size() : 0;
  bool ok = header.size() >= metrics.size() + tail_size + 1 && header[0] == "point";
  for (std::size_t k = 0; ok && k < metrics.size(); ++k)
    ok = header[header.size() - tail_size - metrics.size() + k] == metrics[k].column;
  if (!ok)
    throw_input_error(file, "line 1", value_text(nlohmann::ordered_json(header)),
                      "expected the header " + expected + " (with replicas: then draws and the interval columns)");
  SweepCsv csv;
  csv.intervals = intervals;
  const std::size_t axes = header.size() - 1 - metrics.size() - tail_size;
  csv.axis_pointers.assign(header.begin() + 1, header.begin() + 1 + static_cast<long>(axes));
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    if (rec.cells[0].empty()) throw_input_error(file, fmt::format("line {}, column point", rec.line), "empty", "expected a point id");
    PointRow row{rec.cells[0], nlohmann::ordered_json::object(), {}};
    for (std::size_t a = 0; a < axes; ++a) row.axes[csv.axis_pointers[a]] = rec.cells[1 + a];
    for (std::size_t k = 0; k < metrics.size(); ++k)
      row.metrics.push_back(cell_number(rec.cells[1 + axes + k], file, rec.line, metrics[k].column, true));
    if (intervals) {
      const std::size_t at = 1 + axes + metrics.size();
      const double draws = *cell_number(rec.cells[at], file, rec.line, "draws", false);
      if (!(draws >= 1) || draws != std::floor(draws) || draws > 1e9)
        throw_input_error(file, fmt::format("line {}, column draws", rec.line), rec.cells[at], "expected a whole number >= 1");
      row.draws = static_cast<std::size_t>(draws);
      for (std::size_t k = 1; k < tail.size(); ++k)
        row.intervals.push_back(cell_number(rec.cells[at + k], file, rec.line, tail[k], true));
    }
    csv.rows.push_back(std::move(row));
  }
  return csv;
}

}  // namespace geotrain::analysis::report
