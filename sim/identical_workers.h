// The rule for identical workers (docs/PERFORMANCE.md, "Identical workers"): when one SimGrid
// actor may do the work of every worker.  Decided from the scenario alone, so that loading it can
// count the actors a run will start (scenario.cc: their stacks must fit the machine) and the run
// starts exactly those (run.cc).
#pragma once
#include <cstddef>

#include "sim/scenario.h"

namespace geotrain::sim {

// On by default; tests and benchmarks turn it off to compare with an actor per worker.  Results
// are byte-identical either way.
void set_identical_workers_rule(bool on);
bool identical_workers_rule();

// One actor may do the work of every worker, each span, collective and step end recorded once
// per worker, when that provably gives what an actor per worker gives: the strategy runs the same
// program on every worker (`same_program`: Strategy::same_program_on_every_worker), meeting the
// others only in whole-fleet collectives of the collective fidelity (the last arrival times them,
// the same for all, and meters them once); the workers compute at one rate and take one
// optimizer-step time, so every worker's actor would wake at the same instants as the one; and
// nothing differs per worker or in time: no faults or checkpoints (per-worker membership), no
// real tensors (per-worker gradients and losses), no measured compute (wall clock), no servers.
// The trace is written the same (sim/recorder.h: an instant's spans in any order), results.json
// and timeline.csv add the same values in the same order.  Overlapped buckets (DDP, DiLoCo)
// qualify: the collective fidelity times a step's buckets in one meeting, with no helper actor
// (sim/layer_schedule.cc).  Heterogeneous compute, asynchronous strategies, message fidelity and
// any of the above keep an actor per worker.
bool one_actor_for_all_workers(const Scenario& s, bool same_program, std::size_t servers);

}  // namespace geotrain::sim
