// The fits: compute (closed form), network (means, NLopt for the streams exponent and capacities),
// runs (NLopt over simulations).  Uncertainties from repeated measurements or the Jacobian.
#include "calibrate/fit.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <nlopt.hpp>

#include "sim/isolate.h"
#include "sim/json_reader.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/catalog.h"

namespace geotrain::calibrate {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kBpsToGbps = 8 / 1e9;
constexpr double kSToMs = 1e3;
// Spreads beyond which repeated measurements of one thing are reported as contradicting.
constexpr double kComputeSpreadMax = 0.10;  // relative, max - min over the mean
constexpr double kPingSpreadMax = 0.20;
// Repeated iperf3 tests of one pair with the same streams whose rates differ by more than this
// are warned about (a path that changed between tests, or another tenant's traffic).
constexpr double kIperfSpreadMax = 0.20;
// A capacity counts as measured when the fitted curve is below the window line by this much at
// the most streams measured (else the streams never reached it).
constexpr double kSaturationMargin = 0.02;
// Run knobs are fitted as log10(value) in [kLogMin, kLogMax].
constexpr double kLogMin = -6, kLogMax = 3;
constexpr int kMaxEvaluations = 3000;

using Residuals = std::function<std::vector<double>(const std::vector<double>&)>;

struct LeastSquares {
  std::vector<double> x, sigma;  // sigma NaN when not determined
  double rss = 0;
};

// Solves A x = b in place (Gauss-Jordan, partial pivoting) for A's inverse; false when singular.
bool invert(std::vector<std::vector<double>>& a) {
  const std::size_t n = a.size();
  std::vector<std::vector<double>> inv(n, std::vector<double>(n, 0));
  for (std::size_t i = 0; i < n; ++i) inv[i][i] = 1;
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t p = c;
    for (std::size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[p][c])) p = r;
    if (std::abs(a[p][c]) < 1e-300) return false;
    std::swap(a[p], a[c]);
    std::swap(inv[p], inv[c]);
    const double d = a[c][c];
    for (std::size_t k = 0; k < n; ++k) a[c][k] /= d, inv[c][k] /= d;
    for (std::size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r][c];
      for (std::size_t k = 0; k < n; ++k) a[r][k] -= f * a[c][k], inv[r][k] -= f * inv[c][k];
    }
  }
  a = inv;
  return true;
}

// Minimizes the sum of squared residuals with NLopt's BOBYQA inside [lo, hi]; standard errors
// s^2 (J^T J)^-1 with s^2 = RSS / (m - p) when there are more residuals than parameters.
LeastSquares least_squares(const Residuals& f, std::vector<double> x, const std::vector<double>& lo,
                           const std::vector<double>& hi) {
  const std::size_t p = x.size();
  nlopt::opt opt(nlopt::LN_BOBYQA, static_cast<unsigned>(p));
  opt.set_lower_bounds(lo);
  opt.set_upper_bounds(hi);
  opt.set_xtol_abs(1e-10);
  opt.set_ftol_abs(1e-24);
  opt.set_maxeval(kMaxEvaluations);
  std::vector<double> step(p);
  for (std::size_t i = 0; i < p; ++i) step[i] = std::min(0.5, (hi[i] - lo[i]) / 4);
  opt.set_initial_step(step);
  auto objective = [](const std::vector<double>& v, std::vector<double>&, void* data) {
    double sum = 0;
    for (double r : (*static_cast<const Residuals*>(data))(v)) sum += r * r;
    return sum;
  };
  opt.set_min_objective(objective, const_cast<Residuals*>(&f));
  LeastSquares out;
  double best = 0;
  try {
    opt.optimize(x, best);
  } catch (const nlopt::roundoff_limited&) {  // converged as far as doubles allow
  }
  out.x = x;
  out.rss = 0;
  const std::vector<double> r0 = f(x);
  for (double r : r0) out.rss += r * r;
  out.sigma.assign(p, kNaN);
  const std::size_t m = r0.size();
  if (m <= p) return out;
  std::vector<std::vector<double>> jac(m, std::vector<double>(p));
  for (std::size_t j = 0; j < p; ++j) {
    const double h = 1e-4 * std::max(1.0, std::abs(x[j]));
    std::vector<double> a = x, b = x;
    a[j] += h;
    b[j] -= h;
    const auto ra = f(a), rb = f(b);
    for (std::size_t i = 0; i < m; ++i) jac[i][j] = (ra[i] - rb[i]) / (2 * h);
  }
  std::vector<std::vector<double>> jtj(p, std::vector<double>(p, 0));
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t a = 0; a < p; ++a)
      for (std::size_t b = 0; b < p; ++b) jtj[a][b] += jac[i][a] * jac[i][b];
  if (!invert(jtj)) return out;
  const double s2 = out.rss / static_cast<double>(m - p);
  for (std::size_t j = 0; j < p; ++j) out.sigma[j] = std::sqrt(std::max(0.0, s2 * jtj[j][j]));
  return out;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Standard error of the mean; NaN for fewer than two values.
