// Tests of geotrain_analysis and of the `sweep` and `check` commands: grid expansion and point
// ids, Pareto fronts on hand-made points, tolerances, JUnit XML, and end-to-end sweeps with resume.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cli_test_util.h"
#include <nlohmann/json.hpp>

#include "analysis/check.h"
#include "analysis/compare.h"
#include "analysis/json_file.h"
#include "analysis/pareto.h"
#include "analysis/replicas.h"
#include "analysis/report_svg.h"
#include "analysis/sweep_plan.h"
#include "analysis/sweep_table.h"
#include "sim/scenario.h"

namespace {

namespace fs = std::filesystem;
namespace an = geotrain::analysis;
using nlohmann::json;
using nlohmann::ordered_json;

using geotrain::testing::kTinyScenario;

using geotrain::testing::read_file;
using geotrain::testing::write_file;
fs::path fresh_dir() { return geotrain::testing::fresh_dir("geotrain_analysis"); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> split_csv_simple(const std::string& line) {  // no quoted cells in these tests
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

using Cli = geotrain::testing::CliRun;

// Runs `geotrain ARGS` in `dir`, capturing stdout and stderr separately.
Cli geotrain(const fs::path& dir, const std::string& args) { return geotrain::testing::run_geotrain(args, dir); }

// ---------------------------------------------------------------------------------------------
// Sweep plans

an::SweepPlan plan_of(const std::string& sweep_text, const std::string& file = "sweep.json") {
  return an::parse_sweep(ordered_json::parse(sweep_text), file);
}

std::string tiny_sweep(const std::string& axes_key, const std::string& axes_json) {
  return std::string("{\"base\": ") + kTinyScenario + ", \"" + axes_key + "\": " + axes_json + "}";
}

TEST(Sweep, GridIsTheCartesianProductWithTheLastAxisFastest) {
  const auto plan = plan_of(tiny_sweep("grid", R"({"/strategy/allreduce": ["ring", "tree"], "/workload/steps": [1, 2, 3]})"));
  ASSERT_EQ(plan.points.size(), 6u);
  EXPECT_EQ(plan.axis_pointers, (std::vector<std::string>{"/strategy/allreduce", "/workload/steps"}));
  EXPECT_EQ(plan.name, "sweep");
  const std::vector<std::pair<std::string, int>> expected = {{"ring", 1}, {"ring", 2}, {"ring", 3},
                                                             {"tree", 1}, {"tree", 2}, {"tree", 3}};
  std::set<std::string> ids;
  for (std::size_t i = 0; i < 6; ++i) {
    const auto& p = plan.points[i];
    EXPECT_EQ(p.index, i);
    EXPECT_EQ(p.axes["/strategy/allreduce"], expected[i].first);
    EXPECT_EQ(p.axes["/workload/steps"], expected[i].second);
    EXPECT_EQ(p.scenario["strategy"]["allreduce"], expected[i].first);  // the axis is applied
    EXPECT_EQ(p.scenario["workload"]["steps"], expected[i].second);
    EXPECT_EQ(p.scenario["fleet"][1]["region"], "r1");                  // the rest is the base
    EXPECT_TRUE(std::regex_match(p.id, std::regex("p000" + std::to_string(i) + "-[0-9a-f]{8}"))) << p.id;
    ids.insert(p.id);
  }
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(plan.base_file, "sweep.json");  // inline base: relative paths start at the sweep file
}

TEST(Sweep, PointIdsDependOnIndexAndAxesOnly) {
  // FNV-1a 64 test vector (Fowler/Noll/Vo): "a" -> af63dc4c8601ec8c.
  EXPECT_EQ(an::fnv1a_64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(an::hash_hex(""), "efd01f60ba992926");  // fmix64(FNV offset basis)
  EXPECT_EQ(an::point_id(3, 10, ordered_json{{"/seed", 3}}), "p0003-fcbb08aa");
  const ordered_json ab = {{"/a", 1}, {"/b", "x"}}, ba = {{"/b", "x"}, {"/a", 1}}, changed = {{"/a", 2}, {"/b", "x"}};
  EXPECT_EQ(an::point_id(3, 10, ab), an::point_id(3, 10, ba));  // axis order does not matter
  EXPECT_NE(an::point_id(3, 10, ab), an::point_id(3, 10, changed));
  EXPECT_EQ(an::point_id(3, 10, ab).substr(0, 6), "p0003-");
  EXPECT_EQ(an::point_id(12345, 20000, ab).substr(0, 7), "p12345-");
  EXPECT_EQ(an::point_id(42, 100000, ab).substr(0, 7), "p00042-");
  // The same sweep parsed twice gives the same ids; a changed value changes only its points' ids.
  const auto a = plan_of(tiny_sweep("grid", R"({"/seed": [1, 2, 3]})"));
  const auto b = plan_of(tiny_sweep("grid", R"({"/seed": [1, 5, 3]})"));
  EXPECT_EQ(a.points[0].id, b.points[0].id);
  EXPECT_NE(a.points[1].id, b.points[1].id);
  EXPECT_EQ(a.points[2].id, b.points[2].id);
}

TEST(Sweep, ScenarioHashFollowsTheBaseButNotTheIds) {
  const auto a = plan_of(tiny_sweep("grid", R"({"/seed": [1, 2]})"));
  json base = json::parse(kTinyScenario);
  base["workload"]["batch_per_worker"] = 16;
  const auto b = an::parse_sweep(ordered_json{{"base", base}, {"grid", {{"/seed", {1, 2}}}}}, "sweep.json");
  EXPECT_EQ(a.points[1].id, b.points[1].id);
  EXPECT_NE(an::scenario_hash(a.points[1].scenario, a.base_file), an::scenario_hash(b.points[1].scenario, b.base_file));
  EXPECT_EQ(an::scenario_hash(a.points[1].scenario, a.base_file), an::scenario_hash(a.points[1].scenario, a.base_file));
}

TEST(Sweep, ListPointsTakeTheUnionOfTheirAxes) {
  const auto plan = plan_of(tiny_sweep("list", R"([{"/seed": 1}, {"/seed": 2, "/strategy/allreduce": "tree"}, {}])"));
  ASSERT_EQ(plan.points.size(), 3u);
  EXPECT_EQ(plan.axis_pointers, (std::vector<std::string>{"/seed", "/strategy/allreduce"}));
  EXPECT_EQ(plan.points[0].scenario["strategy"]["allreduce"], "ring");
  EXPECT_EQ(plan.points[1].scenario["strategy"]["allreduce"], "tree");
  EXPECT_EQ(plan.points[1].scenario["seed"], 2);
  EXPECT_EQ(plan.points[2].scenario, json::parse(kTinyScenario));  // {}: the base itself
  EXPECT_EQ(an::axes_text(plan.points[1].axes), "/seed=2, /strategy/allreduce=\"tree\"");
}

TEST(Sweep, SetPointerCreatesObjectMembersButNotArrayEntries) {
  json doc = json::parse(kTinyScenario);
  EXPECT_EQ(an::set_pointer(doc, "/network/parallel_streams", 4), "");
  EXPECT_EQ(doc["network"]["parallel_streams"], 4);
  EXPECT_EQ(an::set_pointer(doc, "/fleet/1/count", 9), "");
  EXPECT_EQ(doc["fleet"][1]["count"], 9);
  EXPECT_EQ(an::set_pointer(doc, "/fleet/2/count", 1), "/fleet is an array of 2 entries; \"2\" is not an index of it");
  EXPECT_EQ(an::set_pointer(doc, "/fleet/01/count", 1), "/fleet is an array of 2 entries; \"01\" is not an index of it");
  EXPECT_EQ(an::set_pointer(doc, "/seed/x", 1), "/seed is a number, not an object or an array");
  EXPECT_NE(an::set_pointer(doc, "seed", 1).find("starting with '/'"), std::string::npos);
  EXPECT_EQ(doc["seed"], 7);  // failed sets change nothing they did not reach
}

TEST(Sweep, LabelledValuesNameTheirValuesButKeepTheIds) {
  const auto plain = plan_of(tiny_sweep("grid", R"({"/strategy": [{"name": "diloco", "H": 100}, {"name": "diloco", "H": 500}],
                                                  "/seed": [1, 2]})"));
  const auto named = plan_of(tiny_sweep("grid", R"({"/strategy": [{"label": "DiLoCo H=100", "value": {"name": "diloco", "H": 100}},
                                                                  {"name": "diloco", "H": 500}],
                                                  "/seed": [{"label": "seed one", "value": 1}, 2]})"));
  ASSERT_EQ(named.points.size(), 4u);
  EXPECT_EQ(named.axis_pointers, plain.axis_pointers);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(named.points[i].id, plain.points[i].id);  // labels are for people: a relabelled point is the same point
    EXPECT_EQ(named.points[i].axes, plain.points[i].axes);
    EXPECT_EQ(named.points[i].scenario, plain.points[i].scenario);
  }
  EXPECT_EQ(named.points[0].scenario["strategy"], json({{"name", "diloco"}, {"H", 100}}));  // the value, unwrapped
  EXPECT_EQ(named.points[0].labels, (ordered_json{{"/strategy", "DiLoCo H=100"}, {"/seed", "seed one"}}));
  EXPECT_EQ(named.points[1].labels, (ordered_json{{"/strategy", "DiLoCo H=100"}}));
  EXPECT_EQ(named.points[3].labels, ordered_json::object());
  // As sweep.csv shows them: the label where there is one, else the value.
  EXPECT_EQ(an::shown_axes(named.points[1]), (ordered_json{{"/strategy", "DiLoCo H=100"}, {"/seed", 2}}));
  EXPECT_EQ(an::shown_axes(named.points[2]), (ordered_json{{"/strategy", {{"name", "diloco"}, {"H", 500}}}, {"/seed", "seed one"}}));
  // In a list too; an object with other keys than exactly label and value is a plain value.
  const auto list = plan_of(tiny_sweep("list", R"([{"/seed": {"label": "s7", "value": 7}}, {"/network": {"label": "x", "fidelity": "message"}}])"));
  EXPECT_EQ(list.points[0].scenario["seed"], 7);
  EXPECT_EQ(list.points[0].labels, (ordered_json{{"/seed", "s7"}}));
  EXPECT_EQ(list.points[1].labels, ordered_json::object());
  EXPECT_EQ(list.points[1].scenario["network"]["label"], "x");  // left for the scenario's validation to refuse
}

TEST(Sweep, BadSweepFilesNameTheFileAndThePath) {
  auto message = [](const std::string& text) {
    try {
      plan_of(text, "dir/s.json");
    } catch (const an::InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message(tiny_sweep("grid", R"({"/seed": []})")), "dir/s.json: /grid/~1seed: []: expected a non-empty array of values");
  EXPECT_EQ(message(R"({"base": {}, "grids": {}})"), "dir/s.json: /grids: unknown key; allowed: name, description, base, grid, list, replicas");
  EXPECT_EQ(message(R"({"base": {}, "grid": {"/seed": [1]}, "list": [{}]})"),
            "dir/s.json: expected exactly one of \"grid\" (a Cartesian product) or \"list\" (explicit points)");
  EXPECT_EQ(message(R"({"grid": {"/seed": [1]}})"), "dir/s.json: /base: required: a scenario file path or an inline scenario object");
  EXPECT_EQ(message(R"({"base": "nope.json", "grid": {"/seed": [1]}})"),
            "dir/s.json: /base: nope.json: no such scenario file (dir/nope.json; relative paths start at the sweep file's folder)");
  EXPECT_EQ(message(tiny_sweep("grid", R"({"/seed": [{"label": "", "value": 1}]})")),
            "dir/s.json: /grid/~1seed/0/label: \"\": expected a non-empty string (the value's label)");
  EXPECT_EQ(message(tiny_sweep("grid", R"({"/seed": [{"label": "a", "value": 1}, {"label": "a", "value": 2}]})")),
            "dir/s.json: /grid/~1seed/1/label: \"a\": expected a label this axis does not use yet");
  EXPECT_EQ(message(tiny_sweep("list", R"([{"/seed": {"label": 3, "value": 1}}])")),
            "dir/s.json: /list/0/~1seed/label: 3: expected a non-empty string (the value's label)");
  const std::string bad_index = message(tiny_sweep("grid", R"({"/fleet/3/count": [1]})"));
  EXPECT_NE(bad_index.find("dir/s.json: point p0000-"), std::string::npos) << bad_index;
  EXPECT_NE(bad_index.find("(/fleet/3/count=1)"), std::string::npos) << bad_index;
  EXPECT_NE(bad_index.find("/fleet is an array of 2 entries"), std::string::npos) << bad_index;
}

TEST(Sweep, BaseFilePathStartsAtTheSweepFilesFolder) {
  const fs::path dir = fresh_dir();
  write_file(dir / "scenarios" / "tiny.json", kTinyScenario);
  write_file(dir / "sweeps" / "s.json", R"({"name": "named", "base": "../scenarios/tiny.json", "grid": {"/seed": [1, 2]}})");
  const auto plan = an::load_sweep((dir / "sweeps" / "s.json").string());
  EXPECT_EQ(plan.name, "named");
  EXPECT_EQ(plan.base_file, (dir / "scenarios" / "tiny.json").lexically_normal().string());
  EXPECT_EQ(plan.points[1].scenario["seed"], 2);
}

TEST(Sweep, CsvHasOneRowPerPointWithEmptyCellsForNull) {
  ordered_json results = json::parse(R"({"throughput_samples_per_s": 12.5, "cost_usd": {"total": 0.25, "egress": 0.125},
    "traffic_bytes": {"wan": 4000}, "convergence": {"time_to_target_s": null, "cost_to_target_usd": null,
    "final_test_loss": 0.5, "final_test_accuracy": null}})");
  const auto row = an::point_row("p0000-00000000", ordered_json{{"/strategy/name", "a,b"}, {"/seed", 3}}, results);
  EXPECT_EQ(an::sweep_csv({"/strategy/name", "/seed", "/x"}, {row}),
            "point,/strategy/name,/seed,/x,throughput_samples_per_s,simulated_s,time_to_target_s,cost_to_target_usd,"
            "total_usd,egress_usd,wan_bytes,final_test_loss,final_test_accuracy,work_throughput_samples_per_s,lost_samples,"
            "wasted_usd\n"
            "p0000-00000000,\"a,b\",3,,12.5,,,,0.25,0.125,4000,0.5,,,0,0\n");
}

// ---------------------------------------------------------------------------------------------
// Pareto fronts

TEST(Pareto, FrontOfHandMadePoints) {
  // (time_s, usd), both minimized.
  const std::vector<std::pair<double, double>> points = {
      {1, 10},  // 0: fastest                        -> front
      {2, 5},   // 1                                 -> front
      {3, 6},   // 2: beaten by 1 on both            -> dominated
      {4, 1},   // 3: cheapest                       -> front
      {2, 5},   // 4: equal to 1, neither dominates  -> front
      {5, 1},   // 5: as cheap as 3 but slower       -> dominated
      {1, 12},  // 6: as fast as 0 but dearer        -> dominated
  };
  EXPECT_EQ(an::pareto_front(points), (std::vector<std::size_t>{0, 1, 3, 4}));
  EXPECT_TRUE(an::pareto_front({}).empty());
  EXPECT_EQ(an::pareto_front({{3, 3}}), (std::vector<std::size_t>{0}));
}

an::PointRow row_with(double throughput, double usd, std::optional<double> time_to_target_s) {
  ordered_json r = {{"throughput_samples_per_s", throughput}, {"cost_usd", {{"total", usd}}}};
  r["convergence"]["time_to_target_s"] = time_to_target_s ? ordered_json(*time_to_target_s) : ordered_json(nullptr);
  return an::point_row("p", ordered_json::object(), r);
}

TEST(Pareto, SweepMaximizesThroughputUnlessEveryPointReachesTheTarget) {
  // Throughput: row 0 (10/s, $1) is beaten by row 2 (15/s, $1); rows 1 and 2 trade speed for dollars.
  const auto by_throughput = an::sweep_pareto({row_with(10, 1, 50), row_with(20, 3, std::nullopt), row_with(15, 1, 40)});
  EXPECT_EQ(by_throughput.speed_column, "throughput_samples_per_s");
  EXPECT_TRUE(by_throughput.maximize_speed);
  EXPECT_EQ(by_throughput.rows, (std::vector<std::size_t>{2, 1}));  // by total_usd ascending
  // Every row reached the target: time_to_target_s is minimized instead (row 2 now beats row 1).
  const auto by_time = an::sweep_pareto({row_with(10, 1, 50), row_with(20, 3, 45), row_with(15, 2, 40)});
  EXPECT_EQ(by_time.speed_column, "time_to_target_s");
  EXPECT_FALSE(by_time.maximize_speed);
  EXPECT_EQ(by_time.rows, (std::vector<std::size_t>{0, 2}));
}

// ---------------------------------------------------------------------------------------------
// Check: tolerances and comparisons

TEST(Check, ToleranceIsAbsPlusRelTimesBaseline) {
  const an::Tolerance one_percent{0.01, 0, false};
  EXPECT_TRUE(an::within_tolerance(100, 101, one_percent));
  EXPECT_FALSE(an::within_tolerance(100, 101.01, one_percent));
  EXPECT_FALSE(an::within_tolerance(0, 1e-300, one_percent));  // rel alone never covers a zero baseline
  EXPECT_TRUE(an::within_tolerance(0, 1e-13, an::Tolerance{}));  // the default abs 1e-12 does
  EXPECT_FALSE(an::within_tolerance(1, 1 + 2e-9, an::Tolerance{}));  // the default rel is 1e-9
}

TEST(Check, LongestPrefixWinsAndMissingKeysComeFromDefault) {
  const auto t = an::Tolerances::parse(
      ordered_json::parse(R"({"/cost_usd": {"rel": 0.1}, "default": {"rel": 1e-6}, "/cost_usd/egress": {"abs": 5},
                              "/links": {"ignore": true}})"),
      "tol.json");
  EXPECT_EQ(t.for_pointer("/simulated_s").rel, 1e-6);
  EXPECT_EQ(t.for_pointer("/cost_usd/total").rel, 0.1);
  EXPECT_EQ(t.for_pointer("/cost_usd/total").abs, 1e-12);
  EXPECT_EQ(t.for_pointer("/cost_usd/egress").abs, 5);
  EXPECT_EQ(t.for_pointer("/cost_usd/egress").rel, 1e-6);  // from "default", not from "/cost_usd"
  EXPECT_EQ(t.for_pointer("/cost_usdx").rel, 1e-6);       // a prefix ends at a '/'
  EXPECT_TRUE(t.for_pointer("/links/0/bytes").ignore);
  auto message = [](const std::string& text) {
    try {
      an::Tolerances::parse(ordered_json::parse(text), "tol.json");
    } catch (const an::InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message(R"({"/x": {"rel": -1}})"), "tol.json: /~1x/rel: -1: expected a number >= 0");
  EXPECT_EQ(message(R"({"x": {"rel": 1}})"), "tol.json: /x: expected \"default\" or a JSON pointer prefix such as \"/simulated_s\"");
  EXPECT_EQ(message(R"({"default": {"relative": 1}})"), "tol.json: /default/relative: unknown key; allowed: rel, abs");
}

TEST(Check, CompareReportsEveryKindOfDifferenceAndIgnoresPerf) {
  const ordered_json baseline = ordered_json::parse(R"({"simulated_s": 100, "throughput": 10, "strategy": {"name": "ddp"},
    "old_key": 1, "links": [1, 2], "granularity": null, "ok": true, "perf": {"wall_s": 1}})");
  const ordered_json current = ordered_json::parse(R"({"simulated_s": 100.5, "throughput": 10.000000000001,
    "strategy": {"name": "gossip"}, "links": [1, 2, 3], "granularity": 0.5, "ok": true, "new_key": 2, "perf": {"wall_s": 7, "x": 1}})");
  const auto diffs = an::compare_results(baseline, current, an::Tolerances());
  std::vector<std::string> got;
  for (const auto& d : diffs) got.push_back(d.pointer + " " + (d.failed ? "FAIL " : "ok ") + d.reason);
  EXPECT_EQ(got, (std::vector<std::string>{"/simulated_s FAIL beyond tolerance", "/throughput ok within tolerance",
                                           "/strategy/name FAIL differs", "/old_key FAIL only in baseline",
                                           "/links FAIL array length differs", "/granularity FAIL type differs",
                                           "/new_key FAIL only in current"}));
  ASSERT_TRUE(diffs[0].rel_change.has_value());
  EXPECT_DOUBLE_EQ(*diffs[0].rel_change, 0.005);
  EXPECT_EQ(diffs[0].baseline, "100.0");
  EXPECT_EQ(diffs[0].current, "100.5");
  EXPECT_EQ(diffs[4].baseline, "2 entries");
  EXPECT_EQ(diffs[4].current, "3 entries");
  EXPECT_EQ(diffs[3].current, "(absent)");
}

