// Topology warnings (RTT symmetry, speed of light), relay shortcuts, and the RTT estimate.
#include "sim/topology_checks.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "sim/json_reader.h"
#include "sim/limits.h"

namespace geotrain::sim {
namespace {

constexpr double kSecondsPerMs = 1e-3;
constexpr double kMetresPerKm = 1e3;
constexpr double kEarthRadius_m = 6371e3;               // mean Earth radius
constexpr double kFiberSpeed_m_per_s = 299792458.0 * 2 / 3;  // light in fibre, about 2/3 c
constexpr double kAsymmetryAbs_s = 2e-3;               // RTT directions may differ by 2 ms...
constexpr double kAsymmetryRel = 0.10;                 // ...or 10% of the smaller, whichever is larger
constexpr double kLocationSlack_s = 1e-3;              // coordinates are +-50 km: 1 ms of RTT
constexpr double kEstimateMismatch_s = 1e-3;
constexpr double kMinSaving_s = 1e-3;               // report relays saving at least 1 ms of RTT
constexpr double kPi = 3.14159265358979323846;

double radians(double deg) { return deg * kPi / 180.0; }

std::string pair_name(const Topology& t, int a, int b) {
  return t.regions[a].name + " <-> " + t.regions[b].name;
}

void check_link(const Topology& t, int i, std::vector<TopologyWarning>& out) {
  const WanLink& l = t.links[i];
  const Region& a = t.regions[l.a];
  const Region& b = t.regions[l.b];
  const double ab = l.measured_rtt_ab_s, ba = l.measured_rtt_ba_s;
  if (ab > 0 && ba > 0 && std::abs(ab - ba) > std::max(kAsymmetryAbs_s, kAsymmetryRel * std::min(ab, ba)))
    out.push_back({l.a, l.b, fmt::format("{}: measured RTT differs by direction ({:.1f} ms from {}, {:.1f} ms from "
                                         "{}; tolerance max(2 ms, 10%))",
                                         pair_name(t, l.a, l.b), ab / kSecondsPerMs, a.name, ba / kSecondsPerMs, b.name)});
  if (!a.has_location() || !b.has_location()) return;
  const double host_rtt = t.link_host_rtt_s(i);
  const double light = 2 * great_circle_m(a.latitude_deg, a.longitude_deg, b.latitude_deg, b.longitude_deg) /
                       kFiberSpeed_m_per_s;
  if (host_rtt < light - kLocationSlack_s)
    out.push_back({l.a, l.b, fmt::format("{}: RTT {:.1f} ms is below the great-circle RTT at 2/3 c ({:.1f} ms): "
                                         "check the measurement or the coordinates",
                                         pair_name(t, l.a, l.b), host_rtt / kSecondsPerMs, light / kSecondsPerMs)});
  if (l.rtt_estimated && t.rtt_estimate.present) {
    const double est = t.rtt_estimate.rtt_s(a, b);
    if (std::abs(est - host_rtt) > kEstimateMismatch_s)
      out.push_back({l.a, l.b, fmt::format("{}: marked rtt_estimated but its RTT {:.1f} ms differs from rtt_estimate's "
                                           "{:.1f} ms", pair_name(t, l.a, l.b), host_rtt / kSecondsPerMs,
                                           est / kSecondsPerMs)});
  }
}

// Names of one [a, b] pair of the "holdout" array, resolved to region indices.
std::pair<int, int> read_pair(const JsonReader& r, const nlohmann::json& v, const std::string& path,
                              const Topology& t) {
  if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_string())
    throw_bad_input(r.file(), path, json_value_text(v), "expected [\"region\", \"region\"]");
  const int a = t.region_index(v[0].get<std::string>()), b = t.region_index(v[1].get<std::string>());
  if (a < 0 || b < 0 || a == b)
    throw_bad_input(r.file(), path, json_value_text(v), "expected two different regions of this topology");
  return {a, b};
}

}  // namespace

double great_circle_m(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg) {
  const double la1 = radians(lat1_deg), la2 = radians(lat2_deg);
  const double dla = la2 - la1, dlo = radians(lon2_deg - lon1_deg);
  const double h = std::sin(dla / 2) * std::sin(dla / 2) + std::cos(la1) * std::cos(la2) * std::sin(dlo / 2) * std::sin(dlo / 2);
  return 2 * kEarthRadius_m * std::asin(std::sqrt(std::min(1.0, h)));
}

