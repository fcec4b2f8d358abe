// Strategy registry: name -> factory that parses (and so validates) the strategy's knobs.
#include <functional>
#include <map>

#include "sim/json_reader.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

using Factory = std::function<std::unique_ptr<Strategy>(JsonReader&, const Scenario&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {{"ddp", make_ddp},
                                                       {"parameter_server", make_parameter_server},
                                                       {"easgd", make_easgd},
                                                       {"gossip", make_gossip},
                                                       {"diloco", make_diloco},
                                                       {"local_sgd", make_local_sgd},
                                                       {"streaming_diloco", make_streaming_diloco},
                                                       {"palsgd", make_palsgd},
                                                       {"pactrain", make_pactrain},
                                                       {"topk", make_topk},
                                                       {"dgc", make_dgc},
                                                       {"hivemind", make_hivemind}};
  return table;
}

std::unique_ptr<Strategy> build(JsonReader& reader, const Scenario& scenario) {
  const auto name = reader.choice("name", strategy_names());
  auto strategy = factories().at(name)(reader, scenario);
  reader.finish();
  return strategy;
}

}  // namespace

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, f] : factories()) out.push_back(name);
    return out;
  }();
  return names;
}

void validate_strategy(JsonReader& reader, const Scenario& scenario) { build(reader, scenario); }

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
  p.pricing = r.choice_or("pricing", "on_demand", {"on_demand", "spot"}) == "spot" ? Pricing::spot : Pricing::on_demand;
  r.finish();
  return p;
}

}  // namespace geotrain::sim
