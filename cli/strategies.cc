// `geotrain strategies [--json] [--parameters N] [--optimizer NAME]`: the strategy catalog, every
// strategy's knobs with their defaults and allowed values, and the training state it keeps per
// worker at its defaults (sim/catalog.h). Runs nothing.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "sim/catalog.h"

namespace geotrain::cli {
namespace {

constexpr double kBytesPerGB = 1e9;

struct StrategiesOptions {
  bool json = false;
  double parameters = 1e9;      // model parameters the state sizes are given for
  std::string optimizer = "adamw";  // the workers' (inner) optimizer
};

std::string allowed_text(const nlohmann::ordered_json& k) {
  if (k.contains("choices")) {
    std::string text;
    for (const auto& c : k["choices"]) text += (text.empty() ? "" : " | ") + c.get<std::string>();
    return text;
  }
  if (!k.contains("min")) return k["type"].get<std::string>();
  return fmt::format("{} {}{:g} .. {:g}", k["type"].get<std::string>(), k.value("min_exclusive", false) ? ">" : "",
                     k["min"].get<double>(), k["max"].get<double>());
}

std::string default_text(const nlohmann::ordered_json& k) {
  if (k.contains("default_text")) return k["default_text"].get<std::string>();
  if (k["default"].is_null()) return "none";
  if (k["default"].is_string()) return k["default"].get<std::string>().empty() ? "\"\"" : k["default"].get<std::string>();
  return k["default"].dump();
}

void print_table(const nlohmann::ordered_json& catalog) {
  fmt::print("strategies (state per worker at the defaults, {:g} parameters, {} on the workers; fp32, activations not counted)\n",
             catalog["parameters"].get<double>(), catalog["inner_optimizer"].get<std::string>());
  for (const auto& s : catalog["strategies"]) {
    const auto& state = s["state_at_defaults"];
    fmt::print("\n{}: {}\n  state per worker {:.4g} GB ({})\n", s["name"].get<std::string>(), s["summary"].get<std::string>(),
               state["worker_bytes"].get<double>() / kBytesPerGB, state["worker_items"].get<std::string>());
    if (state["server_B_per_param"].get<double>() > 0)
      fmt::print("  state per server {:.4g} GB ({})\n", state["server_bytes"].get<double>() / kBytesPerGB,
                 state["server_items"].get<std::string>());
    if (s["step_unit"] != "step") fmt::print("  workload.steps counts {}s\n", s["step_unit"].get<std::string>());
    for (const auto& k : s["knobs"])
      fmt::print("  {:<16} {:<12} {:<34} {}\n", k["name"].get<std::string>(), default_text(k), allowed_text(k),
                 k["meaning"].get<std::string>());
  }
}

}  // namespace

void add_strategies_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<StrategiesOptions>();
  auto* cmd = app.add_subcommand("strategies", "list the strategies, their knobs, defaults and training state per worker");
  cmd->add_flag("--json", opts->json, "print the catalog as JSON");
  cmd->add_option("--parameters", opts->parameters, "model parameters the state sizes are given for (default 1e9)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--optimizer", opts->optimizer, "the workers' optimizer (default adamw)")
      ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adamw"}));
  cmd->callback([opts, &exit_code] {
    const auto catalog = sim::strategy_catalog_json(opts->parameters, opts->optimizer);
    if (opts->json) fmt::print("{}\n", catalog.dump(2));
    else print_table(catalog);
    exit_code = kExitOk;
  });
}

}  // namespace geotrain::cli
