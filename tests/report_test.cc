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
  EXPECT_EQ(rp::usd_text(1234.5), "$1,234.50");
  EXPECT_EQ(rp::bytes_text(4e9), "4 GB");
  EXPECT_EQ(rp::bytes_text(143118000), "143 MB");
  EXPECT_EQ(rp::num(16.3484), "16.35");
}

TEST(ReportPieces, ThousandsSeparatorsAndHours) {
  EXPECT_EQ(rp::thousands("1234567"), "1,234,567");
  EXPECT_EQ(rp::thousands("-1000.25"), "-1,000.25");
  EXPECT_EQ(rp::thousands("999.5"), "999.5");
  EXPECT_EQ(rp::thousands("-123"), "-123");
  EXPECT_EQ(rp::num(1234567), "1,234,567");
  EXPECT_EQ(rp::num(-12345.6), "-12,346");
  EXPECT_EQ(rp::num(1234.5678), "1,235");
  EXPECT_EQ(rp::num(999.94), "999.9");
  EXPECT_EQ(rp::num(0.012345), "0.01235");
  EXPECT_EQ(rp::num(2.5e9), "2.500e+09");
  EXPECT_EQ(rp::usd_text(1234567.891), "$1,234,567.89");
  EXPECT_EQ(rp::usd_text(999.999), "$1,000.00");
  // Simulated times: seconds up to 2 h, hours above.
  EXPECT_STREQ(rp::time_unit(7200).name, "s");
  EXPECT_STREQ(rp::time_unit(7200.5).name, "h");
  EXPECT_DOUBLE_EQ(rp::time_unit(1e6).seconds, 3600);
  EXPECT_EQ(rp::duration_text(59.5), "59.5 s");
  EXPECT_EQ(rp::duration_text(7200), "7,200 s");
  EXPECT_EQ(rp::duration_text(9000), "2.5 h");
  EXPECT_EQ(rp::duration_text(172800), "48 h");
  // Tick labels of a linear axis in the millions.
  const rp::Scale m = rp::make_scale({0, 1.9e6}, true, false, 0, 100);
  EXPECT_DOUBLE_EQ(m.step, 5e5);
  EXPECT_EQ(m.tick_text(1.5e6), "1,500,000");
  EXPECT_EQ(rp::shortened("us-central1:0 · 5% compute", 9), "us-centr…");
  EXPECT_EQ(rp::shortened("short", 9), "short");
}

// The x of each tick label of the y axis (text-anchor end) and its text, in a chart's SVG.
std::vector<std::pair<double, std::string>> y_tick_labels(const std::string& html) {
  std::vector<std::pair<double, std::string>> ticks;
  const std::regex tick(R"re(<text class="tick" x="([0-9.]+)" y="[0-9.]+" text-anchor="end">([^<]*)</text>)re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tick); it != std::sregex_iterator(); ++it)
    ticks.emplace_back(std::stod((*it)[1]), (*it)[2]);
  return ticks;
}

TEST(ReportPieces, AxisLabelsStayClearOfTickLabels) {
  for (const double top : {1.0, 950.0, 1.9e6, 4.2e8}) {
    rp::Chart chart = rp::chart_of("big numbers", "simulated time (s)", "samples trained (samples)");
    rp::Series s = rp::series_of("samples", rp::colour(0));
    s.points = {{0, 0}, {1e6, top}};
    chart.series = {s};
    const std::string html = rp::chart_html(chart);
    const auto ticks = y_tick_labels(html);
    ASSERT_GE(ticks.size(), 2u) << top;
    // The y label is rotated about x=14: at 12px its glyphs reach x=22.  A tick label of the 11px
    // tick font is at most 6.6 px per character wide; it must start right of that.
    EXPECT_NE(html.find("transform=\"translate(14.0,"), std::string::npos);
    for (const auto& [x, text] : ticks) EXPECT_GE(x - 6.6 * static_cast<double>(text.size()), 22.0) << text;
    // The last x tick label (centred on its tick) ends inside the 520-unit chart.
    const std::regex x_tick(R"re(<text class="tick" x="([0-9.]+)" y="[0-9.]+" text-anchor="middle">([^<]*)</text>)re");
    std::smatch last;
    for (auto it = std::sregex_iterator(html.begin(), html.end(), x_tick); it != std::sregex_iterator(); ++it) last = *it;
    ASSERT_FALSE(last.empty());
    EXPECT_LE(std::stod(last[1]) + 3.3 * static_cast<double>(last[2].str().size()), 520.0) << last[2];
  }
}

TEST(ReportPieces, LongWorkerNamesAreNotClipped) {
  rp::Trace trace;
  trace.tracks = {"asia-northeast1-tokyo-zone-b:12", "w1"};
  trace.spans = {{0, rp::Activity::compute, 0, 1}, {1, rp::Activity::communication, 1, 2}};
  const std::string html = rp::utilization_html(trace, 10000);
  const std::regex label(R"re(<text class="label" x="([0-9.]+)" y="[0-9.]+" text-anchor="end"><title>([^<]*)</title>([^<]*)</text>)re");
  std::size_t labels = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), label); it != std::sregex_iterator(); ++it, ++labels) {
    EXPECT_EQ((*it)[3], (*it)[2]) << "short enough to show whole";
    std::string text = std::regex_replace((*it)[3].str(), std::regex("&lt;"), "<");
    const auto chars = std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
    EXPECT_GE(std::stod((*it)[1]) - 7.0 * static_cast<double>(chars), 0.0) << text;  // 12px: < 7 px a character
  }
  EXPECT_EQ(labels, 2u);
  EXPECT_NE(html.find("asia-northeast1-tokyo-zone-b:12 · &lt;0.1% compute"), std::string::npos);
  EXPECT_NE(html.find(">simulated time (h)<"), std::string::npos);  // 10,000 s > 2 h
  EXPECT_NE(html.find("text-anchor=\"middle\">3</text>"), std::string::npos);  // 2.8 h: ticks 0 to 3 h
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