double RttEstimate::rtt_s(const Region& a, const Region& b) const {
  const double ideal = 2 * great_circle_m(a.latitude_deg, a.longitude_deg, b.latitude_deg, b.longitude_deg) /
                       fiber_m_per_s;
  return fixed_s + routing_factor * ideal;
}

// Plausibility bounds of an RTT model (sim/limits.h).
using limits::kMaxFiberKmPerMs;
using limits::kMaxRoutingFactor;

RttEstimate parse_rtt_estimate(JsonReader& r, const Topology& t) {
  RttEstimate e;
  e.present = true;
  e.routing_factor = r.number("routing_factor", 0, kMaxRoutingFactor, true);
  e.fixed_s = r.number("fixed_ms", 0, limits::kMaxLatency_ms) * kSecondsPerMs;
  e.fiber_m_per_s = r.number("fiber_km_per_ms", 0, kMaxFiberKmPerMs, true) * kMetresPerKm / kSecondsPerMs;
  e.training_pairs = static_cast<int>(r.integer("training_pairs", 0, limits::kMaxRttPairs));
  const auto holdout_pairs = r.integer("holdout_pairs", 0, limits::kMaxRttPairs);
  e.holdout_median_abs_error_s = r.non_negative("holdout_median_abs_error_ms") * kSecondsPerMs;
  e.holdout_p90_abs_error_s = r.non_negative("holdout_p90_abs_error_ms") * kSecondsPerMs;
  e.holdout_median_rel_error = r.non_negative("holdout_median_rel_error");
  r.allow("source");
  r.allow("holdout");
  if (r.has("holdout")) {
    const auto& list = r.raw("holdout");
    if (!list.is_array()) r.fail("holdout", "expected an array of [\"region\", \"region\"] pairs");
    for (std::size_t i = 0; i < list.size(); ++i)
      e.holdout.push_back(read_pair(r, list[i], json_pointer_append(r.path_of("holdout"), std::to_string(i)), t));
  }
  if (static_cast<std::int64_t>(e.holdout.size()) != holdout_pairs)
    r.fail("holdout_pairs", fmt::format("expected the number of pairs listed under holdout ({})", e.holdout.size()));
  for (const auto& [a, b] : e.holdout)
    if (!t.regions[a].has_location() || !t.regions[b].has_location())
      r.fail("holdout", "every held-out region needs latitude_deg and longitude_deg");
  r.finish();
  return e;
}

std::vector<TopologyWarning> check_topology(const Topology& t) {
  std::vector<TopologyWarning> out;
  for (std::size_t i = 0; i < t.links.size(); ++i) check_link(t, static_cast<int>(i), out);
  return out;
}

std::vector<RelayShortcut> find_relay_shortcuts(const Topology& t) {
  const int n = static_cast<int>(t.regions.size());
  constexpr double kNone = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> lat(n, std::vector<double>(n, kNone));  // direct one-way latency
  for (const auto& l : t.links) lat[l.a][l.b] = lat[l.b][l.a] = l.latency_s;
  std::vector<RelayShortcut> out;
  for (const auto& l : t.links) {
    const double lan_ends = t.regions[l.a].lan_latency_s + t.regions[l.b].lan_latency_s;
    RelayShortcut best{l.a, l.b, -1, 2 * l.latency_s + lan_ends, 2 * l.latency_s + lan_ends};
    for (int c = 0; c < n; ++c) {
      if (c == l.a || c == l.b || lat[l.a][c] == kNone || lat[c][l.b] == kNone) continue;
      const double relay = 2 * (lat[l.a][c] + lat[c][l.b]) + lan_ends + 2 * t.regions[c].lan_latency_s;
      if (relay < best.relay_rtt_s) {
        best.via = c;
        best.relay_rtt_s = relay;
      }
    }
    if (best.via >= 0 && best.direct_rtt_s - best.relay_rtt_s >= kMinSaving_s) out.push_back(best);
  }
  std::stable_sort(out.begin(), out.end(), [](const RelayShortcut& x, const RelayShortcut& y) {
    return x.direct_rtt_s - x.relay_rtt_s > y.direct_rtt_s - y.relay_rtt_s;
  });
  return out;
}

}  // namespace geotrain::sim
