// Benchmark of the emulator's overhead around real compute: a full emulated DDP run (SimGrid,
// collectives carrying real gradients, ledger, recorder) against the same number of bare
// training steps (forward, backward and optimizer step of every worker, nothing else), measured
// in the same binary, for an MLP with 100 and with 1000 hidden units, in message and in
// collective fidelity.  Each emulated run is a fresh process (one SimGrid engine per process).
#include <chrono>

#include <benchmark/benchmark.h>

#include "kernels/gemm.h"
#include "kernels/reduce.h"
#include "runtime/math_pool.h"
#include "sim/isolate.h"
#include "sim/run.h"
#include "sim/training.h"

namespace {

using namespace geotrain;

constexpr int kWorkers = 4;
constexpr int kBatch = 64;
constexpr int kSteps = 200;

nlohmann::json scenario(int hidden) {
  auto s = nlohmann::json::parse(R"({
    "name": "emulation-bench", "seed": 3,
    "topology": {"name": "t",
      "regions": [{"name": "a", "cloud": "c", "continent": "x"}, {"name": "b", "cloud": "c", "continent": "y"}],
      "links": [{"a": "a", "b": "b", "latency_ms": 40, "capacity_Gbps": 10}],
      "instance_types": {"gpu": {"gpu_peak_tflops": 10, "utilization": 0.5, "nic_Gbps": 25,
                                 "usd_per_hour": {"on_demand": 1, "spot": 0.5}}},
      "egress_usd_per_GB": {"c": {"cross_zone": 0.01, "same_continent": 0.02, "inter_continent": 0.05, "internet": 0.09}}},
    "fleet": [{"region": "a", "instance": "gpu", "count": 2}, {"region": "b", "instance": "gpu", "count": 2}],
    "workload": {"model": {"type": "mlp", "hidden": [100]},
                 "dataset": {"name": "fashion_mnist", "train_samples": 12800, "test_samples": 1},
                 "backend": "cpu", "optimizer": {"name": "sgd", "lr": 0.05},
                 "batch_per_worker": 64, "steps": 200},
    "strategy": {"name": "ddp", "allreduce": "ring"}})");
  s["workload"]["model"]["hidden"] = {hidden};
  return s;
}