// ---------------------------------------------------------------------------------------------
// Check: the command

// A results.json from the stored regression baseline (a real run of the built geotrain).
ordered_json real_results() {
  return an::read_json(GEOTRAIN_SOURCE_DIR "/scenarios/regression/baseline/ddp-ring/results.json");
}

void write_results(const fs::path& dir, const ordered_json& results) { write_file(dir / "results.json", results.dump(2)); }

TEST(CheckCli, MovedMetricBeyondToleranceExitsOneAndTheTableNamesIt) {
  const fs::path dir = fresh_dir();
  ordered_json results = real_results();
  write_results(dir / "base", results);
  const double simulated_s = results["simulated_s"].get<double>();
  results["simulated_s"] = simulated_s * 1.001;       // +0.1%
  results["perf"]["wall_s"] = 1234.5;                 // wall clock: never compared
  write_results(dir / "cur", results);

  const Cli strict = geotrain(dir, "check cur base");
  EXPECT_EQ(strict.exit_code, 1) << strict.out << strict.err;
  EXPECT_NE(strict.out.find("/simulated_s"), std::string::npos) << strict.out;
  EXPECT_NE(strict.out.find("+1.000e-03"), std::string::npos) << strict.out;  // the rel change
  EXPECT_NE(strict.out.find("FAIL: beyond tolerance"), std::string::npos) << strict.out;
  EXPECT_EQ(strict.out.find("/perf"), std::string::npos) << strict.out;
  EXPECT_NE(strict.out.find("check: 1 run compared with base: 0 passed, 1 failed (metrics beyond tolerance: 1, within: 0)"),
            std::string::npos) << strict.out;

  write_file(dir / "tol.json", R"({"/simulated_s": {"rel": 0.01}})");
  const Cli loose = geotrain(dir, "check cur base --tolerances tol.json");
  EXPECT_EQ(loose.exit_code, 0) << loose.out << loose.err;
  EXPECT_NE(loose.out.find("ok: within tolerance"), std::string::npos) << loose.out;
  EXPECT_NE(loose.out.find("rel 0.01 abs 1e-12"), std::string::npos) << loose.out;

  results["simulated_s"] = simulated_s;  // only perf differs now
  write_results(dir / "cur", results);
  const Cli same = geotrain(dir, "check cur base");
  EXPECT_EQ(same.exit_code, 0) << same.out;
  EXPECT_EQ(same.out, "check: 1 run compared with base: 1 passed, 0 failed (metrics beyond tolerance: 0, within: 0)\n");
}

