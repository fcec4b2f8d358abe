// The strategy catalog: for every strategy its knobs (name, type, default, allowed values, one-line
// meaning), the factory that reads them through those declarations, and the training state it
// keeps per parameter. `geotrain strategies [--json]` prints it; `geotrain validate` plans with it.
// Declared once per strategy, at the bottom of its file (next to its parser).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::sim {

class JsonReader;
class Strategy;
struct Scenario;
struct StrategyOverheads;

enum class KnobType { integer, number, boolean, choice, text, object };

// What a knob means to a planner (analysis/recommend.cc reads it from the catalog JSON).
enum class KnobRole {
  none,
  sync_period,  // steps between synchronizations
  warmup,       // warm-up steps before the strategy's own scheme starts
  warm_start,   // when set, the warm-up is skipped (a checkpoint)
};

struct KnobSpec {
  std::string name;
  KnobType type = KnobType::number;
  nlohmann::json default_value;      // null: none (optional) or it depends on the scenario (default_text says how)
  double min = 0, max = 0;           // integer, number
  bool min_exclusive = false;        // number: min itself is not allowed
  std::vector<std::string> choices;  // choice
  std::string meaning;               // one line
  std::string default_text;          // the default in words when default_value is null
  KnobRole role = KnobRole::none;
};

// Reading a knob through its declaration: the same checks and messages as JsonReader's *_or.
std::int64_t read_integer(JsonReader& reader, const KnobSpec& knob);
// An integer whose default depends on the scenario (knob.default_value is null).
std::int64_t read_integer(JsonReader& reader, const KnobSpec& knob, std::int64_t fallback);
double read_number(JsonReader& reader, const KnobSpec& knob);
// A number whose default depends on the scenario (knob.default_value is null).
double read_number(JsonReader& reader, const KnobSpec& knob, double fallback);
std::string read_choice(JsonReader& reader, const KnobSpec& knob);
// A choice whose default depends on the scenario (knob.default_value is null).
std::string read_choice(JsonReader& reader, const KnobSpec& knob, const std::string& fallback);
bool read_boolean(JsonReader& reader, const KnobSpec& knob);
// A boolean whose default depends on the scenario (knob.default_value is null).
bool read_boolean(JsonReader& reader, const KnobSpec& knob, bool fallback);
std::string read_text(JsonReader& reader, const KnobSpec& knob);
// The knob called `name` of `knobs`.  An unknown name is an internal error (a check).
const KnobSpec& knob_of(const std::vector<KnobSpec>& knobs, std::string_view name);

// Training state per model parameter, in bytes, with every value in fp32 (4 B). Activations are
// not counted (a size-only profile does not give the architecture), so these are lower bounds.
struct StateBytes {
  double worker_B_per_param = 0;  // one worker = one instance (sharded over its GPUs or not)
  double server_B_per_param = 0;  // one strategy server node (already divided by the shard count); 0: none
  std::string worker_items;       // e.g. "weights 4 + gradients 4 + adamw state 8"
  std::string server_items;       // "" when there is no server
  // Appends "what bytes" to the worker's (or the server's) items.
  void add_worker(const std::string& what, double bytes);
  void add_server(const std::string& what, double bytes);
};
// fp32 copies of the parameters an optimizer keeps besides the weights (momentum buffer; AdamW m, v).
double optimizer_state_B_per_param(const std::string& optimizer);
inline constexpr double kFp32_B = 4;  // bytes of one fp32 value

struct StrategyInfo {
  std::string name;
  std::string summary;            // one line
  std::vector<KnobSpec> knobs;    // every knob but "name", in reading order
  std::string step_unit = "step";  // what workload.steps counts for this strategy ("round": hivemind)
  bool optimizer_on_workers = true;  // false: the inner optimizer runs on servers (parameter server)
  // Builds the strategy; reads every knob through `knobs` (on_failure is read by the registry).
  std::function<std::unique_ptr<Strategy>(JsonReader&, const Scenario&)> make;
  // Adds the strategy's own state (beyond weights, gradients and the inner optimizer's state on the
  // workers) for `knobs` (the strategy object with every default filled in).
  std::function<void(const nlohmann::json& knobs, const std::string& inner_optimizer, StateBytes&)> add_state;
  // Fault handling: accepts "on_failure" (elastic | wait).  Further traits go here.
  bool on_failure = false;
  // Its overlapped step (knob "overlap") runs in runs with faults too (DDP).
  bool overlaps_under_faults = false;
};

// Every strategy, by name.
const std::vector<StrategyInfo>& strategy_catalog();
// The entry called `name`, or nullptr.
const StrategyInfo* find_strategy(std::string_view name);
// The "on_failure" knob of strategies with that trait.
const KnobSpec& on_failure_knob();
// The knobs every strategy accepts: "step_overhead_s" and "collective_launch_s" (the framework's
// software costs; defaults 0, which `geotrain calibrate` fits from measured runs).
const std::vector<KnobSpec>& overhead_knobs();
// The overheads of `strategy` (a strategy object the scenario loader accepted), defaults filled in.
StrategyOverheads strategy_overheads(const nlohmann::json& strategy);

// `strategy` (a strategy object the scenario loader accepted) with every knob that has a fixed
// default filled in.
nlohmann::json with_defaults(const nlohmann::json& strategy);
// The training state of `strategy` (accepted by the loader) with the workers' optimizer
// `inner_optimizer`: weights 4 + gradients 4 + inner optimizer state (sgd 0, momentum/nesterov 4,
// adamw 8) on every worker (unless the optimizer runs on servers), plus the strategy's own.
// `param_B` and `state_B` replace the 4 B of the weights and gradients and of the inner optimizer's
// state (a workload's declared precision); the strategies' own copies stay fp32.
StateBytes strategy_state_bytes(const nlohmann::json& strategy, const std::string& inner_optimizer,
                                double param_B = kFp32_B, double state_B = kFp32_B);
// The catalog as JSON: {"parameters", "inner_optimizer", "strategies": [{name, summary, step_unit,
// traits, knobs: [...], state: {...at the defaults, for `parameters` and `inner_optimizer`}}]}.
nlohmann::ordered_json strategy_catalog_json(double parameters, const std::string& inner_optimizer);

// One entry per strategy file (sim/strategies/*.cc).
StrategyInfo ddp_strategy();
StrategyInfo parameter_server_strategy();
StrategyInfo easgd_strategy();
StrategyInfo gossip_strategy();
StrategyInfo diloco_strategy();
StrategyInfo local_sgd_strategy();
StrategyInfo streaming_diloco_strategy();
StrategyInfo palsgd_strategy();
StrategyInfo pactrain_strategy();
StrategyInfo topk_strategy();
StrategyInfo dgc_strategy();
StrategyInfo hivemind_strategy();

}  // namespace geotrain::sim
