// `geotrain check CURRENT BASELINE [--tolerances FILE] [--junit FILE]`: compares a run, sweep or
// suite folder with stored baseline results; exit 1 when anything moved beyond tolerance.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "analysis/check.h"
#include "analysis/json_file.h"
#include "cli/commands.h"

namespace {

namespace analysis = geotrain::analysis;

struct CheckOptions {
  std::string current, baseline, tolerances_file, junit_file;
};

int cmd_check(const CheckOptions& opts) {
  analysis::CheckReport report;
  try {
    const analysis::Tolerances tolerances =
        opts.tolerances_file.empty() ? analysis::Tolerances() : analysis::Tolerances::load(opts.tolerances_file);
    report = analysis::check_folders(opts.current, opts.baseline, tolerances);
  } catch (const analysis::InputError& e) {
    fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
    return geotrain::cli::kExitBadInput;
  }
  fmt::print("{}", analysis::check_table(report));
  if (!opts.junit_file.empty()) {
    analysis::write_text_atomically(opts.junit_file, analysis::junit_xml(report));
    fmt::print("wrote {}\n", opts.junit_file);
  }
  return report.failed_runs() > 0 ? geotrain::cli::kExitCheckFailed : geotrain::cli::kExitOk;
}

}  // namespace

namespace geotrain::cli {

void add_check_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<CheckOptions>();
  auto* check = app.add_subcommand("check", "compare results with stored baseline results (exit 1 on a regression)");
  check->add_option("current", opts->current, "run folder (results.json), sweep folder (points/) or suite folder (*/results.json)")
      ->required();
  check->add_option("baseline", opts->baseline, "the stored results, same layout as current")->required();
  check->add_option("--tolerances", opts->tolerances_file, "tolerance file (docs/SWEEPS.md); default rel 1e-9, abs 1e-12");
  check->add_option("--junit", opts->junit_file, "also write a JUnit XML report here");
  check->callback([opts, &exit_code] { exit_code = cmd_check(*opts); });
}

}  // namespace geotrain::cli