// A minimal XML well-formedness check: one root, balanced and properly nested tags, quoted
// attributes, only the five predefined entities, no raw '<' in text.  Returns "" when well formed.
std::string xml_problem(const std::string& xml) {
  std::vector<std::string> open;
  int roots = 0;
  std::size_t i = 0;
  if (xml.rfind("<?xml", 0) == 0) i = xml.find("?>") + 2;
  const std::regex entity("&(amp|lt|gt|quot|apos);");
  while (i < xml.size()) {
    if (xml[i] != '<') {
      const std::size_t end = std::min(xml.find('<', i), xml.size());
      const std::string text = xml.substr(i, end - i);
      if (std::regex_replace(text, entity, "").find('&') != std::string::npos) return "bad entity in: " + text;
      if (open.empty() && text.find_first_not_of(" \n") != std::string::npos) return "text outside the root";
      i = end;
      continue;
    }
    const std::size_t end = xml.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) return "mismatched </" + tag.substr(1) + ">";
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    static const std::regex element(R"(([A-Za-z_][\w.-]*)((\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*)");
    std::smatch m;
    if (!std::regex_match(tag, m, element)) return "bad tag <" + tag + ">";
    if (std::regex_replace(m[2].str(), entity, "").find('&') != std::string::npos) return "bad entity in <" + tag + ">";
    if (open.empty()) ++roots;
    if (!self_closing) open.push_back(m[1].str());
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return roots == 1 ? "" : "expected exactly one root element";
}

