// Deployment planning below the CLI (`geotrain validate`): what a planned deployment is checked
// for before any candidate runs (fleet regions joined by links, the training state against the
// GPUs' memory, the longest route, Daly's checkpoint interval) and the document each candidate
// strategy runs. Runs no simulation; the candidates themselves come from analysis/recommend.h.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/scenario.h"
#include "sim/catalog.h"

namespace geotrain::sim {

// Pairs of fleet regions with no path of links between them, read from the raw scenario document
// `doc` of `file` (its topology inline, or the file it names, relative to `file`). The scenario
// loader refuses such a topology outright, so this runs first; malformed parts are skipped: the
// loader reports them.
std::vector<std::pair<std::string, std::string>> unreachable_fleet_pairs(const nlohmann::json& doc,
                                                                         const std::string& file);

// The deployment `doc` as one candidate runs it: `strategy`, `steps` (0: as planned), size-only
// (workload backend "none", modelled compute time).
nlohmann::json candidate_doc(nlohmann::json doc, const nlohmann::json& strategy, int steps);

// The training state of `strategy` on workload `w`: architecture workloads declare their precision,
// legacy ones keep the fp32 check.
StateBytes candidate_state_bytes(const Workload& w, const nlohmann::json& strategy);

// Where a candidate's state `b` does not fit the GPU memory of its instances (every fleet entry's
// workers, then its server's: `strategy`'s server.instance, else the first fleet entry's): the
// message, which starts with `candidate` ("name knobs"); "" when it fits everywhere (or no memory
// is known). Activations are not counted.
std::string memory_problem(const Scenario& s, const std::string& candidate, const nlohmann::json& strategy,
                           const StateBytes& b);

// The fleet regions farthest apart along the simulator's routes, and their one-way latency;
// "one region" and 0 when no two fleet regions differ.
struct FleetRoute {
  std::string regions = "one region";  // "a - b"
  double latency_s = 0;
};
FleetRoute longest_fleet_route(const Scenario& s);

// Daly's checkpoint interval for the planned job: the state a checkpoint holds (fp32 parameters
// and optimizer moments) over the store's write rate, against the fleet's mean time between
// preemptions. REQUIRES: s.faults.checkpoint; preemption_rate_per_s > 0.
struct CheckpointAdvice {
  double bytes = 0;         // one checkpoint
  double checkpoint_s = 0;  // writing it
  double mtbf_s = 0;        // 1 / preemption_rate_per_s
  double interval_s = 0;    // seconds of work between checkpoints
};
CheckpointAdvice daly_checkpoint_advice(const Scenario& s, double preemption_rate_per_s);

}  // namespace geotrain::sim
