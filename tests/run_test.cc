// Whole runs: output files, result keys and their consistency, nccl-tests bus bandwidth, and
// determinism (same scenario and seed: byte-identical results apart from "perf").
#include <filesystem>
#include <map>
#include <tuple>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "sim/recorder.h"
#include "test_util.h"

namespace geotrain {
namespace {

std::string quickstart() { return std::string(GEOTRAIN_SOURCE_DIR) + "/scenarios/quickstart.json"; }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string run_quickstart_isolated() {
  return sim::run_isolated([] {
    return sim::deterministic_part(sim::run_scenario(sim::load_scenario(quickstart())).results).dump(2);
  });
}

TEST(Run, SameScenarioSameSeedByteIdenticalResults) {
  const auto a = run_quickstart_isolated();
  const auto b = run_quickstart_isolated();
  EXPECT_EQ(a, b);
  EXPECT_EQ(nlohmann::json::parse(a)["seed"], 42);
}

TEST(Run, CommandLineWritesAllOutputsAndRepeatsItself) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "geotrain_run_test";
  std::filesystem::remove_all(dir);
  std::string results[2];
  for (int i = 0; i < 2; ++i) {
    const auto out = dir / std::to_string(i);
    const std::string cmd = std::string(GEOTRAIN_BINARY) + " run " + quickstart() + " --quiet --out " + out.string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto r = nlohmann::ordered_json::parse(read_file(out / "results.json"));
    ASSERT_TRUE(r.contains("perf"));
    results[i] = sim::deterministic_part(r).dump();
    // trace.json: Chrome trace events, a named track per worker, spans of both kinds.
    const auto trace = nlohmann::json::parse(read_file(out / "trace.json"));
    int names = 0, compute = 0, comm = 0;
    for (const auto& e : trace["traceEvents"]) {
      if (e["ph"] == "M" && e["name"] == "thread_name") ++names;
      if (e["ph"] == "X" && e["cat"] == "compute") ++compute;
      if (e["ph"] == "X" && e["cat"] == "communication") ++comm;
    }
    EXPECT_EQ(names, 8);
    EXPECT_EQ(compute, 8 * 10 * 2);  // forward+backward and the optimizer step
    EXPECT_EQ(comm, 8 * 10);
    // timeline.csv: header and one row per step.
    const auto csv = read_file(out / "timeline.csv");
    EXPECT_EQ(csv.rfind("step,time_s,samples,compute_usd,egress_usd,total_usd,wan_bytes,train_loss,test_loss,test_accuracy,alive_workers,useful_samples\n", 0), 0u);
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 11);
  }
  EXPECT_EQ(results[0], results[1]);
}

TEST(Run, ResultsAreInternallyConsistent) {
  const auto r = nlohmann::json::parse(run_quickstart_isolated());
  const double t = r["simulated_s"], samples = r["samples"];
  EXPECT_EQ(r["steps"], 10);
  EXPECT_EQ(samples, 8 * 32 * 10);
  EXPECT_DOUBLE_EQ(r["throughput_samples_per_s"].get<double>(), samples / t);
  const auto& tb = r["time_breakdown_s"];
  EXPECT_NEAR(tb["compute"].get<double>() + tb["communication_exposed"].get<double>() + tb["idle"].get<double>(), t, 1e-9);
  // Compute per worker = steps x (batch x flops/sample / (65 TFLOP/s x 0.35) + the optimizer
  // step: SGD reads the parameters and the gradient and writes the parameters, 2 B each, over
  // the T4's 320 GB/s).
  EXPECT_NEAR(tb["compute"].get<double>(), 10 * (32 * 6.144e11 / (65e12 * 0.35) + 200e6 * 3 * 2 / 320e9), 1e-6);
  EXPECT_DOUBLE_EQ(r["granularity"].get<double>(),
                   tb["compute"].get<double>() / tb["communication_exposed"].get<double>());
  EXPECT_DOUBLE_EQ(r["cost_usd"]["total"].get<double>(),
                   r["cost_usd"]["compute"].get<double>() + r["cost_usd"]["egress"].get<double>());
  // Hierarchical DDP of 2 regions: the leaders exchange 2(R-1)/R x S = S per step each way
  // (S = 200M params x 2 B fp16 wire bytes).
  EXPECT_EQ(r["traffic_bytes"]["wan"].get<double>(), 2 * 10 * 200e6 * 2);
  const auto& c = r["collectives"][0];
  EXPECT_EQ(c["op"], "allreduce");
  EXPECT_EQ(c["algorithm"], "hierarchical");
  EXPECT_EQ(c["size_B"], 400000000);
  EXPECT_EQ(c["count"], 80);  // 8 workers x 10 steps
  EXPECT_DOUBLE_EQ(c["algbw_GBps"].get<double>(), 0.4 / c["mean_time_s"].get<double>());
  EXPECT_DOUBLE_EQ(c["busbw_GBps"].get<double>(), c["algbw_GBps"].get<double>() * 2 * 7 / 8);
}

// perf.cpu_s is the processor time of the run's process over the span of perf.wall_s: more than
// nothing, and no more than that span times the threads that may compute at once.
TEST(Run, PerfCountsProcessorTimeOverTheWallSpan) {
  const auto perf = nlohmann::json::parse(sim::run_isolated([] {
    return sim::run_scenario(sim::load_scenario(quickstart())).results["perf"].dump();
  }));
  const double cpu_s = perf["cpu_s"].get<double>(), wall_s = perf["wall_s"].get<double>();
  constexpr double kClockTickS = 0.01;  // what the kernel's processor-time accounting may round to
  EXPECT_GT(cpu_s, 0);
  EXPECT_LE(cpu_s, wall_s * perf["math_threads"].get<double>() + kClockTickS) << perf.dump();
}

