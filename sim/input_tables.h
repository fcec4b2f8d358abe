// The names the scenario loader accepts for its choice keys, and the defaults it fills in that no
// struct holds, defined once: the loader (sim/scenario.cc, sim/workload_model.cc,
// sim/fault_spec.cc, sim/topology.cc, sim/instance_catalog.cc, sim/strategies/registry.cc)
// validates with them and `geotrain schema` (cli/schema*.cc) describes them. The ranges are in
// sim/limits.h. Not the strategies' knobs: those are in sim/catalog.h.
#pragma once
#include <string>
#include <vector>

namespace geotrain::sim::input {

// Fleet entries.
inline const std::vector<std::string> kPricings = {"on_demand", "spot"};

// workload: model types (size-only profile and architectures, then the real models), backends,
// compute time, dtypes of precision, the keys of a target.
inline const std::vector<std::string> kModelTypes = {"profile",            "transformer", "layers",
                                                     "softmax_regression", "mlp",         "linear_regression"};
inline const std::vector<std::string> kRealModelTypes = {"softmax_regression", "mlp", "linear_regression"};
inline const std::vector<std::string> kBackends = {"none", "cpu"};
inline const std::vector<std::string> kComputeTimes = {"model", "measured"};
inline const std::vector<std::string> kDtypes = {"fp32", "bf16", "fp16", "fp8"};
inline const std::vector<std::string> kTargetKeys = {"test_accuracy", "test_loss", "val_loss"};
inline const std::vector<std::string> kActivations = {"relu", "tanh"};
// transformer: the MLP form, position embedding and norm (GPT-2's first; SwiGLU models default to
// the LLaMA family's rotary and rmsnorm).
inline const std::vector<std::string> kTransformerMlps = {"gelu", "swiglu"};
inline const std::vector<std::string> kPositionEmbeddings = {"learned", "rotary"};
inline const std::vector<std::string> kNorms = {"layernorm", "rmsnorm"};

// workload.dataset: the image and regression datasets of the real models, then the text datasets
// of the language model, and how each kind is cut into worker shards.
inline const std::vector<std::string> kDatasetNames = {"fashion_mnist", "synthetic_linear", "kjv", "synthetic_text"};
inline const std::vector<std::string> kTextDatasetNames = {"kjv", "synthetic_text"};
inline const std::vector<std::string> kPartitions = {"iid", "label_skew"};
inline const std::vector<std::string> kTextPartitions = {"iid", "contiguous", "by_book"};
// Defaults of the datasets' optional sizes.
inline constexpr long kDefaultSyntheticTestSamples = 1000;
inline constexpr long kDefaultValidationSequences = 32;
inline constexpr long kDefaultValidationBooks = 1;
inline constexpr long kDefaultSyntheticBooks = 4;
inline constexpr long kDefaultSyntheticBookBytes = 4096;

// workload.optimizer (and the DiLoCo family's strategy.outer).
inline const std::vector<std::string> kOptimizerNames = {"sgd", "momentum", "nesterov", "adamw"};
inline const std::vector<std::string> kSchedules = {"constant", "cosine"};

// network.
inline const std::vector<std::string> kFidelities = {"message", "collective"};

// Faults: a fleet entry's preemption model and policy, delay distributions.
inline const std::vector<std::string> kPreemptionModels = {"none", "hazard", "trace"};
inline const std::vector<std::string> kPreemptionPolicies = {"wait_for_spot", "fallback_on_demand"};
inline const std::vector<std::string> kDelayDistributions = {"fixed", "exponential", "uniform"};
// Topologies: a region's LAN latency when it gives none, ms; what limits a measured link's
// capacity; an instance type's spot interruption band (the monthly share interrupted).
inline constexpr double kDefaultLanLatency_ms = 0.1;
inline const std::vector<std::string> kCapacityLimits = {"unknown", "path", "vm"};
inline const std::vector<std::string> kSpotBands = {"<5%", "5-10%", "10-15%", "15-20%", ">20%"};

// checkpoint: the store's price when the scenario gives none, $/GB-month (S3 Standard's first 50 TB).
inline constexpr double kDefaultStorageUsdPerGBMonth = 0.023;

}  // namespace geotrain::sim::input