double standard_error(const std::vector<double>& v) {
  if (v.size() < 2) return kNaN;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1) / static_cast<double>(v.size()));
}

double spread(const std::vector<double>& v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return (*hi - *lo) / mean(v);
}

void fit_compute(const Measurements& m, FitResult& out) {
  std::map<std::tuple<std::string, double, double>, std::vector<const ComputeMeasurement*>> groups;
  for (const auto& c : m.compute) groups[{c.instance, c.parameters, c.flops_per_sample}].push_back(&c);
  for (const auto& [key, list] : groups) {
    const auto& [instance, parameters, flops] = key;
    const sim::InstanceType& type = m.topology.instance_types.at(instance);
    const double peak = type.gpus * type.gpu_peak_flops;
    std::vector<double> mfu;
    for (const auto* c : list) mfu.push_back(c->samples_per_s * flops / peak);
    const double value = mean(mfu);
    out.parameters.push_back({fmt::format("mfu {} ({})", instance, list.front()->name), value, standard_error(mfu), "fraction of peak"});
    out.calibration["compute"].push_back({{"label", list.front()->name}, {"instance", instance},
                                          {"model", {{"parameters", parameters}, {"flops_per_sample", flops}}},
                                          {"mfu", value}});
    for (const auto* c : list) {
      out.rows.push_back({"compute", c->name, c->path, "samples_per_s", c->samples_per_s, value * peak / flops});
      // A split of the step that does not fit in the wall-clock step (unsynchronized timers do that).
      const double split_s = c->forward_s + c->backward_s + c->optimizer_s;
      if (split_s > 0 && c->batch > 0 && split_s > c->batch / c->samples_per_s * (1 + 1e-9))
        out.warnings.push_back(fmt::format("compute {}: forward + backward + optimizer = {:.4g} s is more than the "
                                           "wall-clock step of {:.4g} s; the split was not measured with synchronized timers",
                                           c->name, split_s, c->batch / c->samples_per_s));
    }
    if (list.size() > 1 && spread(mfu) > kComputeSpreadMax)
      out.warnings.push_back(fmt::format("compute: {} measurements of {} with this model differ by {:.0f}% (more than {:.0f}%)",
                                         list.size(), instance, 100 * spread(mfu), 100 * kComputeSpreadMax));
  }
}

// One region pair's network figures.
struct Pair {
  std::string a, b;
  std::vector<const PingMeasurement*> pings;
  std::vector<const IperfMeasurement*> iperfs;
  double rtt_s = 0, single_Bps = 0, capacity_Bps = 0;
  bool capacity_measured = false;
};

