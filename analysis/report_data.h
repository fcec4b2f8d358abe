// Reading the files `geotrain report` draws (internal to analysis/report*.cc): typed reads of
// results.json, timeline.csv rows, trace.json spans, sweep.csv and pareto.csv. Every problem is
// an InputError naming the file, the JSON path or line and column, the value and what is allowed.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/sweep_table.h"

namespace geotrain::analysis::report {

struct CsvRecord {
  std::size_t line = 0;             // line of the file where the record starts (from 1)
  std::vector<std::string> cells;
};

// RFC 4180 CSV (quoted cells may hold commas, quotes and newlines; CRLF accepted).  Throws
// InputError naming the file and line for an unterminated quote or text after a closing quote.
std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& file);

// Typed reads of a JSON document at a JSON pointer.  Throw InputError "FILE: POINTER: VALUE:
// expected ..." when the value is absent or of another type.
double number_at(const nlohmann::ordered_json& doc, const std::string& pointer, const std::string& file);
std::string string_at(const nlohmann::ordered_json& doc, const std::string& pointer, const std::string& file);
// nullopt when absent or null; a value of another type is an error.
std::optional<double> optional_number_at(const nlohmann::ordered_json& doc, const std::string& pointer,
                                         const std::string& file);

// "ddp/ring", "parameter_server/async", "gossip/pull", "diloco": the strategy name plus its
// allreduce, mode or form knob when given (as `geotrain summarize` prints it).
std::string strategy_label(const nlohmann::ordered_json& strategy);

struct TimelineRow {
  double step = 0, time_s = 0, samples = 0;                 // index, simulated s, samples (cumulative)
  double compute_usd = 0, egress_usd = 0, total_usd = 0;    // USD, cumulative
  double wan_bytes = 0;                                     // bytes, cumulative
  double train_loss = 0;                                    // 0 where the cell is empty (size-only runs)
  std::optional<double> test_loss, test_accuracy;           // only on evaluated rows
  std::optional<double> alive_workers;                      // workers up; absent from older files
};

// The rows of a timeline.csv (columns found by name; extra columns ignored; alive_workers
// optional).
std::vector<TimelineRow> read_timeline(const std::string& file);

enum class Activity { compute, communication, overlapped, other };  // trace.json "cat"

struct Span {
  std::size_t track = 0;    // index into Trace::tracks
  Activity activity = Activity::other;
  double start_s = 0, end_s = 0;
  double aggregate_busy_s = -1;  // an aggregate's summed durations ("args": {"busy_s"}); < 0: a span
  bool aggregate() const { return aggregate_busy_s >= 0; }
  double busy_s() const { return aggregate() ? aggregate_busy_s : end_s - start_s; }
};

struct Trace {
  std::vector<std::string> tracks;  // by ascending tid: the thread_name, else "tid N"
  std::vector<Span> spans;          // complete events ("ph": "X"), in file order
};

// The complete events of a Chrome trace (trace.json as `geotrain run` writes it; ts and dur in
// microseconds).  Other event phases are skipped.
Trace read_trace(const std::string& file);

struct SweepCsv {
  std::vector<std::string> axis_pointers;
  std::vector<PointRow> rows;  // axes hold the cell text
  bool intervals = false;      // a sweep with replicas: rows carry draws and intervals
};

// sweep.csv or pareto.csv: "point,<axes...>,<sweep_metrics() columns>", cells as sweep_csv() writes
// them (empty: null).
SweepCsv read_sweep_csv(const std::string& file);

}  // namespace geotrain::analysis::report
