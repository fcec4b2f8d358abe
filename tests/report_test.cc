// Tests of `geotrain report`: the numbers on the page are those of the result files (cost
// breakdown, Pareto front, utilization), the page is self-contained, escaped and byte-identical
// across calls, large traces are binned, and bad input exits 2 naming the file.
#include <algorithm>
#include <filesystem>
#include <map>
#include <utility>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analysis/json_file.h"
#include "analysis/pareto.h"
#include "analysis/report.h"
#include "analysis/report_data.h"
#include "analysis/report_pages.h"
#include "analysis/report_svg.h"
#include "report_test_util.h"

namespace {

namespace fs = std::filesystem;
namespace an = geotrain::analysis;
namespace rp = geotrain::analysis::report;
using geotrain::testing::CliRun;
using geotrain::testing::read_file;
using geotrain::testing::run_geotrain;
using geotrain::testing::write_file;
using nlohmann::ordered_json;

fs::path fresh_dir() { return geotrain::testing::fresh_dir("geotrain_report"); }

// Every capture group 1 of `pattern` in `text`, in order.
std::vector<std::string> all_matches(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) out.push_back((*it)[1]);
  return out;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Runs `geotrain report DIR` and returns report.html's text (empty when the command failed).
std::string report_of(const fs::path& dir) {
  const CliRun run = run_geotrain("report '" + dir.string() + "'");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "wrote " + (dir / "report.html").string() + "\n");
  EXPECT_EQ(run.err, "");
  return read_file(dir / "report.html");
}

// ---------------------------------------------------------------------------------------------
// Pieces

