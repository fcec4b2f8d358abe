// End-to-end bad input: `geotrain run FILE --out DIR` must exit 2, print one stderr line naming
// the file, the JSON pointer, the value and what is allowed, and write no results.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_test_util.h"
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A valid two-region scenario with an inline topology; each test breaks one thing in it.
const char* const kValidScenario = geotrain::testing::kTinyScenario;

using geotrain::testing::fresh_dir;
using geotrain::testing::write_file;
using RunResult = geotrain::testing::CliRun;

// Runs `geotrain run FILE --out OUT --quiet`; captures stderr and the exit code.
RunResult run_geotrain(const fs::path& file, const fs::path& out) {
  return geotrain::testing::run_geotrain("run '" + file.string() + "' --out '" + out.string() + "' --quiet");
}

// The valid scenario with the value at JSON pointer `pointer` replaced by `value`.
std::string scenario_with(const std::string& pointer, const json& value) {
  json doc = json::parse(kValidScenario);
  doc[json::json_pointer(pointer)] = value;
  return doc.dump(2);
}

// Runs `file` (written with `text` unless text is empty) and checks the bad-input contract: exit
// 2, no results, one stderr line that names the file and contains every one of `parts`.
void expect_bad_input(const fs::path& file, const std::string& text,
                      const std::vector<std::string>& parts) {
  if (!text.empty()) write_file(file, text);
  const fs::path out = file.parent_path() / "out";
  const RunResult r = run_geotrain(file, out);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "expected exactly one line:\n" << r.err;
  EXPECT_EQ(r.err.rfind("geotrain: bad input: " + file.string() + ": ", 0), 0u) << r.err;
  for (const auto& part : parts)
    EXPECT_NE(r.err.find(part), std::string::npos) << "no '" << part << "' in: " << r.err;
  EXPECT_FALSE(fs::exists(out / "results.json")) << r.err;
  EXPECT_FALSE(fs::exists(out)) << "the output folder was created for a bad input";
}

// Same, for the valid scenario with one value replaced.
void expect_bad_value(const std::string& pointer, const json& value,
                      const std::vector<std::string>& parts) {
  SCOPED_TRACE(pointer + " = " + value.dump());
  expect_bad_input(fresh_dir("geotrain_bad_input") / "scenario.json", scenario_with(pointer, value), parts);
}

TEST(BadInput, ValidQuickstartRunsAndWritesResults) {
  const fs::path out = fresh_dir("geotrain_bad_input") / "out";
  const RunResult r = run_geotrain(GEOTRAIN_SOURCE_DIR "/scenarios/quickstart.json", out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(out / "results.json"));
  const json results = json::parse(std::ifstream(out / "results.json"));
  EXPECT_EQ(results["scenario"], "quickstart");
  EXPECT_EQ(results["workers"], 8);
  EXPECT_EQ(results["steps"], 10);
}

TEST(BadInput, ValidBaseScenarioRuns) {  // so the failures below come from the one broken value
  const fs::path dir = fresh_dir("geotrain_bad_input");
  write_file(dir / "scenario.json", kValidScenario);
  const RunResult r = run_geotrain(dir / "scenario.json", dir / "out");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "out" / "results.json"));
}

TEST(BadInput, MissingScenarioFile) {
  expect_bad_input(fresh_dir("geotrain_bad_input") / "absent.json", "", {"absent.json: no such file"});
}

TEST(BadInput, ScenarioPathIsAFolder) {
  const fs::path dir = fresh_dir("geotrain_bad_input") / "folder.json";
  fs::create_directory(dir);
  expect_bad_input(dir, "", {"is a folder; expected a JSON file"});
}

TEST(BadInput, MalformedJsonGivesLineAndColumn) {
  expect_bad_input(fresh_dir("geotrain_bad_input") / "scenario.json", "{\n  \"seed\": 7,\n  \"fleet\": [1,,]\n}\n",
                   {"malformed JSON", "line 3, column 15", "unexpected ','"});
}