void fit_network(const Measurements& m, FitResult& out) {
  std::map<std::pair<std::string, std::string>, Pair> pairs;
  auto key = [](const std::string& a, const std::string& b) { return a < b ? std::pair(a, b) : std::pair(b, a); };
  for (const auto& p : m.pings) pairs[key(p.a, p.b)].pings.push_back(&p);
  for (const auto& i : m.iperfs) pairs[key(i.a, i.b)].iperfs.push_back(&i);
  std::vector<Pair*> streamed;  // pairs with multi-stream tests and a single-stream rate
  for (auto& [k, p] : pairs) {
    p.a = k.first;
    p.b = k.second;
    std::vector<double> rtts, singles;
    for (const auto* x : p.pings) rtts.push_back(x->rtt_s);
    for (const auto* x : p.iperfs)
      if (x->streams == 1) singles.push_back(x->rate_Bps);
    const std::string label = p.a == p.b ? p.a : p.a + " - " + p.b;
    if (!rtts.empty()) {
      p.rtt_s = mean(rtts);
      out.parameters.push_back({"rtt_ms " + label, p.rtt_s * kSToMs, standard_error(rtts) * kSToMs, "ms"});
      if (rtts.size() > 1 && spread(rtts) > kPingSpreadMax)
        out.warnings.push_back(fmt::format("ping {}: RTTs differ by {:.0f}% (more than {:.0f}%)", label, 100 * spread(rtts), 100 * kPingSpreadMax));
      for (const auto* x : p.pings) out.rows.push_back({"ping", label, x->path, "rtt_ms", x->rtt_s * kSToMs, p.rtt_s * kSToMs});
    }
    if (!singles.empty()) {
      p.single_Bps = mean(singles);
      out.parameters.push_back({"single_stream_Gbps " + label, p.single_Bps * kBpsToGbps, standard_error(singles) * kBpsToGbps, "Gbit/s"});
      if (p.rtt_s <= 0)
        out.warnings.push_back("iperf3 " + label + ": no ping for this pair, so no window (rate x RTT); its single-stream rate is not used");
    }
    std::map<int, std::vector<double>> by_streams;
    for (const auto* x : p.iperfs) by_streams[x->streams].push_back(x->rate_Bps);
    for (const auto& [streams, rates] : by_streams)
      if (rates.size() > 1 && spread(rates) > kIperfSpreadMax)
        out.warnings.push_back(fmt::format("iperf3 {}: rates with {} stream(s) differ by {:.0f}% (more than {:.0f}%)", label,
                                           streams, 100 * spread(rates), 100 * kIperfSpreadMax));
    bool multi = false;
    for (const auto* x : p.iperfs) multi |= x->streams > 1;
    if (multi && p.single_Bps > 0) streamed.push_back(&p);
    if (multi && p.single_Bps <= 0)
      out.warnings.push_back("iperf3 " + label + ": parallel-stream tests without a single-stream test; not used");
  }
  // rate(s) = min(capacity, single x s^alpha): one alpha for all pairs, a capacity per pair.
  double alpha = 1;
  if (!streamed.empty()) {
    std::vector<double> x0 = {1}, lo = {0.05}, hi = {1};
    for (Pair* p : streamed) {
      double top = 0;
      for (const auto* x : p->iperfs) top = std::max(top, x->rate_Bps);
      x0.push_back(std::log(top));
      lo.push_back(std::log(top) - std::log(2.0));
      hi.push_back(std::log(top) + std::log(1e3));
    }
    const Residuals residuals = [&](const std::vector<double>& v) {
      std::vector<double> r;
      for (std::size_t k = 0; k < streamed.size(); ++k)
        for (const auto* x : streamed[k]->iperfs)
          r.push_back(std::log(x->rate_Bps) -
                      std::min(v[k + 1], std::log(streamed[k]->single_Bps) + v[0] * std::log(static_cast<double>(x->streams))));
      return r;
    };
    const LeastSquares fit = least_squares(residuals, x0, lo, hi);
    alpha = fit.x[0];
    out.parameters.push_back({"streams_exponent", alpha, fit.sigma[0], "rate ~ streams^exponent"});
    out.calibration["network"] = {{"streams_exponent", alpha}};
    for (std::size_t k = 0; k < streamed.size(); ++k) {
      Pair& p = *streamed[k];
      int most = 1;
      for (const auto* x : p.iperfs) most = std::max(most, x->streams);
      p.capacity_Bps = std::exp(fit.x[k + 1]);
      p.capacity_measured = p.capacity_Bps < (1 - kSaturationMargin) * p.single_Bps * std::pow(most, alpha);
      const std::string label = p.a == p.b ? p.a : p.a + " - " + p.b;
      if (p.capacity_measured)
        out.parameters.push_back({"capacity_Gbps " + label, p.capacity_Bps * kBpsToGbps, fit.sigma[k + 1] * p.capacity_Bps * kBpsToGbps, "Gbit/s"});
      else
        out.warnings.push_back(fmt::format("iperf3 {}: {} streams did not saturate the path; its capacity is not "
                                           "determined (the topology's stays)", label, most));
    }
  }
  for (auto& [k, p] : pairs) {
    const std::string label = p.a == p.b ? p.a : p.a + " - " + p.b;
    for (const auto* x : p.iperfs) {
      double predicted = p.single_Bps * std::pow(x->streams, alpha);
      if (p.capacity_measured) predicted = std::min(predicted, p.capacity_Bps);
      if (p.single_Bps > 0) out.rows.push_back({"iperf3", fmt::format("{} x{}", label, x->streams), x->path, "Gbps", x->rate_Bps * kBpsToGbps, predicted * kBpsToGbps});
    }
    if (p.rtt_s <= 0) continue;
    if (p.a == p.b) {
      nlohmann::ordered_json g = {{"name", p.a}, {"lan_rtt_ms", p.rtt_s * kSToMs}};
      if (p.single_Bps > 0) g["lan_single_stream_Gbps"] = p.single_Bps * kBpsToGbps;
      out.calibration["regions"].push_back(g);
    } else {
      nlohmann::ordered_json l = {{"a", p.a}, {"b", p.b}, {"rtt_ms", p.rtt_s * kSToMs}};
      if (p.single_Bps > 0) l["single_stream_Gbps"] = p.single_Bps * kBpsToGbps;
      if (p.capacity_measured) l["capacity_Gbps"] = p.capacity_Bps * kBpsToGbps;
      out.calibration["links"].push_back(l);
    }
  }
}

