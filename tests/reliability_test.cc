// Reliability (docs/RELIABILITY.md): no hang, no crash, no raw error on any input.  Every case of
// the audit is here: FIFOs and other non-files as inputs (run under `timeout`, so a hang fails the
// test instead of blocking it), numbers beyond the plausible ranges, deep nesting, numbers beyond a
// double, huge --set indices, invalid UTF-8, oversized models, a killed sweep, SimGrid options.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analysis/json_file.h"
#include "analysis/sweep_plan.h"
#include "cli_test_util.h"
#include "sim/json_reader.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using geotrain::testing::CliRun;
using geotrain::testing::fresh_dir;
using geotrain::testing::kTinyScenario;
using geotrain::testing::read_file;
using geotrain::testing::write_file;

constexpr int kHangGuard_s = 10;  // a command that blocks is killed after this long (exit 124)

// `geotrain ARGS` in `cwd` under `timeout`: a hang shows as exit 124, not as a stuck test.
CliRun geotrain(const std::string& args, const fs::path& cwd) {
  return geotrain::testing::run_geotrain(args + " </dev/null", cwd);
}

// Same, but the binary runs under `timeout` (run_geotrain quotes the binary itself, so the guard
// wraps the whole shell command).
CliRun guarded(const std::string& args, const fs::path& cwd) {
  const auto scratch = fresh_dir("geotrain_guard");
  const auto out = scratch / "stdout", err = scratch / "stderr";
  const std::string cmd = "cd '" + cwd.string() + "' && timeout " + std::to_string(kHangGuard_s) + " '" +
                          GEOTRAIN_BINARY + "' " + args + " </dev/null >'" + out.string() + "' 2>'" + err.string() + "'";
  const int status = std::system(cmd.c_str());
  return CliRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
}

// The bad-input contract: exit 2, one stderr line starting "geotrain: bad input: " with every part.
void expect_bad(const CliRun& r, const std::vector<std::string>& parts) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "expected exactly one line:\n" << r.err;
  EXPECT_EQ(r.err.rfind("geotrain: bad input: ", 0), 0u) << r.err;
  for (const auto& part : parts) EXPECT_NE(r.err.find(part), std::string::npos) << "no '" << part << "' in: " << r.err;
}

fs::path make_fifo(const fs::path& file) {
  EXPECT_EQ(::mkfifo(file.c_str(), 0600), 0) << file;
  return file;
}

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

constexpr const char* kFifoMessage = "not a regular file (a FIFO, device or socket)";

// ---------------------------------------------------------------------------------------------
// Regular files only: a FIFO with no writer is refused at once, never opened.

TEST(Reliability, FifoScenarioIsRefusedWithoutBlocking) {
  const fs::path dir = fresh_dir("geotrain_rel");
  make_fifo(dir / "scenario.json");
  const auto r = guarded("run scenario.json --out out", dir);
  expect_bad(r, {"scenario.json: ", kFifoMessage});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Reliability, FifoSweepFileAndBaseAreRefused) {
  const fs::path dir = fresh_dir("geotrain_rel");
  make_fifo(dir / "sweep.json");
  expect_bad(guarded("sweep sweep.json --out out", dir), {"sweep.json: ", kFifoMessage});
  make_fifo(dir / "base.json");
  write_file(dir / "s2.json", R"({"base": "base.json", "grid": {"/seed": [1]}})");
  expect_bad(guarded("sweep s2.json --out out", dir), {"s2.json: /base: base.json", kFifoMessage});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Reliability, FifoUtilizationSpecAndTopologyAndTraceAreRefused) {
  const fs::path dir = fresh_dir("geotrain_rel");
  make_fifo(dir / "spec.json");
  expect_bad(guarded("utilization spec.json --out out", dir), {"spec.json: ", kFifoMessage});
  make_fifo(dir / "topology.json");
  write_file(dir / "scenario.json", kTinyScenario);
  expect_bad(guarded("run scenario.json --out out --set /topology=topology.json", dir),
             {"scenario.json: /topology: \"topology.json\": the topology file ", kFifoMessage});
  make_fifo(dir / "trace.csv");
  expect_bad(guarded("run scenario.json --out out --set /fleet/0/pricing=spot "
                     "--set '/fleet/0/preemption={\"model\": \"trace\", \"trace\": \"trace.csv\"}'",
                     dir),
             {"scenario.json: /fleet/0/preemption/trace: \"trace.csv\": the trace file ", kFifoMessage});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Reliability, FifoTolerancesResultsAndTopologyCommandAreRefused) {
  const fs::path dir = fresh_dir("geotrain_rel");
  make_fifo(dir / "tolerances.json");
  fs::create_directories(dir / "run");
  make_fifo(dir / "run" / "results.json");
  expect_bad(guarded("check run run --tolerances tolerances.json", dir), {"tolerances.json: ", kFifoMessage});
  expect_bad(guarded("summarize run", dir), {"run/results.json: ", kFifoMessage});
  expect_bad(guarded("topo tolerances.json", dir), {"tolerances.json: ", kFifoMessage});
  expect_bad(guarded("validate tolerances.json", dir), {"tolerances.json: ", kFifoMessage});
}

