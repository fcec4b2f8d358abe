// `geotrain topo TOPOLOGY.json [--regions a,b,c] [--json]`: inspect a topology before running it.
// Prints, for a fleet of regions (default: all), the host-to-host RTT, capacity, single-stream
// and egress price matrices along the routes the simulator uses, the bottleneck links, the ring
// order, relay shortcuts and load warnings, and the instance types each region offers. Reads the
// topology only; runs no simulation.
#include <algorithm>
#include <limits>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "sim/json_reader.h"
#include "sim/scenario.h"
#include "sim/topology.h"
#include "sim/topology_graph.h"

namespace {

namespace sim = geotrain::sim;
using nlohmann::ordered_json;

constexpr double kMsPerSecond = 1e3;
constexpr double kBitsPerByte = 8.0;
constexpr double kBitsPerGbit = 1e9;
constexpr double kBytesPerGB = 1e9;
constexpr double kBytesPerMB = 1e6;
constexpr double kNone = std::numeric_limits<double>::infinity();

double gbps(double Bps) { return Bps * kBitsPerByte / kBitsPerGbit; }

// Network figures between regions of a fleet, along the simulator's routes (TopologyGraph).
class FleetView {
 public:
  FleetView(const sim::Topology& t, std::vector<int> fleet) : t_(t), graph_(t), fleet_(std::move(fleet)) {}

  const std::vector<int>& fleet() const { return fleet_; }
  const sim::TopologyGraph& graph() const { return graph_; }

  // Host-to-host RTT; inside one region twice its LAN latency.
  double rtt_s(int a, int b) const {
    if (a == b) return 2 * t_.regions[a].lan_latency_s;
    return 2 * graph_.route_latency_s(a, b) + t_.regions[a].lan_latency_s + t_.regions[b].lan_latency_s;
  }
  // Lowest link capacity on the route (infinite inside a region: only NICs limit there).
  double capacity_Bps(int a, int b) const {
    double cap = kNone;
    if (a != b)
      for (const auto& hop : graph_.route(a, b)) cap = std::min(cap, t_.links[hop.link].capacity_Bps);
    return cap;
  }
  // The single-stream TCP window: the smallest on the route, the network default where none.
  double window_B(int a, int b) const {
    if (a == b) return t_.regions[a].lan_window_B > 0 ? t_.regions[a].lan_window_B : default_window_B_;
    double w = kNone;
    for (const auto& hop : graph_.route(a, b)) {
      const double lw = t_.links[hop.link].tcp_window_B;
      w = std::min(w, lw > 0 ? lw : default_window_B_);
    }
    return w;
  }
  double single_stream_Bps(int a, int b) const { return window_B(a, b) / rtt_s(a, b); }

