// Scenario: everything one run needs (topology, fleet, workload, strategy, network), as plain
// structs in SI units, validated once at load. The JSON format is in docs/SCENARIO_FORMAT.md.
#pragma once
#include <cstdint>
#include <string>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/architecture.h"
#include "runtime/corpus.h"
#include "runtime/dataset.h"
#include "runtime/model.h"
#include "runtime/backend.h"
#include "runtime/optimizer.h"
#include "sim/recorder.h"
#include "sim/faults.h"
#include "sim/spot_price.h"
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
  std::optional<SpotPriceSpec> spot_price;  // spot entries only: the market price over time
  double mfu = 0;             // achieved fraction of peak, (0, 1]; 0: the workload's, else the instance's
};

struct DatasetSpec {
  // "fashion_mnist" | "synthetic_linear" (classification and regression); "kjv" |
  // "synthetic_text" (the language model's byte-level text, runtime/corpus.h)
  std::string name;
  std::string path;            // fashion_mnist: folder of the IDX files; kjv: the corpus file
  std::size_t train_samples = 0;  // 0: all (fashion_mnist); text: training sequences (0: all)
  std::size_t test_samples = 0;   // text: validation sequences
  runtime::Partition partition = runtime::Partition::iid;
  runtime::TextPartition text_partition = runtime::TextPartition::iid;
  int features = 0;            // synthetic_linear
  double noise = 0;            // synthetic_linear: target noise standard deviation
  int validation_books = 1;    // text: the last books, held out for validation
  int books = 0;               // synthetic_text: books of ...
  std::size_t bytes_per_book = 0;  // ... about this many bytes
  bool is_text() const { return name == "kjv" || name == "synthetic_text"; }
};

struct Target {
  // "test_accuracy" (reached when >= value) | "test_loss" (when <= value) | "val_loss" (a
  // language model's validation loss in nats per token, when <= value)
  std::string metric;
  double value = 0;
};

// One layer of a workload's model (runtime/architecture.h): name, parameters, forward and backward
// FLOPs per sample.
using Layer = runtime::Layer;

// Bytes per value of the precisions a workload may declare ("fp32", "bf16", "fp16", "fp8").
double dtype_bytes(const std::string& dtype);

// What is trained: a size-only profile or architecture, or a real model on a dataset.
struct Workload {
  // profile | transformer | layers (size-only) | softmax_regression | mlp | linear_regression (real)
  std::string model_type = "profile";
  runtime::ModelSpec model;            // real model types
  runtime::TransformerSpec transformer;  // model_type "transformer"
  // The model's layers from input to output.  `parameters` and `flops_per_sample` are their sums,
  // except a profile's flops_per_sample, which stays as given: a profile is one layer "model"
  // whose forward is 1/3 and backward 2/3 of it.
  std::vector<runtime::Layer> layers;
  double parameters = 0;               // number of trainable values (derived for real models)
  double flops_per_sample = 0;         // forward + backward FLOPs per sample (derived likewise)
  double mfu = 0;                      // achieved fraction of peak for all workers; 0: the catalog's
  bool has_dataset = false;
  DatasetSpec dataset;
  runtime::BackendKind backend = runtime::BackendKind::none;  // none: size-only; cpu: real math on the CPU
  bool measured_compute = false;       // compute time from the backend's own wall clock
  runtime::OptimizerSpec optimizer;
  double wire_bytes_per_param = 4;     // parameters and gradients (precision.params)
  std::string param_dtype = "fp32";    // "" when wire_bytes_per_param was given instead
  std::string optimizer_state_dtype = "fp32";
  double optimizer_state_bytes_per_value = 4;
  int batch_per_worker = 0;            // samples per worker per step
  int steps = 0;
  int eval_every = 0;                  // steps between test evaluations (0: only at the end)
  std::optional<Target> target;

  // A model described by its architecture (transformer or layers): results carry tokens/s, the
  // MFU achieved and warnings; legacy model types keep their results as they were.
  bool has_architecture() const { return model_type == "transformer" || model_type == "layers"; }
  // Tokens per sample: seq_len for a transformer, 0 otherwise.
  int tokens_per_sample() const { return model_type == "transformer" ? transformer.seq_len : 0; }
};

// How collectives are simulated: every chunk a SimGrid flow (message), or closed-form timing of
// the schedule (collective, sim/collectives/analytic.h).
enum class Fidelity { message, collective };

struct NetworkSpec {
  Fidelity fidelity = Fidelity::message;
  double default_tcp_window_B = 4194304;  // SimGrid's own default TCP window, 4 MiB
  bool window_cap = true;                 // cap each flow at streams x window / RTT
  int parallel_streams = 1;               // TCP streams one transfer between two regions opens
  double streams_exponent = 1;            // the window cap grows as streams^exponent (1: linear)
  int collective_streams = 0;             // TCP streams one transfer inside a region opens;
                                          // 0: NCCL's default for the region's cloud
                                          // (nccl_default_sockets, sim/platform.h)
};

// Software costs every strategy's framework has (the strategy object's common knobs
// "step_overhead_s" and "collective_launch_s"; sim/catalog.h).  Defaults 0.
struct StrategyOverheads {
  double step_overhead_s = 0;      // per training step of a worker (after its compute)
  double collective_launch_s = 0;  // per collective a worker takes part in, before it starts
};

struct Scenario {
  std::string file;   // where it was loaded from ("" for scenarios built in code)
  std::string name;
  std::uint64_t seed = 0;
  // The seed of the fault process alone (hazard draws, restart delays), when it differs from
  // `seed`: each draw of `geotrain run --replicas N` sets one (never read from a scenario file).
  std::optional<std::uint64_t> fault_seed;
  Topology topology;
  std::vector<FleetEntry> fleet;
  Workload workload;
  nlohmann::json strategy;  // validated object; the strategy reads its own knobs
  StrategyOverheads overheads;  // the strategy object's common overhead knobs
  std::string calibration;      // the calibration file applied ("" for none; sim/calibration.h)
  NetworkSpec network;
  FaultSpec faults;           // zone outages, link faults, time limit ("faults" object)
  TraceDetail trace = TraceDetail::steps;  // "output": {"trace"}: what trace.json shows
  std::size_t trace_max_spans = kDefaultTraceMaxSpans;  // "output": {"trace_max_spans"}: kept as they are
  std::vector<std::string> warnings;  // found at load; never fatal (geotrain run prints them)

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
