// `geotrain report DIR`: writes DIR/report.html, one self-contained page (inline SVG, no network)
// for a run folder or a sweep folder; exit 2 when DIR is not one or a file in it is malformed.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "analysis/json_file.h"
#include "analysis/report.h"
#include "cli/commands.h"

namespace {

int cmd_report(const std::string& dir) {
  std::string file;
  try {
    file = geotrain::analysis::write_report(dir);
  } catch (const geotrain::analysis::InputError& e) {
    fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
    return geotrain::cli::kExitBadInput;
  }
  fmt::print("wrote {}\n", file);
  return geotrain::cli::kExitOk;
}

}  // namespace

namespace geotrain::cli {

void add_report_command(CLI::App& app, int& exit_code) {
  auto dir = std::make_shared<std::string>();
  auto* report = app.add_subcommand("report", "write DIR/report.html: plots of a run folder or a sweep folder (one file, no network)");
  report->add_option("dir", *dir, "run folder (results.json, timeline.csv, trace.json) or sweep folder (sweep.csv, pareto.csv)")
      ->required();
  report->callback([dir, &exit_code] { exit_code = cmd_report(*dir); });
}

}  // namespace geotrain::cli
