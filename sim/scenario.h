// Scenario: everything one run needs (topology, fleet, workload, strategy, network), as plain
// structs in SI units, validated once at load. The JSON format is in docs/SCENARIO_FORMAT.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <optional>

#include <nlohmann/json.hpp>

#include "runtime/dataset.h"
#include "runtime/model.h"
#include "runtime/optimizer.h"
#include "sim/faults.h"
#include "sim/topology.h"

namespace geotrain::sim {

enum class Pricing { on_demand, spot };

struct FleetEntry {
  std::string region;
  int region_index = -1;
  std::string instance;  // key into Topology::instance_types
  int count = 0;
  Pricing pricing = Pricing::on_demand;
  PreemptionSpec preemption;  // spot entries only
};

struct DatasetSpec {
  std::string name;            // "fashion_mnist" | "synthetic_linear"
  std::string path;            // fashion_mnist: folder of the IDX files
  std::size_t train_samples = 0;  // 0: all (fashion_mnist)
  std::size_t test_samples = 0;
  runtime::Partition partition = runtime::Partition::iid;
  int features = 0;            // synthetic_linear
  double noise = 0;            // synthetic_linear: target noise standard deviation
};

struct Target {
  std::string metric;  // "test_accuracy" (reached when >= value) | "test_loss" (when <= value)
  double value = 0;
};

// What is trained: a size-only profile, or a real model on a dataset.
struct Workload {
  std::string model_type = "profile";  // profile | softmax_regression | mlp | linear_regression
  runtime::ModelSpec model;            // real model types
  double parameters = 0;               // number of trainable values (derived for real models)
  double flops_per_sample = 0;         // forward + backward FLOPs per sample (derived likewise)
  bool has_dataset = false;
  DatasetSpec dataset;
  std::string backend = "none";        // "none": size-only; "cpu": real math on the CPU
  bool measured_compute = false;       // compute time from the backend's own wall clock
  runtime::OptimizerSpec optimizer;
  double wire_bytes_per_param = 4;
  int batch_per_worker = 0;            // samples per worker per step
  int steps = 0;
  int eval_every = 0;                  // steps between test evaluations (0: only at the end)
  std::optional<Target> target;
};

struct NetworkSpec {
  std::string fidelity = "message";
  double default_tcp_window_B = 4194304;  // SimGrid's own default TCP window, 4 MiB
  bool window_cap = true;                 // cap each flow at streams x window / RTT
  int parallel_streams = 1;               // TCP streams one transfer between two regions opens
  int collective_streams = 0;             // TCP streams one transfer inside a region opens;
                                          // 0: NCCL's default for the region's cloud
                                          // (nccl_default_sockets, sim/platform.h)
};

struct Scenario {
  std::string file;   // where it was loaded from ("" for scenarios built in code)
  std::string name;
  std::uint64_t seed = 0;
  Topology topology;
  std::vector<FleetEntry> fleet;
  Workload workload;
  nlohmann::json strategy;  // validated object; the strategy reads its own knobs
  NetworkSpec network;
  FaultSpec faults;           // zone outages, link faults, time limit ("faults" object)

  int worker_count() const;
  // True when some worker can be preempted or some link fail during the run.
  bool has_faults() const;
};

class JsonReader;
// Reads an optimizer object {name, lr, momentum, weight_decay, beta1, beta2, eps, warmup_steps}
// (strategies' outer optimizers use it too).  Throws BadInput.
runtime::OptimizerSpec parse_optimizer(JsonReader& reader);

// Loads and validates a scenario file.  Throws BadInput with one line naming the file, the
// JSON path, the value and what is allowed.  A relative topology path is resolved against the
// scenario file's folder.
Scenario load_scenario(const std::string& file);

// Same, from an already parsed document (`file` is used in messages and to resolve paths).
Scenario parse_scenario(const nlohmann::json& doc, const std::string& file);

}  // namespace geotrain::sim
