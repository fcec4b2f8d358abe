// Workers' forward/backward passes on a thread pool (runtime/math_pool.h): the pool itself, a
// trainer's pass started on it against an immediate pass, and whole runs of every strategy,
// whose results must be byte-identical whatever the number of threads.
#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "runtime/math_pool.h"
#include "tests/test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

TEST(MathPool, ReturnsEveryJobsValue) {
  runtime::MathPool pool(3);
  EXPECT_EQ(pool.threads(), 3);
  std::vector<runtime::MathPool::Ticket> tickets;
  for (int i = 0; i < 50; ++i) tickets.push_back(pool.submit([i] { return i * 0.5; }));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(pool.wait(tickets[i]), i * 0.5);
}

// With the pool's one thread held by a job, a waiter runs the queued jobs itself (without that
// this test never ends).  Two jobs are queued at first: a lone job wakes no pool thread.
TEST(MathPool, AWaiterRunsQueuedJobsItself) {
  runtime::MathPool pool(2);
  std::promise<void> started, release;
  std::atomic<bool> held_started{false};
  auto job = [&] {
    if (!held_started.exchange(true)) {  // the first job to start holds its thread
      started.set_value();
      release.get_future().wait();
      return 1.0;
    }
    return 3.0;
  };
  auto first = pool.submit(job);
  auto second = pool.submit(job);
  started.get_future().wait();
  std::thread::id ran_on;
  auto queued = pool.submit([&] {
    ran_on = std::this_thread::get_id();
    return 2.0;
  });
  EXPECT_EQ(pool.wait(queued), 2.0);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  release.set_value();
  EXPECT_EQ(pool.wait(first) + pool.wait(second), 4.0);
}

TEST(MathPool, RethrowsWhatAJobThrew) {
  runtime::MathPool pool(2);
  auto t = pool.submit([]() -> double { throw std::runtime_error("bad pass"); });
  try {
    pool.wait(t);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "bad pass");
  }
}

TEST(MathPoolDeathTest, RefusesFewerThanTwoThreadsAndMathThreadsBelowOne) {
  EXPECT_DEATH(runtime::MathPool(1), "at least two threads");
  EXPECT_DEATH(runtime::set_math_threads(0), "at least 1");
  EXPECT_EQ(runtime::math_threads(), 1);
}

json small_mlp_scenario(const json& strategy, int steps) {
  testing::UniformNet net;
  net.regions = 2;
  net.workers_per_region = 2;
  return testing::real_scenario(net, {{"type", "mlp"}, {"hidden", {32}}},
                                {{"name", "fashion_mnist"}, {"train_samples", 256}, {"test_samples", 64}}, strategy,
                                16, steps, 0.05);
}

// Two trainers from one Training: one steps with immediate passes, the other with passes on a
// pool, read through grads() before and after finish_forward_backward(); bit for bit the same.
TEST(MathPool, APassOnThePoolLeavesWhatAnImmediatePassLeaves) {
  const sim::Scenario s = sim::parse_scenario(small_mlp_scenario({{"name", "ddp"}}, 1), "t.json");
  sim::Training training(s, 2);
  auto immediate = training.make_trainer(0);
  auto pooled = training.make_trainer(0);  // the same shard, RNG stream and initial model
  runtime::MathPool pool(2);
  for (int step = 0; step < 20; ++step) {
    const double loss = immediate->forward_backward(16);
    pooled->start_forward_backward(16, &pool);
    if (step % 2 == 0) {
      // Reading the gradient waits for the pass.
      const auto g = pooled->grads().values();
      const auto want = immediate->grads().values();
      ASSERT_TRUE(std::equal(g.begin(), g.end(), want.begin())) << "step " << step;
    }
    EXPECT_EQ(pooled->finish_forward_backward(), loss) << "step " << step;
    immediate->optimizer_step(immediate->grads());
    pooled->optimizer_step(pooled->grads());
  }
  const auto a = immediate->params().values();
  const auto b = pooled->params().values();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));
  // Without a pool the pass runs at once; finish returns its loss.
  const double loss = immediate->forward_backward(16);
  pooled->start_forward_backward(16, nullptr);
  EXPECT_EQ(pooled->finish_forward_backward(), loss);
}

struct RunFiles {
  std::string results, timeline, trace;
  int math_threads = 0;
};

RunFiles run_with_threads(const json& scenario, int threads) {
  const auto out = json::parse(sim::run_isolated([&] {
    runtime::set_math_threads(threads);
    const auto o = sim::run_scenario(sim::parse_scenario(scenario, "t.json"));
    return json{{"results", sim::deterministic_part(o.results).dump()},
                {"timeline", o.timeline_csv()},
                {"trace", o.trace_json()},
                {"math_threads", o.results["perf"]["math_threads"]}}
        .dump();
  }));
  return {out["results"], out["timeline"], out["trace"], out["math_threads"]};
}

