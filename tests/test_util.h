// Helpers for tests: scenarios built in code (uniform topologies), and running a worker program
// in an isolated process (SimGrid allows one engine per process).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "runtime/dataset.h"
#include "runtime/rng.h"
#include "sim/context.h"
#include "sim/isolate.h"
#include "sim/json_reader.h"
#include "sim/strategies/strategy.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/training.h"

namespace geotrain::testing {

struct UniformNet {
  int regions = 1;
  int workers_per_region = 4;
  double lan_latency_ms = 0.05;    // host to host inside a region, one way
  double nic_Gbps = 100;
  double wan_latency_ms = 40;      // gateway to gateway, one way
  double wan_Gbps = 10;
  bool window_cap = false;
};

// A fully connected topology of `net.regions` regions of one cloud (continents differ).
inline nlohmann::json uniform_topology(const UniformNet& net) {
  nlohmann::json t = {{"name", "uniform"}};
  t["regions"] = nlohmann::json::array();
  for (int r = 0; r < net.regions; ++r)
    t["regions"].push_back({{"name", "r" + std::to_string(r)}, {"cloud", "c"},
                            {"continent", "k" + std::to_string(r)}, {"lan_latency_ms", net.lan_latency_ms}});
  t["links"] = nlohmann::json::array();
  for (int a = 0; a < net.regions; ++a)
    for (int b = a + 1; b < net.regions; ++b)
      t["links"].push_back({{"a", "r" + std::to_string(a)}, {"b", "r" + std::to_string(b)},
                            {"latency_ms", net.wan_latency_ms}, {"capacity_Gbps", net.wan_Gbps}});
  t["instance_types"] = {{"gpu", {{"gpu_peak_tflops", 100.0}, {"utilization", 0.5}, {"nic_Gbps", net.nic_Gbps},
                                  {"usd_per_hour", {{"on_demand", 3.6}, {"spot", 1.8}}}}}};
  t["egress_usd_per_GB"] = {{"c", {{"cross_zone", 0.01}, {"same_continent", 0.02},
                                   {"inter_continent", 0.05}, {"internet", 0.09}}}};
  return t;
}

// A DDP scenario on `topology` with `counts[r]` workers in region r.
inline nlohmann::json scenario_json(const nlohmann::json& topology, const std::vector<int>& counts,
                                    double parameters, const std::string& algo, bool window_cap) {
  nlohmann::json s = {{"name", "test"}, {"seed", 7}, {"topology", topology}};
  s["fleet"] = nlohmann::json::array();
  for (std::size_t r = 0; r < counts.size(); ++r)
    if (counts[r] > 0)
      s["fleet"].push_back({{"region", topology["regions"][r]["name"]}, {"instance", "gpu"},
                            {"count", counts[r]}, {"pricing", "on_demand"}});
  s["workload"] = {{"model", {{"type", "profile"}, {"parameters", parameters}, {"flops_per_sample", 1e9}}},
                   {"batch_per_worker", 8},
                   {"steps", 1}};
  s["strategy"] = {{"name", "ddp"}, {"allreduce", algo}};
  s["network"] = {{"window_cap", window_cap}};
  return s;
}

inline nlohmann::json uniform_scenario(const UniformNet& net, double parameters, const std::string& algo) {
  return scenario_json(uniform_topology(net), std::vector<int>(net.regions, net.workers_per_region),
                       parameters, algo, net.window_cap);
}

// Runs `program` on every worker of `scenario` in a child process; returns the results JSON.
inline nlohmann::json run_program_isolated(const nlohmann::json& scenario, const sim::WorkerProgram& program) {
  return nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    return sim::run_program(s, program).results.dump();
  }));
}

// Simulated time of one message of `bytes` from worker 0 to worker 1 of `scenario`.
inline double one_transfer_s(const nlohmann::json& scenario, std::uint64_t bytes) {
  const auto r = run_program_isolated(scenario, [&](sim::WorkerContext& ctx) {
    if (ctx.rank() == 0) {
      auto tx = ctx.send_async(1, {}, bytes);
      ctx.wait(tx);
    } else if (ctx.rank() == 1) {
      auto rx = ctx.recv_async(0);
      ctx.wait(rx);
    }
  });
  return r["simulated_s"].get<double>();
}

// The BadInput message `f` throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const sim::BadInput& e) {
    return e.what();
  }
  return "no error";
}

// Runs the scenario's strategy and captures the deployed parameters at the end.
struct Captured {
  nlohmann::json results;
  std::vector<float> params;
};

