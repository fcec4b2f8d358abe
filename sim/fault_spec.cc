// Parsing of the scenario's fault objects: "preemption" (per fleet entry), "faults", "checkpoint".
#include <filesystem>

#include "sim/faults.h"
#include "sim/input_tables.h"
#include "sim/json_reader.h"
#include "sim/limits.h"
#include "sim/topology.h"

namespace geotrain::sim {
namespace {

constexpr double kSecondsPerHour = 3600.0;
constexpr double kBytesPerGB = 1e9;

// Simulated times in seconds: [0, kMaxTime_s], or (0, kMaxTime_s].
double time_s(JsonReader& r, std::string_view key) { return r.number(key, 0, limits::kMaxTime_s); }
double time_s_or(JsonReader& r, std::string_view key, double fallback) {
  return r.number_or(key, fallback, 0, limits::kMaxTime_s);
}
double positive_time_s(JsonReader& r, std::string_view key) { return r.number(key, 0, limits::kMaxTime_s, true); }
double rate_per_s(JsonReader& r, std::string_view key) {
  return r.number(key, 0, limits::kMaxRatePerHour, true) / kSecondsPerHour;
}
double bandwidth_Bps(JsonReader& r, std::string_view key) {
  return r.number(key, limits::kMinBandwidth_Gbps, limits::kMaxBandwidth_Gbps) * kBytesPerGB / 8;
}


DelaySpec parse_delay(JsonReader& r, const std::string& key, DelaySpec d) {
  if (!r.has(key)) {
    r.allow(key);
    return d;
  }
  const auto& v = r.raw(key);
  if (v.is_number()) {
    d.distribution = "fixed";
    d.value_s = time_s(r, key);
    return d;
  }
  auto o = r.object(key);
  d.distribution = o.choice("distribution", input::kDelayDistributions);
  if (d.distribution == "uniform") {
    d.min_s = time_s(o, "min_s");
    d.max_s = o.number("max_s", d.min_s, limits::kMaxTime_s);
  } else {
    d.value_s = d.distribution == "fixed" ? time_s(o, "value_s") : positive_time_s(o, "mean_s");
  }
  o.finish();
  return d;
}

// [[t, value], ...] with t ascending from >= 0 and value in [min, max].
std::vector<std::pair<double, double>> parse_steps(JsonReader& r, const std::string& key, double min, double max,
                                                   const std::string& what) {
  std::vector<std::pair<double, double>> out;
  if (!r.has(key)) {
    r.allow(key);
    return out;
  }
  const auto& v = r.raw(key);
  const std::string allowed = "expected [[time_s, " + what + "], ...] with times ascending from 0";
  if (!v.is_array()) r.fail(key, allowed);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto& p = v[i];
    const std::string path = json_pointer_append(r.path_of(key), std::to_string(i));
    const bool ok = p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_number() &&
                    p[0].get<double>() >= 0 && p[0].get<double>() <= limits::kMaxTime_s && (out.empty() || p[0].get<double>() > out.back().first) &&
                    p[1].get<double>() >= min && p[1].get<double>() <= max;
    if (!ok) throw_bad_input(r.file(), path, json_value_text(p), allowed);
    out.emplace_back(p[0].get<double>(), p[1].get<double>());
  }
  return out;
}

std::vector<std::pair<double, double>> parse_windows(JsonReader& r, const std::string& key) {
  std::vector<std::pair<double, double>> out;
  if (!r.has(key)) {
    r.allow(key);
    return out;
  }
  const auto& v = r.raw(key);
  const std::string allowed = "expected [[from_s, to_s], ...] ascending and disjoint; to_s null: never back up";
  if (!v.is_array()) r.fail(key, allowed);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto& p = v[i];
    const bool shape = p.is_array() && p.size() == 2 && p[0].is_number() && (p[1].is_number() || p[1].is_null());
    const double from = shape ? p[0].get<double>() : 0;
    const double to = shape && p[1].is_number() ? p[1].get<double>() : kNever;
    if (!shape || from < 0 || from > limits::kMaxTime_s || (to != kNever && to > limits::kMaxTime_s) || to <= from || (!out.empty() && from < out.back().second))
      throw_bad_input(r.file(), json_pointer_append(r.path_of(key), std::to_string(i)), json_value_text(p), allowed);
    out.emplace_back(from, to);
  }
  return out;
}

