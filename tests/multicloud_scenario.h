// The scale benchmark's scenario (tests/scale_bench.cc), also run by tests.
#pragma once
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace geotrain::testing {

// DDP with the hierarchical all-reduce, size-only, 100M parameters, collective fidelity, over the
// first 16 regions of topologies/multicloud.json (workers dealt round the regions): a T4 machine
// of each region's cloud, g4dn.xlarge on AWS and n1-standard-8-t4 on GCP (one compute rate).
inline nlohmann::json multicloud_ddp_scenario(int workers, int steps) {
  constexpr int kRegions = 16;
  const std::string topology_path = std::string(GEOTRAIN_SOURCE_DIR) + "/topologies/multicloud.json";
  std::ifstream in(topology_path);
  const auto topology = nlohmann::json::parse(in);
  nlohmann::json s = {{"name", fmt::format("scale-{}x{}", workers, steps)}, {"seed", 1}, {"topology", topology_path}};
  s["fleet"] = nlohmann::json::array();
  for (int r = 0; r < kRegions; ++r) {
    const auto& region = topology["regions"].at(r);
    const int count = workers / kRegions + (r < workers % kRegions ? 1 : 0);
    const std::string instance = region["cloud"] == "aws" ? "g4dn.xlarge" : "n1-standard-8-t4";
    if (count > 0) s["fleet"].push_back({{"region", region["name"]}, {"instance", instance}, {"count", count}});
  }
  s["workload"] = {{"model", {{"type", "profile"}, {"parameters", 100e6}, {"flops_per_sample", 6e11}}},
                   {"batch_per_worker", 32}, {"steps", steps}};
  s["strategy"] = {{"name", "ddp"}, {"allreduce", "hierarchical"}};
  s["network"] = {{"fidelity", "collective"}};
  return s;
}

}  // namespace geotrain::testing