// A zone outage takes r1's two spot workers down at 2 s: the page plots the workers alive, a step
// line through timeline.csv's alive_workers (4, then 2).
TEST(ReportRun, FaultRunPlotsTheWorkersAlive) {
  const fs::path dir = fresh_dir();
  auto scenario = nlohmann::json::parse(geotrain::testing::kTinyScenario);
  scenario["fleet"][1]["pricing"] = "spot";
  scenario["workload"]["steps"] = 40;
  scenario["faults"] = {{"zone_outages", {{{"region", "r1"}, {"at_s", 2}, {"duration_s", 600}}}}};
  write_file(dir / "faulty.json", scenario.dump());
  const CliRun run = run_geotrain("run faulty.json --out faulty --quiet", dir);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto rows = rp::read_timeline((dir / "faulty" / "timeline.csv").string());
  std::vector<double> alive;
  std::size_t changes = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ASSERT_TRUE(rows[i].alive_workers.has_value());
    alive.push_back(*rows[i].alive_workers);
    changes += i > 0 && alive[i] != alive[i - 1];
  }
  EXPECT_EQ(*std::max_element(alive.begin(), alive.end()), 4);
  EXPECT_EQ(*std::min_element(alive.begin(), alive.end()), 2);
  const std::string html = report_of(dir / "faulty");
  const auto at = html.find("<figcaption>Workers alive vs simulated time</figcaption>");
  ASSERT_NE(at, std::string::npos);
  const std::string figure = html.substr(at, html.find("</figure>", at) - at);
  EXPECT_NE(figure.find("workers alive (timeline.csv rows)"), std::string::npos);
  EXPECT_NE(figure.find(">workers alive (workers)<"), std::string::npos);
  const auto points = all_matches(figure, R"re(<polyline class="line" stroke="[^"]*" points="([^"]*)")re");
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(static_cast<std::size_t>(std::count(points[0].begin(), points[0].end(), ' ')) + 1, rows.size() + changes);  // a step per change
  EXPECT_NE(figure.find("preemptions in this run (results.json faults)."), std::string::npos);
  // A run without faults whose count never changes has no such chart.
  EXPECT_EQ(report_of(geotrain::testing::make_size_only_run(dir)).find("Workers alive"), std::string::npos);
}