void expect_same_with_threads(const json& scenario, const std::string& what) {
  const RunFiles one = run_with_threads(scenario, 1);
  const RunFiles three = run_with_threads(scenario, 3);
  EXPECT_EQ(one.math_threads, 1) << what;
  EXPECT_EQ(three.math_threads, 3) << what;
  EXPECT_EQ(one.results, three.results) << what;
  EXPECT_EQ(one.timeline, three.timeline) << what;
  EXPECT_EQ(one.trace, three.trace) << what;
  EXPECT_NE(one.results.find("\"final_test_accuracy\""), std::string::npos) << what;
}

// Every strategy trains a real MLP on 4 workers in 2 regions, evaluated during the run: its
// results, timeline and trace are the same with passes on 3 threads as in the actors.
TEST(MathPool, EveryStrategysResultsAreTheSameWithThreeThreads) {
  const std::vector<json> strategies = {
      {{"name", "ddp"}, {"allreduce", "ring"}},
      {{"name", "ddp"}, {"allreduce", "hierarchical"}},
      {{"name", "diloco"}, {"H", 3}},
      {{"name", "streaming_diloco"}, {"H", 4}, {"fragments", 2}, {"tau", 1}},
      {{"name", "palsgd"}, {"H", 3}, {"p", 0.3}, {"warmup_steps", 2}},
      {{"name", "pactrain"}, {"sparsity", 0.5}, {"warmup_steps", 2}},
      {{"name", "topk"}, {"ratio", 0.1}},
      {{"name", "hivemind"}, {"target_batch", 64}, {"matchmaking_s", 0}},
      {{"name", "parameter_server"}},
      {{"name", "parameter_server"}, {"mode", "sync"}, {"shards", 2}},
      {{"name", "easgd"}, {"tau", 2}, {"beta", 0.3}},
      {{"name", "gossip"}, {"form", "pull"}},
      {{"name", "gossip"}, {"form", "push"}},
  };
  for (const auto& strategy : strategies) {
    json s = small_mlp_scenario(strategy, 12);
    s["workload"]["eval_every"] = 4;
    // Unequal speeds, so that asynchronous strategies interleave.
    s["topology"]["instance_types"]["slow"] = s["topology"]["instance_types"]["gpu"];
    s["topology"]["instance_types"]["slow"]["gpu_peak_tflops"] = 40.0;
    s["fleet"][1]["instance"] = "slow";
    expect_same_with_threads(s, strategy.dump());
  }
}

// The same when worker r1:0 is preempted at a quarter of the fault-free run and back at half:
// its pass may still be running when its actor dies.
TEST(MathPool, ResultsUnderAPreemptionAreTheSameWithThreeThreads) {
  for (const json& strategy : {json{{"name", "ddp"}}, json{{"name", "diloco"}, {"H", 3}},
                               json{{"name", "parameter_server"}}, json{{"name", "gossip"}}}) {
    json s = small_mlp_scenario(strategy, 24);
    s["topology"]["instance_types"]["gpu"]["gpu_peak_tflops"] = testing::kSlowGpuTflops * 1e4;
    const double simulated_s = json::parse(sim::run_isolated([&] {
                                 return sim::run_scenario(sim::parse_scenario(s, "t.json")).results.dump();
                               }))["simulated_s"].get<double>();
    s["fleet"][1]["pricing"] = "spot";
    const auto trace = testing::write_temp_file(
        "geotrain-math-pool", "trace.csv", fmt::format("0,1\n{},0\n{},1\n", simulated_s * 250, simulated_s * 500));
    s["fleet"][1]["preemption"] = {{"model", "trace"}, {"boot_s", 0}, {"trace", trace}};
    s["faults"] = {{"retry_after_s", 0.001}};
    const RunFiles one = run_with_threads(s, 1);
    EXPECT_NE(one.results.find("\"preemptions\":1"), std::string::npos) << strategy.dump() << one.results;
    expect_same_with_threads(s, strategy.dump());
  }
}

// `geotrain run --threads N` runs the passes on N threads (capped at the workers) and writes the
// same results; perf.math_threads says how many.
TEST(MathPool, CommandLineThreadsOption) {
  const std::string file =
      testing::write_temp_file("geotrain-math-pool", "cli.json", small_mlp_scenario({{"name", "ddp"}}, 6).dump());
  const auto dir = std::filesystem::temp_directory_path() / "geotrain-math-pool";
  std::string deterministic[3];
  const int threads[3] = {1, 2, 16};
  for (int i = 0; i < 3; ++i) {
    const auto out = dir / fmt::format("t{}", threads[i]);
    const std::string cmd = fmt::format("{} run {} --quiet --threads {} --out {} > /dev/null", GEOTRAIN_BINARY, file,
                                        threads[i], out.string());
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream in(out / "results.json");
    const auto r = nlohmann::ordered_json::parse(in);
    EXPECT_EQ(r["perf"]["math_threads"], std::min(threads[i], 4)) << cmd;
    deterministic[i] = sim::deterministic_part(r).dump();
  }
  EXPECT_EQ(deterministic[0], deterministic[1]);
  EXPECT_EQ(deterministic[0], deterministic[2]);
  const std::string bad = fmt::format("{} run {} --quiet --threads 0 --out {} 2> /dev/null", GEOTRAIN_BINARY, file,
                                      (dir / "t0").string());
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "t0" / "results.json"));
}

}  // namespace
}  // namespace geotrain
