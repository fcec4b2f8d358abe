// `geotrain schema scenario|sweep|tolerances`: a JSON Schema (draft 2020-12) of the input files,
// generated from the loader's own tables: every strategy's knobs from the strategy catalog
// (sim/catalog.h: types, ranges, choices, defaults, meanings), the ranges of
// sim/limits.h, the choices and defaults of sim/input_tables.h (the nested objects:
// cli/schema_sections.cc), the trace levels of the recorder. An editor completes and checks files with it;
// geotrain's loader stays the judge (it checks what a schema cannot: regions of the topology,
// fleet sizes, cross-field rules). Runs nothing.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "analysis/sweep_plan.h"
#include "cli/commands.h"
#include "cli/schema_sections.h"
#include "sim/input_tables.h"
#include "sim/limits.h"
#include "sim/recorder.h"
#include "sim/catalog.h"

namespace geotrain::cli {
namespace {

using Json = nlohmann::ordered_json;
namespace limits = geotrain::sim::limits;
namespace input = geotrain::sim::input;

constexpr const char* kDraft = "https://json-schema.org/draft/2020-12/schema";

Json described(Json schema, const std::string& description) {
  schema["description"] = description;
  return schema;
}

// Where a strategy's server nodes run (the knob "server").
Json server_schema() {
  return schema::closed_object({{"region", schema::text("a region of the topology (default: the first fleet entry's)")},
                                {"instance", schema::text("an instance type (default: the first fleet entry's)")},
                                {"pricing", schema::with_default(schema::choice(input::kPricings, "which price bills them"),
                                                                 input::kPricings.front())}},
                               {});
}

// One knob of the strategy catalog as a property schema.
Json knob_schema(const sim::KnobSpec& k) {
  Json s = Json::object();
  switch (k.type) {
    case sim::KnobType::integer:
      s = {{"type", "integer"}, {"minimum", k.min}, {"maximum", k.max}};
      break;
    case sim::KnobType::number:
      s = {{"type", "number"}, {k.min_exclusive ? "exclusiveMinimum" : "minimum", k.min}, {"maximum", k.max}};
      break;
    case sim::KnobType::boolean: s = {{"type", "boolean"}}; break;
    case sim::KnobType::choice: s = {{"enum", k.choices}}; break;
    case sim::KnobType::text: s = {{"type", "string"}}; break;
    case sim::KnobType::object:
      // The DiLoCo family's outer optimizer is read as workload.optimizer is (sim::parse_optimizer);
      // a server placement as sim::parse_server_placement reads it.
      s = k.name == "outer" ? schema::optimizer_schema() : k.name == "server" ? server_schema() : Json{{"type", "object"}};
      break;
  }
  if (!k.default_value.is_null()) s["default"] = k.default_value;
  s["description"] = k.default_text.empty() ? k.meaning : k.meaning + " (default: " + k.default_text + ")";
  return s;
}

// The strategy object: one branch per catalog entry, its knobs and nothing else.
Json strategy_schema() {
  Json branches = Json::array();
  for (const sim::StrategyInfo& info : sim::strategy_catalog()) {
    Json props = {{"name", {{"const", info.name}, {"description", info.summary}}}};
    for (const auto& k : info.knobs) props[k.name] = knob_schema(k);
    for (const auto& k : sim::overhead_knobs()) props[k.name] = knob_schema(k);
    if (info.on_failure) props[sim::on_failure_knob().name] = knob_schema(sim::on_failure_knob());
    branches.push_back({{"type", "object"},
                        {"title", info.name},
                        {"properties", props},
                        {"required", {"name"}},
                        {"additionalProperties", false}});
  }
  Json names = Json::array();
  for (const auto& info : sim::strategy_catalog()) names.push_back(info.name);
  return {{"type", "object"},
          {"description", "the training strategy: \"name\" and its knobs (geotrain strategies lists them)"},
          {"properties", {{"name", {{"enum", names}}}}},
          {"required", {"name"}},
          {"oneOf", branches}};
}

Json fleet_entry_schema() {
  return {{"type", "object"},
          {"properties",
           {{"region", described({{"type", "string"}}, "a region of the topology")},
            {"instance", described({{"type", "string"}}, "an instance type of the topology")},
            {"count", described({{"type", "integer"}, {"minimum", 1}, {"maximum", limits::kMaxWorkers}}, "workers")},
            {"pricing", schema::with_default(schema::choice(input::kPricings, "which usd_per_hour price bills them"),
                                             input::kPricings.front())},
            {"mfu", described({{"type", "number"}, {"exclusiveMinimum", 0}, {"maximum", 1}},
                              "achieved fraction of peak of this entry's GPUs")},
            {"preemption", schema::preemption_schema()},
            {"spot_price", schema::spot_price_schema()}}},
          {"required", {"region", "instance", "count"}},
          {"additionalProperties", false}};
}

Json scenario_schema() {
  const std::vector<std::string> trace_levels = sim::trace_detail_names();
  Json props = {
      {"name", described({{"type", "string"}}, "the run's name (default: the file name)")},
      {"description", {{"description", "for people, any JSON; ignored"}}},
      {"seed", described({{"type", "integer"}, {"minimum", 0}}, "every random draw of the run starts here")},
      {"calibration", described({{"type", "string"}}, "a calibration.json written by geotrain calibrate")},
      {"topology", {{"description", "a topology file (relative to the scenario's folder) or an inline topology"},
                    {"type", {"string", "object"}},
                    {"if", {{"type", "object"}}},
                    {"then", schema::topology_schema()}}},
      {"fleet", {{"type", "array"}, {"minItems", 1}, {"items", fleet_entry_schema()}}},
      {"workload", schema::workload_schema()},
      {"network", schema::network_schema()},
      {"output", {{"type", "object"},
                  {"properties", {{"trace", {{"enum", trace_levels}, {"default", "steps"}}},
                                  {"trace_max_spans", {{"type", "integer"}, {"minimum", 100}, {"maximum", 100000000},
                                                       {"default", sim::kDefaultTraceMaxSpans}}}}},
                  {"additionalProperties", false}}},
      {"faults", schema::faults_schema()},
      {"checkpoint", schema::checkpoint_schema()},
      {"strategy", strategy_schema()}};
  return {{"$schema", kDraft},
          {"title", "geotrain scenario"},
          {"type", "object"},
          {"properties", props},
          {"required", {"seed", "topology", "fleet", "workload", "strategy"}},
          {"additionalProperties", false}};
}

Json sweep_schema() {
  // An axis value: any JSON, or a labelled one {"label": "H=100", "value": 100}.
  const Json value = {{"description", "a value, or {\"label\": ..., \"value\": ...} to name it in sweep.csv and the report"}};
  Json scenario = scenario_schema();
  scenario.erase("$schema");
  return {{"$schema", kDraft},
          {"title", "geotrain sweep"},
          {"type", "object"},
          {"properties",
           {{"name", {{"type", "string"}}},
            {"description", {{"type", "string"}}},
            {"base", {{"description", "a scenario file (relative to the sweep file's folder) or an inline scenario"},
                      {"oneOf", {{{"type", "string"}}, scenario}}}},
            {"grid", {{"type", "object"},
                      {"minProperties", 1},
                      {"propertyNames", {{"pattern", "^/"}}},
                      {"additionalProperties", {{"type", "array"}, {"minItems", 1}, {"items", value}}}}},
            {"list", {{"type", "array"},
                      {"minItems", 1},
                      {"items", {{"type", "object"}, {"propertyNames", {{"pattern", "^/"}}}, {"additionalProperties", value}}}}},
            {"replicas", {{"type", "integer"},
                          {"minimum", 1},
                          {"maximum", geotrain::analysis::kMaxSweepReplicas},
                          {"default", 1},
                          {"description", "draws of the fault process per point whose fault process is random"}}}}},
          {"required", {"base"}},
          {"oneOf", {{{"required", {"grid"}}}, {{"required", {"list"}}}}},
          {"additionalProperties", false}};
}

Json tolerances_schema() {
  const Json bound = {{"type", "number"}, {"minimum", 0}};
  return {{"$schema", kDraft},
          {"title", "geotrain check tolerances"},
          {"type", "object"},
          {"properties",
           {{"default", {{"type", "object"},
                         {"properties", {{"rel", bound}, {"abs", bound}}},
                         {"additionalProperties", false}}}}},
          {"propertyNames", {{"pattern", "^(default|/.*)$"}}},
          {"additionalProperties",
           {{"type", "object"},
            {"description", "tolerances of the leaves under this JSON pointer prefix (the longest prefix wins)"},
            {"properties", {{"rel", bound}, {"abs", bound}, {"ignore", {{"type", "boolean"}}}}},
            {"additionalProperties", false}}}};
}

Json topology_file_schema() {
  Json s = schema::topology_schema();
  s["$schema"] = kDraft;
  s["title"] = "geotrain topology";
  return s;
}

}  // namespace

nlohmann::ordered_json input_schema(const std::string& kind) {
  if (kind == "scenario") return scenario_schema();
  if (kind == "topology") return topology_file_schema();
  if (kind == "sweep") return sweep_schema();
  return tolerances_schema();
}

void add_schema_command(CLI::App& app, int& exit_code) {
  auto kind = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("schema", "print the JSON Schema of scenario, sweep, tolerance or topology files");
  cmd->add_option("KIND", *kind, "scenario | sweep | tolerances | topology")
      ->required()
      ->check(CLI::IsMember({"scenario", "sweep", "tolerances", "topology"}));
  cmd->callback([kind, &exit_code] {
    fmt::print("{}\n", input_schema(*kind).dump(2));
    exit_code = 0;
  });
}

}  // namespace geotrain::cli