// The faults section: every fault event of results.json is a row, the dollars lost by cause are
// results.json's (their sum is wasted_usd), and a replica set's folder shows the spread.
TEST(ReportRun, FaultsSectionListsEveryEventAndTheWasteByCause) {
  const fs::path dir = fresh_dir();
  auto scenario = nlohmann::json::parse(geotrain::testing::kTinyScenario);
  scenario["fleet"][1]["pricing"] = "spot";
  scenario["workload"]["steps"] = 40;
  scenario["faults"] = {{"zone_outages", {{{"region", "r1"}, {"at_s", 2}, {"duration_s", 5}}}}};
  write_file(dir / "faulty.json", scenario.dump());
  ASSERT_EQ(run_geotrain("run faulty.json --out faulty --quiet", dir).exit_code, 0);
  const auto results = an::read_json((dir / "faulty" / "results.json").string());
  const auto& f = results["faults"];
  const double lost = f["wasted_usd_by_cause"]["lost_work"].get<double>();
  const double boot = f["wasted_usd_by_cause"]["boot_and_state_reload"].get<double>();
  EXPECT_GT(boot, 0);  // the zone's workers came back and booted
  EXPECT_NEAR(lost + boot, f["wasted_usd"].get<double>(), 1e-15);
  const std::string html = report_of(dir / "faulty");
  const auto at = html.find("<h2>Faults and spot</h2>");
  ASSERT_NE(at, std::string::npos);
  const std::string section = html.substr(at, html.find("<h2>", at + 1) - at);
  EXPECT_EQ(count(section, "<tr data-event="), f["events"].size());
  EXPECT_EQ(count(section, "<tr data-event=\"preempted\">"), 2u);
  EXPECT_NE(section.find("boot and state reload: " + rp::usd_text(boot)), std::string::npos) << section;
  EXPECT_NE(section.find("lost work (compute redone): " + rp::usd_text(lost)), std::string::npos);
  // A replica set: draw 0's page with the spread over the draws.
  ASSERT_EQ(run_geotrain("run faulty.json --out set --replicas 3 --quiet", dir).exit_code, 0);
  const std::string set = report_of(dir / "set");
  EXPECT_NE(set.find("Over 3 draws of the fault process"), std::string::npos);
  const auto summary = an::read_json((dir / "set" / "replicas.json").string());
  EXPECT_NE(set.find("<tr><td>simulated_s</td><td class=\"n\">" + rp::num(summary["summary"]["simulated_s"]["mean"].get<double>())),
            std::string::npos);
  // A run without faults, prices or replicas has no such section.
  EXPECT_EQ(report_of(geotrain::testing::make_size_only_run(dir)).find("Faults and spot"), std::string::npos);
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

// A capped trace (output.trace_max_spans): an aggregate of spans counts its busy seconds, not its
// extent, and the page says the trace aggregates.  One kept span of 1 s, then an aggregate over
// [2, 10] s of 100 spans that computed 2 s in all: 3 s of compute in 10 s.
TEST(ReportRun, AggregatedSpansCountTheirBusyTime) {
  const fs::path dir = fresh_dir();
  write_file(dir / "trace.json",
             R"({"traceEvents":[{"name":"thread_name","ph":"M","pid":0,"tid":0,"args":{"name":"w0"}},)"
             R"({"name":"f","cat":"compute","ph":"X","pid":0,"tid":0,"ts":0,"dur":1000000},)"
             R"({"name":"f x100","cat":"compute","ph":"X","pid":0,"tid":0,"ts":2000000,"dur":8000000,)"
             R"("args":{"spans":100,"busy_s":2.0}}]})");
  const rp::Trace trace = rp::read_trace((dir / "trace.json").string());
  ASSERT_EQ(trace.spans.size(), 2u);
  EXPECT_FALSE(trace.spans[0].aggregate());
  EXPECT_TRUE(trace.spans[1].aggregate());
  const std::string html = rp::utilization_html(trace, 10);
  EXPECT_NE(html.find("w0 · 30% compute"), std::string::npos) << html.substr(0, 2000);
  EXPECT_NE(html.find("aggregates the spans past its cap"), std::string::npos);
  write_file(dir / "trace.json",
             R"({"traceEvents":[{"name":"f","cat":"compute","ph":"X","pid":0,"tid":0,"ts":0,"dur":1000000,)"
             R"("args":{"busy_s":2.0}}]})");
  EXPECT_THROW(rp::read_trace((dir / "trace.json").string()), an::InputError);
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
  // An event named by something other than a string is not a thread name: skipped (fuzz finding).
  write_file(run / "trace.json", R"({"traceEvents": [{"ph": "M", "name": {"name": "r1:1"}, "tid": 3},
                                                    {"ph": "X", "cat": "compute", "tid": 0, "ts": 0, "dur": -1}]})");
  expect_bad_input(run, (run / "trace.json").string() + ": /traceEvents/1/dur: -1: expected a number >= 0 (microseconds)");
}

