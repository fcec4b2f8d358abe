// One simulation: builds the SimGrid engine and platform for a scenario, starts one actor per
// worker running the strategy (or a given program), runs, and assembles the results.
// SimGrid allows one engine per process: run each simulation in a fresh process, or through
// run_isolated() (sim/isolate.h).
#pragma once
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/context.h"
#include "sim/scenario.h"

namespace geotrain::sim {

// What a run recorded for timeline.csv and trace.json (sim/run.cc).
struct RunRecords;

struct RunOutput {
  nlohmann::ordered_json results;  // results.json; wall-clock figures only under "perf"
  std::shared_ptr<const RunRecords> records;  // null in a RunOutput of no run
  // timeline.csv and trace.json, rendered when asked: they can be large, and write_outputs
  // writes them to their files as they are rendered.  Empty text when there are no records.
  std::string timeline_csv() const;
  std::string trace_json() const;
  void write_timeline_csv(std::ostream& out) const;
  void write_trace_json(std::ostream& out) const;
};

using WorkerProgram = std::function<void(WorkerContext&)>;

class Strategy;

// Runs the scenario's strategy.  REQUIRES: no simulation ran in this process before.
// Throws runtime::DataError when the training data cannot be read.
RunOutput run_scenario(const Scenario& scenario);
// Runs `strategy` (its servers included).
RunOutput run_strategy(const Scenario& scenario, Strategy& strategy);
// Runs `program` on every worker instead of a strategy (tests, benchmarks).
RunOutput run_program(const Scenario& scenario, const WorkerProgram& program);

// SimGrid options ("KEY:VALUE", as SimGrid's --cfg=KEY:VALUE) that every later simulation of this
// process (and of its forked children) applies after geotrain's own engine settings.
void set_simgrid_options(std::vector<std::string> options);
// "" when SimGrid accepts every option, else one line naming the option and SimGrid's reason.
// Tries them in a forked child (SimGrid aborts on some values), so no engine starts here.
std::string check_simgrid_options(const std::vector<std::string>& options);
// True in an AddressSanitizer build (scripts/sanitize.sh): SimGrid runs each actor on a thread of
// its own (contexts/factory:thread) instead of switching stacks, which ASan cannot follow.
// Results are the same either way; a test that cannot run on threads checks this and skips.
bool actors_on_threads();

// Writes DIR/results.json, DIR/timeline.csv and DIR/trace.json.  Each file is written under a
// temporary name and renamed, results.json last, so a half-written run never looks finished.
void write_outputs(const RunOutput& output, const std::string& dir);

// The results without the "perf" block: what must be byte-identical across runs.
nlohmann::ordered_json deterministic_part(const nlohmann::ordered_json& results);

// "MAJOR.MINOR.PATCH" of the SimGrid headers this build was compiled against (`geotrain --version`).
std::string simgrid_version();

}  // namespace geotrain::sim
