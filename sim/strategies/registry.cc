// Strategy registry: the catalog of strategies (sim/strategies/catalog.h), name -> factory that
// parses (and so validates) the strategy's knobs through their declarations.
#include <algorithm>

#include <fmt/format.h>

#include "sim/input_tables.h"
#include "sim/json_reader.h"
#include "sim/strategies/catalog.h"
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

// What the scenario's faults ask of the strategy, against what its traits and servers offer.
void check_faults(const Strategy& strategy, const std::string& name, const Scenario& s) {
  const std::string quoted = "strategy \"" + name + "\"";
  // "faults.servers" names servers of the strategy: its parameter-server shards or EASGD's center.
  const auto servers = static_cast<int>(strategy.servers(s).size());
  if (!s.faults.servers.empty() && servers == 0)
    throw_bad_input(s.file, "/faults/servers", quoted,
                    "server faults need a strategy with servers: parameter_server (its shards) or easgd "
                    "(its center, shard 0)");
  for (std::size_t i = 0; i < s.faults.servers.size(); ++i)
    if (s.faults.servers[i].shard >= servers)
      throw_bad_input(s.file, "/faults/servers/" + std::to_string(i) + "/shard",
                      std::to_string(s.faults.servers[i].shard),
                      fmt::format("expected a shard of {}: 0 to {}", quoted, servers - 1));
  // A checkpoint the strategy would silently ignore.
  if (s.faults.checkpoint && !strategy.traits.checkpoints)
    throw_bad_input(s.file, "/checkpoint", quoted,
                    name + " writes no checkpoints (a returning worker copies a live peer); remove \"checkpoint\"");
  // Servers checkpoint per update applied; their faults are windows, with no rate for Daly's optimum.
  if (s.faults.checkpoint && s.faults.checkpoint->auto_interval && servers > 0)
    throw_bad_input(s.file, "/checkpoint/every_steps", "\"auto\"",
                    quoted + " checkpoints its servers every so many updates, and server faults have no rate to "
                             "derive an interval from: give an integer");
  // Request/reply protocols whose replies a down link would lose with nothing to release the
  // requester (server and peer deaths do release it): refused rather than left to wait until the
  // time limit.  Bandwidth and latency profiles are fine.
  if (strategy.traits.survives_link_down) return;
  for (std::size_t i = 0; i < s.faults.links.size(); ++i)
    if (!s.faults.links[i].down.empty())
      throw_bad_input(s.file, "/faults/links/" + std::to_string(i) + "/down", quoted,
                      "link down windows are not modeled for parameter_server, easgd and gossip yet (a request "
                      "lost on a down link would wait for its reply until the time limit); use bandwidth and "
                      "latency profiles, or a strategy with group rounds");
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
  check_faults(*strategy, reader.raw("name").get<std::string>(), scenario);
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
