// The strategy catalog: knob readers over the declarations, state sizes, and the catalog as JSON.
#include "sim/catalog.h"

#include <algorithm>

#include <fmt/format.h>

#include "kernels/check.h"
#include "sim/json_reader.h"
#include "sim/scenario.h"

namespace geotrain::sim {
namespace {

const char* type_name(KnobType t) {
  switch (t) {
    case KnobType::integer: return "integer";
    case KnobType::number: return "number";
    case KnobType::boolean: return "boolean";
    case KnobType::choice: return "choice";
    case KnobType::text: return "string";
    case KnobType::object: return "object";
  }
  return "?";
}

const char* role_name(KnobRole r) {
  switch (r) {
    case KnobRole::none: return nullptr;
    case KnobRole::sync_period: return "sync_period";
    case KnobRole::warmup: return "warmup";
    case KnobRole::warm_start: return "warm_start";
  }
  return nullptr;
}

void add_item(std::string& items, double& total, const std::string& what, double bytes) {
  items += fmt::format("{}{} {:g}", items.empty() ? "" : " + ", what, bytes);
  total += bytes;
}

nlohmann::ordered_json knob_json(const KnobSpec& k) {
  nlohmann::ordered_json j = {{"name", k.name}, {"type", type_name(k.type)}};
  j["default"] = k.default_value.is_null() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json::parse(k.default_value.dump());
  if (!k.default_text.empty()) j["default_text"] = k.default_text;
  if (k.type == KnobType::integer || k.type == KnobType::number) {
    j["min"] = k.min;
    j["max"] = k.max;
    if (k.min_exclusive) j["min_exclusive"] = true;
  }
  if (k.type == KnobType::choice) j["choices"] = k.choices;
  if (const char* role = role_name(k.role)) j["role"] = role;
  j["meaning"] = k.meaning;
  return j;
}

}  // namespace

std::int64_t read_integer(JsonReader& reader, const KnobSpec& knob) {
  GEOTRAIN_CHECK(knob.type == KnobType::integer && knob.default_value.is_number(), "the knob is declared as integer with a default");
  return reader.integer_or(knob.name, knob.default_value.get<std::int64_t>(), static_cast<std::int64_t>(knob.min),
                           static_cast<std::int64_t>(knob.max));
}

std::int64_t read_integer(JsonReader& reader, const KnobSpec& knob, std::int64_t fallback) {
  GEOTRAIN_CHECK(knob.type == KnobType::integer, "the knob is declared as integer");
  return reader.integer_or(knob.name, fallback, static_cast<std::int64_t>(knob.min), static_cast<std::int64_t>(knob.max));
}

double read_number(JsonReader& reader, const KnobSpec& knob) {
  GEOTRAIN_CHECK(knob.default_value.is_number(), "the knob has a numeric default");
  return read_number(reader, knob, knob.default_value.get<double>());
}

double read_number(JsonReader& reader, const KnobSpec& knob, double fallback) {
  GEOTRAIN_CHECK(knob.type == KnobType::number, "the knob is declared as number");
  return reader.number_or(knob.name, fallback, knob.min, knob.max, knob.min_exclusive);
}

std::string read_choice(JsonReader& reader, const KnobSpec& knob) {
  GEOTRAIN_CHECK(knob.type == KnobType::choice && knob.default_value.is_string(), "the knob is declared as choice with a default");
  return reader.choice_or(knob.name, knob.default_value.get<std::string>(), knob.choices);
}

std::string read_choice(JsonReader& reader, const KnobSpec& knob, const std::string& fallback) {
  GEOTRAIN_CHECK(knob.type == KnobType::choice, "the knob is declared as choice");
  return reader.choice_or(knob.name, fallback, knob.choices);
}

bool read_boolean(JsonReader& reader, const KnobSpec& knob) {
  GEOTRAIN_CHECK(knob.type == KnobType::boolean && knob.default_value.is_boolean(), "the knob is declared as boolean with a default");
  return reader.boolean_or(knob.name, knob.default_value.get<bool>());
}

bool read_boolean(JsonReader& reader, const KnobSpec& knob, bool fallback) {
  GEOTRAIN_CHECK(knob.type == KnobType::boolean, "the knob is declared as boolean");
  return reader.boolean_or(knob.name, fallback);
}

std::string read_text(JsonReader& reader, const KnobSpec& knob) {
  GEOTRAIN_CHECK(knob.type == KnobType::text && knob.default_value.is_string(), "the knob is declared as string with a default");
  return reader.string_or(knob.name, knob.default_value.get<std::string>());
}

const KnobSpec& knob_of(const std::vector<KnobSpec>& knobs, std::string_view name) {
  const auto it = std::find_if(knobs.begin(), knobs.end(), [&](const KnobSpec& k) { return k.name == name; });
  GEOTRAIN_CHECK(it != knobs.end(), "every knob read is declared");
  return *it;
}

void StateBytes::add_worker(const std::string& what, double bytes) { add_item(worker_items, worker_B_per_param, what, bytes); }
void StateBytes::add_server(const std::string& what, double bytes) { add_item(server_items, server_B_per_param, what, bytes); }

double optimizer_state_B_per_param(const std::string& optimizer) {
  if (optimizer == "momentum" || optimizer == "nesterov") return kFp32_B;
  if (optimizer == "adamw") return 2 * kFp32_B;
  return 0;  // sgd
}

const StrategyInfo* find_strategy(std::string_view name) {
  for (const auto& s : strategy_catalog())
    if (s.name == name) return &s;
  return nullptr;
}

const KnobSpec& on_failure_knob() {
  static const KnobSpec knob{"on_failure", KnobType::choice, "elastic", 0, 0, false, {"elastic", "wait"},
                             "after a failure: elastic (the rest go on) or wait (all wait for the replacement)"};
  return knob;
}

const std::vector<KnobSpec>& overhead_knobs() {
  static const std::vector<KnobSpec> knobs = {
      {"step_overhead_s", KnobType::number, 0.0, 0, JsonReader::kInf, false, {},
       "framework time per training step of a worker, after its compute (s)"},
      {"collective_launch_s", KnobType::number, 0.0, 0, JsonReader::kInf, false, {},
       "fixed time per collective a worker takes part in, before its transfers (s)"}};
  return knobs;
}

StrategyOverheads strategy_overheads(const nlohmann::json& strategy) {
  StrategyOverheads o;
  o.step_overhead_s = strategy.value("step_overhead_s", 0.0);
  o.collective_launch_s = strategy.value("collective_launch_s", 0.0);
  return o;
}

nlohmann::json with_defaults(const nlohmann::json& strategy) {
  const StrategyInfo* info = find_strategy(strategy.value("name", std::string()));
  GEOTRAIN_CHECK(info != nullptr, "unknown strategy (validated at load)");
  nlohmann::json out = strategy;
  auto fill = [&](const KnobSpec& k) {
    if (!out.contains(k.name) && !k.default_value.is_null()) out[k.name] = k.default_value;
  };
  if (info->on_failure) fill(on_failure_knob());
  for (const auto& k : info->knobs) fill(k);
  return out;
}

StateBytes strategy_state_bytes(const nlohmann::json& strategy, const std::string& inner_optimizer, double param_B,
                                double state_B) {
  const nlohmann::json knobs = with_defaults(strategy);
  const StrategyInfo& info = *find_strategy(knobs["name"].get<std::string>());
  StateBytes b;
  b.add_worker("weights", param_B);
  b.add_worker("gradients", param_B);
  if (info.optimizer_on_workers)
    b.add_worker(inner_optimizer + " state", optimizer_state_B_per_param(inner_optimizer) / kFp32_B * state_B);
  if (info.add_state) info.add_state(knobs, inner_optimizer, b);
  return b;
}

nlohmann::ordered_json strategy_catalog_json(double parameters, const std::string& inner_optimizer) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& s : strategy_catalog()) {
    nlohmann::ordered_json knobs = nlohmann::ordered_json::array();
    if (s.on_failure) knobs.push_back(knob_json(on_failure_knob()));
    for (const auto& k : s.knobs) knobs.push_back(knob_json(k));
    const StateBytes b = strategy_state_bytes({{"name", s.name}}, inner_optimizer);
    nlohmann::ordered_json state = {{"worker_B_per_param", b.worker_B_per_param},
                                    {"worker_items", b.worker_items},
                                    {"worker_bytes", b.worker_B_per_param * parameters},
                                    {"server_B_per_param", b.server_B_per_param},
                                    {"server_items", b.server_items},
                                    {"server_bytes", b.server_B_per_param * parameters}};
    list.push_back({{"name", s.name},
                    {"summary", s.summary},
                    {"step_unit", s.step_unit},
                    {"traits", {{"on_failure", s.on_failure}, {"optimizer_on_workers", s.optimizer_on_workers}}},
                    {"knobs", knobs},
                    {"state_at_defaults", state}});
  }
  nlohmann::ordered_json common = nlohmann::ordered_json::array();
  for (const auto& k : overhead_knobs()) common.push_back(knob_json(k));
  return {{"parameters", parameters}, {"inner_optimizer", inner_optimizer}, {"strategies", list}, {"common_knobs", common}};
}

}  // namespace geotrain::sim
