// Helpers for tests: scenarios built in code (uniform topologies), and running a worker program
// in an isolated process (SimGrid allows one engine per process).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "sim/isolate.h"
#include "sim/strategies/strategy.h"
#include "sim/run.h"
#include "sim/scenario.h"

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

// Runs the scenario's strategy and captures the deployed parameters at the end.
struct Captured {
  nlohmann::json results;
  std::vector<float> params;
};

class Capture final : public sim::Strategy {
 public:
  explicit Capture(std::unique_ptr<sim::Strategy> inner) : inner_(std::move(inner)) {}
  std::vector<sim::ServerPlacement> servers(const sim::Scenario& s) const override { return inner_->servers(s); }
  void prepare(sim::World& w) override { inner_->prepare(w); }
  void run(sim::WorkerContext& ctx) override { inner_->run(ctx); }
  void run_server(sim::WorkerContext& ctx, int i) override { inner_->run_server(ctx, i); }
  void finish(sim::World& w) override {
    params = w.deployed_parameters();
    if (!std::all_of(params.begin(), params.end(), [](float x) { return std::isfinite(x); }))
      params.clear();  // a diverged run: JSON cannot carry NaN
  }
  std::vector<float> params;

 private:
  std::unique_ptr<sim::Strategy> inner_;
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

}  // namespace geotrain::testing