TEST(CheckCli, JunitXmlIsWellFormedAndListsTheFailure) {
  EXPECT_EQ(xml_problem("<a><b x=\"1\"/></a>"), "");  // the checker itself
  EXPECT_EQ(xml_problem("<a><b></a>"), "mismatched </a>");
  EXPECT_EQ(xml_problem("<a>x & y</a>"), "bad entity in: x & y");
  EXPECT_EQ(an::xml_escape("<\"a&b'>"), "&lt;&quot;a&amp;b&apos;&gt;");

  const fs::path dir = fresh_dir();
  ordered_json results = real_results();
  for (const char* point : {"p0000-aaaaaaaa", "p0001-bbbbbbbb"}) write_results(dir / "base" / "points" / point, results);
  write_results(dir / "cur" / "points" / "p0000-aaaaaaaa", results);
  results["cost_usd"]["total"] = results["cost_usd"]["total"].get<double>() * 2;
  results["scenario"] = "<renamed & \"quoted\">";
  write_results(dir / "cur" / "points" / "p0001-bbbbbbbb", results);

  const Cli r = geotrain(dir, "check cur base --junit report.xml");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string xml = read_file(dir / "report.xml");
  EXPECT_EQ(xml_problem(xml), "") << xml;
  EXPECT_NE(xml.find("<testsuite name=\"geotrain check\" tests=\"2\" failures=\"1\">"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase classname=\"geotrain.check.base\" name=\"p0000-aaaaaaaa\"/>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase classname=\"geotrain.check.base\" name=\"p0001-bbbbbbbb\">"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure message=\"2 metrics moved beyond tolerance\">"), std::string::npos) << xml;
  EXPECT_NE(xml.find("/cost_usd/total: baseline "), std::string::npos) << xml;
  EXPECT_NE(xml.find("/scenario: baseline regression-ddp-ring current &lt;renamed &amp; &quot;quoted&quot;&gt;"),
            std::string::npos) << xml;
}

