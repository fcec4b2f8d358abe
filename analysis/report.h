// `geotrain report DIR`: one self-contained HTML page (inline SVG and CSS, no network access) for
// a run folder or a sweep folder. Reads result files; runs nothing; never includes SimGrid.
#pragma once
#include <string>

namespace geotrain::analysis {

// The page for DIR, which is either
//   a run:   DIR/results.json, with DIR/timeline.csv and DIR/trace.json when present, or
//   a sweep: DIR/sweep.csv, with DIR/pareto.csv and DIR/points/<id>/results.json when present.
// The same files give the same bytes (no clock, no absolute paths; DIR's own name appears for a
// sweep).  Throws InputError (json_file.h) naming the file, the JSON path or line, the value and
// what is allowed: for a missing DIR, a DIR that is neither, and malformed files.
std::string report_html(const std::string& dir);

// Writes report_html(dir) to DIR/report.html (atomically) and returns that path.  Throws
// InputError as report_html, std::runtime_error when the file cannot be written.
std::string write_report(const std::string& dir);

}  // namespace geotrain::analysis