TEST(BadInput, NumberTooLargeForADouble) {
  std::string text = kValidScenario;
  const std::string capacity = "\"capacity_Gbps\": 10";
  text.replace(text.find(capacity), capacity.size(), "\"capacity_Gbps\": 1e400");
  expect_bad_input(fresh_dir("geotrain_bad_input") / "scenario.json", text,
                   {"malformed JSON", "number overflow parsing '1e400'", "fit in a double"});
}

TEST(BadInput, UnknownTopLevelKey) {
  expect_bad_value("/seeed", 3,
                   {": /seeed: unknown key: ",
                    "allowed keys here: calibration, checkpoint, description, faults, fleet, name, network, output, seed, strategy, "
                    "topology, workload"});
}

TEST(BadInput, UnknownNestedKey) {
  expect_bad_value("/network/fidelty", "message",
                   {": /network/fidelty: unknown key: ",
                    "allowed keys here: collective_streams, fidelity, parallel_streams, streams_exponent, tcp_window_B, window_cap"});
}

TEST(BadInput, CollectiveStreamsOutsideOneTo1024) {
  for (const json& value : {json(0), json(-4), json(1025), json(1e9), json(2.5), json("16")})
    expect_bad_value("/network/collective_streams", value,
                     {": /network/collective_streams: " + value.dump() + ": expected an integer in [1, 1024]"});
}

TEST(BadInput, UnknownKeyInALinkListsTheOptionalKeys) {
  expect_bad_value("/topology/links/0/capacity_gbps", 10,
                   {": /topology/links/0/capacity_gbps: unknown key: ",
                    "allowed keys here: a, b, capacity_Gbps, capacity_estimated, capacity_limit, latency_ms, "
                    "measured_rtt_ms, rtt_estimated, single_stream_Gbps, source, tcp_window_B"});
}

TEST(BadInput, WrongType) {
  expect_bad_value("/fleet/0/count", "four",
                   {": /fleet/0/count: \"four\": expected an integer in [1, 100000]"});
  expect_bad_value("/network/window_cap", "yes",
                   {": /network/window_cap: \"yes\": expected true or false"});
  expect_bad_value("/workload", 5, {": /workload: 5: expected an object"});
}

TEST(BadInput, NonPositiveLinkCapacity) {
  expect_bad_value("/topology/links/0/capacity_Gbps", 0,
                   {": /topology/links/0/capacity_Gbps: 0: expected a number in [1e-06, 100000]"});
  expect_bad_value("/topology/links/0/capacity_Gbps", -2.5,
                   {": /topology/links/0/capacity_Gbps: -2.5: expected a number in [1e-06, 100000]"});
}

TEST(BadInput, NonPositiveLinkLatency) {
  expect_bad_value("/topology/links/0/latency_ms", 0,
                   {": /topology/links/0/latency_ms: 0: expected a number in [0.0001, 10000]"});
  expect_bad_value("/topology/links/0/latency_ms", -40,
                   {": /topology/links/0/latency_ms: -40: expected a number in [0.0001, 10000]"});
}

TEST(BadInput, NonPositiveNic) {
  expect_bad_value("/topology/instance_types/gpu/nic_Gbps", 0,
                   {": /topology/instance_types/gpu/nic_Gbps: 0: expected a number in [1e-06, 100000]"});
  expect_bad_value("/topology/instance_types/gpu/nic_Gbps", -100,
                   {": /topology/instance_types/gpu/nic_Gbps: -100: expected a number in [1e-06, 100000]"});
}

TEST(BadInput, CountBelowOne) {
  expect_bad_value("/fleet/1/count", 0, {": /fleet/1/count: 0: expected an integer in [1, 100000]"});
  expect_bad_value("/fleet/1/count", -1, {": /fleet/1/count: -1: expected an integer in [1, 100000]"});
}

