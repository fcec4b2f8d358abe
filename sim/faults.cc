// Availability schedules: hazard draws, trace replay, zone outages and the restart policy.
#include "sim/faults.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "runtime/rng.h"
#include "sim/json_reader.h"
#include "sim/limits.h"
#include "sim/scenario.h"

namespace geotrain::sim {
namespace {

// AWS states interruption frequencies per month of 730 hours (the Spot Instance Advisor).
constexpr double kSecondsPerMonth = 730.0 * 3600.0;
constexpr double kMsPerS = 1000.0;
// Available instances per tick of a trace: at most the workers a scenario may have.
constexpr long kMaxTraceCount = limits::kMaxWorkers;

double draw_delay(const DelaySpec& d, runtime::Rng& rng) {
  if (d.distribution == "exponential") return rng.exponential(1.0 / d.value_s);
  if (d.distribution == "uniform") return d.min_s + (d.max_s - d.min_s) * rng.uniform();
  return d.value_s;
}

[[noreturn]] void bad_line(const std::string& file, long line, const std::string& text, const std::string& allowed) {
  throw_bad_input(file, "line " + std::to_string(line), text, allowed);
}

AvailabilityTrace parse_ticks(const std::string& file, const nlohmann::json& doc) {
  JsonReader r(doc, file);
  AvailabilityTrace t;
  t.file = file;
  t.format = "ticks_json";
  auto meta = r.object("metadata");
  const double gap_s = meta.number("gap_seconds", 0, limits::kMaxTime_s, true);
  meta.keys();  // other metadata is informative: accept every key
  if (!r.has("data") || !r.raw("data").is_array() || r.raw("data").empty())
    r.fail("data", "expected a non-empty array of available counts, one per tick");
  const auto& data = r.raw("data");
  for (std::size_t i = 0; i < data.size(); ++i) {
    // Unsigned first: a count of 2^32 must not wrap to 0 as an int.
    if (!data[i].is_number_integer() || data[i].get<long>() < 0 ||
        (data[i].is_number_unsigned() && data[i].get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxTraceCount)) ||
        data[i].get<long>() > kMaxTraceCount)
      throw_bad_input(file, "/data/" + std::to_string(i), json_value_text(data[i]),
                      "expected a count in [0, " + std::to_string(kMaxTraceCount) + "]");
    const int n = data[i].get<int>();
    if (t.counts.empty() || t.counts.back().second != n) t.counts.emplace_back(gap_s * static_cast<double>(i), n);
  }
  r.finish();
  return t;
}

AvailabilityTrace parse_csv(const std::string& file, std::istream& in) {
  AvailabilityTrace t;
  t.file = file;
  std::map<std::string, std::size_t> node_index;
  std::string line;
  long number = 0;
  double last_s = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (number == 1 && line.rfind("time_ms", 0) == 0) continue;  // a header
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    const std::string allowed = "expected rows \"time_ms,available_count\" or \"time_ms,add|remove,node\", "
                                "time ascending from 0 to 1e12 ms, count 0 to " + std::to_string(kMaxTraceCount);
    double ms = 0;
    try {
      std::size_t used = 0;
      ms = std::stod(cells.at(0), &used);
      if (used != cells[0].size() || !(ms >= 0) || !(ms <= limits::kMaxTime_s * kMsPerS)) throw std::invalid_argument("time");
    } catch (const std::exception&) {
      bad_line(file, number, line, allowed);
    }
    const double time_s = ms / kMsPerS;
    if (time_s < last_s) bad_line(file, number, line, allowed);
    last_s = time_s;
    const std::string format = cells.size() == 2 ? "count_csv" : cells.size() == 3 ? "events_csv" : "";
    if (format.empty() || (!t.format.empty() && t.format != format)) bad_line(file, number, line, allowed);
    t.format = format;
    if (format == "count_csv") {
      int n = -1;
      try {
        std::size_t used = 0;
        n = std::stoi(cells[1], &used);
        if (used != cells[1].size() || n > kMaxTraceCount) n = -1;
      } catch (const std::exception&) {
      }
      if (n < 0) bad_line(file, number, line, allowed);
      if (t.counts.empty() && time_s > 0) t.counts.emplace_back(0.0, 0);
      if (!t.counts.empty() && t.counts.back().first == time_s) t.counts.back().second = n;
      else if (t.counts.empty() || t.counts.back().second != n) t.counts.emplace_back(time_s, n);
    } else {
      if (cells[1] != "add" && cells[1] != "remove") bad_line(file, number, line, allowed);
      const auto [it, fresh] = node_index.emplace(cells[2], t.nodes.size());
      if (fresh) t.nodes.emplace_back();
      t.nodes[it->second].emplace_back(time_s, cells[1] == "add");
    }
  }
  if (t.format.empty()) throw_bad_input(file, "", "an empty trace", "expected at least one row");
  return t;
}

