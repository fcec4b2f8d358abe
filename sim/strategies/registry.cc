// Strategy registry: name -> factory that parses (and so validates) the strategy's knobs.
#include <functional>
#include <map>

#include "sim/json_reader.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

using Factory = std::function<std::unique_ptr<Strategy>(JsonReader&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {{"ddp", make_ddp}};
  return table;
}

std::unique_ptr<Strategy> build(JsonReader& reader) {
  const auto name = reader.choice("name", strategy_names());
  auto strategy = factories().at(name)(reader);
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

void validate_strategy(JsonReader& reader) { build(reader); }

std::unique_ptr<Strategy> make_strategy(const Scenario& scenario) {
  JsonReader reader(scenario.strategy, scenario.file, "/strategy");
  return build(reader);
}

}  // namespace geotrain::sim
