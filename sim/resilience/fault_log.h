// What faults did to a run: preemptions, restarts, work lost since the last synchronization,
// checkpoint traffic, and the last checkpoint's contents. Filled by the worker context and the
// fault injector; turned into the results' "faults" block by sim/run.cc.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/optimizer.h"

namespace geotrain::sim {

struct FaultEvent {
  double time_s = 0;
  int rank = 0;
  std::string kind;   // "preempted", "back", "replaced on demand", "joined", "checkpoint failed", "stopped"
  std::string cause;
};

// The state a restart reloads when no live peer holds it: a copy of the replica state the
// strategy declares (sim/resilience/replica.h), whatever the strategy.
struct Checkpoint {
  long round = -1;                // the round it resumes at; -1: none written yet
  double time_s = 0;
  std::uint64_t bytes = 0;
  std::vector<std::vector<float>> tensors;    // each declared tensor's values (empty in size-only runs)
  std::vector<runtime::Optimizer> optimizers;  // each declared optimizer
  std::vector<std::uint8_t> opaque;            // the declared state that is not a tensor
};

struct FaultLog {
  explicit FaultLog(int workers)
      : unsynced_samples(workers, 0), unsynced_compute_s(workers, 0), work_samples(workers, 0),
        work_compute_s(workers, 0), preemptions(workers, 0),
        lost_samples(workers, 0), lost_compute_s(workers, 0), overhead_s(workers, 0) {}

  // Work since the worker's last successful synchronization (lost if it dies now).
  std::vector<double> unsynced_samples, unsynced_compute_s;
  // All the work a worker did (every incarnation): what a round leaves unsynchronized is the
  // work done since the round started.
  std::vector<double> work_samples, work_compute_s;
  std::vector<long> preemptions;
  long restarts = 0;
  std::vector<double> lost_samples, lost_compute_s;
  std::vector<double> overhead_s;      // booting and reloading state: billed, no training
  std::vector<FaultEvent> events;
  std::uint64_t checkpoint_bytes = 0;  // written and read
  std::vector<std::pair<double, std::uint64_t>> checkpoint_writes;  // (time, bytes) kept ones
  // Servers' checkpoints (parameter-server shards, EASGD's center), per server: (time, bytes) of
  // each write; the store keeps one per server.
  std::vector<std::vector<std::pair<double, std::uint64_t>>> server_checkpoint_writes;
  Checkpoint checkpoint;

  // Worker `rank` trained on `samples` samples for `compute_s` seconds.
  void add_work(int rank, double samples, double compute_s) {
    unsynced_samples[rank] += samples;
    unsynced_compute_s[rank] += compute_s;
    work_samples[rank] += samples;
    work_compute_s[rank] += compute_s;
  }
};

}  // namespace geotrain::sim