struct RunPrediction {
  double samples_per_s = 0, sync_s_per_round = 0;
};

// Simulates run `run` with the intermediate calibration and `knobs` set on its strategy.
RunPrediction simulate(const RunMeasurement& run, const std::string& calibration_file, const nlohmann::json& knobs) {
  nlohmann::json doc = sim::read_json_file(run.scenario_file);
  doc["calibration"] = calibration_file;
  for (const auto& [k, v] : knobs.items()) doc["strategy"][k] = v;
  const std::string text = sim::run_isolated([&] {
    const sim::Scenario s = sim::parse_scenario(doc, run.scenario_file);
    const nlohmann::ordered_json r = sim::run_scenario(s).results;
    const auto& t = r["time_breakdown_s"];
    const double blocked = t["communication_exposed"].get<double>() + t["idle"].get<double>();
    return nlohmann::json{r["throughput_samples_per_s"].get<double>(), blocked / s.workload.steps}.dump();
  });
  const auto v = nlohmann::json::parse(text);
  return {v[0].get<double>(), v[1].get<double>()};
}

void fit_runs(const Measurements& m, const std::string& scratch_dir, FitResult& out) {
  if (m.runs.empty()) return;
  const std::string calibration_file = std::filesystem::absolute(std::filesystem::path(scratch_dir) / "calibration.json").string();
  {
    std::ofstream f(calibration_file);
    f << out.calibration.dump(1) << "\n";
  }
  const auto knobs_of = [&](const std::vector<double>& v) {
    nlohmann::json k = nlohmann::json::object();
    for (std::size_t i = 0; i < m.fit.size(); ++i) k[m.fit[i]] = std::pow(10.0, v[i]);
    return k;
  };
  std::vector<double> x(m.fit.size());
  if (!m.fit.empty()) {
    const nlohmann::json base = sim::load_scenario(m.runs.front().scenario_file).strategy;
    for (std::size_t i = 0; i < m.fit.size(); ++i) {
      const double given = base.value(m.fit[i], 0.0);
      x[i] = std::clamp(given > 0 ? std::log10(given) : (m.fit[i].ends_with("GBps") ? 0.0 : -2.0), kLogMin, kLogMax);
    }
    const Residuals residuals = [&](const std::vector<double>& v) {
      std::vector<double> r;
      const nlohmann::json knobs = knobs_of(v);
      for (const auto& run : m.runs) {
        const RunPrediction p = simulate(run, calibration_file, knobs);
        r.push_back((p.samples_per_s - run.samples_per_s) / run.samples_per_s);
        if (run.sync_s_per_round > 0) r.push_back((p.sync_s_per_round - run.sync_s_per_round) / run.sync_s_per_round);
      }
      return r;
    };
    const LeastSquares fit = least_squares(residuals, x, std::vector<double>(x.size(), kLogMin), std::vector<double>(x.size(), kLogMax));
    x = fit.x;
    for (std::size_t i = 0; i < m.fit.size(); ++i) {
      const double value = std::pow(10.0, x[i]);
      // d value = value ln 10 d log10(value)
      out.parameters.push_back({m.strategy + " " + m.fit[i], value, value * std::log(10.0) * fit.sigma[i], m.fit[i].ends_with("GBps") ? "GB/s" : "s"});
      if (x[i] <= kLogMin + 1e-6 || x[i] >= kLogMax - 1e-6)
        out.warnings.push_back(fmt::format("run fit: {} ended at the edge of its range ({:g}); the runs do not determine it", m.fit[i], value));
    }
    out.calibration["strategies"][m.strategy] = knobs_of(x);
  }
  const nlohmann::json knobs = knobs_of(x);
  for (const auto& run : m.runs) {
    const RunPrediction p = simulate(run, calibration_file, knobs);
    out.rows.push_back({"run", run.name, run.path, "samples_per_s", run.samples_per_s, p.samples_per_s});
    if (run.sync_s_per_round > 0) out.rows.push_back({"run", run.name, run.path, "sync_s_per_round", run.sync_s_per_round, p.sync_s_per_round});
  }
}

}  // namespace

FitResult fit_measurements(const Measurements& m, const std::string& scratch_dir) {
  FitResult out;
  out.calibration = {{"format", "geotrain-calibration-1"},
                     {"measurements", std::filesystem::path(m.file).filename().string()}};
  fit_compute(m, out);
  fit_network(m, out);
  fit_runs(m, scratch_dir, out);
  return out;
}

}  // namespace geotrain::calibrate