// Model descriptions (workload.model "transformer" / "layers") and the mfu overrides.
TEST(BadInput, TransformerHeadsNotDividingDModel) {
  const json model = {{"type", "transformer"}, {"layers", 2}, {"d_model", 64}, {"heads", 5}, {"seq_len", 16},
                      {"vocab", 100}};
  expect_bad_value("/workload/model", model, {": /workload/model/heads: 5: expected a divisor of d_model (64)"});
  json gqa = model;
  gqa["heads"] = 4, gqa["kv_heads"] = 3;
  expect_bad_value("/workload/model", gqa, {": /workload/model/kv_heads: 3: expected a divisor of heads (4)"});
  gqa["kv_heads"] = 2, gqa["layers"] = 0;
  expect_bad_value("/workload/model", gqa, {": /workload/model/layers: 0: expected an integer in [1, 100000]"});
  gqa["layers"] = 2, gqa["rope"] = true;
  expect_bad_value("/workload/model", gqa, {": /workload/model/rope: unknown key: allowed keys here: "});
}

TEST(BadInput, LayerListEmptyOrNegative) {
  expect_bad_value("/workload/model", json{{"type", "layers"}, {"layers", json::array()}},
                   {": /workload/model/layers: []: expected an array of at least 1 object(s)"});
  expect_bad_value("/workload/model",
                   json{{"type", "layers"}, {"layers", {{{"name", "a"}, {"parameters", -5}, {"forward_flops", 1e6}}}}},
                   {": /workload/model/layers/0/parameters: -5: expected a number in [0, "});
}

TEST(BadInput, MfuOutsideZeroToOne) {
  expect_bad_value("/workload/mfu", 1.2, {": /workload/mfu: 1.2: expected a number in (0, 1]"});
  expect_bad_value("/fleet/1/mfu", 0, {": /fleet/1/mfu: 0: expected a number in (0, 1]"});
}

TEST(BadInput, FleetRegionNotInTopology) {
  expect_bad_value("/fleet/1/region", "mars",
                   {": /fleet/1/region: \"mars\": expected a region of topology \"tiny\": r0, r1"});
}

TEST(BadInput, DisconnectedTopology) {
  const json regions = json::parse(R"([
    {"name": "r0", "cloud": "c", "continent": "k0"}, {"name": "r1", "cloud": "c", "continent": "k1"},
    {"name": "r2", "cloud": "c", "continent": "k2"}])");
  expect_bad_value("/topology/regions", regions,
                   {": /topology/links: region \"r2\": not connected to region \"r0\"",
                    "every region must be reachable"});
}

TEST(BadInput, UnknownAllreduceAlgorithm) {
  expect_bad_value("/strategy/allreduce", "butterfly2",
                   {": /strategy/allreduce: \"butterfly2\": expected one of \"ring\" | \"tree\" | "
                    "\"hierarchical\""});
}

TEST(BadInput, UnknownInstanceType) {
  expect_bad_value("/fleet/0/instance", "tpu-v9",
                   {": /fleet/0/instance: \"tpu-v9\": expected an instance type of topology \"tiny\": gpu"});
}

TEST(BadInput, TopologyFileDoesNotExist) {
  expect_bad_value("/topology", "no-such/topo.json",
                   {": /topology: \"no-such/topo.json\": no such topology file",
                    "no-such/topo.json; relative paths start at the scenario's folder"});
}

TEST(BadInput, MissingTopologyKey) {
  json doc = json::parse(kValidScenario);
  doc.erase("topology");
  expect_bad_input(fresh_dir("geotrain_bad_input") / "scenario.json", doc.dump(),
                   {": /topology: missing: expected a topology object or the path of a topology file"});
}

TEST(BadInput, BadValueInTopologyFileNamesThatFile) {
  const fs::path dir = fresh_dir("geotrain_bad_input");
  json topology = json::parse(kValidScenario)["topology"];
  topology["links"][0]["capacity_Gbps"] = -1;
  write_file(dir / "topo.json", topology.dump());
  write_file(dir / "scenario.json", scenario_with("/topology", "topo.json"));
  const RunResult r = run_geotrain(dir / "scenario.json", dir / "out");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, "geotrain: bad input: " + (dir / "topo.json").string() +
                       ": /links/0/capacity_Gbps: -1: expected a number in [1e-06, 100000]\n");
  EXPECT_FALSE(fs::exists(dir / "out"));
}

}  // namespace