TEST(CheckCli, SuiteRunMissingOnOneSideFails) {
  const fs::path dir = fresh_dir();
  const ordered_json results = real_results();
  write_results(dir / "base" / "a", results);
  write_results(dir / "base" / "b", results);
  write_results(dir / "cur" / "a", results);
  write_results(dir / "cur" / "c", results);
  const Cli r = geotrain(dir, "check cur base");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL: missing in current"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL: only in current (no baseline for it)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("check: 3 runs compared with base: 1 passed, 2 failed"), std::string::npos) << r.out;
}

TEST(CheckCli, BadInputExitsTwo) {
  const fs::path dir = fresh_dir();
  write_results(dir / "base", real_results());
  write_results(dir / "sweep" / "points" / "p0000-aaaaaaaa", real_results());
  write_file(dir / "broken" / "results.json", "{\"simulated_s\": 1,");
  write_file(dir / "bad_tol.json", R"({"/simulated_s": {"rel": "1%"}})");
  fs::create_directories(dir / "empty");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"check missing base", "geotrain: bad input: missing: no such folder\n"},
      {"check empty base", "geotrain: bad input: empty: holds no results: expected results.json (a run), points/ (a sweep) or "
                           "*/results.json (a suite)\n"},
      {"check sweep base", "geotrain: bad input: sweep: is a sweep folder but the baseline base is a run folder\n"},
      {"check base base --tolerances bad_tol.json", "geotrain: bad input: bad_tol.json: /~1simulated_s/rel: 1%: expected a number >= 0\n"},
      {"check base base --tolerances nope.json", "geotrain: bad input: nope.json: cannot read this file (missing or unreadable)\n"},
  };
  for (const auto& [args, err] : cases) {
    const Cli r = geotrain(dir, args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_EQ(r.err, err) << args;
  }
  const Cli broken = geotrain(dir, "check broken base");
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_EQ(broken.err.rfind("geotrain: bad input: broken/results.json: malformed JSON at byte", 0), 0u) << broken.err;
}

// ---------------------------------------------------------------------------------------------
// Sweep: the command, end to end

std::map<std::string, fs::file_time_type> results_mtimes(const fs::path& out) {
  std::map<std::string, fs::file_time_type> m;
  for (const auto& e : fs::directory_iterator(out / "points")) m[e.path().filename().string()] = fs::last_write_time(e.path() / "results.json");
  return m;
}

// Writes tiny.json and a 4-point sweep.json (allreduce {ring, tree} x steps {1, 2}) in `dir`,
// runs the sweep into dir/out with 2 jobs and returns the lines of sweep.csv.
std::vector<std::string> run_four_point_sweep(const fs::path& dir) {
  write_file(dir / "tiny.json", kTinyScenario);
  write_file(dir / "sweep.json", R"({"base": "tiny.json", "grid": {"/strategy/allreduce": ["ring", "tree"], "/workload/steps": [1, 2]}})");
  const Cli first = geotrain(dir, "sweep sweep.json --out out --jobs 2");
  EXPECT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("sweep sweep: 4 points: 4 run, 0 reused, 0 failed (2 jobs"), std::string::npos) << first.out;
  EXPECT_EQ(lines_of(first.err).size(), 4u) << first.err;  // not a terminal: one plain line per point
  return lines_of(read_file(dir / "out" / "sweep.csv"));
}

