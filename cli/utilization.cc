// `geotrain utilization SPEC.json --out DIR`: how much WAN bandwidth a strategy needs for a given
// compute utilization.  For each model size and strategy it runs the base scenario (size-only) at
// every WAN bandwidth, with the per-step compute time fixed, and writes
//   DIR/utilization.csv  model_parameters, strategy, wan_Gbps, step_time_s, utilization
//   DIR/needed.csv       model_parameters, strategy, utilization_target, wan_Gbps_needed
// (log-linear interpolation between measured bandwidths; empty when the range never reaches it).
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "analysis/json_file.h"
#include "cli/commands.h"
#include "common/csv.h"
#include "sim/isolate.h"
#include "sim/json_reader.h"
#include "sim/limits.h"
#include "sim/result_keys.h"
#include "sim/run.h"
#include "sim/scenario.h"

namespace geotrain::cli {
namespace {

namespace keys = geotrain::result_keys;

constexpr double kTargets[] = {0.5, 0.8, 0.9, 0.95, 0.99};
constexpr double kMaxParameters = 1e15;  // as a profile's "parameters" (docs/SCENARIO_FORMAT.md)

// One model of the spec: a profile of `parameters` values ("parameters"), or a workload.model
// description ("models"), each with the compute time of one step.
struct SpecModel {
  nlohmann::json model;   // the workload.model object; a profile's flops_per_sample is set per point
  double step_compute_s = 1;
};

struct Spec {
  nlohmann::json base;
  std::string file;
  std::vector<SpecModel> models;
  std::vector<std::pair<std::string, nlohmann::json>> strategies;  // label, strategy object
  std::vector<double> bandwidths_Gbps;
};

// A non-empty array of numbers in [min, max].
std::vector<double> numbers(sim::JsonReader& r, const char* key, double min, double max) {
  const auto& v = r.raw(key);
  const std::string allowed = fmt::format("expected a non-empty array of numbers in [{:g}, {:g}]", min, max);
  if (!v.is_array() || v.empty()) r.fail(key, allowed);
  std::vector<double> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number() || !(v[i].get<double>() >= min && v[i].get<double>() <= max))
      sim::throw_bad_input(r.file(), sim::json_pointer_append(r.path_of(key), std::to_string(i)), sim::json_value_text(v[i]),
                           allowed);
    out.push_back(v[i].get<double>());
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
  sim::parse_scenario(s.base, s.file);  // a malformed base is reported as itself, before any point is built
  r.allow("parameters");
  r.allow("step_compute_s");
  r.allow("models");
  if (r.has("models") == r.has("parameters"))
    r.fail(r.has("models") ? "parameters" : "models",
           "expected either \"parameters\" with \"step_compute_s\" or \"models\", not both and not neither");
  if (r.has("parameters")) {
    const double step_s = r.number("step_compute_s", 0, sim::limits::kMaxTime_s, true);
    for (const double p : numbers(r, "parameters", 1, kMaxParameters))
      s.models.push_back({{{"type", "profile"}, {"parameters", p}, {"flops_per_sample", 1.0}}, step_s});
  } else {
    for (auto& m : r.objects("models", 1)) {
      SpecModel model{m.raw("model"), m.number("step_compute_s", 0, sim::limits::kMaxTime_s, true)};
      m.allow("label");  // for people
      m.finish();
      nlohmann::json doc = s.base;
      doc["workload"]["model"] = model.model;
      try {
        sim::parse_scenario(doc, s.file);
      } catch (const sim::BadInput& e) {
        sim::throw_bad_input(file, m.path_of("model"), "a model the base scenario rejects", e.what());
      }
      s.models.push_back(std::move(model));
    }
  }
  s.bandwidths_Gbps = numbers(r, "wan_Gbps", sim::limits::kMinBandwidth_Gbps, sim::limits::kMaxBandwidth_Gbps);
  std::sort(s.bandwidths_Gbps.begin(), s.bandwidths_Gbps.end());
  auto strategies = r.object("strategies");
  for (const auto& label : strategies.keys()) s.strategies.emplace_back(label, strategies.raw(label));
  r.allow("description");
  r.finish();
  return s;
}

// The base scenario with the model size, the per-step compute time and every WAN link's capacity
// set; the TCP window cap is lifted (many parallel streams), as in the Streaming DiLoCo paper.
nlohmann::json point(const Spec& s, const SpecModel& model, const nlohmann::json& strategy, double gbps) {
  nlohmann::json doc = s.base;
  doc["workload"]["model"] = model.model;
  doc["strategy"] = strategy;
  doc["network"]["window_cap"] = false;
  if (doc["topology"].is_string()) {
    const std::filesystem::path relative = doc["topology"].get<std::string>();
    const auto p = std::filesystem::path(s.file).parent_path() / relative;
    doc["topology"] = sim::read_json_file(p.string());
    // Inlined, its instance catalog resolves from the scenario's folder, no longer the topology's.
    auto& topology = doc["topology"];
    if (topology.is_object() && topology.contains("instance_catalog") && topology["instance_catalog"].is_string()) {
      const std::filesystem::path catalog = topology["instance_catalog"].get<std::string>();
      if (catalog.is_relative()) topology["instance_catalog"] = (relative.parent_path() / catalog).lexically_normal().string();
    }
  }
  if (doc["topology"].is_object() && doc["topology"].contains("links") && doc["topology"]["links"].is_array())
    for (auto& link : doc["topology"]["links"])
      if (link.is_object()) link["capacity_Gbps"] = gbps;
  return doc;
}

// Makes one step's compute take `step_compute_s` on the first fleet entry's instance type (as
// the loader resolved it: inline or from the instance catalog): a profile gets the FLOPs per
// sample that take that long at the type's rate; a model with an architecture keeps its FLOPs
// and gets the achieved utilization (workload.mfu) that takes that long.  Returns the model's
// parameter count.  Throws BadInput when that utilization would pass 1.
double set_step_time(nlohmann::json& doc, const std::string& file, double step_compute_s) {
  const sim::Scenario scenario = sim::parse_scenario(doc, file);
  const sim::InstanceType& type = scenario.topology.instance_types.at(scenario.fleet.front().instance);
  const sim::Workload& w = scenario.workload;
  if (!w.has_architecture()) {
    doc["workload"]["model"]["flops_per_sample"] = type.effective_flops() * step_compute_s / w.batch_per_worker;
    return w.parameters;
  }
  const double mfu = w.batch_per_worker * w.flops_per_sample / (type.gpus * type.gpu_peak_flops * step_compute_s);
  if (!(mfu > 0 && mfu <= 1))
    sim::throw_bad_input(file, "/workload/model", fmt::format("{:.4g} FLOPs per step", w.batch_per_worker * w.flops_per_sample),
                         fmt::format("a step of {:g} s needs an achieved utilization of {:.4g}: expected at most 1",
                                     step_compute_s, mfu));
  doc["workload"]["mfu"] = mfu;
  return w.parameters;
}

// Every point is validated before anything runs or is written: a bad strategy names the spec.
void validate_points(const Spec& s, const std::string& spec_file) {
  for (const auto& [label, strategy] : s.strategies)
    for (std::size_t m = 0; m < s.models.size(); ++m)
      for (const double gbps : s.bandwidths_Gbps) {
        try {
          nlohmann::json doc = point(s, s.models[m], strategy, gbps);
          set_step_time(doc, s.file, s.models[m].step_compute_s);
          sim::parse_scenario(doc, s.file);
        } catch (const sim::BadInput& e) {
          sim::throw_bad_input(spec_file, sim::json_pointer_append("/strategies", label),
                               fmt::format("model {} at {:g} Gbit/s", m, gbps), e.what());
        }
      }
}

int run(const std::string& spec_file, const std::string& out_dir) {
  const Spec s = read_spec(spec_file);
  validate_points(s, spec_file);
  csv::Writer util({"model_parameters", "strategy", "wan_Gbps", "step_time_s", "utilization"});
  csv::Writer needed({"model_parameters", "strategy", "utilization_target", "wan_Gbps_needed"});
  constexpr int kStepTimeDigits = 9, kUtilizationDecimals = 6, kNeededDigits = 4;
  for (const SpecModel& model : s.models)
    for (const auto& [label, strategy] : s.strategies) {
      std::vector<double> u;
      double params = 0;
      for (double gbps : s.bandwidths_Gbps) {
        nlohmann::json doc = point(s, model, strategy, gbps);
        params = set_step_time(doc, s.file, model.step_compute_s);
        const auto r = nlohmann::json::parse(sim::run_isolated([&] {
          return sim::run_scenario(sim::parse_scenario(doc, s.file)).results.dump();
        }));
        const double t = r[keys::kSimulatedS], steps = r[keys::kSteps];
        u.push_back(r[keys::kTimeBreakdown][keys::time::kCompute].get<double>() / t);
        util.count(params).text(label).number(gbps).significant(t / steps, kStepTimeDigits).fixed(u.back(), kUtilizationDecimals);
        util.end_row();
      }
      for (double target : kTargets) {
        needed.count(params).text(label).number(target);
        std::size_t i = 0;
        while (i < u.size() && u[i] < target) ++i;
        if (i == u.size()) {
          needed.empty();  // never reached in the measured range
        } else if (i == 0) {
          needed.text(fmt::format("<={}", csv::number_text(s.bandwidths_Gbps[0])));
        } else {
          const double l0 = std::log(s.bandwidths_Gbps[i - 1]), l1 = std::log(s.bandwidths_Gbps[i]);
          needed.significant(std::exp(l0 + (target - u[i - 1]) / (u[i] - u[i - 1]) * (l1 - l0)), kNeededDigits);
        }
        needed.end_row();
      }
    }
  std::filesystem::create_directories(out_dir);
  analysis::write_text_atomically((std::filesystem::path(out_dir) / "utilization.csv").string(), util.str());
  analysis::write_text_atomically((std::filesystem::path(out_dir) / "needed.csv").string(), needed.str());
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
    } catch (const nlohmann::json::exception& e) {  // a base scenario the points cannot be built from
      fmt::print(stderr, "geotrain: bad input: {}: {}\n", *spec, e.what());
      exit_code = kExitBadInput;
    }
  });
}

}  // namespace geotrain::cli