// The whole emulated run (engine, actors, collectives on real data, evaluation at the end);
// data loading is setup and is not timed.  Second argument: threads for the workers' passes
// (runtime/math_pool.h; 1: every pass in its actor).  Third: network fidelity, 0 "message"
// (every chunk a SimGrid flow), 1 "collective" (sim/collectives/analytic.h).
void BM_EmulatedDdpRun(benchmark::State& state) {
  const int hidden = static_cast<int>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  auto s = scenario(hidden);
  s["network"]["fidelity"] = state.range(2) == 0 ? "message" : "collective";
  for (auto _ : state) {
    const double seconds = std::stod(sim::run_isolated([&s, threads] {
      runtime::set_math_threads(threads);
      const auto out = sim::run_scenario(sim::parse_scenario(s, "bench.json"));
      return std::to_string(out.results["perf"]["run_wall_s"].get<double>());
    }));
    state.SetIterationTime(seconds);
  }
  state.counters["worker_steps"] = kWorkers * kSteps;
}
BENCHMARK(BM_EmulatedDdpRun)
    ->Args({100, 1, 0})
    ->Args({1000, 1, 0})
    ->Args({100, 2, 0})
    ->Args({1000, 2, 0})
    ->Args({100, 1, 1})
    ->Args({1000, 1, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The same math with nothing around it: every worker's forward/backward/SGD step, in turn.
void BM_BareTrainingSteps(benchmark::State& state) {
  const sim::Scenario s = sim::parse_scenario(scenario(static_cast<int>(state.range(0))), "bench.json");
  sim::Training training(s, kWorkers);
  std::vector<std::unique_ptr<runtime::Trainer>> trainers;
  for (int r = 0; r < kWorkers; ++r) trainers.push_back(training.make_trainer(r));
  for (auto _ : state) {
    for (int step = 0; step < kSteps; ++step)
      for (auto& t : trainers) {
        t->forward_backward(kBatch);
        t->optimizer_step(t->grads());
      }
  }
  state.counters["worker_steps"] = kWorkers * kSteps;
}
BENCHMARK(BM_BareTrainingSteps)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// The same steps with the workers' passes on a pool of 2 threads (the caller's included), as an
// emulated run with 2 math threads runs them: every pass of a step started, then each worker's
// collected and its optimizer step taken.  The fair baseline for BM_EmulatedDdpRun/H/2.
void BM_BareTrainingStepsOnTwoThreads(benchmark::State& state) {
  const sim::Scenario s = sim::parse_scenario(scenario(static_cast<int>(state.range(0))), "bench.json");
  sim::Training training(s, kWorkers);
  std::vector<std::unique_ptr<runtime::Trainer>> trainers;
  for (int r = 0; r < kWorkers; ++r) trainers.push_back(training.make_trainer(r));
  runtime::MathPool pool(2);
  for (auto _ : state) {
    for (int step = 0; step < kSteps; ++step) {
      for (auto& t : trainers) t->start_forward_backward(kBatch, &pool);
      for (auto& t : trainers) {
        benchmark::DoNotOptimize(t->finish_forward_backward());
        t->optimizer_step(t->grads());
      }
    }
  }
  state.counters["worker_steps"] = kWorkers * kSteps;
}
BENCHMARK(BM_BareTrainingStepsOnTwoThreads)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// Bare steps plus the gradient average DDP needs (sum in a fixed order, scale), in memory: the
// math of data parallelism without the network.
void BM_BareStepsWithAverage(benchmark::State& state) {
  const sim::Scenario s = sim::parse_scenario(scenario(static_cast<int>(state.range(0))), "bench.json");
  sim::Training training(s, kWorkers);
  std::vector<std::unique_ptr<runtime::Trainer>> trainers;
  for (int r = 0; r < kWorkers; ++r) trainers.push_back(training.make_trainer(r));
  const std::size_t n = trainers[0]->grads().numel();
  runtime::Tensor mean = runtime::Tensor::zeros(n);  // allocated once: no copy per step
  float* m = mean.values().data();
  for (auto _ : state) {
    for (int step = 0; step < kSteps; ++step) {
      for (auto& t : trainers) t->forward_backward(kBatch);
      std::fill(m, m + n, 0.0f);
      for (auto& t : trainers) kernels::add_into(m, t->grads().values().data(), n);
      kernels::scale(m, 1.0f / kWorkers, n);
      for (auto& t : trainers) t->optimizer_step(mean);
    }
  }
  state.counters["worker_steps"] = kWorkers * kSteps;
}
BENCHMARK(BM_BareStepsWithAverage)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// The same, with the mean delivered into every replica's own gradient buffer before its step:
// what separate replicas (processes, GPUs) need at the least, and what the all-reduce's
// all-gather phase writes in the emulated run.
void BM_BareStepsWithAverageInEachReplica(benchmark::State& state) {
  const sim::Scenario s = sim::parse_scenario(scenario(static_cast<int>(state.range(0))), "bench.json");
  sim::Training training(s, kWorkers);
  std::vector<std::unique_ptr<runtime::Trainer>> trainers;
  for (int r = 0; r < kWorkers; ++r) trainers.push_back(training.make_trainer(r));
  const std::size_t n = trainers[0]->grads().numel();
  std::vector<float> mean(n);
  for (auto _ : state) {
    for (int step = 0; step < kSteps; ++step) {
      for (auto& t : trainers) t->forward_backward(kBatch);
      std::fill(mean.begin(), mean.end(), 0.0f);
      for (auto& t : trainers) kernels::add_into(mean.data(), t->grads().values().data(), n);
      kernels::scale(mean.data(), 1.0f / kWorkers, n);
      for (auto& t : trainers) {
        kernels::copy(t->grads().values().data(), mean.data(), n);
        t->optimizer_step(t->grads());
      }
    }
  }
  state.counters["worker_steps"] = kWorkers * kSteps;
}
BENCHMARK(BM_BareStepsWithAverageInEachReplica)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// diloco-lm's model with the same 4 workers, 20 DDP steps, on synthetic text (no file needed).
constexpr int kLmBatch = 2;
constexpr int kLmSteps = 20;
nlohmann::json lm_scenario() {
  auto s = scenario(100);
  s["workload"]["model"] = {{"type", "transformer"}, {"layers", 4}, {"d_model", 128}, {"heads", 4},
                            {"seq_len", 128}, {"vocab", 256}};
  s["workload"]["dataset"] = {{"name", "synthetic_text"}, {"books", 8}, {"bytes_per_book", 20000},
                              {"validation_sequences", 1}};
  s["workload"]["optimizer"] = {{"name", "adamw"}, {"lr", 1e-3}};
  s["workload"]["batch_per_worker"] = kLmBatch;
  s["workload"]["steps"] = kLmSteps;
  return s;
}

// The emulated DDP run of the language model, one math thread.
void BM_EmulatedLmDdpRun(benchmark::State& state) {
  const auto s = lm_scenario();
  for (auto _ : state) {
    const double seconds = std::stod(sim::run_isolated([&s] {
      runtime::set_math_threads(1);
      const auto out = sim::run_scenario(sim::parse_scenario(s, "bench.json"));
      return std::to_string(out.results["perf"]["run_wall_s"].get<double>());
    }));
    state.SetIterationTime(seconds);
  }
  state.counters["worker_steps"] = kWorkers * kLmSteps;
}
BENCHMARK(BM_EmulatedLmDdpRun)->UseManualTime()->Unit(benchmark::kMillisecond);

// Its bare steps: every worker's forward/backward/AdamW step, in turn.
void BM_BareLmTrainingSteps(benchmark::State& state) {
  const sim::Scenario s = sim::parse_scenario(lm_scenario(), "bench.json");
  sim::Training training(s, kWorkers);
  std::vector<std::unique_ptr<runtime::Trainer>> trainers;
  for (int r = 0; r < kWorkers; ++r) trainers.push_back(training.make_trainer(r));
  for (auto _ : state) {
    for (int step = 0; step < kLmSteps; ++step)
      for (auto& t : trainers) {
        t->forward_backward(kLmBatch);
        t->optimizer_step(t->grads());
      }
  }
  state.counters["worker_steps"] = kWorkers * kLmSteps;
}
BENCHMARK(BM_BareLmTrainingSteps)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