// ---------------------------------------------------------------------------------------------
// Physically plausible ranges: nothing valid reaches SimGrid's own aborts.

TEST(Reliability, NumbersBeyondThePlausibleRangesAreRefusedBeforeSimGrid) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "scenario.json", kTinyScenario);
  struct Case {
    std::string set, message;
  };
  const std::vector<Case> cases = {
      {"/topology/instance_types/gpu/nic_Gbps=1e303", "/topology/instance_types/gpu/nic_Gbps: 1e+303: expected a number in [1e-06, 100000]"},
      {"/topology/instance_types/gpu/gpu_peak_tflops=1e303",
       "/topology/instance_types/gpu/gpu_peak_tflops: 1e+303: expected a number in [1e-12, 1000000]"},
      {"/topology/regions/0/lan_latency_ms=1e-308", "/topology/regions/0/lan_latency_ms: 1e-308: expected a number in [0.0001, 10000]"},
      {"/topology/links/0/capacity_Gbps=1e303", "/topology/links/0/capacity_Gbps: 1e+303: expected a number in [1e-06, 100000]"},
      {"/topology/links/0/latency_ms=1e300", "/topology/links/0/latency_ms: 1e+300: expected a number in [0.0001, 10000]"},
      {"/workload/model/flops_per_sample=1e300", "/workload/model/flops_per_sample: 1e+300: expected a number in (0, 1e+21]"},
      {"/network/tcp_window_B=1e300", "/network/tcp_window_B: 1e+300: expected a number in [1, 1000000000000]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.set);
    expect_bad(guarded("run scenario.json --out out --quiet --set " + c.set, dir), {"scenario.json: " + c.message});
  }
  // The ends of a range are accepted (and run).
  EXPECT_EQ(guarded("run scenario.json --out out --quiet --set /topology/instance_types/gpu/nic_Gbps=100000", dir).exit_code, 0);
  EXPECT_EQ(guarded("run scenario.json --out out2 --quiet --set /topology/regions/0/lan_latency_ms=0.0001", dir).exit_code, 0);
}

TEST(Reliability, FloatCountBeyondInt64IsRefusedWithoutOverflow) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "scenario.json", kTinyScenario);
  expect_bad(guarded("run scenario.json --out out --set /fleet/0/count=1e30", dir),
             {"scenario.json: /fleet/0/count: 1e+30: expected an integer in [1, 100000]"});
  expect_bad(guarded("run scenario.json --out out --set /seed=1e30", dir), {"scenario.json: /seed: 1e+30"});
}

TEST(Reliability, JsonReaderIntegerChecksTheRangeBeforeConverting) {
  const json doc = {{"big", 1e30}, {"two63", 9223372036854775808.0}, {"neg", -1e300}, {"half", 2.5}, {"ok", 3.0}, {"u", 18446744073709551615ull}};
  geotrain::sim::JsonReader r(doc, "f.json");
  for (const char* key : {"big", "two63", "neg", "half", "u"}) {
    SCOPED_TRACE(key);
    EXPECT_THROW(r.integer(key, 0, INT64_MAX), geotrain::sim::BadInput);
  }
  EXPECT_EQ(r.integer("ok", 0, 10), 3);
}

// ---------------------------------------------------------------------------------------------
// Deep nesting and numbers beyond a double, in every reader.

