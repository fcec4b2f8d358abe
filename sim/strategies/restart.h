// What synchronous strategies share under faults: the size of the state a returning worker
// reloads, the reload itself (from a live member of its group, else the last checkpoint, else
// the initial model), and periodic checkpoints written by the group's first member.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "runtime/optimizer.h"
#include "sim/context.h"
#include "sim/membership.h"
#include "sim/training.h"

namespace geotrain::sim {

// Bytes of one fp32 value (parameters, optimizer moments, outer gradients).
inline constexpr std::uint64_t kFp32Bytes = 4;

// Bytes of `values` fp32 parameters plus the optimizer's moments (momentum 1, AdamW 2 copies).
std::uint64_t state_bytes(std::size_t values, const runtime::OptimizerSpec& optimizer);

// How a strategy copies its state into the returning worker.
struct StateSource {
  std::uint64_t bytes = 0;
  std::function<void(int donor)> from_donor;              // copy a live member's state
  std::function<void(const Checkpoint&)> from_checkpoint;  // copy the checkpoint's state
  std::function<void()> from_initial;                     // start from the initial model
};

// A data-parallel replica's state, parameters and optimizer (every replica holds the same): from
// a live member, the checkpoint, or the initial model with a fresh optimizer.
StateSource replica_state(WorkerContext& ctx, std::uint64_t bytes);
// Copies this worker's replica (parameters and optimizer) into a checkpoint: a maybe_checkpoint fill.
void save_replica(runtime::Trainer& trainer, Checkpoint& c);

// One round of a synchronous strategy whose round is an all-reduce: t = the mean of t over the
// round's group with `algo`, retried with the survivors when the round aborts (t restored from
// `saved`, the caller's buffer, filled here under faults only).  Returns the members of the
// committed view (all workers without faults).
std::vector<int> allreduce_mean_round(WorkerContext& ctx, long round, runtime::Tensor& t, AllreduceAlgo algo,
                                      std::vector<float>& saved);

// A restarted worker's random stream: a new one per incarnation (named after the worker and its
// preemption count), so it does not replay the draws of its first life.
void restart_rng(WorkerContext& ctx);

// A restarted worker joins its group and reloads its state.  Returns the round it resumes at,
// or -1 when the job ended meanwhile.
long rejoin(WorkerContext& ctx, const StateSource& source);
// The same for a strategy whose state depends on the round it resumes at (a warm-up phase,
// then another): `source_at(round)` says what to copy for that round.
long rejoin(WorkerContext& ctx, const std::function<StateSource(long round)>& source_at);

// After round `round` committed among `members`: every faults.checkpoint.every_steps rounds the
// first member writes `bytes` to the store; `fill` copies the state into the checkpoint.
void maybe_checkpoint(WorkerContext& ctx, long round, const std::vector<int>& members, std::uint64_t bytes,
                      const std::function<void(Checkpoint&)>& fill);

// The "on_failure" knob of synchronous strategies is read by the registry
// (sim/strategies/catalog.h: on_failure_knob()).

}  // namespace geotrain::sim
