// The rule for identical workers (sim/identical_workers.h, one_actor_for_all_workers): one actor does the
// work of every worker where that provably gives what an actor per worker gives.  Here the two
// are run side by side: results.json (minus perf), timeline.csv and trace.json must be the same
// bytes, and the rule must stop where it no longer holds.
#include <string>
#include <tuple>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "multicloud_scenario.h"
#include "sim/isolate.h"
#include "sim/identical_workers.h"
#include "sim/run.h"
#include "test_util.h"

namespace geotrain {
namespace {

using json = nlohmann::json;

struct Outputs {
  std::string results, timeline, trace;  // results: without perf
  int worker_actors = 0;
};

Outputs run_with_rule(const json& scenario, bool rule) {
  const json out = json::parse(sim::run_isolated([&] {
    sim::set_identical_workers_rule(rule);
    const auto run = sim::run_scenario(sim::parse_scenario(scenario, "identical.json"));
    return json{{"results", sim::deterministic_part(run.results).dump()},
                {"actors", run.results["perf"]["worker_actors"]},
                {"timeline", run.timeline_csv()},
                {"trace", run.trace_json()}}
        .dump();
  }));
  return {out["results"], out["timeline"], out["trace"], out["actors"]};
}

// 40 T4 workers in 16 regions of two clouds, with launch and step overheads and a trace cap that
// the run passes (kept spans, then aggregates): DDP with each all-reduce that has a closed form
// (int8 gradients on the hierarchical one) and DiLoCo, one actor writes what 40 write.
// DDP with overlap has its buckets timed in one meeting (a 6-layer model, buckets of 2 layers,
// a launch cost per bucket; at both trace details), and so has DiLoCo's outer gradient.
TEST(IdenticalWorkers, OneActorWritesWhatAnActorPerWorkerWrites) {
  for (const std::string algo : {"ring", "tree", "hierarchical", "diloco", "overlap", "overlap-layers", "diloco-overlap"}) {
    json s = testing::multicloud_ddp_scenario(40, 25);
    s["strategy"] = {{"name", "ddp"}, {"allreduce", algo}, {"step_overhead_s", 0.002}, {"collective_launch_s", 0.0005}};
    if (algo == "hierarchical") s["strategy"]["wire_format"] = "int8";
    if (algo == "diloco") s["strategy"] = {{"name", "diloco"}, {"H", 4}, {"allreduce", "hierarchical"}, {"step_overhead_s", 0.002}};
    s["output"] = {{"trace_max_spans", 1000}};
    if (algo.find("overlap") != std::string::npos) {
      json layers = json::array();
      for (int l = 0; l < 6; ++l)
        layers.push_back({{"name", fmt::format("layer{}", l)}, {"parameters", 4e6 + l}, {"forward_flops", 2e10}});
      s["workload"]["model"] = {{"type", "layers"}, {"layers", layers}};
      s["strategy"] = {{"name", "ddp"}, {"allreduce", "hierarchical"}, {"overlap", true}, {"bucket_cap_MB", 32},
                       {"collective_launch_s", 0.0005}};
      if (algo == "overlap-layers") s["output"]["trace"] = "layers";
      if (algo == "diloco-overlap")
        s["strategy"] = {{"name", "diloco"}, {"H", 4}, {"allreduce", "hierarchical"}, {"overlap", true}, {"bucket_cap_MB", 32}};
    }
    const Outputs each = run_with_rule(s, false), one = run_with_rule(s, true);
    EXPECT_EQ(each.worker_actors, 40) << algo;
    EXPECT_EQ(one.worker_actors, 1) << algo;
    EXPECT_EQ(one.results, each.results) << algo;
    EXPECT_EQ(one.timeline, each.timeline) << algo;
    EXPECT_EQ(one.trace, each.trace) << algo;
    const json trace = json::parse(one.trace);
    ASSERT_TRUE(trace.contains("otherData")) << algo;  // the cap was passed: aggregates were written
    EXPECT_GT(trace["otherData"]["spans_aggregated"].get<long>(), 1000) << algo;
  }
}

// Where the rule stops: another compute rate in the fleet, message fidelity, real tensors,
// Streaming DiLoCo (its fragments sync from helper actors).  Each keeps an actor per worker.
// (Faults need the message fidelity.)
TEST(IdenticalWorkers, TheRuleStopsWhereWorkersDiffer) {
  const json base = testing::multicloud_ddp_scenario(16, 3);
  json faster = base;
  faster["fleet"][0]["instance"] = "g5.xlarge";  // an A10G among the T4s
  json message = base;
  message["network"]["fidelity"] = "message";
  json overlap = base;
  overlap["strategy"] = {{"name", "streaming_diloco"}, {"H", 4}, {"fragments", 2}, {"allreduce", "hierarchical"}};
  json real = testing::uniform_scenario(testing::UniformNet{2, 2}, 1, "ring");
  real["workload"] = {{"model", {{"type", "linear_regression"}}},
                      {"dataset", {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 256}, {"test_samples", 64}}},
                      {"backend", "cpu"}, {"batch_per_worker", 8}, {"steps", 2}};
  real["strategy"] = {{"name", "ddp"}, {"allreduce", "ring"}};
  real["network"] = {{"fidelity", "collective"}};
  EXPECT_EQ(run_with_rule(base, true).worker_actors, 1);
  for (const auto& [name, s, workers] : {std::tuple{"a faster instance", faster, 16},
                                         std::tuple{"message fidelity", message, 16},
                                         std::tuple{"Streaming DiLoCo", overlap, 16}, std::tuple{"real tensors", real, 4}}) {
    const Outputs each = run_with_rule(s, false), one = run_with_rule(s, true);
    EXPECT_EQ(one.worker_actors, workers) << name;
    EXPECT_EQ(one.results, each.results) << name;
  }
}

}  // namespace
}  // namespace geotrain