TEST(SweepCli, RunsFourPointsAndWritesTheirRowsAndFront) {
  const fs::path dir = fresh_dir();
  const auto csv = run_four_point_sweep(dir);
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0], "point,/strategy/allreduce,/workload/steps,throughput_samples_per_s,simulated_s,time_to_target_s,"
                    "cost_to_target_usd,total_usd,egress_usd,wan_bytes,final_test_loss,final_test_accuracy,"
                    "work_throughput_samples_per_s,lost_samples,wasted_usd");
  const std::vector<std::pair<std::string, std::string>> axes = {{"ring", "1"}, {"ring", "2"}, {"tree", "1"}, {"tree", "2"}};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto cells = split_csv_simple(csv[i + 1]);
    ASSERT_EQ(cells.size(), 15u) << csv[i + 1];
    EXPECT_EQ(cells[3], cells[12]);  // no faults: goodput is the throughput of the work done
    EXPECT_EQ(cells[13], "0");
    EXPECT_EQ(cells[1], axes[i].first);
    EXPECT_EQ(cells[2], axes[i].second);
    const auto results = an::read_json((dir / "out" / "points" / cells[0] / "results.json").string());
    EXPECT_EQ(results["steps"], std::stoi(axes[i].second));
    EXPECT_EQ(results["strategy"]["allreduce"], axes[i].first);
    EXPECT_EQ(std::stod(cells[3]), results["throughput_samples_per_s"].get<double>());  // round-trip precision
    EXPECT_EQ(std::stod(cells[4]), results["simulated_s"].get<double>());
    EXPECT_EQ(std::stod(cells[7]), results["cost_usd"]["total"].get<double>());
    EXPECT_EQ(cells[9], results["traffic_bytes"]["wan"].dump());  // bytes: an integer in both
    EXPECT_EQ(cells[5], "");  // no target: time_to_target_s is null
    EXPECT_GT(std::stod(cells[3]), 0);
    EXPECT_TRUE(fs::exists(dir / "out" / "points" / cells[0] / "trace.json"));
    EXPECT_EQ(an::read_json((dir / "out" / "points" / cells[0] / "point.json").string())["axes"]["/workload/steps"],
              std::stoi(axes[i].second));
  }
  // The sweep runs what `geotrain run --set` runs: the last point is tree, 2 steps.
  const Cli single = geotrain(dir, "run tiny.json --set /strategy/allreduce=tree --set /workload/steps=2 --out single --quiet");
  ASSERT_EQ(single.exit_code, 0) << single.err;
  auto single_results = an::read_json((dir / "single" / "results.json").string());
  auto point_results = an::read_json((dir / "out" / "points" / split_csv_simple(csv[4])[0] / "results.json").string());
  single_results.erase("perf");
  point_results.erase("perf");
  EXPECT_EQ(single_results, point_results);

  const auto pareto = lines_of(read_file(dir / "out" / "pareto.csv"));
  ASSERT_GE(pareto.size(), 2u);
  EXPECT_EQ(pareto[0], csv[0]);
  for (std::size_t i = 1; i < pareto.size(); ++i) EXPECT_NE(std::find(csv.begin(), csv.end(), pareto[i]), csv.end());
  // `geotrain summarize` prints the metric columns of sweep.csv, in its order, with the same numbers.
  const std::string point = split_csv_simple(csv[4])[0];
  const Cli summary = geotrain(dir, "summarize out/points/" + point);
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  const auto summary_lines = lines_of(summary.out);
  ASSERT_EQ(summary_lines.size(), 2u) << summary.out;
  const std::string metric_header = csv[0].substr(csv[0].find(",throughput_samples_per_s"));
  EXPECT_EQ(summary_lines[0], "run,scenario,strategy,workers,samples" + metric_header + ",staleness_mean,diverged,work_samples");
  const auto summary_cells = split_csv_simple(summary_lines[1]), sweep_cells = split_csv_simple(csv[4]);
  ASSERT_EQ(summary_cells.size(), 5 + an::sweep_metrics().size() + 3);
  EXPECT_EQ(summary_cells[2], "ddp/tree");
  for (std::size_t k = 0; k < an::sweep_metrics().size(); ++k) {
    const std::string &mine = summary_cells[5 + k], &theirs = sweep_cells[3 + k];
    EXPECT_EQ(mine.empty(), theirs.empty()) << an::sweep_metrics()[k].column;
    if (!mine.empty()) {
      EXPECT_EQ(std::stod(mine), std::stod(theirs)) << an::sweep_metrics()[k].column;
    }
  }
  const Cli check = geotrain(dir, "check out out");  // a sweep checks clean against itself
  EXPECT_EQ(check.exit_code, 0) << check.out;
  EXPECT_NE(check.out.find("check: 4 runs compared with out: 4 passed, 0 failed"), std::string::npos) << check.out;
}

