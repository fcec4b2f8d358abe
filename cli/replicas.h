// `geotrain run --replicas N` (cli/replicas.cc): N draws of a scenario's fault process.
#pragma once
#include <string>

#include "sim/scenario.h"

namespace geotrain::cli {

// The most draws one run may ask for.
inline constexpr long kMaxReplicas = 100000;

// Runs `replicas` draws of `scenario` into OUT_DIR/replicas/<i>/ and writes OUT_DIR/replicas.json;
// prints the summary unless `quiet`.  Returns the exit code (0, 1 a draw failed, 2 bad input).
// REQUIRES: 1 <= replicas <= kMaxReplicas, SimGrid options installed.
int run_replicas(const sim::Scenario& scenario, const std::string& out_dir, long replicas, bool quiet);

}  // namespace geotrain::cli