// A strategy that does what `inner` does (program, servers, its declarations to the resilience
// layer); tests derive from it to look at the world at the end.
class Wrapped : public sim::Strategy {
 public:
  explicit Wrapped(std::unique_ptr<sim::Strategy> inner) : inner_(std::move(inner)) { traits = inner_->traits; }
  std::vector<sim::ServerPlacement> servers(const sim::Scenario& s) const override { return inner_->servers(s); }
  void prepare(sim::World& w) override { inner_->prepare(w); }
  void run(sim::WorkerContext& ctx) override { inner_->run(ctx); }
  void run_server(sim::WorkerContext& ctx, int i) override { inner_->run_server(ctx, i); }
  void finish(sim::World& w) override { inner_->finish(w); }
  sim::ReplicaState replica(sim::World& w, int rank, long round) override { return inner_->replica(w, rank, round); }
  std::uint64_t join_bytes(sim::World& w, int rank, long round) override { return inner_->join_bytes(w, rank, round); }
  void on_restart(sim::World& w, int rank) override { inner_->on_restart(w, rank); }
  void after_load(sim::WorkerContext& ctx, long round, int donor) override { inner_->after_load(ctx, round, donor); }
  long steps_at_round(const sim::World& w, long round) const override { return inner_->steps_at_round(w, round); }

 private:
  std::unique_ptr<sim::Strategy> inner_;
};

// Captures the deployed parameters at the end.
class Capture final : public Wrapped {
 public:
  using Wrapped::Wrapped;
  void finish(sim::World& w) override {
    Wrapped::finish(w);
    params = w.deployed_parameters();
    if (!std::all_of(params.begin(), params.end(), [](float x) { return std::isfinite(x); }))
      params.clear();  // a diverged run: JSON cannot carry NaN
  }
  std::vector<float> params;
};

inline Captured run_captured(const nlohmann::json& scenario) {
  const auto out = nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    Capture capture(sim::make_strategy(s));
    auto results = sim::run_strategy(s, capture).results;
    return nlohmann::json{{"results", results}, {"params", capture.params}}.dump();
  }));
  return {out["results"], out["params"].get<std::vector<float>>()};
}

// A real-training scenario on a uniform topology.
inline nlohmann::json real_scenario(const UniformNet& net, const nlohmann::json& model, const nlohmann::json& dataset,
                             const nlohmann::json& strategy, int batch, int steps, double lr) {
  auto s = testing::uniform_scenario(net, 1, "ring");
  s["workload"] = {{"model", model}, {"dataset", dataset}, {"backend", "cpu"},
                   {"optimizer", {{"name", "sgd"}, {"lr", lr}}},
                   {"batch_per_worker", batch}, {"steps", steps}};
  s["strategy"] = strategy;
  return s;
}

// Largest |a - b| / max(1e-3, |b|) over two parameter vectors (sizes must match).
inline double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(double{a[i]} - b[i]) / std::max(1e-3, std::abs(double{b[i]})));
  return worst;
}

// What parse_scenario says of `scenario` loaded as f.json: the BadInput message, or "no error".
inline std::string parse_error(const nlohmann::json& scenario) {
  try {
    sim::parse_scenario(scenario, "f.json");
  } catch (const sim::BadInput& e) {
    return e.what();
  }
  return "no error";
}