// Turns a list of (time, up?) transitions, starting down at time 0, into outages.
std::vector<Outage> outages_of(const std::vector<std::pair<double, bool>>& transitions, double start_s) {
  std::vector<Outage> out;
  bool up = false;
  double down_since = 0;
  auto shifted = [start_s](double t) { return std::max(0.0, t - start_s); };
  for (const auto& [t, now_up] : transitions) {
    if (now_up == up) continue;
    if (now_up) {
      if (t > start_s) out.push_back({shifted(down_since), shifted(t), false, "trace"});
      // Down intervals wholly before the start are in the past; one spanning it starts at 0.
    } else {
      down_since = t;
    }
    up = now_up;
  }
  if (!up) out.push_back({shifted(down_since), kNever, false, "trace"});
  return out;
}

// Sorted union of outages (causes joined).
std::vector<Outage> merge(std::vector<Outage> all) {
  std::sort(all.begin(), all.end(), [](const Outage& x, const Outage& y) { return x.down_s < y.down_s; });
  std::vector<Outage> out;
  for (auto& o : all) {
    if (o.up_s < o.down_s) continue;
    if (!out.empty() && o.down_s <= out.back().up_s) {
      out.back().up_s = std::max(out.back().up_s, o.up_s);
      if (out.back().cause.find(o.cause) == std::string::npos) out.back().cause += " + " + o.cause;
    } else {
      out.push_back(std::move(o));
    }
  }
  return out;
}

// fallback_on_demand: an outage longer than the timeout ends with an on-demand replacement,
// which is never preempted again.
std::vector<Outage> apply_policy(std::vector<Outage> outages, const PreemptionSpec& spec) {
  if (spec.policy != "fallback_on_demand") return outages;
  for (std::size_t i = 0; i < outages.size(); ++i)
    if (outages[i].up_s - outages[i].down_s > spec.fallback_after_s) {
      outages[i].up_s = outages[i].down_s + spec.fallback_after_s;
      outages[i].replaced = true;
      outages.resize(i + 1);
      break;
    }
  return outages;
}

}  // namespace

double band_rate_per_s(const std::string& band) {
  static const std::map<std::string, double> kMonthlyProbability = {
      {"<5%", 0.025}, {"5-10%", 0.075}, {"10-15%", 0.125}, {"15-20%", 0.175}, {">20%", 0.25}};
  const auto it = kMonthlyProbability.find(band);
  if (it == kMonthlyProbability.end()) return 0;
  return -std::log(1.0 - it->second) / kSecondsPerMonth;
}

double fleet_preemption_rate_per_s(const std::vector<FleetEntry>& fleet, const std::vector<ZoneOutage>& zone_outages) {
  double rate = 0;
  for (const FleetEntry& e : fleet) {
    if (e.pricing != Pricing::spot) continue;
    const PreemptionSpec& p = e.preemption;
    if (p.model == "hazard") rate += e.count * p.rate_per_s;
    if (p.model == "trace") {
      double end_s = 0;  // the trace's span, in simulated time
      for (const auto& [t, n] : p.trace.counts) end_s = std::max(end_s, t - p.trace_start_s);
      for (const auto& node : p.trace.nodes)
        for (const auto& [t, up] : node) end_s = std::max(end_s, t - p.trace_start_s);
      std::set<double> downs;
      for (int i = 0; i < e.count; ++i)
        for (const Outage& o : trace_outages(p.trace, i, p.trace_start_s))
          if (o.down_s > 0) downs.insert(o.down_s);
      if (end_s > 0) rate += static_cast<double>(downs.size()) / end_s;
    }
    if (e.spot_price && e.spot_price->has_max_price() && e.spot_price->steps.back().time_s > 0) {
      double crossings = 0;
      for (const Outage& o : e.spot_price->outages_above_max_price()) crossings += o.down_s > 0;
      rate += crossings / e.spot_price->steps.back().time_s;
    }
  }
  for (const ZoneOutage& z : zone_outages) rate += z.at_s < 0 ? z.rate_per_s : 0;
  return rate;
}

