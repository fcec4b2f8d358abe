// The subcommands of the geotrain executable: each file under cli/ adds one to the app.
// A subcommand's callback stores its exit code (0 ok, 1 a check failed or an unexpected error,
// 2 bad input) in `exit_code`.
#pragma once
#include <CLI/CLI.hpp>

namespace geotrain::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitBadInput = 2;

void add_run_command(CLI::App& app, int& exit_code);        // cli/main.cc
void add_summarize_command(CLI::App& app, int& exit_code);  // cli/main.cc
void add_utilization_command(CLI::App& app, int& exit_code);  // cli/utilization.cc
void add_topo_command(CLI::App& app, int& exit_code);         // cli/topo.cc
void add_sweep_command(CLI::App& app, int& exit_code);         // cli/sweep.cc
void add_check_command(CLI::App& app, int& exit_code);         // cli/check.cc
void add_validate_command(CLI::App& app, int& exit_code);      // cli/validate.cc
void add_report_command(CLI::App& app, int& exit_code);        // cli/report.cc
void add_strategies_command(CLI::App& app, int& exit_code);    // cli/strategies.cc
void add_calibrate_command(CLI::App& app, int& exit_code);     // cli/calibrate.cc
void add_schema_command(CLI::App& app, int& exit_code);        // cli/schema.cc

}  // namespace geotrain::cli
