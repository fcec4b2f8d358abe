// Fitting the model's parameters to measurements: compute rates (closed form: MFU = rate x FLOP
// per sample / peak), per region pair RTT, single-stream window and capacity, the streams exponent
// (least squares with NLopt), and strategy overhead knobs (least squares with NLopt over
// simulations of the measured runs, each in its own process).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibrate/measurements.h"

namespace geotrain::calibrate {

// One fitted parameter; sigma is its standard error where the data allow (more figures than
// parameters: from the repeated measurements' spread or the fit's Jacobian), else NaN.
struct FittedParameter {
  std::string name;  // e.g. "mfu n1-standard-8-t4 cv", "rtt_ms us-central1 europe-west1"
  double value = 0;
  double sigma = 0;
  std::string unit;
};

// One measurement beside its calibrated prediction.
struct FitRow {
  std::string kind;      // compute | ping | iperf3 | run
  std::string name;      // what was measured
  std::string path;      // JSON pointer in the measurement file
  std::string quantity;  // e.g. "samples_per_s"
  double measured = 0, predicted = 0;
  double residual_rel() const { return measured != 0 ? (predicted - measured) / measured : 0; }
};

struct FitResult {
  nlohmann::ordered_json calibration;  // calibration.json (sim/calibration.h reads it)
  std::vector<FittedParameter> parameters;
  std::vector<FitRow> rows;
  std::vector<std::string> warnings;   // measurements that contradict each other
};

// Fits everything `m` holds.  `scratch_dir` (exists, writable) takes the intermediate calibration
// the run simulations read.  Throws sim::BadInput when a run scenario cannot use the calibration.
FitResult fit_measurements(const Measurements& m, const std::string& scratch_dir);

// The fit report as Markdown: every measurement beside its prediction and residual, every
// parameter with its uncertainty, the warnings.
std::string fit_report_markdown(const FitResult& r, const std::string& measurements_name);
// The same as JSON.
nlohmann::ordered_json fit_report_json(const FitResult& r, const std::string& measurements_name);

}  // namespace geotrain::calibrate
