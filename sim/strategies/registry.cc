// Strategy registry: the catalog of strategies (sim/catalog.h), name -> factory that
// parses (and so validates) the strategy's knobs through their declarations.
#include <algorithm>

#include "sim/input_tables.h"
#include "sim/json_reader.h"
#include "sim/catalog.h"
#include "sim/resilience/supported.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

std::unique_ptr<Strategy> build(JsonReader& reader, const Scenario& scenario) {
  const auto name = reader.choice("name", strategy_names());
  const StrategyInfo& info = *find_strategy(name);
  const bool wait = info.on_failure && read_choice(reader, on_failure_knob()) == "wait";
  for (const auto& k : overhead_knobs()) read_number(reader, k);
  auto strategy = info.make(reader, scenario);
  if (info.on_failure) strategy->traits.on_failure = wait ? OnFailure::wait : OnFailure::elastic;
  reader.finish();
  return strategy;
}

}  // namespace

const std::vector<StrategyInfo>& strategy_catalog() {
  static const std::vector<StrategyInfo> catalog = [] {
    std::vector<StrategyInfo> out = {ddp_strategy(),    parameter_server_strategy(), easgd_strategy(),
                                     gossip_strategy(), diloco_strategy(),           local_sgd_strategy(),
                                     streaming_diloco_strategy(), palsgd_strategy(), pactrain_strategy(),
                                     topk_strategy(),   dgc_strategy(),              hivemind_strategy()};
    std::sort(out.begin(), out.end(), [](const StrategyInfo& a, const StrategyInfo& b) { return a.name < b.name; });
    return out;
  }();
  return catalog;
}

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& s : strategy_catalog()) out.push_back(s.name);
    return out;
  }();
  return names;
}

std::unique_ptr<Strategy> validate_strategy(JsonReader& reader, const Scenario& scenario) {
  auto strategy = build(reader, scenario);
  resilience::check_faults_supported(*strategy, reader.raw("name").get<std::string>(), scenario);
  return strategy;
}

std::unique_ptr<Strategy> make_strategy(const Scenario& scenario) {
  JsonReader reader(scenario.strategy, scenario.file, "/strategy");
  return build(reader, scenario);
}

ServerPlacement parse_server_placement(JsonReader& reader, const Scenario& scenario) {
  ServerPlacement p;
  p.region = scenario.fleet.front().region_index;
  p.instance = scenario.fleet.front().instance;
  reader.allow("server");
  if (!reader.has("server")) return p;
  auto r = reader.object("server");
  const auto region = r.string_or("region", scenario.topology.regions[p.region].name);
  p.region = scenario.topology.region_index(region);
  if (p.region < 0) r.fail("region", "expected a region of the topology");
  p.instance = r.string_or("instance", p.instance);
  if (!scenario.topology.instance_types.count(p.instance)) r.fail("instance", "expected an instance type of the topology");
  p.pricing = r.choice_or("pricing", "on_demand", input::kPricings) == "spot" ? Pricing::spot : Pricing::on_demand;
  r.finish();
  return p;
}

}  // namespace geotrain::sim