TEST(ReportPieces, EscapeCoversHtmlAndAttributes) {
  EXPECT_EQ(rp::escape(R"(<a href="x">&'</a>)"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(rp::escape("plain · text"), "plain · text");
}

TEST(ReportPieces, NiceTicksAndNumberText) {
  const rp::Scale s = rp::make_scale({0.013, 0.71}, true, false, 0, 100);
  EXPECT_DOUBLE_EQ(s.lo, 0);
  EXPECT_DOUBLE_EQ(s.hi, 0.8);
  EXPECT_DOUBLE_EQ(s.step, 0.2);
  EXPECT_EQ(s.ticks().size(), 5u);
  EXPECT_EQ(s.tick_text(s.ticks()[3]), "0.6");
  EXPECT_DOUBLE_EQ(s(0.4), 50);
  const rp::Scale l = rp::make_scale({3, 4000}, false, true, 0, 300);
  EXPECT_DOUBLE_EQ(l.lo, 1);
  EXPECT_DOUBLE_EQ(l.hi, 10000);
  EXPECT_DOUBLE_EQ(l(100), 150);
  EXPECT_EQ(rp::usd_text(0.32), "$0.32");
  EXPECT_EQ(rp::usd_text(0.000174321), "$0.000174");
  EXPECT_EQ(rp::usd_text(1234.5), "$1234.50");
  EXPECT_EQ(rp::bytes_text(4e9), "4 GB");
  EXPECT_EQ(rp::bytes_text(143118000), "143 MB");
  EXPECT_EQ(rp::num(16.3484), "16.35");
}

TEST(ReportPieces, CsvHandlesQuotesCommasAndNewlines) {
  const auto rows = rp::parse_csv("a,b\r\n\"x,\"\"y\"\"\",\"two\nlines\"\n,\n", "f.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].cells, (std::vector<std::string>{"x,\"y\"", "two\nlines"}));
  EXPECT_EQ(rows[2].cells, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(rows[2].line, 4u);  // the quoted newline counts
  EXPECT_THROW(rp::parse_csv("a,\"b\n", "f.csv"), an::InputError);
  EXPECT_THROW(rp::parse_csv("a,\"b\"c\n", "f.csv"), an::InputError);
}

// ---------------------------------------------------------------------------------------------
// Run pages

TEST(ReportRun, CostBreakdownAndTrafficAreResultsJsonNumbers) {
  const fs::path run = geotrain::testing::make_size_only_run(fresh_dir());
  const std::string html = report_of(run);
  const auto results = an::read_json((run / "results.json").string());
  const auto compute = all_matches(html, R"re(data-kind="compute" data-usd="([^"]*)")re");
  ASSERT_EQ(compute.size(), 1u);
  EXPECT_EQ(std::stod(compute[0]), results["cost_usd"]["compute"].get<double>());  // round-trip text: exact
  // (src, dst) -> dollars of each egress bar, and (bytes, dollars) of each arrow, against results.json's links.
  std::map<std::pair<std::string, std::string>, double> bars, expected_bars;
  std::map<std::pair<std::string, std::string>, std::pair<double, double>> edges, expected_edges;
  for (const auto& l : results["links"]) {
    const std::pair<std::string, std::string> pair{l["src_region"], l["dst_region"]};
    expected_bars[pair] = l["egress_usd"].get<double>();
    if (pair.first != pair.second) expected_edges[pair] = {l["bytes"].get<double>(), l["egress_usd"].get<double>()};
  }
  const std::regex bar(R"re(data-kind="egress" data-src="([^"]*)" data-dst="([^"]*)" data-usd="([^"]*)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), bar); it != std::sregex_iterator(); ++it)
    bars[{(*it)[1], (*it)[2]}] = std::stod((*it)[3]);
  const std::regex edge(R"re(class="edge[^"]*" data-src="([^"]*)" data-dst="([^"]*)" data-bytes="([^"]*)" data-usd="([^"]*)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), edge); it != std::sregex_iterator(); ++it)
    edges[{(*it)[1], (*it)[2]}] = {std::stod((*it)[3]), std::stod((*it)[4])};
  EXPECT_EQ(bars, expected_bars);
  EXPECT_EQ(edges, expected_edges);
  ASSERT_FALSE(edges.empty());  // r0 <-> r1 carries the ring all-reduce
  EXPECT_NE(html.find("<td class=\"n\">" + rp::usd_text(results["cost_usd"]["total"].get<double>()) + "</td></tr></table>"),
            std::string::npos);
  EXPECT_NE(html.find("no evaluations in this run (size-only workload"), std::string::npos);
  EXPECT_NE(html.find("<title>geotrain report: run tiny</title>"), std::string::npos);
}

TEST(ReportRun, RealTrainingPlotsEveryEvaluationAndTheTarget) {
  const fs::path run = geotrain::testing::make_real_run(fresh_dir());
  const std::string html = report_of(run);
  const auto rows = rp::read_timeline((run / "timeline.csv").string());
  const auto evaluated = std::count_if(rows.begin(), rows.end(), [](const rp::TimelineRow& r) { return r.test_accuracy.has_value(); });
  ASSERT_GE(evaluated, 2);
  EXPECT_EQ(html.find("no evaluations"), std::string::npos);
  // Test loss and accuracy markers, against time and against dollars: four per evaluation.
  EXPECT_EQ(count(html, "<circle "), static_cast<std::size_t>(4 * evaluated + 4)) << "4 more: the four region dots";
  EXPECT_EQ(count(html, "target 80%"), 2u);  // the accuracy charts against time and dollars
  for (const char* label : {"simulated time (s)", "total cost so far ($)", "test accuracy (%)", "cost so far ($)"})
    EXPECT_NE(html.find(std::string(">") + rp::escape(label) + "<"), std::string::npos) << label;
}

TEST(ReportRun, SameFilesGiveTheSameBytesAndNothingLoadsFromOutside) {
  const fs::path dir = fresh_dir();
  const fs::path run = geotrain::testing::make_size_only_run(dir);
  const std::string first = report_of(run);
  const std::string second = report_of(run);
  EXPECT_EQ(first, second);
  for (const char* outside : {"http://", "https://", " src=", "href=", "url(", "@import", "//cdn"})
    EXPECT_EQ(first.find(outside), std::string::npos) << outside;
  EXPECT_EQ(first.find(dir.string()), std::string::npos) << "no absolute path in the page";
  EXPECT_NE(first.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
}

TEST(ReportRun, TextFromFilesIsEscaped) {
  const fs::path run = geotrain::testing::make_size_only_run(fresh_dir());
  auto results = an::read_json((run / "results.json").string());
  results["scenario"] = "<script>alert('x')</script>";
  results["links"][0]["src_region"] = "r0\" onload=\"bad";
  write_file(run / "results.json", results.dump(2));
  const std::string html = report_of(run);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("r0\" onload"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("r0&quot; onload=&quot;bad"), std::string::npos);
}

TEST(ReportRun, MissingOptionalFilesAreNamedOnThePage) {
  const fs::path run = geotrain::testing::make_size_only_run(fresh_dir());
  fs::remove(run / "timeline.csv");
  fs::remove(run / "trace.json");
  const std::string html = report_of(run);
  EXPECT_NE(html.find("no timeline.csv in this run folder"), std::string::npos);
  EXPECT_NE(html.find("no trace.json in this run folder"), std::string::npos);
  EXPECT_NE(html.find("data-kind=\"compute\""), std::string::npos);  // the rest of the page is there
}

// A trace too large to draw span by span: 60 tracks of 400 cycles of 2 s (0.5 s compute, 0.5 s
// exposed communication, 1 s idle), 800 s in all.
std::string big_trace() {
  std::string events;
  for (int t = 0; t < 60; ++t) {
    events += fmt::format("{}{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":{},\"args\":{{\"name\":\"w{}\"}}}}",
                          events.empty() ? "" : ",", t, t);
    for (int k = 0; k < 400; ++k)
      events += fmt::format(",{{\"name\":\"f\",\"cat\":\"compute\",\"ph\":\"X\",\"pid\":0,\"tid\":{0},\"ts\":{1},\"dur\":500000}}"
                            ",{{\"name\":\"a\",\"cat\":\"communication\",\"ph\":\"X\",\"pid\":0,\"tid\":{0},\"ts\":{2},\"dur\":500000}}",
                            t, k * 2000000, k * 2000000 + 500000);
  }
  return "{\"traceEvents\":[" + events + "]}";
}

TEST(ReportRun, LargeTracesAreBinnedWithinTheRectangleCap) {
  rp::Trace trace;
  const fs::path dir = fresh_dir();
  write_file(dir / "trace.json", big_trace());
  trace = rp::read_trace((dir / "trace.json").string());
  ASSERT_EQ(trace.tracks.size(), 60u);
  ASSERT_EQ(trace.spans.size(), 48000u);
  EXPECT_DOUBLE_EQ(trace.spans[1].start_s, 0.5);
  const std::string html = rp::utilization_html(trace, 800);
  const std::size_t drawn = count(html, "<rect ");
  EXPECT_LE(drawn, rp::kMaxTimelineRects + rp::kMaxTimelineTracks);  // + one idle band per track
  EXPECT_NE(html.find("Showing the first 48 of 60 tracks."), std::string::npos);
  EXPECT_NE(html.find("48000 spans"), std::string::npos);
  EXPECT_NE(html.find("bins of"), std::string::npos);
  EXPECT_NE(html.find("w0 · 25% compute"), std::string::npos);  // 400 x 0.5 s of 800 s
  EXPECT_NE(html.find("exposed communication 200 s (25%)"), std::string::npos);
  EXPECT_LT(html.size(), 600000u);
}

// ---------------------------------------------------------------------------------------------
// Sweep pages

TEST(ReportSweep, RingedPointsAreExactlyThoseOfParetoCsv) {
  const fs::path sweep = geotrain::testing::make_sweep(fresh_dir());
  const std::string html = report_of(sweep);
  std::vector<std::string> front;
  for (const auto& r : rp::parse_csv(read_file(sweep / "pareto.csv"), "pareto.csv")) front.push_back(r.cells[0]);
  front.erase(front.begin());  // header
  ASSERT_GE(front.size(), 2u);
  EXPECT_EQ(all_matches(html, R"re(class="pareto" data-point="([^"]*)")re"), front);
  // Each strategy's line runs through its own front (throughput maximized, dollars minimized): one
  // polyline per strategy whose own front has two points or more, plus the sweep front's dashed line.
  const auto rows = rp::read_sweep_csv((sweep / "sweep.csv").string()).rows;
  std::map<std::string, std::vector<std::pair<double, double>>> by_strategy;
  for (const auto& row : rows) {
    const auto results = an::read_json((sweep / "points" / row.id / "results.json").string());
    by_strategy[rp::strategy_label(results["strategy"])].emplace_back(*an::metric(row, "total_usd"),
                                                                      -*an::metric(row, "throughput_samples_per_s"));
  }
  ASSERT_EQ(by_strategy.size(), 3u);
  std::size_t lines = 0;
  for (const auto& [label, points] : by_strategy) lines += an::pareto_front(points).size() >= 2;
  EXPECT_EQ(count(html, "<polyline class=\"line\""), lines);
  EXPECT_EQ(count(html, "<polyline class=\"line dash\""), 1u);
  EXPECT_EQ(count(html, "<circle "), rows.size() + front.size());  // every point, and a ring per front point
  for (const char* strategy : {">ddp/ring<", ">ddp/tree<", ">diloco<"}) EXPECT_NE(html.find(strategy), std::string::npos) << strategy;
  EXPECT_NE(html.find(">total cost ($)<"), std::string::npos);
  EXPECT_NE(html.find(">throughput (samples/s), higher is better<"), std::string::npos);
  EXPECT_EQ(count(html, "<tr class=\"front\">"), 2 * front.size());  // in the front table and among all points
  EXPECT_EQ(report_of(sweep), html);
  EXPECT_EQ(html.find("http:"), std::string::npos);
  EXPECT_EQ(html.find("https:"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Bad input: exit 2, one line naming the file (and path or line), the value and what is allowed

void expect_bad_input(const fs::path& dir, const std::string& message) {
  const CliRun run = run_geotrain("report '" + dir.string() + "'");
  EXPECT_EQ(run.exit_code, 2) << run.out << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err.rfind("geotrain: bad input: ", 0), 0u) << run.err;
  EXPECT_NE(run.err.find(message), std::string::npos) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_FALSE(fs::exists(dir / "report.html"));
}

TEST(ReportCli, BadRunFolderExitsTwoNamingTheFile) {
  const fs::path dir = fresh_dir();
  expect_bad_input(dir / "absent", (dir / "absent").string() + ": no such folder");
  expect_bad_input(dir, dir.string() + ": holds no results: expected results.json (a run folder) or sweep.csv");
  const fs::path run = geotrain::testing::make_size_only_run(dir);
  const std::string results = read_file(run / "results.json"), timeline = read_file(run / "timeline.csv");
  write_file(run / "results.json", "{\"scenario\": ");
  expect_bad_input(run, (run / "results.json").string() + ": malformed JSON at byte");
  auto doc = ordered_json::parse(results);
  doc["cost_usd"]["total"] = "lots";
  write_file(run / "results.json", doc.dump());
  expect_bad_input(run, (run / "results.json").string() + ": /cost_usd/total: lots: expected a number");
  doc = ordered_json::parse(results);
  doc["links"][0].erase("bytes");
  write_file(run / "results.json", doc.dump());
  expect_bad_input(run, "results.json: /links/0/bytes: missing: expected a number");
  write_file(run / "results.json", results);
  std::string bad_timeline = timeline;
  bad_timeline.replace(bad_timeline.find('\n') + 1, bad_timeline.find(',', bad_timeline.find('\n')) - bad_timeline.find('\n'), "x,");
  write_file(run / "timeline.csv", bad_timeline);
  expect_bad_input(run, (run / "timeline.csv").string() + ": line 2, column step: \"x\": expected a number");
  write_file(run / "timeline.csv", timeline);
  write_file(run / "trace.json", R"({"traceEvents": [{"ph": "X", "cat": "compute", "tid": 0, "ts": 0, "dur": -1}]})");
  expect_bad_input(run, (run / "trace.json").string() + ": /traceEvents/0/dur: -1: expected a number >= 0 (microseconds)");
}

TEST(ReportCli, BadSweepFolderExitsTwoNamingTheFile) {
  const fs::path sweep = geotrain::testing::make_sweep(fresh_dir());
  const std::string csv = read_file(sweep / "sweep.csv"), pareto = read_file(sweep / "pareto.csv");
  write_file(sweep / "pareto.csv", csv.substr(0, csv.find('\n') + 1) + "p9999-00000000,a,b,1,4,1,,,1,1,1,,,4,0,0\n");
  expect_bad_input(sweep, (sweep / "pareto.csv").string() + ": column point: p9999-00000000: expected a point of sweep.csv");
  write_file(sweep / "pareto.csv", pareto);
  write_file(sweep / "sweep.csv", "point,throughput\np1,2\n");
  expect_bad_input(sweep, (sweep / "sweep.csv").string() + ": line 1: [\"point\",\"throughput\"]: expected the header point,");
  write_file(sweep / "sweep.csv", csv + "p7,\"unterminated\n");
  expect_bad_input(sweep, (sweep / "sweep.csv").string() + ": line 14: unterminated quoted cell");
  fs::remove(sweep / "sweep.csv");
  expect_bad_input(sweep, (sweep / "sweep.csv").string() + ": missing: a sweep folder needs sweep.csv");
}

TEST(ReportSweep, WithoutParetoCsvTheFrontIsComputedAndSaidSo) {
  const fs::path sweep = geotrain::testing::make_sweep(fresh_dir());
  std::vector<std::string> front;
  for (const auto& r : rp::parse_csv(read_file(sweep / "pareto.csv"), "pareto.csv")) front.push_back(r.cells[0]);
  front.erase(front.begin());
  fs::remove(sweep / "pareto.csv");
  const std::string html = report_of(sweep);
  EXPECT_NE(html.find("No pareto.csv in this folder: the front was computed from sweep.csv."), std::string::npos);
  EXPECT_EQ(all_matches(html, R"re(class="pareto" data-point="([^"]*)")re"), front);
}

}  // namespace
