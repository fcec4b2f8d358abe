// `geotrain calibrate MEASUREMENTS.json [--out DIR]`: fits compute rates, links, the streams
// exponent and strategy overheads to measurements; writes DIR/calibration.json (what scenarios
// read with "calibration") and DIR/fit_report.md / .json.  Bad input: exit 2, nothing written.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "calibrate/fit.h"
#include "calibrate/measurements.h"
#include "cli/commands.h"
#include "sim/json_reader.h"

namespace {

namespace cal = geotrain::calibrate;
namespace fs = std::filesystem;

struct CalibrateOptions {
  std::string measurements, out_dir;
};

// Writes `text` to `path` under a temporary name, then renames it.
void write_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp);
    f << text;
  }
  fs::rename(tmp, path);
}

int cmd_calibrate(const CalibrateOptions& opts) {
  cal::FitResult result;
  const std::string name = fs::path(opts.measurements).filename().string();
  char scratch_template[] = "/tmp/geotrain-calibrate.XXXXXX";
  const char* scratch = mkdtemp(scratch_template);
  if (scratch == nullptr) {
    fmt::print(stderr, "geotrain: cannot create a scratch folder under /tmp\n");
    return geotrain::cli::kExitCheckFailed;
  }
  try {
    const cal::Measurements m = cal::load_measurements(opts.measurements);
    result = cal::fit_measurements(m, scratch);
  } catch (const geotrain::sim::BadInput& e) {
    fs::remove_all(scratch);
    fmt::print(stderr, "geotrain: bad input: {}\n", e.what());
    return geotrain::cli::kExitBadInput;
  }
  fs::remove_all(scratch);
  const std::string markdown = cal::fit_report_markdown(result, name);
  fmt::print("{}", markdown);
  const fs::path dir = opts.out_dir.empty() ? fs::path("out") / "calibration" : fs::path(opts.out_dir);
  fs::create_directories(dir);
  write_file(dir / "fit_report.md", markdown);
  write_file(dir / "fit_report.json", cal::fit_report_json(result, name).dump(1) + "\n");
  write_file(dir / "calibration.json", result.calibration.dump(1) + "\n");  // last: the result
  fmt::print("\nwrote {0}/calibration.json, {0}/fit_report.md, {0}/fit_report.json\n", dir.string());
  return geotrain::cli::kExitOk;
}

}  // namespace

namespace geotrain::cli {

void add_calibrate_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<CalibrateOptions>();
  auto* cmd = app.add_subcommand("calibrate", "fit compute rates, links and strategy overheads to measurements (docs/CALIBRATION.md)");
  cmd->add_option("measurements", opts->measurements, "measurement file (docs/CALIBRATION.md)")->required();
  cmd->add_option("--out", opts->out_dir, "output folder: calibration.json, fit_report.md, fit_report.json (default out/calibration)");
  cmd->callback([opts, &exit_code] { exit_code = cmd_calibrate(*opts); });
}

}  // namespace geotrain::cli