 private:
  const double default_window_B_ = sim::NetworkSpec{}.default_tcp_window_B;  // network.tcp_window_B default
  const sim::Topology& t_;
  sim::TopologyGraph graph_;
  std::vector<int> fleet_;
};

std::vector<int> parse_fleet(const sim::Topology& t, const std::string& file, const std::string& list) {
  std::vector<int> fleet;
  if (list.empty()) {
    for (std::size_t i = 0; i < t.regions.size(); ++i) fleet.push_back(static_cast<int>(i));
    return fleet;
  }
  std::stringstream in(list);
  for (std::string name; std::getline(in, name, ',');) {
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    const int idx = t.region_index(name);
    if (idx < 0) {
      std::string all;
      for (const auto& g : t.regions) all += (all.empty() ? "" : ", ") + g.name;
      sim::throw_bad_input(file, "--regions", "\"" + name + "\"",
                           "expected a region of topology \"" + t.name + "\": " + all);
    }
    if (std::find(fleet.begin(), fleet.end(), idx) != fleet.end())
      sim::throw_bad_input(file, "--regions", "\"" + name + "\"", "each region once");
    fleet.push_back(idx);
  }
  return fleet;
}

struct Bottlenecks {
  int ss_a = -1, ss_b = -1;  // pair with the lowest single-stream rate
  int link = -1;             // WAN link with the lowest capacity on any route of the fleet
  int link_a = -1, link_b = -1;  // the first fleet pair whose route crosses it
};

Bottlenecks find_bottlenecks(const sim::Topology& t, const FleetView& v) {
  Bottlenecks b;
  double ss = kNone;
  const auto& f = v.fleet();
  for (std::size_t i = 0; i < f.size(); ++i)
    for (std::size_t j = i + 1; j < f.size(); ++j) {
      if (v.single_stream_Bps(f[i], f[j]) < ss) {
        ss = v.single_stream_Bps(f[i], f[j]);
        b.ss_a = f[i];
        b.ss_b = f[j];
      }
      for (const auto& hop : v.graph().route(f[i], f[j]))
        if (b.link < 0 || t.links[hop.link].capacity_Bps < t.links[b.link].capacity_Bps) {
          b.link = hop.link;
          b.link_a = f[i];
          b.link_b = f[j];
        }
    }
  return b;
}

double ring_rtt_s(const FleetView& v, const std::vector<int>& order) {
  double sum = 0;
  if (order.size() < 2) return 0;
  for (std::size_t i = 0; i < order.size(); ++i) sum += v.rtt_s(order[i], order[(i + 1) % order.size()]);
  return sum;
}

bool in_fleet(const std::vector<int>& f, int r) { return std::find(f.begin(), f.end(), r) != f.end(); }

// The instance types a fleet entry may place in region `r` (Topology::placement_error is empty),
// in name order: those of its cloud (or of no cloud), and only those it lists where it lists any.
ordered_json offered_types(const sim::Topology& t, int r) {
  ordered_json types = ordered_json::array();
  for (const auto& [name, type] : t.instance_types)
    if (t.placement_error(r, name).empty()) types.push_back(name);
  return types;
}

template <typename Cell>
ordered_json matrix_json(const std::vector<int>& f, Cell cell) {
  ordered_json m = ordered_json::array();
  for (int a : f) {
    ordered_json row = ordered_json::array();
    for (int b : f) {
      const double x = cell(a, b);
      row.push_back(x == kNone ? ordered_json(nullptr) : ordered_json(x));
    }
    m.push_back(row);
  }
  return m;
}

ordered_json to_json(const sim::Topology& t, const FleetView& v, const std::string& file) {
  const auto& f = v.fleet();
  ordered_json j;
  j["topology"] = t.name;
  j["file"] = file;
  j["regions"] = ordered_json::array();
  for (int r : f)
    j["regions"].push_back({{"name", t.regions[r].name}, {"cloud", t.regions[r].cloud},
                            {"continent", t.regions[r].continent}, {"instance_types", offered_types(t, r)}});
  j["rtt_ms"] = matrix_json(f, [&](int a, int b) { return v.rtt_s(a, b) * kMsPerSecond; });
  j["capacity_Gbps"] = matrix_json(f, [&](int a, int b) {
    const double c = v.capacity_Bps(a, b);
    return c == kNone ? kNone : gbps(c);
  });
  j["single_stream_Gbps"] = matrix_json(f, [&](int a, int b) { return gbps(v.single_stream_Bps(a, b)); });
  j["egress_usd_per_GB"] = matrix_json(f, [&](int a, int b) { return t.egress_usd_per_B(a, b) * kBytesPerGB; });
  const Bottlenecks b = find_bottlenecks(t, v);
  j["bottleneck_single_stream"] = nullptr;
  j["bottleneck_capacity"] = nullptr;
  if (b.ss_a >= 0)
    j["bottleneck_single_stream"] = {{"a", t.regions[b.ss_a].name}, {"b", t.regions[b.ss_b].name},
                                     {"single_stream_Gbps", gbps(v.single_stream_Bps(b.ss_a, b.ss_b))},
                                     {"rtt_ms", v.rtt_s(b.ss_a, b.ss_b) * kMsPerSecond},
                                     {"tcp_window_B", v.window_B(b.ss_a, b.ss_b)}};
  if (b.link >= 0) {
    const auto& l = t.links[b.link];
    j["bottleneck_capacity"] = {{"a", t.regions[l.a].name}, {"b", t.regions[l.b].name},
                                {"capacity_Gbps", gbps(l.capacity_Bps)}, {"capacity_limit", l.capacity_limit},
                                {"capacity_estimated", l.capacity_estimated}, {"rtt_estimated", l.rtt_estimated},
                                {"on_route", {t.regions[b.link_a].name, t.regions[b.link_b].name}},
                                {"route_hops", v.graph().route(b.link_a, b.link_b).size()}};
  }
  const auto order = v.graph().ring_order(f);
  j["ring_order"] = ordered_json::array();
  for (int r : order) j["ring_order"].push_back(t.regions[r].name);
  j["ring_rtt_ms"] = ring_rtt_s(v, order) * kMsPerSecond;
  j["relay_shortcuts"] = ordered_json::array();
  for (const auto& s : t.relay_shortcuts)
    if (in_fleet(f, s.a) && in_fleet(f, s.b))
      j["relay_shortcuts"].push_back({{"a", t.regions[s.a].name}, {"b", t.regions[s.b].name},
                                      {"via", t.regions[s.via].name}, {"direct_rtt_ms", s.direct_rtt_s * kMsPerSecond},
                                      {"relay_rtt_ms", s.relay_rtt_s * kMsPerSecond}});
  j["warnings"] = ordered_json::array();
  for (const auto& w : t.warnings)
    if (w.a < 0 || (in_fleet(f, w.a) && in_fleet(f, w.b))) j["warnings"].push_back(w.message);
  return j;
}

// One matrix: rows and columns in fleet order, columns labelled by fleet position.
void print_matrix(const std::string& title, const ordered_json& m, const std::vector<std::string>& names,
                  const char* cell_fmt) {
  std::size_t width = 0;
  for (const auto& n : names) width = std::max(width, n.size());
  fmt::print("\n{}\n  {:>{}}", title, "", width + 5);
  for (std::size_t c = 0; c < names.size(); ++c) fmt::print("{:>9}", fmt::format("[{}]", c));
  fmt::print("\n");
  for (std::size_t r = 0; r < names.size(); ++r) {
    fmt::print("  {:>3} {:<{}} ", fmt::format("[{}]", r), names[r], width + 1);
    for (const auto& x : m[r]) fmt::print("{:>9}", x.is_null() ? "-" : fmt::format(fmt::runtime(cell_fmt), x.get<double>()));
    fmt::print("\n");
  }
}

void print_text(const sim::Topology& t, const ordered_json& j) {
  std::vector<std::string> names;
  for (const auto& r : j["regions"]) names.push_back(r["name"].get<std::string>());
  fmt::print("topology {} ({}): {} regions, {} links, {} instance types; fleet of {} regions\n", t.name,
             j["file"].get<std::string>(), t.regions.size(), t.links.size(), t.instance_types.size(), names.size());
  fmt::print("\ninstance types each region offers (a fleet entry may place only these there)\n");
  for (std::size_t r = 0; r < names.size(); ++r) {
    std::string types;
    for (const auto& type : j["regions"][r]["instance_types"]) types += (types.empty() ? "" : ", ") + type.get<std::string>();
    fmt::print("  {:>3} {}: {}\n", fmt::format("[{}]", r), names[r], types.empty() ? "none" : types);
  }
  print_matrix("RTT (ms), host to host along the simulator's route", j["rtt_ms"], names, "{:.1f}");
  print_matrix("capacity (Gbit/s), lowest link on the route, each direction (- inside a region: NICs only)",
               j["capacity_Gbps"], names, "{:.2f}");
  print_matrix("single-stream TCP rate (Gbit/s) = window / RTT (diagonal: inside the region)", j["single_stream_Gbps"], names, "{:.3f}");
  print_matrix("egress price ($/GB), row = source, column = destination", j["egress_usd_per_GB"], names, "{:.4f}");
  if (const auto& s = j["bottleneck_single_stream"]; !s.is_null())
    fmt::print("\nbottleneck, single stream: {} <-> {}: {:.3f} Gbit/s at RTT {:.1f} ms (window {:.3f} MB)\n",
               s["a"].get<std::string>(), s["b"].get<std::string>(), s["single_stream_Gbps"].get<double>(),
               s["rtt_ms"].get<double>(), s["tcp_window_B"].get<double>() / kBytesPerMB);
  if (const auto& c = j["bottleneck_capacity"]; !c.is_null()) {
    fmt::print("bottleneck, capacity: link {} -- {}: {:.2f} Gbit/s ({}), on the route {} <-> {} ({} hops)\n",
               c["a"].get<std::string>(), c["b"].get<std::string>(), c["capacity_Gbps"].get<double>(),
               c["capacity_estimated"].get<bool>() ? std::string("estimated")
                                                   : "limit: " + c["capacity_limit"].get<std::string>(),
               c["on_route"][0].get<std::string>(), c["on_route"][1].get<std::string>(),
               c["route_hops"].get<std::size_t>());
  }
  std::string ring;
  for (const auto& r : j["ring_order"]) ring += (ring.empty() ? "" : " -> ") + r.get<std::string>();
  fmt::print("ring order (sum of RTTs around the ring {:.1f} ms): {}\n", j["ring_rtt_ms"].get<double>(), ring);
  fmt::print("\nrelay shortcuts, where relaying through a third region beats the direct link (RTT ms): {}\n",
             j["relay_shortcuts"].size());
  for (const auto& s : j["relay_shortcuts"])
    fmt::print("  {} <-> {}: direct {:.1f}, via {} {:.1f} (saves {:.1f})\n", s["a"].get<std::string>(),
               s["b"].get<std::string>(), s["direct_rtt_ms"].get<double>(), s["via"].get<std::string>(),
               s["relay_rtt_ms"].get<double>(), s["direct_rtt_ms"].get<double>() - s["relay_rtt_ms"].get<double>());
  fmt::print("\nwarnings: {}\n", j["warnings"].size());
  for (const auto& w : j["warnings"]) fmt::print("  {}\n", w.get<std::string>());
}

int cmd_topo(const std::string& file, const std::string& regions, bool json) {
  try {
    const nlohmann::json doc = sim::read_json_file(file);
    sim::JsonReader r(doc, file);
    const sim::Topology t = sim::parse_topology(r);
    const FleetView view(t, parse_fleet(t, file, regions));
    const ordered_json j = to_json(t, view, file);
    if (json)
      fmt::print("{}\n", j.dump(2));
    else
      print_text(t, j);
  } catch (const sim::BadInput& e) {
    fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
    return geotrain::cli::kExitBadInput;
  }
  return geotrain::cli::kExitOk;
}

}  // namespace

namespace geotrain::cli {

void add_topo_command(CLI::App& app, int& exit_code) {
  struct Options {
    std::string file, regions;
    bool json = false;
  };
  auto opts = std::make_shared<Options>();
  auto* topo = app.add_subcommand("topo", "print a topology's RTT, bandwidth and egress price matrices for a fleet");
  topo->add_option("topology", opts->file, "topology JSON file (e.g. topologies/multicloud.json)")->required();
  topo->add_option("--regions", opts->regions, "comma-separated regions of the fleet (default: all)");
  topo->add_flag("--json", opts->json, "machine-readable output");
  topo->callback([opts, &exit_code] { exit_code = cmd_topo(opts->file, opts->regions, opts->json); });
}

}  // namespace geotrain::cli