double daly_interval_s(double checkpoint_s, double mtbf_s) {
  if (checkpoint_s >= 2 * mtbf_s) return mtbf_s;
  const double x = std::sqrt(checkpoint_s / (2 * mtbf_s));
  return std::sqrt(2 * checkpoint_s * mtbf_s) * (1 + x / 3 + x * x / 9) - checkpoint_s;
}

AvailabilityTrace load_availability_trace(const std::string& file) {
  check_regular_file(file);  // a FIFO would block the open
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_bad_input(file, "", "", "no such trace file (or not readable)");
  in >> std::ws;
  if (in.peek() == '{') return parse_ticks(file, read_json_file(file));
  return parse_csv(file, in);
}

std::vector<Outage> trace_outages(const AvailabilityTrace& trace, int index, double start_s) {
  std::vector<std::pair<double, bool>> transitions;
  if (trace.format == "events_csv") {
    if (index < static_cast<int>(trace.nodes.size())) transitions = trace.nodes[index];
  } else {
    for (const auto& [t, count] : trace.counts) transitions.emplace_back(t, count > index);
  }
  return outages_of(transitions, start_s);
}

bool fault_process_is_random(const std::vector<FleetEntry>& fleet, const std::vector<ZoneOutage>& zone_outages) {
  return std::any_of(fleet.begin(), fleet.end(),
                     [](const FleetEntry& e) { return e.pricing == Pricing::spot && e.preemption.model == "hazard"; }) ||
         std::any_of(zone_outages.begin(), zone_outages.end(), [](const ZoneOutage& z) { return z.at_s < 0; });
}

std::vector<InstanceSchedule> build_schedules(const std::vector<FleetEntry>& fleet,
                                              const std::vector<ZoneOutage>& zone_outages,
                                              std::uint64_t seed, double horizon_s) {
  // Zone outage times first (one draw per outage spec, shared by the zone's instances).
  std::vector<std::vector<double>> zone_times(zone_outages.size());
  for (std::size_t z = 0; z < zone_outages.size(); ++z) {
    const ZoneOutage& zo = zone_outages[z];
    if (zo.at_s >= 0) {
      zone_times[z].push_back(zo.at_s);
      continue;
    }
    auto rng = runtime::Rng::substream(seed, "zone-outage/" + std::to_string(z));
    for (double t = rng.exponential(zo.rate_per_s); t < horizon_s; t += zo.duration_s + rng.exponential(zo.rate_per_s))
      zone_times[z].push_back(t);
  }
  std::vector<InstanceSchedule> out;
  int rank = 0;
  for (const FleetEntry& e : fleet) {
    for (int i = 0; i < e.count; ++i, ++rank) {
      const PreemptionSpec& p = e.preemption;
      auto rng = runtime::Rng::substream(seed, "preemption/" + std::to_string(rank));
      std::vector<Outage> raw;
      if (p.model == "hazard") {
        for (double t = rng.exponential(p.rate_per_s); t < horizon_s;) {
          const double up = t + draw_delay(p.restart_delay, rng);
          raw.push_back({t, up, false, "hazard"});
          t = up + rng.exponential(p.rate_per_s);
        }
      } else if (p.model == "trace") {
        raw = trace_outages(p.trace, i, p.trace_start_s);
      }
      if (e.spot_price)  // the classic bid: away while the market price is above max_price
        for (const Outage& o : e.spot_price->outages_above_max_price()) raw.push_back(o);
      if (e.pricing == Pricing::spot)
        for (std::size_t z = 0; z < zone_outages.size(); ++z)
          if (zone_outages[z].region_index == e.region_index)
            for (double t : zone_times[z])
              raw.push_back({t, t + zone_outages[z].duration_s, false, "zone outage " + zone_outages[z].region});
      out.push_back({apply_policy(merge(std::move(raw)), p)});
    }
  }
  return out;
}

}  // namespace geotrain::sim
