// The resilience layer's contract with strategies: a strategy declares what a worker's replica
// state is (the tensors and optimizers a returning worker copies from a donor and a checkpoint
// holds, plus what is not a tensor) and its traits; the layer does the rest: rejoining after a
// preemption (from a live donor, else the checkpoint, else the initial model), periodic
// checkpoints, lost-work accounting, and the agreement check of live replicas at every commit.
// Strategies never test whether faults are on: every call here is a plain no-op without them.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/optimizer.h"
#include "sim/context.h"
#include "sim/resilience/membership.h"
#include "sim/training.h"

namespace geotrain::sim {

class JsonReader;

// Bytes of one fp32 value (parameters, optimizer moments, outer gradients).
inline constexpr std::uint64_t kFp32Bytes = 4;

// Bytes of `values` fp32 parameters plus the optimizer's moments (momentum 1, AdamW 2 copies).
std::uint64_t state_bytes(std::size_t values, const runtime::OptimizerSpec& optimizer);

// One tensor of a replica's state: this worker's values (empty in size-only runs) and what they
// are at the start of the job (a restart from nothing copies those).
struct StateTensor {
  std::span<float> values;
  std::span<const float> initial;
};

// A worker's replica state as its strategy declares it.
struct ReplicaState {
  std::vector<StateTensor> tensors;
  std::vector<runtime::Optimizer*> optimizers;     // copied; reset for a fresh start
  std::vector<std::uint8_t>* opaque = nullptr;     // not a tensor, copied verbatim (PacTrain's mask); cleared for a fresh start
  std::uint64_t bytes = 0;                          // its size in the store (and, by default, in a transfer)
};

// What a strategy does when a worker fails ("on_failure"): go on with the survivors, or wait
// for the replacement.
enum class OnFailure { elastic, wait };

struct ResilienceTraits {
  // Workers sync in rounds of a group (sim/resilience/membership.h): a returning worker rejoins
  // the group at a round and reloads its state.  Request/reply strategies (parameter servers,
  // EASGD, gossip) handle their workers' comings and goings themselves.
  bool group_rounds = true;
  OnFailure on_failure = OnFailure::elastic;
  // Writes the replica state to the store every faults.checkpoint.every_steps rounds.
  bool checkpoints = true;
  // Survives WAN link-down windows (request/reply protocols would wait for a lost reply).
  bool survives_link_down = true;
  // Results key of the live-replica agreement at the end of a run with faults (e.g.
  // "live_replicas"), or null for none.
  const char* agreement_key = nullptr;
  // Results key of the per-round log of a run with faults (members and samples of each
  // committed round, e.g. "averaging_rounds"), or null for none.
  const char* round_log_key = nullptr;
};

// The declarations a strategy makes to the resilience layer (sim/strategies/strategy.h derives
// from it).  The defaults describe a data-parallel replica: the trainer's parameters and
// optimizer, the same on every worker.
class Resilient {
 public:
  virtual ~Resilient() = default;

  ResilienceTraits traits;

  // The state of worker `rank` at round `round` (what a worker resuming at `round` copies).
  virtual ReplicaState replica(World& world, int rank, long round);
  // Bytes a worker resuming at `round` pulls from a donor (default: replica().bytes).
  virtual std::uint64_t join_bytes(World& world, int rank, long round) { return replica(world, rank, round).bytes; }
  // Worker `rank` restarts: forget what died with it (before it rejoins).
  virtual void on_restart(World&, int /*rank*/) {}
  // Worker ctx.rank()'s declared state was loaded for `round` (from `donor` >= 0, else from the
  // checkpoint or the initial model): rebuild what derives from it, and from a donor take over
  // what is not state proper (e.g. rounds it committed but has not applied yet).
  virtual void after_load(WorkerContext&, long /*round*/, int /*donor*/) {}
  // The steps of the plan (workload.steps) a replica resuming at `round` has taken: the
  // committed steps of a run with faults.  Default: one step per round.
  virtual long steps_at_round(const World&, long round) const { return round; }
};

// What a run's work brought to the deployed model (goodput), and all the work it did.  Without
// faults the two are equal.
struct Goodput {
  double useful_samples = 0;  // samples in the deployed model
  long useful_steps = 0;      // steps of the plan the deployed model has taken
  double work_samples = 0;    // every sample trained on, including work later lost
  long work_steps = 0;        // steps done (timeline rows), including steps later lost or redone
};

// The "on_failure" knob of group-round strategies ("elastic", default, or "wait") is read by
// the registry (sim/catalog.h: on_failure_knob()).

namespace resilience {

// A restarted worker of a group-round strategy joins its group and reloads its state; sets
// ctx.start_round().  False when the job ended meanwhile (the worker has nothing left to do).
bool rejoin(WorkerContext& ctx, Resilient& strategy);

// A restarted worker of a strategy without group rounds (gossip): starts a new random stream (its
// first incarnation's draws are not replayed) and copies the declared state of the live peer
// `pick()` names, else (-1) starts from the initial model; a donor lost on the way is replaced
// by a new pick after faults.retry_after_s.
void reload_from_peer(WorkerContext& ctx, Resilient& strategy, const std::function<int()>& pick);

// The round-resumable sync of a group: `body(members)` runs the round's collectives on `t`
// among the view's members; when the view aborts, `t` is put back and the round runs again with
// the survivors.  Returns the members of the committed view (every worker without faults; valid
// until the worker's next round).  concurrent_work_in_round: as WorkerContext::sync_round().
const std::vector<int>& group_round(WorkerContext& ctx, long round, runtime::Tensor& t,
                                    const std::function<void(const std::vector<int>&)>& body,
                                    bool concurrent_work_in_round = false);
// One all-reduce round: t = the mean of t over the round's group with `algo`.
const std::vector<int>& allreduce_round(WorkerContext& ctx, long round, runtime::Tensor& t, AllreduceAlgo algo);

// Worker ctx.rank() applied the result of a committed round, `members` its group, and resumes
// at round `round`: its declared state must now equal every other member's at that point (bit
// for bit, real runs: a difference stops the run naming the seed, round and ranks); every
// faults.checkpoint.every_steps rounds the group's first member writes it to the store.
void applied(WorkerContext& ctx, long round, const std::vector<int>& members);

// Under faults, with the strategy's round_log_key: this worker brought `samples` to round `round`.
void log_round_samples(WorkerContext& ctx, long round, double samples);

// At the end of a run with faults, with the strategy's agreement_key: how many workers hold live
// state and the largest difference between their declared states (0: they agree, as they must).
void report_agreement(World& world);

// The run's goodput (sim/resilience/fault_log.h for what counts as committed).
Goodput goodput(const World& world);
// The samples in the deployed model so far (every sample reported without faults).
double useful_samples(const World& world);

// A fault event on ctx's node (e.g. "joined", with where its state came from).
void log_event(WorkerContext& ctx, const std::string& kind, const std::string& cause);

// True when worker `rank` is up (always without faults).
bool alive(const World& world, int rank);
// True when worker `rank` is up and holds the current state (not preempted, not reloading).
bool holds_live_state(const World& world, int rank);
// The first such worker (worker 0 without faults): the one whose replica is deployed.
int deployed_worker(const World& world);

}  // namespace resilience
}  // namespace geotrain::sim
