// Folders for `geotrain report` tests, made by the real binary: a size-only run (the tiny
// scenario), a short real-training run (Fashion-MNIST, with evaluations) and a small sweep.
#pragma once
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace geotrain::testing {

// DIR/tiny: `geotrain run` of kTinyScenario (size-only, two regions).  Returns the run folder.
inline std::filesystem::path make_size_only_run(const std::filesystem::path& dir) {
  write_file(dir / "tiny.json", kTinyScenario);
  const CliRun run = run_geotrain("run tiny.json --out tiny --quiet", dir);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return dir / "tiny";
}

// DIR/real: 30 steps of scenarios/jin2016-sync-vs-async.json (an MLP on Fashion-MNIST, four
// regions, evaluated every 25 rows and at the end, target test accuracy 0.8).
inline std::filesystem::path make_real_run(const std::filesystem::path& dir) {
  const std::string scenario = std::string(GEOTRAIN_SOURCE_DIR) + "/scenarios/jin2016-sync-vs-async.json";
  const CliRun run = run_geotrain("run '" + scenario + "' --set /workload/steps=30 --out real --quiet", dir);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return dir / "real";
}

// DIR/sweep: kTinyScenario under three strategies x two pricings x two fleet sizes (12 points; the
// front holds two: a cheap slow one and a fast one that costs more).
inline std::filesystem::path make_sweep(const std::filesystem::path& dir) {
  write_file(dir / "tiny.json", kTinyScenario);
  write_file(dir / "sweep.json", R"({"base": "tiny.json", "grid": {
    "/strategy": [{"name": "ddp", "allreduce": "ring"}, {"name": "ddp", "allreduce": "tree"}, {"name": "diloco", "H": 2}],
    "/fleet/0/pricing": ["spot", "on_demand"], "/fleet/0/count": [1, 4], "/workload/steps": [4]}})");
  const CliRun run = run_geotrain("sweep sweep.json --out sweep --jobs 2", dir);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  return dir / "sweep";
}

}  // namespace geotrain::testing
