// The sections of `geotrain report` pages (internal to analysis/report*.cc): a run folder's page,
// a sweep folder's page, and the two run views that are not x-y charts (utilization timeline,
// topology with traffic). Each returns HTML for inside <main>; all text from files is escaped.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "analysis/report_data.h"

namespace geotrain::analysis::report {

struct Page {
  std::string title;  // plain text (escaped by the caller)
  std::string body;   // HTML
};

// DIR/results.json (required), DIR/timeline.csv and DIR/trace.json (optional: the page says
// when one is missing).  With `replicas_file` (a replica set's replicas.json, DIR being one of its
// draws) the faults section shows the spread over the draws.  Throws InputError for malformed files.
Page run_page(const std::string& dir, const std::string& replicas_file = "");

// A row of labelled key figures.
struct Fact {
  std::string label, value;
};
std::string facts_html(const std::vector<Fact>& facts);

// The faults section of a run page (analysis/report_faults.cc): for runs with faults, spot price
// traces or a replica set (`replicas`: replicas.json, or null); "" when there is none of these.
std::string faults_html(const nlohmann::ordered_json& results, const nlohmann::ordered_json* replicas);

// DIR/sweep.csv (required), DIR/pareto.csv (optional: the front is computed from sweep.csv when
// it is missing, and the page says so), DIR/points/<id>/results.json for each point's strategy.
Page sweep_page(const std::string& dir);

// The most tracks (workers, servers) the utilization timeline draws, and the most rectangles:
// longer traces are drawn as time bins (fractions of each bin per activity); the page says so.
inline constexpr std::size_t kMaxTimelineTracks = 48;
inline constexpr std::size_t kMaxTimelineRects = 6000;

// Per track: compute, exposed communication and overlapped communication over simulated time.
std::string utilization_html(const Trace& trace, double simulated_s);

struct LinkTraffic {
  std::string src_region, dst_region;
  double bytes = 0, usd_per_GB = 0, egress_usd = 0;
};

// The most inter-region edges labelled with their GB and dollars (the largest by bytes).
inline constexpr std::size_t kMaxEdgeLabels = 16;

// Regions on a circle; an arrow per (src, dst) pair with traffic, width by bytes, labelled in GB
// and dollars; traffic inside a region under its name.
std::string topology_html(const std::vector<LinkTraffic>& links);

}  // namespace geotrain::analysis::report