TEST(Reliability, DeepNestingIsRefusedInEveryReader) {
  const fs::path dir = fresh_dir("geotrain_rel");
  const std::string deep = nested(100000);
  write_file(dir / "scenario.json", deep);
  expect_bad(guarded("run scenario.json --out out", dir), {"scenario.json: malformed JSON: arrays and objects nested deeper than 256 levels"});
  write_file(dir / "sweep.json", "{\"base\": " + deep + ", \"grid\": {\"/seed\": [1]}}");
  expect_bad(guarded("sweep sweep.json --out out", dir), {"sweep.json: malformed JSON: arrays and objects nested deeper than 256 levels"});
  write_file(dir / "tolerances.json", deep);
  fs::create_directories(dir / "run");
  write_file(dir / "run" / "results.json", deep);
  expect_bad(guarded("check run run --tolerances tolerances.json", dir), {"tolerances.json: malformed JSON", "deeper than 256"});
  expect_bad(guarded("check run run", dir), {"run/results.json: malformed JSON", "deeper than 256"});
  expect_bad(guarded("summarize run", dir), {"run/results.json: malformed JSON", "deeper than 256"});
  write_file(dir / "ok.json", kTinyScenario);
  expect_bad(guarded("run ok.json --out out --set '/description=" + nested(300) + "'", dir),
             {"ok.json: --set /description: malformed JSON", "deeper than 256"});
}

TEST(Reliability, NestingLimitIsExactly256Levels) {
  EXPECT_NO_THROW(geotrain::sim::parse_json_text(nested(256), "f.json"));
  EXPECT_THROW(geotrain::sim::parse_json_text(nested(257), "f.json"), geotrain::sim::BadInput);
  EXPECT_NO_THROW(geotrain::analysis::parse_json(nested(256), "f.json", ""));
  EXPECT_THROW(geotrain::analysis::parse_json(nested(257), "f.json", ""), geotrain::analysis::InputError);
}

TEST(Reliability, NumbersBeyondADoubleAreBadInputInSweepToleranceAndResultsFiles) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "base.json", kTinyScenario);
  write_file(dir / "sweep.json", R"({"base": "base.json", "grid": {"/seed": [1e400]}})");
  expect_bad(guarded("sweep sweep.json --out out", dir), {"sweep.json: malformed JSON", "number overflow parsing '1e400'"});
  write_file(dir / "tolerances.json", R"({"default": {"rel": 1e999}})");
  fs::create_directories(dir / "run");
  write_file(dir / "run" / "results.json", R"({"simulated_s": -1e400})");
  expect_bad(guarded("check run run --tolerances tolerances.json", dir), {"tolerances.json: malformed JSON", "1e999"});
  expect_bad(guarded("check run run", dir), {"run/results.json: malformed JSON", "1e400"});
  expect_bad(guarded("summarize run", dir), {"run/results.json: malformed JSON", "1e400"});
}

// ---------------------------------------------------------------------------------------------
// --set: checked before anything is allocated, run or written.

TEST(Reliability, HugeSetIndexIsRefusedWithoutAllocating) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "scenario.json", kTinyScenario);
  const auto start = std::chrono::steady_clock::now();
  expect_bad(guarded("run scenario.json --out out --set /fleet/999999999999/count=1", dir),
             {"scenario.json: /fleet/999999999999/count: 1: /fleet is an array of 2 entries: --set expects an index in [0, 2] there"});
  expect_bad(guarded("run scenario.json --out out --set /fleet/100000000/count=1", dir), {"/fleet is an array of 2 entries"});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  // The index equal to the size appends: that entry is then read like any other.
  expect_bad(guarded("run scenario.json --out out --set /fleet/2/count=1", dir), {"scenario.json: /fleet/2/region: missing"});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Reliability, InvalidUtf8InSetIsRefusedBeforeTheRun) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "scenario.json", kTinyScenario);
  // The raw bytes go into the shell command inside single quotes (sh has no $'...').
  expect_bad(guarded("run scenario.json --out out --set '/name=\xff\xfe'", dir),
             {"scenario.json: --set: (bytes that are not UTF-8): expected --set /json/pointer=value in UTF-8"});
  EXPECT_FALSE(fs::exists(dir / "out")) << "nothing may be written for a bad --set";
  EXPECT_TRUE(geotrain::sim::is_valid_utf8("plain ascii, caf\xc3\xa9, \xe2\x82\xac, \xf0\x9f\x98\x80"));
  for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"})
    EXPECT_FALSE(geotrain::sim::is_valid_utf8(bad)) << bad;
}

