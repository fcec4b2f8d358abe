// Helpers for tests that run the geotrain binary or need scratch files: a fresh folder per test,
// file writing/reading, and one run of the binary with its exit code, stdout and stderr.
#pragma once
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace geotrain::testing {

// A valid two-region scenario with an inline topology that runs in milliseconds.
inline constexpr const char* kTinyScenario = R"({
  "name": "tiny", "seed": 7,
  "topology": {
    "name": "tiny",
    "regions": [{"name": "r0", "cloud": "c", "continent": "k0", "lan_latency_ms": 0.05},
                {"name": "r1", "cloud": "c", "continent": "k1", "lan_latency_ms": 0.05}],
    "links": [{"a": "r0", "b": "r1", "latency_ms": 40, "capacity_Gbps": 10}],
    "instance_types": {"gpu": {"gpus": 1, "gpu_peak_tflops": 100, "utilization": 0.5,
                               "nic_Gbps": 100, "usd_per_hour": {"on_demand": 3.6, "spot": 1.8}}},
    "egress_usd_per_GB": {"c": {"cross_zone": 0.01, "same_continent": 0.02,
                                "inter_continent": 0.05, "internet": 0.09}}
  },
  "fleet": [{"region": "r0", "instance": "gpu", "count": 2},
            {"region": "r1", "instance": "gpu", "count": 2}],
  "workload": {"model": {"type": "profile", "parameters": 1e6, "flops_per_sample": 1e9},
               "batch_per_worker": 8, "steps": 1},
  "strategy": {"name": "ddp", "allreduce": "ring"},
  "network": {"fidelity": "message"}
})";

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

// A fresh, empty folder under the test temp dir, named after `prefix`.
inline std::filesystem::path fresh_dir(const std::string& prefix = "geotrain_test") {
  std::string tmpl = (std::filesystem::path(::testing::TempDir()) / (prefix + "_XXXXXX")).string();
  const char* dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr) << "mkdtemp failed for " << tmpl;
  return dir ? std::filesystem::path(dir) : std::filesystem::path();
}

// Writes `text` to `file`, creating its folder.
inline void write_file(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

inline std::string read_file(const std::filesystem::path& file) {
  std::ostringstream s;
  s << std::ifstream(file, std::ios::binary).rdbuf();
  return s.str();
}

// Runs `geotrain ARGS` (ARGS is shell text: quote paths yourself) in `cwd` (default: the current
// folder), capturing stdout and stderr separately.
inline CliRun run_geotrain(const std::string& args, const std::filesystem::path& cwd = {}) {
  const auto scratch = fresh_dir("geotrain_cli");
  const auto out = scratch / "stdout", err = scratch / "stderr";
  std::string cmd = std::string("'") + GEOTRAIN_BINARY + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
  if (!cwd.empty()) cmd = "cd '" + cwd.string() + "' && " + cmd;
  const int status = std::system(cmd.c_str());
  return CliRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
}

}  // namespace geotrain::testing