int region_of(JsonReader& r, const std::string& key, const std::string& name, const Topology& topology) {
  const int index = topology.region_index(name);
  if (index < 0) r.fail(key, "expected a region of topology \"" + topology.name + "\"");
  return index;
}

}  // namespace

PreemptionSpec parse_preemption(JsonReader& r, const InstanceType& type, bool spot, const std::string& scenario_file) {
  PreemptionSpec p;
  p.model = r.choice("model", input::kPreemptionModels);
  if (p.model != "none" && !spot)
    r.fail("model", "only spot instances are preempted; set the fleet entry's \"pricing\": \"spot\" or model \"none\"");
  if (p.model == "hazard") {
    if (r.has("rate_per_hour")) {
      p.rate_per_s = rate_per_s(r, "rate_per_hour");
      p.rate_source = "scenario";
    } else {
      p.rate_per_s = band_rate_per_s(type.spot_interruption_band);
      p.rate_source = "catalog band " + type.spot_interruption_band;
      if (p.rate_per_s <= 0)
        r.fail("rate_per_hour", "the instance type has no spot_interruption_band in the catalog; give rate_per_hour > 0");
    }
  } else {
    r.allow("rate_per_hour");
  }
  if (p.model == "trace") {
    std::filesystem::path file = r.string("trace");
    if (file.is_relative() && !scenario_file.empty())
      file = std::filesystem::path(scenario_file).parent_path() / file;
    if (const std::string problem = regular_file_problem(file.lexically_normal().string()); !problem.empty())
      r.fail("trace", "the trace file " + file.lexically_normal().string() + ": " + problem);
    p.trace = load_availability_trace(file.lexically_normal().string());
    p.trace_start_s = time_s_or(r, "trace_start_s", 0);
  } else {
    r.allow("trace");
    r.allow("trace_start_s");
  }
  p.restart_delay = parse_delay(r, "restart_delay_s", p.restart_delay);
  p.boot_s = time_s_or(r, "boot_s", p.boot_s);
  p.policy = r.choice_or("policy", p.policy, input::kPreemptionPolicies);
  p.fallback_after_s = time_s_or(r, "fallback_after_s", p.fallback_after_s);
  r.finish();
  return p;
}

CheckpointSpec parse_checkpoint(JsonReader& r, const Topology& topology) {
  CheckpointSpec c;
  if (r.has("every_steps") && r.raw("every_steps").is_string()) {
    if (r.raw("every_steps").get<std::string>() != "auto")
      r.fail("every_steps", "expected an integer in [1, " + std::to_string(limits::kMaxScheduleSteps) +
                                "] or \"auto\" (Daly's optimum from the checkpoint's cost and the mean time between preemptions)");
    c.auto_interval = true;
  } else {
    c.every_steps = static_cast<long>(r.integer("every_steps", 1, limits::kMaxScheduleSteps));
  }
  c.store_region = r.string("store_region");
  c.store_region_index = region_of(r, "store_region", c.store_region, topology);
  c.write_Bps = bandwidth_Bps(r, "write_Gbps");
  c.read_Bps = bandwidth_Bps(r, "read_Gbps");
  c.usd_per_GB_month = r.number_or("usd_per_GB_month", input::kDefaultStorageUsdPerGBMonth, 0, limits::kMaxUsdPerGB);
  r.finish();
  return c;
}

