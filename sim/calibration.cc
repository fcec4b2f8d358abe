// Reading a calibration file and applying it to a scenario's topology, compute and strategy.
#include "sim/calibration.h"

#include <cmath>

#include <fmt/format.h>

#include "sim/json_reader.h"
#include "sim/limits.h"

namespace geotrain::sim {
namespace {

constexpr double kGbpsToBps = 1e9 / 8;  // Gbit/s -> bytes/s
constexpr double kMsToS = 1e-3;

// The members of an optional array of objects (none when absent).
std::vector<JsonReader> optional_objects(JsonReader& r, std::string_view key) {
  r.allow(key);
  if (!r.has(key)) return {};
  return r.objects(key, 0);
}

}  // namespace

Calibration parse_calibration(const nlohmann::json& doc, const std::string& file) {
  JsonReader r(doc, file);
  Calibration c;
  c.file = file;
  r.choice("format", {"geotrain-calibration-1"});
  r.allow("source");
  r.allow("measurements");
  for (auto& g : optional_objects(r, "regions")) {
    CalibratedRegion x;
    x.name = g.string("name");
    x.lan_rtt_s = g.number("lan_rtt_ms", 0, 1e6, true) * kMsToS;
    x.lan_single_stream_Bps = g.number_or("lan_single_stream_Gbps", 0, 0, 1e6) * kGbpsToBps;
    g.allow("source");
    g.finish();
    c.regions.push_back(x);
  }
  for (auto& l : optional_objects(r, "links")) {
    CalibratedLink x;
    x.a = l.string("a");
    x.b = l.string("b");
    x.rtt_s = l.number_or("rtt_ms", 0, 0, 1e6) * kMsToS;
    x.single_stream_Bps = l.number_or("single_stream_Gbps", 0, 0, 1e6) * kGbpsToBps;
    x.capacity_Bps = l.number_or("capacity_Gbps", 0, 0, 1e6) * kGbpsToBps;
    if (x.single_stream_Bps > 0 && x.rtt_s <= 0) l.fail("rtt_ms", "an RTT > 0 beside single_stream_Gbps (the window is rate x RTT)");
    l.allow("source");
    l.finish();
    c.links.push_back(x);
  }
  for (auto& m : optional_objects(r, "compute")) {
    CalibratedCompute x;
    x.instance = m.string("instance");
    auto model = m.object("model");
    x.parameters = model.number("parameters", 1, 1e15);
    x.flops_per_sample = model.number("flops_per_sample", 0, limits::kMaxFlopsPerSample, true);
    model.finish();
    x.mfu = m.number("mfu", 0, 1, true);
    m.allow("label");
    m.allow("source");
    m.finish();
    c.compute.push_back(x);
  }
  r.allow("network");
  if (r.has("network")) {
    auto n = r.object("network");
    c.streams_exponent = n.number_or("streams_exponent", 0, 0, 1);
    n.finish();
  }
  r.allow("strategies");
  if (r.has("strategies")) {
    const auto& s = r.raw("strategies");
    if (!s.is_object()) r.fail("strategies", "expected an object {strategy name: {knob: value}}");
    for (const auto& [name, knobs] : s.items()) {
      if (!knobs.is_object())
        throw_bad_input(file, "/strategies/" + name, json_value_text(knobs), "expected an object {knob: value}");
      c.strategies[name] = knobs;
    }
  }
  r.finish();
  return c;
}

Calibration load_calibration(const std::string& path) { return parse_calibration(read_json_file(path), path); }

void apply_calibration(const Calibration& c, Topology& topology, std::vector<std::string>& warnings) {
  for (const auto& g : c.regions) {
    const int i = topology.region_index(g.name);
    if (i < 0) {
      warnings.push_back(fmt::format("calibration {}: region \"{}\" is not in topology \"{}\"; ignored", c.file, g.name, topology.name));
      continue;
    }
    Region& region = topology.regions[i];
    region.lan_latency_s = g.lan_rtt_s / 2;
    if (g.lan_single_stream_Bps > 0) region.lan_window_B = g.lan_single_stream_Bps * g.lan_rtt_s;
  }
  for (const auto& l : c.links) {
    const int a = topology.region_index(l.a), b = topology.region_index(l.b);
    WanLink* link = nullptr;
    for (auto& w : topology.links)
      if ((w.a == a && w.b == b) || (w.a == b && w.b == a)) link = &w;
    if (link == nullptr) {
      warnings.push_back(fmt::format("calibration {}: no link {} - {} in topology \"{}\"; ignored", c.file, l.a, l.b, topology.name));
      continue;
    }
    if (l.rtt_s > 0) {
      const double lan_s = topology.regions[a].lan_latency_s + topology.regions[b].lan_latency_s;
      link->latency_s = (l.rtt_s - lan_s) / 2;
      if (link->latency_s <= 0) {
        warnings.push_back(fmt::format("calibration {}: link {} - {} RTT {:g} ms is below the two LAN latencies; "
                                       "link latency set to 1 us", c.file, l.a, l.b, l.rtt_s / kMsToS));
        link->latency_s = 1e-6;
      }
      link->measured_rtt_ab_s = link->measured_rtt_ba_s = l.rtt_s;
      link->rtt_estimated = false;
    }
    if (l.single_stream_Bps > 0) link->tcp_window_B = l.single_stream_Bps * topology.link_host_rtt_s(static_cast<int>(link - topology.links.data()));
    if (l.capacity_Bps > 0) {
      link->capacity_Bps = l.capacity_Bps;
      link->capacity_estimated = false;
    }
    link->source = "calibration " + c.file;
  }
}

double calibrated_mfu(const Calibration& c, const std::string& instance, double parameters, double flops_per_sample) {
  const auto close = [](double x, double y) { return std::abs(x - y) <= 1e-9 * std::max(std::abs(x), std::abs(y)); };
  for (const auto& m : c.compute)
    if (m.instance == instance && close(m.parameters, parameters) && close(m.flops_per_sample, flops_per_sample)) return m.mfu;
  return 0;
}

nlohmann::json calibrated_strategy(const Calibration& c, const nlohmann::json& strategy) {
  nlohmann::json out = strategy;
  if (!strategy.is_object() || !strategy.contains("name") || !strategy["name"].is_string()) return out;
  const auto it = c.strategies.find(strategy["name"].get<std::string>());
  if (it == c.strategies.end()) return out;
  for (const auto& [k, v] : it->second.items())
    if (!out.contains(k)) out[k] = v;
  return out;
}

}  // namespace geotrain::sim
