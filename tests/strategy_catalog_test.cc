// Tests of the strategy catalog (sim/catalog.h) and `geotrain strategies --json`:
// every strategy present, known defaults, state sizes in closed form, and every declared default
// accepted by the loader (the declarations are what the factories read).
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_test_util.h"
#include "sim/json_reader.h"
#include "sim/scenario.h"
#include "sim/catalog.h"
#include "sim/strategies/strategy.h"

namespace {

namespace sim = geotrain::sim;
using nlohmann::json;

const json& entry(const json& catalog, const std::string& name) {
  for (const auto& s : catalog["strategies"])
    if (s["name"] == name) return s;
  static const json kNone;
  ADD_FAILURE() << "no strategy " << name;
  return kNone;
}

const json& knob(const json& strategy, const std::string& name) {
  for (const auto& k : strategy["knobs"])
    if (k["name"] == name) return k;
  static const json kNone;
  ADD_FAILURE() << "no knob " << name << " in " << strategy["name"];
  return kNone;
}

TEST(StrategyCatalogTest, CommandListsEveryStrategyWithDefaultsAndStateSizes) {
  const auto run = geotrain::testing::run_geotrain("strategies --json --parameters 1000000 --optimizer adamw");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json c = json::parse(run.out);
  EXPECT_EQ(c["parameters"], 1e6);
  EXPECT_EQ(c["inner_optimizer"], "adamw");
  std::set<std::string> names;
  for (const auto& s : c["strategies"]) names.insert(s["name"]);
  EXPECT_EQ(names, (std::set<std::string>{"ddp", "dgc", "diloco", "easgd", "gossip", "hivemind", "local_sgd", "pactrain", "palsgd",
                                          "parameter_server", "streaming_diloco", "topk"}));
  EXPECT_EQ(names.size(), sim::strategy_names().size());
  // Known defaults (the papers' settings, docs/SCENARIO_FORMAT.md#strategy).
  const json& diloco = entry(c, "diloco");
  EXPECT_EQ(knob(diloco, "H")["default"], 500);
  EXPECT_EQ(knob(diloco, "H")["role"], "sync_period");
  EXPECT_EQ(knob(diloco, "H")["type"], "integer");
  EXPECT_EQ(knob(diloco, "outer")["default"], (json{{"name", "nesterov"}, {"lr", 0.7}, {"momentum", 0.9}}));
  EXPECT_EQ(knob(diloco, "on_failure")["choices"], (json{"elastic", "wait"}));
  EXPECT_EQ(knob(entry(c, "local_sgd"), "H")["default"], 100);
  EXPECT_EQ(knob(entry(c, "pactrain"), "warmup_steps")["default"], 20);
  EXPECT_EQ(knob(entry(c, "pactrain"), "checkpoint")["role"], "warm_start");
  EXPECT_EQ(knob(entry(c, "easgd"), "beta")["default"], nullptr);
  EXPECT_EQ(knob(entry(c, "easgd"), "beta")["default_text"], "0.9 / workers");
  EXPECT_EQ(knob(entry(c, "topk"), "ratio")["min_exclusive"], true);
  EXPECT_EQ(entry(c, "hivemind")["step_unit"], "round");
  EXPECT_EQ(entry(c, "ddp")["traits"]["on_failure"], true);
  EXPECT_EQ(entry(c, "easgd")["traits"]["on_failure"], false);
  // State per worker at the defaults, AdamW inner optimizer, 1e6 parameters:
  // diloco: weights 4 + gradients 4 + adamw 8 + outer copy 4 + outer nesterov 4 = 24 B/param.
  EXPECT_EQ(entry(c, "diloco")["state_at_defaults"]["worker_B_per_param"], 24);
  EXPECT_EQ(entry(c, "diloco")["state_at_defaults"]["worker_bytes"], 24e6);
  EXPECT_EQ(entry(c, "diloco")["state_at_defaults"]["worker_items"],
            "weights 4 + gradients 4 + adamw state 8 + outer copy 4 + outer nesterov state 4");
  // parameter_server: the optimizer runs on the (one) server: weights 4 + adamw 8 there.
  EXPECT_EQ(entry(c, "parameter_server")["state_at_defaults"]["worker_bytes"], 8e6);
  EXPECT_EQ(entry(c, "parameter_server")["state_at_defaults"]["server_bytes"], 12e6);
  EXPECT_EQ(entry(c, "ddp")["state_at_defaults"]["server_bytes"], 0);
}

TEST(StrategyCatalogTest, HumanTableNamesEveryStrategy) {
  const auto run = geotrain::testing::run_geotrain("strategies");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const auto& name : sim::strategy_names()) EXPECT_NE(run.out.find("\n" + name + ": "), std::string::npos) << name;
  EXPECT_NE(run.out.find("  H                500"), std::string::npos);
}

TEST(StrategyCatalogTest, EveryDeclaredDefaultIsAcceptedByTheLoader) {
  // Each strategy with every knob that has a fixed default written out: the loader accepts it, so
  // every declared knob is one the factory reads, and every default is in its declared range.
  for (const auto& info : sim::strategy_catalog()) {
    json doc = json::parse(geotrain::testing::kTinyScenario);
    doc["strategy"] = sim::with_defaults({{"name", info.name}});
    if (info.name == "pactrain") doc["strategy"].erase("checkpoint");  // "" is no file
    EXPECT_NO_THROW(sim::parse_scenario(doc, "f.json")) << info.name;
    for (const auto& k : info.knobs)
      if (!k.default_value.is_null() && k.name != "checkpoint") EXPECT_TRUE(doc["strategy"].contains(k.name)) << info.name << " " << k.name;
  }
}

TEST(StrategyCatalogTest, UndeclaredKnobIsRejected) {
  json doc = json::parse(geotrain::testing::kTinyScenario);
  doc["strategy"] = {{"name", "diloco"}, {"HH", 5}};
  try {
    sim::parse_scenario(doc, "f.json");
    FAIL() << "accepted an undeclared knob";
  } catch (const sim::BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("/strategy/HH"), std::string::npos) << e.what();
  }
}

}  // namespace