TEST(ReportCli, BadSweepFolderExitsTwoNamingTheFile) {
  const fs::path sweep = geotrain::testing::make_sweep(fresh_dir());
  const std::string csv = read_file(sweep / "sweep.csv"), pareto = read_file(sweep / "pareto.csv");
  write_file(sweep / "pareto.csv", csv.substr(0, csv.find('\n') + 1) + "p9999-00000000,a,b,1,4,1,2,,,1,1,1,,,4,0,0\n");
  expect_bad_input(sweep, (sweep / "pareto.csv").string() + ": column point: p9999-00000000: expected a point of sweep.csv");
  write_file(sweep / "pareto.csv", pareto);
  write_file(sweep / "sweep.csv", "point,throughput\np1,2\n");
  expect_bad_input(sweep, (sweep / "sweep.csv").string() + ": line 1: [\"point\",\"throughput\"]: expected the header point,");
  write_file(sweep / "sweep.csv", csv + "p7,\"unterminated\n");
  expect_bad_input(sweep, (sweep / "sweep.csv").string() + ": line 14: unterminated quoted cell");
  fs::remove(sweep / "sweep.csv");
  expect_bad_input(sweep, (sweep / "sweep.csv").string() + ": missing: a sweep folder needs sweep.csv");
}

// Labels of the sweep file name the values in sweep.csv, the legend and the tables; unlabelled
// variants of one strategy are told apart by the knob that differs (H).
TEST(ReportSweep, LabelsAndDifferingKnobsNameTheSeries) {
  const fs::path dir = fresh_dir();
  write_file(dir / "tiny.json", geotrain::testing::kTinyScenario);
  write_file(dir / "sweep.json", R"({"base": "tiny.json", "grid": {
    "/strategy": [{"label": "DDP ring", "value": {"name": "ddp", "allreduce": "ring"}}, {"name": "diloco", "H": 2},
                  {"name": "diloco", "H": 4}],
    "/fleet/0/count": [{"label": "one in r0", "value": 1}, 2], "/workload/steps": [4]}})");
  const CliRun run = run_geotrain("sweep sweep.json --out sweep --jobs 2", dir);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const auto csv = rp::read_sweep_csv((dir / "sweep" / "sweep.csv").string());
  ASSERT_EQ(csv.rows.size(), 6u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"DDP ring", "one in r0"}, {"DDP ring", "2"}, {R"({"name":"diloco","H":2})", "one in r0"},
      {R"({"name":"diloco","H":2})", "2"}, {R"({"name":"diloco","H":4})", "one in r0"}, {R"({"name":"diloco","H":4})", "2"}};
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(csv.rows[i].axes["/strategy"], expected[i].first) << i;
    EXPECT_EQ(csv.rows[i].axes["/fleet/0/count"], expected[i].second) << i;
    const auto record = an::read_json((dir / "sweep" / "points" / csv.rows[i].id / "point.json").string());
    EXPECT_EQ(record["axes"]["/fleet/0/count"], i % 2 == 0 ? 1 : 2);  // point.json keeps the value, and the labels
    EXPECT_EQ(record.contains("labels"), i < 2 || i % 2 == 0) << i;
  }
  const std::string html = report_of(dir / "sweep");
  for (const char* series : {"DDP ring", "diloco H=2", "diloco H=4"})
    EXPECT_NE(html.find(std::string("</i>") + series + "</span>"), std::string::npos) << series;  // the legend
  EXPECT_EQ(html.find("</i>diloco</span>"), std::string::npos);
  EXPECT_NE(html.find("<td>diloco H=4</td>"), std::string::npos);        // the tables' strategy column
  EXPECT_NE(html.find("/fleet/0/count=one in r0"), std::string::npos);   // the tables' axes column
  // Relabelling reuses every point and rewrites the labels.
  write_file(dir / "sweep.json", R"({"base": "tiny.json", "grid": {
    "/strategy": [{"label": "ring all-reduce", "value": {"name": "ddp", "allreduce": "ring"}}, {"name": "diloco", "H": 2},
                  {"name": "diloco", "H": 4}],
    "/fleet/0/count": [1, 2], "/workload/steps": [4]}})");
  const CliRun again = run_geotrain("sweep sweep.json --out sweep --jobs 2", dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("6 points: 0 run, 6 reused"), std::string::npos) << again.out;
  const auto relabelled = rp::read_sweep_csv((dir / "sweep" / "sweep.csv").string());
  EXPECT_EQ(relabelled.rows[0].axes["/strategy"], "ring all-reduce");
  EXPECT_EQ(relabelled.rows[0].axes["/fleet/0/count"], "1");
  EXPECT_NE(report_of(dir / "sweep").find("</i>ring all-reduce</span>"), std::string::npos);
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