// ---------------------------------------------------------------------------------------------
// Other raw errors of the audit, now exit 2 with file, path, value and what is allowed.

TEST(Reliability, LinkFaultWithoutBetweenIsBadInput) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "scenario.json", kTinyScenario);
  expect_bad(guarded("run scenario.json --out out --set '/faults={\"links\": [{\"down\": [[1, 2]]}]}'", dir),
             {"scenario.json: /faults/links/0/between: missing: expected [\"region a\", \"region b\"]"});
}

TEST(Reliability, TopologyPathOver255BytesIsBadInput) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "scenario.json", kTinyScenario);
  const std::string name(300, 'a');
  expect_bad(guarded("run scenario.json --out out --set /topology=" + name + ".json", dir),
             {"scenario.json: /topology: ", "File name too long", "at most 255 bytes per name"});
}

TEST(Reliability, RealModelThatCannotFitIsRefusedAtLoad) {
  // 1e5 features + 1 bias = 100001 parameters on 100000 workers, 4 float copies each: 160 GB.
  const fs::path dir = fresh_dir("geotrain_rel");
  json doc = json::parse(kTinyScenario);
  doc["workload"]["model"] = {{"type", "linear_regression"}};
  doc["workload"]["dataset"] = {{"name", "synthetic_linear"}, {"features", 100000}, {"train_samples", 100}};
  doc["workload"]["backend"] = "cpu";
  doc["workload"]["optimizer"] = {{"name", "sgd"}, {"lr", 0.1}};
  doc["fleet"][0]["count"] = 50000;
  doc["fleet"][1]["count"] = 50000;
  write_file(dir / "scenario.json", doc.dump());
  const auto start = std::chrono::steady_clock::now();
  expect_bad(guarded("run scenario.json --out out", dir),
             {"scenario.json: /workload/model: 1e+05 parameters x 100000 workers",
              "real training (backend \"cpu\") needs about 160 GB here", "over the limit of 64 GB"});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_FALSE(fs::exists(dir / "out"));
  // More workers than a scenario may have, whatever the model.
  doc["fleet"].push_back(doc["fleet"][0]);
  doc["workload"]["backend"] = "none";
  write_file(dir / "many.json", doc.dump());
  expect_bad(guarded("run many.json --out out", dir), {"many.json: /fleet: 150000 workers: expected at most 100000 workers in all"});
}

TEST(Reliability, TraceCountOf2To32AndInfiniteTimesAreRefused) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "scenario.json", kTinyScenario);
  const std::string spot = "run scenario.json --out out --set /fleet/0/pricing=spot "
                           "--set '/fleet/0/preemption={\"model\": \"trace\", \"trace\": \"TRACE\"}'";
  auto with = [&](const std::string& trace) { return std::string(spot).replace(spot.find("TRACE"), 5, trace); };
  write_file(dir / "ticks.json", R"({"metadata": {"gap_seconds": 60}, "data": [2, 4294967296]})");
  expect_bad(guarded(with("ticks.json"), dir), {"ticks.json: /data/1: 4294967296: expected a count in [0, 100000]"});
  write_file(dir / "inf.csv", "time_ms,available_count\n0,2\ninf,1\n");
  expect_bad(guarded(with("inf.csv"), dir), {"inf.csv: line 3: inf,1: expected rows"});
  write_file(dir / "big.csv", "0,2\n1,4294967296\n");
  expect_bad(guarded(with("big.csv"), dir), {"big.csv: line 2: 1,4294967296"});
}

TEST(Reliability, SummarizeOnMalformedResultsIsBadInputAndPrintsNoTable) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "run" / "results.json", R"({"scenario": 3, "strategy": {"name": "ddp"}})");
  auto r = guarded("summarize run", dir);
  expect_bad(r, {"run/results.json: /scenario: 3: expected a string"});
  EXPECT_EQ(r.out, "");
  write_file(dir / "run" / "results.json", R"({"scenario": "s", "strategy": []})");
  expect_bad(guarded("summarize run", dir), {"run/results.json: /strategy/name: null: expected a string"});
}