TEST(SweepCli, ResumeRerunsOnlyUnfinishedOrChangedPoints) {
  const fs::path dir = fresh_dir();
  const auto csv = run_four_point_sweep(dir);
  ASSERT_EQ(csv.size(), 5u);
  // Nothing runs again and no results.json is rewritten.
  const auto before = results_mtimes(dir / "out");
  const Cli second = geotrain(dir, "sweep sweep.json --out out --jobs 2");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("4 points: 0 run, 4 reused, 0 failed"), std::string::npos) << second.out;
  EXPECT_EQ(results_mtimes(dir / "out"), before);
  EXPECT_EQ(lines_of(read_file(dir / "out" / "sweep.csv")), csv);

  // A half-written point (no results.json) runs again; the others are reused untouched.
  const std::string half = split_csv_simple(csv[2])[0];
  fs::remove(dir / "out" / "points" / half / "results.json");
  const Cli third = geotrain(dir, "sweep sweep.json --out out");
  EXPECT_NE(third.out.find("4 points: 1 run, 3 reused, 0 failed"), std::string::npos) << third.out;
  EXPECT_NE(third.err.find("] " + half + " ran in"), std::string::npos) << third.err;
  auto after = results_mtimes(dir / "out");
  EXPECT_TRUE(fs::exists(dir / "out" / "points" / half / "results.json"));
  after.erase(half);
  auto expected = before;
  expected.erase(half);
  EXPECT_EQ(after, expected);
  EXPECT_EQ(lines_of(read_file(dir / "out" / "sweep.csv")), csv);  // deterministic: the same row again

  // A changed base scenario keeps the point ids but changes every scenario hash: all run again.
  json tiny = json::parse(kTinyScenario);
  tiny["workload"]["batch_per_worker"] = 16;
  write_file(dir / "tiny.json", tiny.dump());
  const Cli fourth = geotrain(dir, "sweep sweep.json --out out");
  EXPECT_NE(fourth.out.find("4 points: 4 run, 0 reused, 0 failed"), std::string::npos) << fourth.out;
  const auto changed = lines_of(read_file(dir / "out" / "sweep.csv"));
  ASSERT_EQ(changed.size(), 5u);
  EXPECT_EQ(split_csv_simple(changed[1])[0], split_csv_simple(csv[1])[0]);  // same id, new results
  EXPECT_NE(changed[1], csv[1]);
}

// `sweep --calibration FILE` applies the calibration to every point, as `run --calibration`
// does, and the file's text is in each point's hash: a refit runs the points again.
TEST(SweepCli, CalibrationAppliesToEveryPointAndARefitRerunsThem) {
  const fs::path dir = fresh_dir();
  write_file(dir / "tiny.json", kTinyScenario);
  write_file(dir / "sweep.json", R"({"base": "tiny.json", "grid": {"/workload/steps": [1, 2]}})");
  const auto calibration = [](double overhead_s) {
    return json{{"format", "geotrain-calibration-1"}, {"strategies", {{"ddp", {{"step_overhead_s", overhead_s}}}}}}.dump();
  };
  write_file(dir / "cal.json", calibration(0.25));
  const Cli plain = geotrain(dir, "sweep sweep.json --out plain --jobs 2");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const Cli calibrated = geotrain(dir, "sweep sweep.json --out out --jobs 2 --calibration cal.json");
  ASSERT_EQ(calibrated.exit_code, 0) << calibrated.err;
  const auto rows = lines_of(read_file(dir / "out" / "sweep.csv")), plain_rows = lines_of(read_file(dir / "plain" / "sweep.csv"));
  ASSERT_EQ(rows.size(), 3u);
  for (int steps : {1, 2}) {
    const std::string id = split_csv_simple(rows[steps])[0];
    const Cli single = geotrain(dir, fmt::format("run tiny.json --set /workload/steps={} --calibration cal.json --out s{} --quiet", steps, steps));
    ASSERT_EQ(single.exit_code, 0) << single.err;
    const double point_s = an::read_json((dir / "out" / "points" / id / "results.json").string())["simulated_s"];
    const double plain_s = an::read_json((dir / "plain" / "points" / id / "results.json").string())["simulated_s"];
    EXPECT_EQ(point_s, an::read_json((dir / fmt::format("s{}", steps) / "results.json").string())["simulated_s"].get<double>());
    EXPECT_NEAR(point_s - plain_s, 0.25 * steps, 1e-9);  // the calibrated step overhead, every step
  }
  const Cli again = geotrain(dir, "sweep sweep.json --out out --calibration cal.json");
  EXPECT_NE(again.out.find("2 points: 0 run, 2 reused, 0 failed"), std::string::npos) << again.out;
  write_file(dir / "cal.json", calibration(0.5));
  const Cli refit = geotrain(dir, "sweep sweep.json --out out --calibration cal.json");
  EXPECT_NE(refit.out.find("2 points: 2 run, 0 reused, 0 failed"), std::string::npos) << refit.out;
  const Cli missing = geotrain(dir, "sweep sweep.json --out bad --calibration nowhere.json");
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
  EXPECT_NE(missing.err.find("/calibration"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("nowhere.json"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir / "bad" / "sweep.csv"));
}

// "replicas": a point with a random fault process runs N draws and its row is their mean, with
// intervals; a point without one runs once.  The means are those of the draws' results.json.
TEST(SweepCli, ReplicasRunDrawsOfRandomFaultsAndTheRowIsTheirMean) {
  const fs::path dir = fresh_dir();
  json tiny = json::parse(kTinyScenario);
  tiny["workload"]["steps"] = 30;
  write_file(dir / "tiny.json", tiny.dump());
  const json spot = {{"region", tiny["fleet"][1]["region"]}, {"instance", tiny["fleet"][1]["instance"]},
                     {"count", tiny["fleet"][1]["count"]}, {"pricing", "spot"},
                     {"preemption", {{"model", "hazard"}, {"rate_per_hour", 3600}, {"boot_s", 0.01},
                                     {"restart_delay_s", {{"distribution", "exponential"}, {"mean_s", 0.05}}}}}};
  write_file(dir / "sweep.json", json{{"base", "tiny.json"}, {"replicas", 3},
                                      {"list", json::array({json::object(), {{"/fleet/1", {{"label", "spot"}, {"value", spot}}}}})}}.dump());
  const Cli first = geotrain(dir, "sweep sweep.json --out out --jobs 2");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("2 points: 2 run, 0 reused, 0 failed"), std::string::npos) << first.out;
  EXPECT_EQ(lines_of(first.err).size(), 4u) << first.err;  // 1 + 3 draws
  const auto csv = lines_of(read_file(dir / "out" / "sweep.csv"));
  ASSERT_EQ(csv.size(), 3u);
  const auto header = split_csv_simple(csv[0]);
  auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  ASSERT_LT(column("simulated_s_ci95_high"), header.size());
  const auto plain = split_csv_simple(csv[1]), faulty = split_csv_simple(csv[2]);
  EXPECT_EQ(plain[column("draws")], "1");
  EXPECT_EQ(plain[column("simulated_s_p5")], plain[column("simulated_s")]);
  EXPECT_FALSE(fs::exists(dir / "out" / "points" / plain[0] / "replicas.json"));
  EXPECT_EQ(faulty[column("draws")], "3");
  const auto summary = an::read_json((dir / "out" / "points" / faulty[0] / "replicas.json").string());
  EXPECT_EQ(summary["replicas"], 3);
  std::vector<double> simulated;
  for (const std::string draw : {"", "replicas/1", "replicas/2"})
    simulated.push_back(an::read_json((dir / "out" / "points" / faulty[0] / draw / "results.json").string())["simulated_s"].get<double>());
  EXPECT_EQ(std::stod(faulty[column("simulated_s")]), an::stats_of(simulated).mean);
  EXPECT_EQ(std::stod(faulty[column("simulated_s")]), summary["summary"]["simulated_s"]["mean"].get<double>());
  EXPECT_EQ(std::stod(faulty[column("simulated_s_ci95_low")]), an::stats_of(simulated).ci95_low);
  EXPECT_NE(simulated[0], simulated[1]);  // the draws differ
  // Resumed: nothing runs again; a different count reruns the random point only.
  EXPECT_NE(geotrain(dir, "sweep sweep.json --out out").out.find("2 points: 0 run, 2 reused"), std::string::npos);
  const Cli more = geotrain(dir, "sweep sweep.json --out out --replicas 4");
  EXPECT_NE(more.out.find("2 points: 1 run, 1 reused"), std::string::npos) << more.out;
  EXPECT_EQ(split_csv_simple(lines_of(read_file(dir / "out" / "sweep.csv"))[2])[column("draws")], "4");
  // The report draws the random point's 95% CIs (cost and throughput) as two grey segments.
  const Cli report = geotrain(dir, "report out");
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const std::string html = read_file(dir / "out" / "report.html");
  EXPECT_NE(html.find("95% CI of the mean over the draws (replicas)"), std::string::npos);
  std::size_t bars = 0;
  for (auto at = html.find("stroke=\"#888888\" points="); at != std::string::npos; at = html.find("stroke=\"#888888\" points=", at + 1)) ++bars;
  EXPECT_EQ(bars, 2u);
  // The tables give the means (the front is taken on them) and, beside them, the bad tail: the
  // p5 of throughput and the p95 of the total; a point with one draw has its mean there.
  EXPECT_NE(html.find("<th class=\"n\">throughput (samples/s), mean</th><th class=\"n\">throughput p5</th>"
                      "<th class=\"n\">total, mean ($)</th><th class=\"n\">total p95 ($)</th>"),
            std::string::npos);
  const auto random = split_csv_simple(lines_of(read_file(dir / "out" / "sweep.csv"))[2]);
  ASSERT_EQ(random[column("draws")], "4");
  const std::string row = html.substr(html.find("<td class=\"id\">" + random[0] + "</td>"));
  const std::string mean_usd = an::report::usd_text(std::stod(random[column("total_usd")]));
  const std::string p95_usd = an::report::usd_text(std::stod(random[column("total_usd_p95")]));
  EXPECT_NE(mean_usd, p95_usd);
  EXPECT_EQ(row.find("<td class=\"n\">" + mean_usd + "</td><td class=\"n\">" + p95_usd + "</td>"),
            row.find("<td class=\"n\">" + mean_usd + "</td>"))
      << row.substr(0, 600);
  // Bad counts: exit 2 naming the file, the path, the value and what is allowed.
  write_file(dir / "bad.json", R"({"base": "tiny.json", "replicas": 0, "list": [{}]})");
  const Cli bad = geotrain(dir, "sweep bad.json --out badout");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.json: /replicas: 0: expected an integer in [1, 100000]"), std::string::npos) << bad.err;
}