namespace {

// "zone_outages": whole regions going down, once (at_s) or at a rate.
void parse_zone_outages(JsonReader& r, const Topology& topology, FaultSpec& f) {
  for (auto& z : r.objects("zone_outages", 0)) {
    ZoneOutage zo;
    zo.region = z.string("region");
    zo.region_index = region_of(z, "region", zo.region, topology);
    if (z.has("at_s") == z.has("rate_per_hour"))
      z.fail_here("expected exactly one of \"at_s\" (one outage) or \"rate_per_hour\" (outages at a rate)");
    if (z.has("at_s")) zo.at_s = time_s(z, "at_s");
    else zo.rate_per_s = rate_per_s(z, "rate_per_hour");
    if (!z.has("duration_s") || z.raw("duration_s").is_null()) {
      z.allow("duration_s");
      if (zo.at_s < 0) z.fail("duration_s", "outages at a rate need a duration_s > 0");
      zo.duration_s = kNever;
    } else {
      zo.duration_s = positive_time_s(z, "duration_s");
    }
    z.finish();
    f.zone_outages.push_back(zo);
  }
}

// "links": link-down windows and bandwidth/latency profiles between two regions.
void parse_link_faults(JsonReader& r, const Topology& topology, FaultSpec& f) {
  for (auto& l : r.objects("links", 0)) {
    LinkFault lf;
    if (!l.has("between")) l.fail("between", "expected [\"region a\", \"region b\"] (required)");
    const auto& between = l.raw("between");
    if (!between.is_array() || between.size() != 2 || !between[0].is_string() || !between[1].is_string())
      l.fail("between", "expected [\"region a\", \"region b\"]");
    lf.region_a = between[0].get<std::string>();
    lf.region_b = between[1].get<std::string>();
    lf.a = region_of(l, "between", lf.region_a, topology);
    lf.b = region_of(l, "between", lf.region_b, topology);
    if (lf.a == lf.b) l.fail("between", "expected two different regions");
    lf.down = parse_windows(l, "down");
    lf.bandwidth = parse_steps(l, "bandwidth", limits::kMinLinkBandwidthFraction, 1, "fraction of capacity in (0, 1]");
    lf.latency = parse_steps(l, "latency", 1, limits::kMaxLatencyFactor, "factor on latency >= 1");
    l.finish();
    f.links.push_back(std::move(lf));
  }
}

// "servers": down windows of strategy server nodes.
void parse_server_faults(JsonReader& r, FaultSpec& f) {
  auto list = r.objects("servers", 0);
  for (std::size_t i = 0; i < list.size(); ++i) {
    JsonReader& v = list[i];
    ServerFault sf;
    sf.shard = static_cast<int>(v.integer_or("shard", -1, 0, limits::kMaxServerShard));  // absent: every server
    sf.down_s = time_s(v, "down_at_s");
    sf.up_s = sf.down_s + positive_time_s(v, "for_s");
    v.finish();
    // Windows of one server must not overlap (the strategy's shard count is checked with the
    // strategy, sim/scenario.cc).
    for (const ServerFault& o : f.servers)
      if ((o.shard == sf.shard || o.shard < 0 || sf.shard < 0) && sf.down_s <= o.up_s && o.down_s <= sf.up_s)
        v.fail_here("expected down windows of one server that neither overlap nor touch an earlier entry's");
    f.servers.push_back(sf);
  }
}

}  // namespace

FaultSpec parse_faults(JsonReader& r, const Topology& topology) {
  FaultSpec f;
  f.time_limit_s = time_s_or(r, "time_limit_s", 0);
  f.retry_after_s = r.number_or("retry_after_s", f.retry_after_s, 0, limits::kMaxTime_s, true);
  if (r.has("zone_outages")) {
    parse_zone_outages(r, topology, f);
  } else {
    r.allow("zone_outages");
  }
  if (r.has("links")) {
    parse_link_faults(r, topology, f);
  } else {
    r.allow("links");
  }
  if (r.has("servers")) {
    parse_server_faults(r, f);
  } else {
    r.allow("servers");
  }
  r.finish();
  return f;
}

}  // namespace geotrain::sim