TEST(Reliability, UtilizationWithMalformedBaseIsBadInput) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "base.json", R"({"name": "b", "seed": 1, "topology": 3})");
  write_file(dir / "spec.json", R"({"base": "base.json", "parameters": [1e6], "step_compute_s": 1, "wan_Gbps": [1],
                                    "strategies": {"ddp": {"name": "ddp"}}})");
  expect_bad(guarded("utilization spec.json --out out", dir), {"base.json: /topology: 3"});
  write_file(dir / "good.json", kTinyScenario);
  write_file(dir / "spec2.json", R"({"base": "good.json", "parameters": [1e6], "step_compute_s": 1, "wan_Gbps": [1e303],
                                     "strategies": {"ddp": {"name": "ddp"}}})");
  expect_bad(guarded("utilization spec2.json --out out", dir), {"spec2.json: /wan_Gbps/0: 1e+303: expected a non-empty array of numbers in [1e-06, 100000]"});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Reliability, ValidateJsonAtAFolderIsBadInputWithNoStrayPartial) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "scenario.json", kTinyScenario);
  fs::create_directories(dir / "report");
  expect_bad(guarded("validate scenario.json --json report", dir), {"report: --json: is a folder"});
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find(".partial"), std::string::npos) << entry.path();
}

TEST(Reliability, AtomicWritesUseUniqueNamesAndLeaveNothingOnFailure) {
  const fs::path dir = fresh_dir("geotrain_rel");
  const std::string file = (dir / "a.csv").string();
  const std::string t1 = geotrain::analysis::temporary_name(file), t2 = geotrain::analysis::temporary_name(file);
  EXPECT_NE(t1, t2);
  EXPECT_EQ(t1.rfind(file + ".partial." + std::to_string(::getpid()) + ".", 0), 0u) << t1;
  fs::create_directories(dir / "folder");
  EXPECT_THROW(geotrain::analysis::write_text_atomically((dir / "folder").string(), "x"), std::exception);
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find(".partial"), std::string::npos) << entry.path();
}

// ---------------------------------------------------------------------------------------------
// Sweeps: 1,000,000 points, children that die with their parent.

TEST(Reliability, SweepOfAMillionPointsIsBuiltLazily) {
  json grid = {{"/seed", json::array()}, {"/workload/steps", json::array()}};
  for (int i = 0; i < 1000; ++i) grid["/seed"].push_back(i), grid["/workload/steps"].push_back(i + 1);
  const auto plan = geotrain::analysis::parse_sweep(nlohmann::ordered_json{{"base", json::parse(kTinyScenario)}, {"grid", grid}}, "s.json");
  ASSERT_EQ(plan.points.size(), 1000000u);
  const auto last = plan.points[999999];
  EXPECT_EQ(last.index, 999999u);
  EXPECT_EQ(last.id.substr(0, 8), "p999999-");
  EXPECT_EQ(last.scenario["seed"], 999);
  EXPECT_EQ(last.scenario["workload"]["steps"], 1000);
  EXPECT_EQ(plan.points[1001].scenario["seed"], 1);  // the last axis varies fastest
  EXPECT_EQ(plan.points[1001].scenario["workload"]["steps"], 2);
  grid["/strategy/allreduce"] = {"ring", "tree"};
  EXPECT_THROW(geotrain::analysis::parse_sweep(nlohmann::ordered_json{{"base", json::parse(kTinyScenario)}, {"grid", grid}}, "s.json"),
               geotrain::analysis::InputError);
}

TEST(Reliability, MillionPointSweepWithABadPointIsBadInputNotBadAlloc) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "base.json", kTinyScenario);
  json grid = {{"/workload/batch_per_worker", json::array()}, {"/seed", json::array()}};
  for (int i = 0; i < 1000; ++i) grid["/workload/batch_per_worker"].push_back(i), grid["/seed"].push_back(i);
  write_file(dir / "sweep.json", json{{"base", "base.json"}, {"grid", grid}}.dump());
  expect_bad(guarded("sweep sweep.json --out out", dir),
             {"sweep.json: point p000000-", "/workload/batch_per_worker: 0: expected an integer in [1, 16777216]"});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

// Processes whose command line mentions `marker` (the sweep's unique output folder).
std::vector<pid_t> processes_mentioning(const std::string& marker) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_file(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(marker) != std::string::npos && cmdline.find("geotrain") != std::string::npos &&
        cmdline.find("sh -c") == std::string::npos)
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