// Writes `text` to a file `name` in the temporary folder `folder` (created); returns its path.
inline std::string write_temp_file(const std::string& folder, const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / folder;
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

// GPUs so slow (5000 FLOP/s) that a step of linear regression on 8 features is almost all
// compute (312 FLOP for 8 samples: 62.4 ms, against well under 1 ms of communication on the
// default LAN): a fault in the middle of step k hits step k whichever strategy runs.
inline constexpr double kSlowGpuTflops = 1e-8;

// Four workers in one region training linear regression on such GPUs; workers 0-2 on demand,
// worker 3 alone in a spot entry (the last fleet entry; no preemption until a test adds one).
inline nlohmann::json four_linear_workers(const nlohmann::json& strategy, int steps) {
  UniformNet net;
  net.regions = 1;
  net.workers_per_region = 4;
  const nlohmann::json model = {{"type", "linear_regression"}};
  const nlohmann::json data = {{"name", "synthetic_linear"}, {"features", 8}, {"train_samples", 512}, {"noise", 0.1}};
  nlohmann::json s = real_scenario(net, model, data, strategy, 8, steps, 0.05);
  s["topology"]["instance_types"]["gpu"]["gpu_peak_tflops"] = kSlowGpuTflops;
  s["fleet"] = nlohmann::json::array(
      {{{"region", "r0"}, {"instance", "gpu"}, {"count", 3}, {"pricing", "on_demand"}},
       {{"region", "r0"}, {"instance", "gpu"}, {"count", 1}, {"pricing", "spot"}}});
  return s;
}

// Relative distance of linear-regression parameters (`features` weights, then the bias) to the
// generator's optimum (w*, b*), regenerated from the scenario's seed.
inline double distance_to_optimum(const std::vector<float>& params, const nlohmann::json& scenario, int features = 8) {
  const auto truth = runtime::make_synthetic_linear(features, 1, 1, 0.0, scenario["seed"].get<std::uint64_t>());
  double d2 = std::pow(params[features] - truth.bias, 2), n2 = std::pow(truth.bias, 2);
  for (int i = 0; i < features; ++i) {
    d2 += std::pow(params[i] - truth.weights[i], 2);
    n2 += std::pow(truth.weights[i], 2);
  }
  return std::sqrt(d2 / n2);
}

// Synchronous data parallelism stepped by hand on the scenario's trainers: at each step the
// workers 0..contributors(step)-1 compute a gradient on `batch` samples, and every worker's
// optimizer steps with their mean.  `before_step(step, trainers)` may draw extra batches (work
// a preempted worker lost).  Returns worker 0's parameters after `steps` steps.  Runs in an
// isolated process (the scenario's data loads there).
inline std::vector<float> hand_stepped_mean_sgd(
    const nlohmann::json& scenario, int workers, int steps, int batch, const std::function<int(int step)>& contributors,
    const std::function<void(int step, std::vector<std::unique_ptr<runtime::Trainer>>&)>& before_step = {}) {
  return nlohmann::json::parse(sim::run_isolated([&] {
           const sim::Scenario sc = sim::parse_scenario(scenario, "test.json");
           sim::Training training(sc, workers);
           std::vector<std::unique_ptr<runtime::Trainer>> t;
           for (int r = 0; r < workers; ++r) t.push_back(training.make_trainer(r));
           for (int step = 0; step < steps; ++step) {
             if (before_step) before_step(step, t);
             const int m = contributors(step);
             std::vector<float> mean(t[0]->params().numel(), 0.0f);
             for (int r = 0; r < m; ++r) {
               t[r]->forward_backward(batch);
               const auto g = t[r]->grads().values();
               for (std::size_t i = 0; i < mean.size(); ++i) mean[i] += g[i];
             }
             for (auto& x : mean) x /= static_cast<float>(m);
             const auto gm = runtime::Tensor::from(mean);
             for (auto& tr : t) tr->optimizer_step(gm);
           }
           const auto v = t[0]->params().values();
           return nlohmann::json(std::vector<float>(v.begin(), v.end())).dump();
         }))
      .get<std::vector<float>>();
}

// Workers in the regions of topologies/gcp-4-continents.json (unequal links, TCP window caps
// on), `counts[r]` in region r (us-central1, europe-west1, asia-east1, australia-southeast1).
inline nlohmann::json gcp_scenario(const std::vector<int>& counts, double parameters, const std::string& algo) {
  nlohmann::json s = scenario_json({}, {}, parameters, algo, true);
  s["topology"] = std::string(GEOTRAIN_SOURCE_DIR) + "/topologies/gcp-4-continents.json";
  const char* const regions[] = {"us-central1", "europe-west1", "asia-east1", "australia-southeast1"};
  s["fleet"] = nlohmann::json::array();
  for (std::size_t r = 0; r < counts.size(); ++r)
    if (counts[r] > 0)
      s["fleet"].push_back({{"region", regions[r]}, {"instance", "n1-standard-8-t4"}, {"count", counts[r]}});
  return s;
}

// `m` workers spread as evenly as possible over min(m, 3) uniform regions, window cap off.
inline nlohmann::json spread_scenario(int m, std::size_t numel, const std::string& algo) {
  UniformNet net;
  net.regions = std::min(m, 3);
  std::vector<int> counts(net.regions, m / net.regions);
  for (int i = 0; i < m % net.regions; ++i) ++counts[i];
  return scenario_json(uniform_topology(net), counts, static_cast<double>(numel), algo, false);
}

// One all-reduce of real values on every worker of `scenario` (`m` workers): worker r's input
// is `numel` normal values x 10 from Rng(seed + r).  Returns each worker's result, by rank.
// Each worker overwrites its tensor right after the call, as the next training step would.
inline nlohmann::json real_allreduce_values(const nlohmann::json& scenario, const std::string& algo, int m,
                                            std::size_t numel, std::uint64_t seed) {
  const auto algo_enum = sim::allreduce_algo_from_name(algo);
  return nlohmann::json::parse(sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(scenario, "test.json");
    nlohmann::json outputs = nlohmann::json::array();
    for (int r = 0; r < m; ++r) outputs.push_back(nullptr);
    sim::run_program(s, [&](sim::WorkerContext& ctx) {
      runtime::Rng rng(seed + ctx.rank());
      std::vector<float> v(numel);
      for (auto& x : v) x = static_cast<float>(rng.normal() * 10);
      runtime::Tensor t = runtime::Tensor::from(v);
      ctx.allreduce_mean(t, algo_enum);
      outputs[ctx.rank()] = std::vector<float>(t.values().begin(), t.values().end());
      std::fill(t.values().begin(), t.values().end(), -1e30f);
    });
    return outputs.dump();
  }));
}

}  // namespace geotrain::testing
