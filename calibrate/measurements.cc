// Loading and validating a measurement file.
#include "calibrate/measurements.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "calibrate/iperf.h"
#include "sim/json_reader.h"
#include "sim/limits.h"
#include "sim/scenario.h"
#include "sim/catalog.h"

namespace geotrain::calibrate {
namespace {

constexpr double kGbpsToBps = 1e9 / 8;
constexpr double kMsToS = 1e-3;
// Strategy knobs a run can fit (numbers with a positive range); the catalog says which strategy has which.
const std::vector<std::string> kFittable = {"step_overhead_s", "collective_launch_s", "accumulate_s",
                                            "matchmaking_s", "averager_GBps", "host_memory_GBps"};

std::string resolve(const std::string& base_file, const std::string& p) {
  std::filesystem::path path = p;
  if (path.is_relative()) path = std::filesystem::path(base_file).parent_path() / path;
  return path.lexically_normal().string();
}

std::vector<sim::JsonReader> optional_objects(sim::JsonReader& r, std::string_view key) {
  r.allow(key);
  if (!r.has(key)) return {};
  return r.objects(key, 1);
}

std::string region_of(sim::JsonReader& r, const char* key, const sim::Topology& t) {
  const std::string name = r.string(key);
  if (t.region_index(name) < 0) {
    std::string list;
    for (const auto& g : t.regions) list += (list.empty() ? "" : ", ") + g.name;
    r.fail(key, "a region of topology \"" + t.name + "\": " + list);
  }
  return name;
}

// The mean duration of the "ProfilerStep#N" events (torch.profiler with a schedule marks each step
// so) of the Chrome trace named by "profiler_trace", in seconds.
double profiler_step_s(sim::JsonReader& r) {
  const std::string path = resolve(r.file(), r.string("profiler_trace"));
  if (const std::string problem = sim::regular_file_problem(path); !problem.empty())
    r.fail("profiler_trace", "a Chrome trace file (" + path + ": " + problem + "; relative paths start at this file's folder)");
  const nlohmann::json doc = sim::read_json_file(path);
  const nlohmann::json* events = doc.is_object() && doc.contains("traceEvents") ? &doc["traceEvents"] : &doc;
  if (!events->is_array()) sim::throw_bad_input(path, "/traceEvents", "(missing)", "a Chrome trace: an array of events");
  double sum_us = 0;
  int steps = 0;
  for (const auto& e : *events)
    if (e.is_object() && e.value("ph", "") == "X" && e.value("name", "").rfind("ProfilerStep#", 0) == 0 &&
        e.contains("dur") && e["dur"].is_number()) {
      sum_us += e["dur"].get<double>();
      ++steps;
    }
  if (steps == 0 || !(sum_us > 0))
    sim::throw_bad_input(path, "/traceEvents", fmt::format("{} events", events->size()),
                         "complete events (ph \"X\") named \"ProfilerStep#N\" with a duration: record with "
                         "torch.profiler.profile(schedule=...) and prof.step() after each step");
  constexpr double kMicrosecond_s = 1e-6;
  return sum_us / steps * kMicrosecond_s;
}

ComputeMeasurement parse_compute(sim::JsonReader& r, const sim::Topology& t) {
  ComputeMeasurement m;
  m.path = r.path();
  m.name = r.string_or("name", m.path);
  m.source = r.string_or("source", "");
  m.instance = r.string("instance");
  if (!t.instance_types.count(m.instance)) r.fail("instance", "an instance type of topology \"" + t.name + "\"");
  auto model = r.object("model");
  m.parameters = model.number("parameters", 1, 1e15);
  m.flops_per_sample = model.number("flops_per_sample", 0, sim::limits::kMaxFlopsPerSample, true);
  model.allow("description");
  model.finish();
  const int given = r.has("samples_per_s") + r.has("step_time_s") + r.has("profiler_trace");
  if (given != 1)
    r.fail("samples_per_s", "exactly one of samples_per_s, step_time_s with batch (samples per step), or "
                            "profiler_trace (a PyTorch profiler Chrome trace) with batch");
  r.allow("samples_per_s");
  r.allow("step_time_s");
  r.allow("profiler_trace");
  r.allow("batch");
  if (r.has("batch")) m.batch = static_cast<int>(r.integer("batch", 1, 1 << 24));
  if (r.has("samples_per_s")) {
    m.samples_per_s = r.positive("samples_per_s");
  } else {
    if (m.batch == 0) r.fail("batch", "the samples per step (an integer >= 1) beside a step time");
    const double step_s = r.has("step_time_s") ? r.positive("step_time_s") : profiler_step_s(r);
    m.samples_per_s = m.batch / step_s;
  }
  if ((r.has("forward_s") || r.has("backward_s") || r.has("optimizer_s")) && m.batch == 0)
    r.fail("batch", "the samples per step (an integer >= 1) beside a forward/backward/optimizer split");
  m.forward_s = r.number_or("forward_s", 0, 0, 1e6);
  m.backward_s = r.number_or("backward_s", 0, 0, 1e6);
  m.optimizer_s = r.number_or("optimizer_s", 0, 0, 1e6);
  const auto& type = t.instance_types.at(m.instance);
  const double mfu = m.samples_per_s * m.flops_per_sample / (type.gpus * type.gpu_peak_flops);
  if (mfu > 1)
    r.fail("samples_per_s", fmt::format("a rate at most the instance's peak ({:.4g} samples/s at {:g} FLOP per sample); "
                                        "this one is {:.3g}x the peak", m.samples_per_s / mfu, m.flops_per_sample, mfu));
  r.finish();
  return m;
}

PingMeasurement parse_ping(sim::JsonReader& r, const sim::Topology& t) {
  PingMeasurement m;
  m.path = r.path();
  m.a = region_of(r, "a", t);
  m.b = region_of(r, "b", t);
  m.source = r.string_or("source", "");
  if (r.has("rtt_ms") == r.has("summary"))
    r.fail("rtt_ms", "exactly one of rtt_ms (the average RTT) or summary (ping's \"rtt min/avg/max/mdev = ...\" line)");
  r.allow("rtt_ms");
  r.allow("summary");
  m.rtt_s = r.has("rtt_ms") ? r.number("rtt_ms", 0, 1e6, true) * kMsToS
                            : parse_ping_summary(r.string("summary"), r.file(), r.path_of("summary"));
  r.finish();
  return m;
}

IperfMeasurement parse_iperf(sim::JsonReader& r, const sim::Topology& t) {
  IperfMeasurement m;
  m.path = r.path();
  m.a = region_of(r, "a", t);
  m.b = region_of(r, "b", t);
  m.source = r.string_or("source", "");
  if (r.has("file") == r.has("Gbps"))
    r.fail("file", "exactly one of file (iperf3 --json output) or Gbps with streams (a table's figure)");
  r.allow("file");
  r.allow("Gbps");
  r.allow("streams");
  if (r.has("file")) {
    m.file = r.string("file");
    const std::string path = resolve(r.file(), m.file);
    if (const std::string problem = sim::regular_file_problem(path); !problem.empty())
      r.fail("file", "an iperf3 --json file (" + path + ": " + problem + "; relative paths start at this file's folder)");
    const IperfResult res = parse_iperf3(sim::read_json_file(path), path);
    m.streams = res.streams;
    m.rate_Bps = res.received_Bps;
  } else {
    m.streams = static_cast<int>(r.integer("streams", 1, 4096));
    m.rate_Bps = r.number("Gbps", 0, 1e6, true) * kGbpsToBps;
  }
  r.finish();
  return m;
}

RunMeasurement parse_run(sim::JsonReader& r, std::string& strategy) {
  RunMeasurement m;
  m.path = r.path();
  m.name = r.string_or("name", m.path);
  m.source = r.string_or("source", "");
  m.scenario_file = resolve(r.file(), r.string("scenario"));
  if (const std::string problem = sim::regular_file_problem(m.scenario_file); !problem.empty())
    r.fail("scenario", "a scenario file (" + m.scenario_file + ": " + problem + "; relative paths start at this file's folder)");
  const sim::Scenario s = sim::load_scenario(m.scenario_file);  // a bad scenario is its own BadInput
  const std::string name = s.strategy["name"].get<std::string>();
  if (!strategy.empty() && name != strategy)
    r.fail("scenario", "runs of one strategy (the first run's is \"" + strategy + "\", this one's \"" + name + "\")");
  strategy = name;
  m.samples_per_s = r.positive("samples_per_s");
  m.sync_s_per_round = r.number_or("sync_s_per_round", 0, 0, 1e9);
  r.finish();
  return m;
}

}  // namespace

Measurements load_measurements(const std::string& file) {
  const nlohmann::json doc = sim::read_json_file(file);
  sim::JsonReader r(doc, file);
  Measurements m;
  m.file = file;
  r.allow("source");
  r.allow("description");
  m.topology_file = resolve(file, r.string("topology"));
  if (const std::string problem = sim::regular_file_problem(m.topology_file); !problem.empty())
    r.fail("topology", "a topology file (" + m.topology_file + ": " + problem + "; relative paths start at this file's folder)");
  {
    const nlohmann::json tdoc = sim::read_json_file(m.topology_file);
    sim::JsonReader tr(tdoc, m.topology_file);
    m.topology = sim::parse_topology(tr);
  }
  for (auto& c : optional_objects(r, "compute")) m.compute.push_back(parse_compute(c, m.topology));
  for (auto& p : optional_objects(r, "ping")) m.pings.push_back(parse_ping(p, m.topology));
  for (auto& i : optional_objects(r, "iperf3")) m.iperfs.push_back(parse_iperf(i, m.topology));
  for (auto& x : optional_objects(r, "runs")) m.runs.push_back(parse_run(x, m.strategy));
  r.allow("fit");
  if (r.has("fit")) {
    const auto& f = r.raw("fit");
    if (!f.is_array()) r.fail("fit", "an array of knob names to fit from the runs");
    const sim::StrategyInfo* info = m.strategy.empty() ? nullptr : sim::find_strategy(m.strategy);
    for (std::size_t i = 0; i < f.size(); ++i) {
      const std::string path = sim::json_pointer_append(r.path_of("fit"), std::to_string(i));
      const bool common = f[i].is_string() && (f[i] == "step_overhead_s" || f[i] == "collective_launch_s");
      const bool own = info && f[i].is_string() &&
                       std::any_of(info->knobs.begin(), info->knobs.end(), [&](const sim::KnobSpec& k) { return k.name == f[i]; });
      const bool fittable = f[i].is_string() && std::find(kFittable.begin(), kFittable.end(), f[i]) != kFittable.end();
      if (!info)
        sim::throw_bad_input(file, path, sim::json_value_text(f[i]), "no knobs to fit without runs (add \"runs\")");
      if (!fittable || !(common || own))
        sim::throw_bad_input(file, path, sim::json_value_text(f[i]),
                             "a knob of strategy \"" + m.strategy + "\" that calibration fits: step_overhead_s, "
                             "collective_launch_s" + std::string(m.strategy == "hivemind" ? ", accumulate_s, matchmaking_s, averager_GBps, host_memory_GBps" : ""));
      if (std::find(m.fit.begin(), m.fit.end(), f[i].get<std::string>()) != m.fit.end())
        sim::throw_bad_input(file, path, sim::json_value_text(f[i]), "each knob once");
      m.fit.push_back(f[i].get<std::string>());
    }
    std::size_t observations = 0;
    for (const auto& run : m.runs) observations += 1 + (run.sync_s_per_round > 0);
    if (m.fit.size() > observations)
      r.fail("fit", fmt::format("at most as many knobs as run figures ({}: samples_per_s and sync_s_per_round of each run)", observations));
  }
  r.finish();
  return m;
}

}  // namespace geotrain::calibrate
