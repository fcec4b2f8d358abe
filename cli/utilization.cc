// `geotrain utilization SPEC.json --out DIR`: how much WAN bandwidth a strategy needs for a given
// compute utilization.  For each model size and strategy it runs the base scenario (size-only) at
// every WAN bandwidth, with the per-step compute time fixed, and writes
//   DIR/utilization.csv  model_parameters, strategy, wan_Gbps, step_time_s, utilization
//   DIR/needed.csv       model_parameters, strategy, utilization_target, wan_Gbps_needed
// (log-linear interpolation between measured bandwidths; empty when the range never reaches it).
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "sim/isolate.h"
#include "sim/json_reader.h"
#include "sim/result_keys.h"
#include "sim/run.h"

namespace geotrain::cli {
namespace {

namespace keys = geotrain::result_keys;

constexpr double kTargets[] = {0.5, 0.8, 0.9, 0.95, 0.99};

struct Spec {
  nlohmann::json base;
  std::string file;
  std::vector<double> parameters;
  double step_compute_s = 1;
  std::vector<std::pair<std::string, nlohmann::json>> strategies;  // label, strategy object
  std::vector<double> bandwidths_Gbps;
};

std::vector<double> numbers(sim::JsonReader& r, const char* key) {
  const auto& v = r.raw(key);
  if (!v.is_array() || v.empty()) r.fail(key, "expected a non-empty array of numbers > 0");
  std::vector<double> out;
  for (const auto& x : v) {
    if (!x.is_number() || x.get<double>() <= 0) r.fail(key, "expected a non-empty array of numbers > 0");
    out.push_back(x.get<double>());
  }
  return out;
}

Spec read_spec(const std::string& file) {
  const nlohmann::json doc = sim::read_json_file(file);
  sim::JsonReader r(doc, file);
  Spec s;
  s.file = file;
  const auto base_path = std::filesystem::path(file).parent_path() / r.string("base");
  s.base = sim::read_json_file(base_path.string());
  s.file = base_path.string();  // the scenario's own folder resolves its topology path
  s.parameters = numbers(r, "parameters");
  s.step_compute_s = r.positive("step_compute_s");
  s.bandwidths_Gbps = numbers(r, "wan_Gbps");
  std::sort(s.bandwidths_Gbps.begin(), s.bandwidths_Gbps.end());
  auto strategies = r.object("strategies");
  for (const auto& label : strategies.keys()) s.strategies.emplace_back(label, strategies.raw(label));
  r.allow("description");
  r.finish();
  return s;
}

// The base scenario with the model size, the per-step compute time and every WAN link's capacity
// set; the TCP window cap is lifted (many parallel streams), as in the Streaming DiLoCo paper.
nlohmann::json point(const Spec& s, double parameters, const nlohmann::json& strategy, double gbps) {
  nlohmann::json doc = s.base;
  doc["workload"]["model"] = {{"type", "profile"}, {"parameters", parameters}, {"flops_per_sample", 1.0}};
  doc["strategy"] = strategy;
  doc["network"]["window_cap"] = false;
  if (doc["topology"].is_string()) {
    const auto p = std::filesystem::path(s.file).parent_path() / doc["topology"].get<std::string>();
    doc["topology"] = sim::read_json_file(p.string());
  }
  for (auto& link : doc["topology"]["links"]) link["capacity_Gbps"] = gbps;
  return doc;
}

// Every point is validated before anything runs or is written: a bad strategy names the spec.
void validate_points(const Spec& s, const std::string& spec_file) {
  for (const auto& [label, strategy] : s.strategies) {
    try {
      sim::parse_scenario(point(s, s.parameters.front(), strategy, s.bandwidths_Gbps.front()), s.file);
    } catch (const sim::BadInput& e) {
      sim::throw_bad_input(spec_file, sim::json_pointer_append("/strategies", label), "", e.what());
    }
  }
}

int run(const std::string& spec_file, const std::string& out_dir) {
  const Spec s = read_spec(spec_file);
  validate_points(s, spec_file);
  std::filesystem::create_directories(out_dir);
  std::ofstream util(std::filesystem::path(out_dir) / "utilization.csv");
  std::ofstream needed(std::filesystem::path(out_dir) / "needed.csv");
  util << "model_parameters,strategy,wan_Gbps,step_time_s,utilization\n";
  needed << "model_parameters,strategy,utilization_target,wan_Gbps_needed\n";
  for (double params : s.parameters)
    for (const auto& [label, strategy] : s.strategies) {
      std::vector<double> u;
      for (double gbps : s.bandwidths_Gbps) {
        nlohmann::json doc = point(s, params, strategy, gbps);
        // Make one step's compute take step_compute_s on the first fleet entry's instance.
        const auto& type = doc["topology"]["instance_types"][doc["fleet"][0]["instance"].get<std::string>()];
        const double flops = type.value("gpus", 1) * type["gpu_peak_tflops"].get<double>() * 1e12 *
                             type["utilization"].get<double>();
        doc["workload"]["model"]["flops_per_sample"] = flops * s.step_compute_s / doc["workload"]["batch_per_worker"].get<double>();
        const auto r = nlohmann::json::parse(sim::run_isolated([&] {
          return sim::run_scenario(sim::parse_scenario(doc, s.file)).results.dump();
        }));
        const double t = r[keys::kSimulatedS], steps = r[keys::kSteps];
        u.push_back(r[keys::kTimeBreakdown][keys::time::kCompute].get<double>() / t);
        util << fmt::format("{},{},{},{:.9g},{:.6f}\n", params, label, gbps, t / steps, u.back());
      }
      for (double target : kTargets) {
        std::string cell;
        for (std::size_t i = 0; i < u.size(); ++i) {
          if (u[i] < target) continue;
          if (i == 0) { cell = fmt::format("<={}", s.bandwidths_Gbps[0]); break; }
          const double l0 = std::log(s.bandwidths_Gbps[i - 1]), l1 = std::log(s.bandwidths_Gbps[i]);
          cell = fmt::format("{:.4g}", std::exp(l0 + (target - u[i - 1]) / (u[i] - u[i - 1]) * (l1 - l0)));
          break;
        }
        needed << fmt::format("{},{},{},{}\n", params, label, target, cell);
      }
    }
  fmt::print("wrote {0}/utilization.csv and {0}/needed.csv\n", out_dir);
  return kExitOk;
}

}  // namespace

void add_utilization_command(CLI::App& app, int& exit_code) {
  auto spec = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>("out/utilization");
  auto* cmd = app.add_subcommand("utilization", "WAN bandwidth needed per strategy for 50-99% compute utilization");
  cmd->add_option("spec", *spec, "utilization spec JSON (see scenarios/streaming-diloco-bandwidth.json)")->required();
  cmd->add_option("--out", *out, "output folder");
  cmd->callback([spec, out, &exit_code] {
    try {
      exit_code = run(*spec, *out);
    } catch (const sim::BadInput& e) {
      fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
      exit_code = kExitBadInput;
    }
  });
}

}  // namespace geotrain::cli
