// Regression checks of result folders against stored baselines: which runs moved, by how much,
// the table people read and the JUnit XML that CI systems show. Reads files; runs nothing.
#pragma once
#include <string>
#include <vector>

#include "analysis/compare.h"

namespace geotrain::analysis {

// One compared run: a run folder, a sweep point (points/<id>/) or a suite member (<name>/).
struct RunCheck {
  std::string name;                      // point id or member folder name; the folder name for a single run
  std::string problem;                   // non-empty: could not be compared (e.g. missing on one side)
  std::vector<Difference> differences;   // everything that moved, within tolerance or not

  bool failed() const;
  int failed_metrics() const;
};

struct CheckReport {
  std::string current, baseline;  // the folders
  std::string layout;             // "run", "sweep" or "suite"
  std::vector<RunCheck> runs;     // sorted by name

  int failed_runs() const;
};

// Compares CURRENT with BASELINE.  Each folder is one of:
//   run:   DIR/results.json
//   sweep: DIR/points/<id>/results.json (matched by point id)
//   suite: DIR/<name>/results.json     (matched by folder name)
// Both must have the same layout.  A run present on one side only, or a point folder without
// results.json, is a failed RunCheck.  Throws InputError for missing folders, folders holding no
// results, layouts that differ, and malformed JSON.
CheckReport check_folders(const std::string& current, const std::string& baseline, const Tolerances& tolerances);

// The table of what moved (run, metric, baseline, current, rel change, tolerance, status), then
// one summary line.  Unmoved runs are counted, not listed.
std::string check_table(const CheckReport& report);

// JUnit XML: one <testsuite>, one <testcase> per compared run, a <failure> listing the metrics
// that moved beyond tolerance for a failed one.
std::string junit_xml(const CheckReport& report);

// Escapes &, <, >, " and ' for XML text and attributes (exposed for tests).
std::string xml_escape(const std::string& text);

}  // namespace geotrain::analysis
