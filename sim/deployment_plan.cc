// Deployment planning for `geotrain validate`: reachability of the raw document, the candidates'
// documents, their memory check, the longest route and Daly's interval. No simulation runs here.
#include "sim/deployment_plan.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "sim/faults.h"
#include "sim/json_reader.h"
#include "sim/resilience/replica.h"
#include "sim/topology_graph.h"

namespace geotrain::sim {
namespace {

namespace fs = std::filesystem;

constexpr double kBytesPerGB = 1e9;

// The topology of a raw scenario document (inline, or the file it names), or null when it is not
// there or not readable yet: the scenario loader reports that.
nlohmann::json raw_topology(const nlohmann::json& doc, const std::string& file) {
  if (!doc.is_object() || !doc.contains("topology")) return nullptr;
  const auto& t = doc["topology"];
  if (t.is_object()) return t;
  if (!t.is_string()) return nullptr;
  fs::path p = t.get<std::string>();
  if (p.is_relative()) p = fs::path(file).parent_path() / p;
  std::error_code ec;
  return fs::exists(p, ec) ? read_json_file(p.lexically_normal().string()) : nlohmann::json(nullptr);
}

// The distinct fleet regions of `doc` that `known` (the topology's regions) holds, in fleet order.
std::vector<std::string> fleet_regions(const nlohmann::json& doc, const std::map<std::string, std::string>& known) {
  std::vector<std::string> fleet;
  if (doc.contains("fleet") && doc["fleet"].is_array())
    for (const auto& f : doc["fleet"])
      if (f.is_object() && f.value("region", nlohmann::json()).is_string() && known.count(f["region"]) &&
          std::find(fleet.begin(), fleet.end(), f["region"]) == fleet.end())
        fleet.push_back(f["region"]);
  return fleet;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> unreachable_fleet_pairs(const nlohmann::json& doc, const std::string& file) {
  const nlohmann::json topo = raw_topology(doc, file);
  if (!topo.is_object() || !topo.contains("regions") || !topo["regions"].is_array()) return {};
  std::map<std::string, std::string> parent;  // union-find over region names
  for (const auto& r : topo["regions"])
    if (r.is_object() && r.contains("name") && r["name"].is_string()) parent[r["name"]] = r["name"];
  auto find = [&](std::string x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  if (topo.contains("links") && topo["links"].is_array())
    for (const auto& l : topo["links"])
      if (l.is_object() && l.value("a", nlohmann::json()).is_string() && l.value("b", nlohmann::json()).is_string() &&
          parent.count(l["a"]) && parent.count(l["b"]))
        parent[find(l["a"])] = find(l["b"]);
  const std::vector<std::string> fleet = fleet_regions(doc, parent);
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < fleet.size(); ++i)
    for (std::size_t j = i + 1; j < fleet.size(); ++j)
      if (find(fleet[i]) != find(fleet[j])) out.emplace_back(fleet[i], fleet[j]);
  return out;
}

nlohmann::json candidate_doc(nlohmann::json doc, const nlohmann::json& strategy, int steps) {
  if (doc.is_object() && doc.contains("workload") && doc["workload"].is_object()) {
    doc["workload"]["backend"] = "none";
    doc["workload"]["compute_time"] = "model";
    if (steps > 0) doc["workload"]["steps"] = steps;
  }
  if (doc.is_object()) doc["strategy"] = strategy;
  return doc;
}

StateBytes candidate_state_bytes(const Workload& w, const nlohmann::json& strategy) {
  return w.has_architecture()
             ? strategy_state_bytes(strategy, w.optimizer.name, w.wire_bytes_per_param, w.optimizer_state_bytes_per_value)
             : strategy_state_bytes(strategy, w.optimizer.name);
}

std::string memory_problem(const Scenario& s, const std::string& candidate, const nlohmann::json& strategy,
                           const StateBytes& b) {
  auto check = [&](const std::string& type_name, double B_per_param, const std::string& items, const char* role) {
    const InstanceType& t = s.topology.instance_types.at(type_name);
    const double needed_B = s.workload.parameters * B_per_param, available_B = t.gpus * t.gpu_memory_B;
    if (t.gpu_memory_B <= 0 || needed_B <= available_B) return std::string();
    return fmt::format("{}: needs {:.4g} GB per {} on {} ({:.4g} parameters x {:g} B: {}), has {:.4g} GB ({} GPU x {:.4g} GB); "
                       "activations not counted",
                       candidate, needed_B / kBytesPerGB, role, type_name, s.workload.parameters, B_per_param, items,
                       available_B / kBytesPerGB, t.gpus, t.gpu_memory_B / kBytesPerGB);
  };
  for (const auto& f : s.fleet)
    if (auto why = check(f.instance, b.worker_B_per_param, b.worker_items, "worker"); !why.empty()) return why;
  if (b.server_B_per_param <= 0) return "";
  std::string server = s.fleet.front().instance;
  if (strategy.contains("server") && strategy["server"].contains("instance")) server = strategy["server"]["instance"];
  return check(server, b.server_B_per_param, b.server_items, "server");
}

FleetRoute longest_fleet_route(const Scenario& s) {
  const TopologyGraph graph(s.topology);
  FleetRoute worst;
  for (const auto& a : s.fleet)
    for (const auto& b : s.fleet)
      if (a.region_index < b.region_index && graph.route_latency_s(a.region_index, b.region_index) > worst.latency_s) {
        worst.latency_s = graph.route_latency_s(a.region_index, b.region_index);
        worst.regions = a.region + " - " + b.region;
      }
  return worst;
}

CheckpointAdvice daly_checkpoint_advice(const Scenario& s, double preemption_rate_per_s) {
  CheckpointAdvice a;
  a.bytes = static_cast<double>(state_bytes(static_cast<std::size_t>(s.workload.parameters), s.workload.optimizer));
  a.checkpoint_s = a.bytes / s.faults.checkpoint->write_Bps;
  a.mtbf_s = 1 / preemption_rate_per_s;
  a.interval_s = daly_interval_s(a.checkpoint_s, a.mtbf_s);
  return a;
}

}  // namespace geotrain::sim