TEST(Run, BusBandwidthFactorsFollowNcclTests) {
  EXPECT_DOUBLE_EQ(sim::busbw_factor("allreduce", 8), 2.0 * 7 / 8);
  EXPECT_DOUBLE_EQ(sim::busbw_factor("allgather", 4), 3.0 / 4);
  EXPECT_DOUBLE_EQ(sim::busbw_factor("reduce_scatter", 4), 3.0 / 4);
  EXPECT_DOUBLE_EQ(sim::busbw_factor("broadcast", 5), 1.0);
}

}  // namespace
}  // namespace geotrain

namespace geotrain {
namespace {

// utilization.csv rows: (model, strategy, Gbps) -> utilization.
std::map<std::tuple<double, std::string, double>, double> read_utilization(const std::filesystem::path& csv) {
  std::map<std::tuple<double, std::string, double>, double> out;
  std::ifstream f(csv);
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::stringstream row(line);
    std::string params, strategy, gbps, step, util;
    std::getline(row, params, ',');
    std::getline(row, strategy, ',');
    std::getline(row, gbps, ',');
    std::getline(row, step, ',');
    std::getline(row, util, ',');
    out[{std::stod(params), strategy, std::stod(gbps)}] = std::stod(util);
  }
  return out;
}

TEST(Utilization, DataParallelMatchesTheRingClosedFormAndStreamingNeedsLeastBandwidth) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "geotrain_utilization_test";
  std::filesystem::remove_all(dir);
  const std::string cmd = std::string(GEOTRAIN_BINARY) + " utilization " + GEOTRAIN_SOURCE_DIR +
                          "/scenarios/streaming-diloco-bandwidth.json --out " + dir.string() + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const auto u = read_utilization(dir / "utilization.csv");
  ASSERT_EQ(u.size(), 3u * 4u * 9u);
  // Two replicas, 1B fp32 parameters (4 GB), 1 Tbit/s, host-to-host 50.01 ms one way:
  // ring all-reduce 2 (alpha + S/(2 beta)) after each 1 s step.
  const double comm = 2 * (0.05001 + 4e9 / 2 / (1e12 / 8));
  EXPECT_NEAR((u.at({1e9, "data_parallel", 1000})), 1 / (1 + comm), 1e-3);
  for (double params : {1e9, 1e10, 1e11})
    for (double gbps : {0.1, 1.0, 10.0, 100.0, 1000.0}) {
      const double dp = u.at({params, "data_parallel", gbps}), diloco = u.at({params, "diloco_H100", gbps});
      const double streaming = u.at({params, "streaming_P4_fp4_tau1", gbps});
      EXPECT_LE(dp, diloco + 1e-9) << params << " @ " << gbps;
      EXPECT_LE(diloco, streaming + 1e-9) << params << " @ " << gbps;
    }
  // needed.csv: a row per model x strategy x target.
  std::ifstream needed(dir / "needed.csv");
  EXPECT_EQ(std::count(std::istreambuf_iterator<char>(needed), {}, '\n'), 1 + 3 * 4 * 5);
}

// The paper's spec ("models"): each model keeps its architecture and its stated step time: the
// one-all-reduce data-parallel step at 1 Tbit/s is the step time plus the ring in closed form
// (two replicas, bf16 gradient of the model's parameters, 50.01 ms host to host one way).
TEST(Utilization, ModelsKeepTheirArchitectureAndStepTime) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "geotrain_utilization_models_test";
  std::filesystem::remove_all(dir);
  const std::string cmd = std::string(GEOTRAIN_BINARY) + " utilization " + GEOTRAIN_SOURCE_DIR +
                          "/scenarios/streaming-diloco-paper.json --out " + dir.string() + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const auto u = read_utilization(dir / "utilization.csv");
  ASSERT_EQ(u.size(), 3u * 4u * 9u);
  const std::vector<std::pair<double, double>> models = {{1278332928, 0.1}, {9805701120, 0.8}, {101022617600, 4.9}};
  for (const auto& [params, step_s] : models) {
    const double comm = 2 * (0.05001 + 2 * params / 2 / (1e12 / 8));
    EXPECT_NEAR((u.at({params, "data_parallel_one_allreduce", 1000})), step_s / (step_s + comm), 1e-3) << params;
    EXPECT_LT((u.at({params, "data_parallel_25MiB_buckets", 1000})), u.at({params, "data_parallel_one_allreduce", 1000}));
  }
  // A step too short for the model on the type (more than its peak) is bad input, naming the spec.
  const auto spec = dir / "bad.json";
  std::ofstream(spec) << R"({"base": ")" << GEOTRAIN_SOURCE_DIR << R"(/scenarios/streaming-diloco-paper-base.json",
    "models": [{"model": {"type": "transformer", "layers": 80, "d_model": 10240, "heads": 80, "seq_len": 2048,
                          "vocab": 32000}, "step_compute_s": 0.01}],
    "wan_Gbps": [1], "strategies": {"dp": {"name": "ddp"}}})";
  const std::string bad = std::string(GEOTRAIN_BINARY) + " utilization " + spec.string() + " --out " + (dir / "o").string() +
                          " 2> " + (dir / "err").string();
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 2);
  std::ifstream err(dir / "err");
  const std::string e((std::istreambuf_iterator<char>(err)), {});
  EXPECT_NE(e.find("bad.json: /strategies/dp"), std::string::npos) << e;
  EXPECT_NE(e.find("expected at most 1"), std::string::npos) << e;
  EXPECT_FALSE(std::filesystem::exists(dir / "o"));
}

}  // namespace
}  // namespace geotrain