TEST(Reliability, KilledSweepLeavesNoChildrenAndARerunMatchesACleanRun) {
  const fs::path dir = fresh_dir("geotrain_rel");
  json base = json::parse(kTinyScenario);
  base["workload"]["steps"] = 2000;  // about a second per point
  write_file(dir / "base.json", base.dump());
  write_file(dir / "sweep.json", R"({"base": "base.json", "grid": {"/seed": [1, 2, 3, 4]}})");
  const std::string marker = (dir / "killed").string();
  const std::string cmd = "'" + std::string(GEOTRAIN_BINARY) + "' sweep '" + (dir / "sweep.json").string() + "' --out '" + marker +
                          "' --jobs 2 >/dev/null 2>&1 & echo $! > '" + (dir / "pid").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (processes_mentioning(marker).size() < 3 && std::chrono::steady_clock::now() < deadline)  // parent + 2 children
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GE(processes_mentioning(marker).size(), 3u) << "the sweep did not start two children";
  const pid_t parent = static_cast<pid_t>(std::stol(read_file(dir / "pid")));
  ASSERT_EQ(::kill(parent, SIGKILL), 0);
  std::vector<pid_t> left;
  for (int i = 0; i < 100 && !(left = processes_mentioning(marker)).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(left.empty()) << left.size() << " processes of the killed sweep still run";
  for (const pid_t pid : left) ::kill(pid, SIGKILL);  // never leave them behind the test
  // A rerun in the same folder finishes and writes the same table as a clean run.
  const auto rerun = geotrain("sweep sweep.json --out killed --jobs 2", dir);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  const auto clean = geotrain("sweep sweep.json --out clean --jobs 2", dir);
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_EQ(read_file(dir / "killed" / "sweep.csv"), read_file(dir / "clean" / "sweep.csv"));
  for (const auto& entry : fs::directory_iterator(dir / "clean" / "points"))
    EXPECT_EQ(read_file(entry.path() / "trace.json"), read_file(dir / "killed" / "points" / entry.path().filename() / "trace.json"));
}

// ---------------------------------------------------------------------------------------------
// --cfg: SimGrid options.

TEST(Reliability, CfgThatSimGridAcceptsRunsAndBadOnesAreBadInput) {
  const fs::path dir = fresh_dir("geotrain_rel");
  write_file(dir / "scenario.json", kTinyScenario);
  const auto plain = guarded("run scenario.json --out plain --quiet", dir);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  // geotrain's own default, restated: the same results.
  const auto same = guarded("run scenario.json --out same --quiet --cfg network/TCP-gamma:1e30", dir);
  ASSERT_EQ(same.exit_code, 0) << same.err;
  json a = json::parse(read_file(dir / "plain" / "results.json")), b = json::parse(read_file(dir / "same" / "results.json"));
  a.erase("perf");
  b.erase("perf");
  EXPECT_EQ(a, b);
  // A global TCP window of 64 kB on a 80 ms RTT: the run is slower.
  const auto small = guarded("run scenario.json --out small --quiet --cfg network/TCP-gamma:65536", dir);
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_GT(json::parse(read_file(dir / "small" / "results.json"))["simulated_s"].get<double>(), a["simulated_s"].get<double>());
  expect_bad(guarded("run scenario.json --out bad --cfg network/model:Nope", dir),
             {"--cfg network/model:Nope: SimGrid refused it: Model 'Nope' is invalid"});
  expect_bad(guarded("run scenario.json --out bad --cfg bogus/key:1", dir), {"--cfg bogus/key:1: Bad config key: bogus/key"});
  expect_bad(guarded("run scenario.json --out bad --cfg network/TCP-gamma:abc", dir), {"--cfg network/TCP-gamma:abc: invalid double"});
  expect_bad(guarded("run scenario.json --out bad --cfg noval", dir), {"--cfg noval: expected KEY:VALUE"});
  EXPECT_FALSE(fs::exists(dir / "bad"));
  write_file(dir / "sweep.json", R"({"base": "scenario.json", "grid": {"/seed": [1]}})");
  expect_bad(guarded("sweep sweep.json --out sw --cfg bogus/key:1", dir), {"--cfg bogus/key:1: Bad config key"});
  EXPECT_FALSE(fs::exists(dir / "sw" / "sweep.csv"));
  expect_bad(guarded("validate scenario.json --cfg bogus/key:1", dir), {"--cfg bogus/key:1: Bad config key"});
}

}  // namespace
