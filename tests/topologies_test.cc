// Every shipped topology (topologies/*.json) works with every command that takes one: `topo`,
// `run`, `validate` and `utilization`, each on a minimal scenario over two of its regions.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_test_util.h"
#include "sim/json_reader.h"
#include "sim/topology.h"

namespace geotrain {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The shipped topology files: topologies/*.json with regions (instances.json is the catalog).
std::vector<fs::path> shipped_topologies() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(GEOTRAIN_SOURCE_DIR) / "topologies"))
    if (e.path().extension() == ".json" && sim::read_json_file(e.path().string()).contains("regions"))
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// One worker in each of the topology's first two regions, on an instance type each can run.
json minimal_scenario(const fs::path& file) {
  const json doc = sim::read_json_file(file.string());
  sim::JsonReader reader(doc, file.string());
  const sim::Topology t = sim::parse_topology(reader);
  json s = {{"name", "minimal"}, {"seed", 1}, {"topology", file.string()}, {"fleet", json::array()}};
  for (int region = 0; region < 2; ++region) {
    std::string instance;
    for (const auto& [name, type] : t.instance_types)
      if (t.placement_error(region, name).empty()) {
        instance = name;
        break;
      }
    EXPECT_FALSE(instance.empty()) << file << ": no instance type runs in " << t.regions[region].name;
    s["fleet"].push_back({{"region", t.regions[region].name}, {"instance", instance}, {"count", 1}});
  }
  s["workload"] = {{"model", {{"type", "profile"}, {"parameters", 1e6}, {"flops_per_sample", 1e9}}},
                   {"batch_per_worker", 8}, {"steps", 2}};
  s["strategy"] = {{"name", "ddp"}};
  return s;
}

TEST(ShippedTopologies, TopoRunValidateAndUtilizationWorkWithEach) {
  const auto files = shipped_topologies();
  ASSERT_GE(files.size(), 2u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    const fs::path dir = testing::fresh_dir("geotrain_topologies");
    const json scenario = minimal_scenario(file);
    testing::write_file(dir / "scenario.json", scenario.dump(2));
    testing::write_file(dir / "spec.json", json{{"base", "scenario.json"},
                                                {"parameters", {1e6}},
                                                {"step_compute_s", 1.0},
                                                {"wan_Gbps", {1, 10}},
                                                {"strategies", {{"ddp", {{"name", "ddp"}}}}}}
                                                   .dump(2));
    const auto quoted = "'" + file.string() + "'";
    const std::string regions = scenario["fleet"][0]["region"].get<std::string>() + "," +
                                scenario["fleet"][1]["region"].get<std::string>();
    for (const std::string args : {"topo " + quoted, "topo " + quoted + " --regions " + regions,
                                   std::string("run scenario.json --out out"), std::string("validate scenario.json --jobs 2"),
                                   std::string("utilization spec.json --out util")}) {
      const auto r = testing::run_geotrain(args, dir);
      EXPECT_EQ(r.exit_code, 0) << "geotrain " << args << "\n" << r.out << r.err;
    }
    EXPECT_TRUE(fs::exists(dir / "out" / "results.json"));
    const std::string util = testing::read_file(dir / "util" / "utilization.csv");
    EXPECT_EQ(std::count(util.begin(), util.end(), '\n'), 3) << util;  // header + 2 bandwidths
  }
}

}  // namespace
}  // namespace geotrain
