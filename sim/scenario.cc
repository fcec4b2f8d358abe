// Scenario loading: reads the JSON, resolves the topology, validates every field.
#include "sim/scenario.h"

#include <filesystem>

#include "sim/json_reader.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

Topology load_topology(JsonReader& r, const std::string& scenario_file) {
  const auto& v = r.raw("topology");
  if (v.is_object()) {
    JsonReader tr(v, r.file(), r.path_of("topology"));
    return parse_topology(tr);
  }
  if (!v.is_string()) r.fail("topology", "expected a topology object or the path of a topology file");
  std::filesystem::path p = v.get<std::string>();
  if (p.is_relative() && !scenario_file.empty())
    p = std::filesystem::path(scenario_file).parent_path() / p;
  if (!std::filesystem::exists(p))
    r.fail("topology", "no such topology file (" + p.lexically_normal().string() +
                           "; relative paths start at the scenario's folder)");
  const nlohmann::json doc = read_json_file(p.lexically_normal().string());
  JsonReader tr(doc, p.lexically_normal().string());
  return parse_topology(tr);
}

FleetEntry parse_fleet_entry(JsonReader& r, const Topology& topology) {
  FleetEntry f;
  f.region = r.string("region");
  f.region_index = topology.region_index(f.region);
  if (f.region_index < 0) {
    std::string list;
    for (const auto& g : topology.regions) list += (list.empty() ? "" : ", ") + g.name;
    r.fail("region", "expected a region of topology \"" + topology.name + "\": " + list);
  }
  f.instance = r.string("instance");
  if (!topology.instance_types.count(f.instance)) {
    std::string list;
    for (const auto& [name, t] : topology.instance_types) list += (list.empty() ? "" : ", ") + name;
    r.fail("instance", "expected an instance type of topology \"" + topology.name + "\": " + list);
  }
  f.count = static_cast<int>(r.integer("count", 1, 100000));
  f.pricing = r.choice_or("pricing", "on_demand", {"on_demand", "spot"}) == "spot" ? Pricing::spot
                                                                                   : Pricing::on_demand;
  r.finish();
  return f;
}

Workload parse_workload(JsonReader& r) {
  Workload w;
  auto m = r.object("model");
  m.choice("type", {"profile"});
  w.parameters = m.number("parameters", 1, 1e15);
  w.flops_per_sample = m.positive("flops_per_sample");
  m.finish();
  w.wire_bytes_per_param = r.number_or("wire_bytes_per_param", 4, 0.0625, 8);
  w.batch_per_worker = static_cast<int>(r.integer("batch_per_worker", 1, 1 << 24));
  w.steps = static_cast<int>(r.integer("steps", 1, 100000000));
  r.finish();
  return w;
}

NetworkSpec parse_network(JsonReader& r) {
  NetworkSpec n;
  n.fidelity = r.choice_or("fidelity", "message", {"message"});
  n.default_tcp_window_B = r.positive_or("tcp_window_B", n.default_tcp_window_B);
  n.window_cap = r.boolean_or("window_cap", true);
  n.parallel_streams = static_cast<int>(r.integer_or("parallel_streams", 1, 1, 1024));
  r.finish();
  return n;
}

}  // namespace

int Scenario::worker_count() const {
  int n = 0;
  for (const auto& f : fleet) n += f.count;
  return n;
}

Scenario parse_scenario(const nlohmann::json& doc, const std::string& file) {
  JsonReader r(doc, file);
  Scenario s;
  s.file = file;
  s.name = r.string_or("name", std::filesystem::path(file).stem().string());
  if (r.has("description")) r.raw("description");
  s.seed = r.unsigned_integer("seed");
  s.topology = load_topology(r, file);
  for (auto& fr : r.objects("fleet", 1)) s.fleet.push_back(parse_fleet_entry(fr, s.topology));
  auto wr = r.object("workload");
  s.workload = parse_workload(wr);
  auto st = r.object("strategy");
  validate_strategy(st);
  s.strategy = r.raw("strategy");
  if (r.has("network")) {
    auto nr = r.object("network");
    s.network = parse_network(nr);
  }
  r.finish();
  return s;
}

Scenario load_scenario(const std::string& file) { return parse_scenario(read_json_file(file), file); }

}  // namespace geotrain::sim