TEST(SweepCli, BadPointExitsTwoBeforeRunningAnything) {
  const fs::path dir = fresh_dir();
  write_file(dir / "tiny.json", kTinyScenario);
  write_file(dir / "sweep.json", R"({"base": "tiny.json", "grid": {"/workload/steps": [1, 0]}})");
  const Cli r = geotrain(dir, "sweep sweep.json --out out");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("geotrain: bad input: sweep.json: point p0001-", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(" (/workload/steps=0): tiny.json: /workload/steps: 0: expected an integer in [1, 100000000]"),
            std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out")) << "a point ran or a folder was made before validation finished";

  write_file(dir / "typo.json", R"({"base": "tiny.json", "grid": {"/strategy/allreduce": ["ring", "rnig"]}})");
  const Cli typo = geotrain(dir, "sweep typo.json --out out");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("(/strategy/allreduce=\"rnig\"): tiny.json: /strategy/allreduce"), std::string::npos) << typo.err;
  EXPECT_FALSE(fs::exists(dir / "out"));

  const Cli missing = geotrain(dir, "sweep nope.json --out out");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "geotrain: bad input: nope.json: cannot read this file (missing or unreadable)\n");
}

}  // namespace

namespace geotrain {
namespace {

// Every shipped scenario and every point of every shipped sweep loads and validates (a scenario
// that no longer parses after a format change fails here, not in a user's hands).  Files that
// are neither (the utilization spec) are skipped by their keys.
TEST(ShippedScenarios, EveryScenarioAndSweepPointLoads) {
  int scenarios = 0, points = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(GEOTRAIN_SOURCE_DIR) + "/scenarios")) {
    if (entry.path().extension() != ".json") continue;
    const std::string file = entry.path().string();
    const auto doc = nlohmann::json::parse(std::ifstream(file));
    try {
      if (doc.contains("base") && (doc.contains("list") || doc.contains("grid"))) {
        const auto plan = analysis::load_sweep(file);
        for (const auto& p : plan.points) {
          sim::parse_scenario(p.scenario, plan.base_file);
          ++points;
        }
      } else if (doc.contains("topology")) {
        sim::load_scenario(file);
        ++scenarios;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << file << ": " << e.what();
    }
  }
  EXPECT_GE(scenarios, 12);  // 8 at the top level, 4 regression ones
  EXPECT_GE(points, 6);      // spot-vs-on-demand and hivemind-spot-churn, 3 points each
}

}  // namespace
}  // namespace geotrain
