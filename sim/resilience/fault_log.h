// What faults did to a run: preemptions, restarts, work lost since the last synchronization,
// checkpoint traffic, and the last checkpoint's contents. Filled by the worker context and the
// fault injector; turned into the results' "faults" block by sim/run.cc.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <numeric>
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
      : unsynced_samples(workers, 0), unsynced_compute_s(workers, 0), unsynced_usd(workers, 0),
        work_samples(workers, 0), work_compute_s(workers, 0), work_usd(workers, 0), preemptions(workers, 0),
        lost_samples(workers, 0), lost_compute_s(workers, 0), lost_usd(workers, 0), overhead_s(workers, 0),
        overhead_usd(workers, 0) {}

  // Work since the worker's last successful synchronization (lost if it dies now).
  // Each *_usd beside a *_compute_s (or overhead_s) is what those seconds were billed: the
  // instance's price in force over each of them (a spot price trace moves; sim/spot_price.h).
  std::vector<double> unsynced_samples, unsynced_compute_s, unsynced_usd;
  // All the work a worker did (every incarnation): what a round leaves unsynchronized is the
  // work done since the round started.
  std::vector<double> work_samples, work_compute_s, work_usd;
  std::vector<long> preemptions;
  long restarts = 0;
  std::vector<double> lost_samples, lost_compute_s, lost_usd;
  std::vector<double> overhead_s, overhead_usd;  // booting and reloading state: billed, no training
  std::vector<FaultEvent> events;
  std::uint64_t checkpoint_bytes = 0;  // written and read
  std::vector<std::pair<double, std::uint64_t>> checkpoint_writes;  // (time, bytes) kept ones
  // Servers' checkpoints (parameter-server shards, EASGD's center), per server: (time, bytes) of
  // each write; the store keeps one per server.
  std::vector<std::vector<std::pair<double, std::uint64_t>>> server_checkpoint_writes;
  Checkpoint checkpoint;
  // checkpoint.every_steps "auto": the last checkpoint's measured cost (s; before the first, its
  // bytes over the store's write rate) and the interval Daly's formula gives from it.
  double checkpoint_cost_s = 0;
  double checkpoint_interval_s = 0;

  // Group-round strategies: the work (samples, compute seconds) each member brought to each
  // committed round, by round and rank.  A group rolled back to a checkpoint (or the initial
  // model) forgets the rounds from there on: their work counts as lost, and the rounds are
  // committed anew.
  struct Work {
    double samples = 0, compute_s = 0, usd = 0;
  };
  std::map<long, std::map<int, Work>> committed_rounds;
  // The sum of committed_rounds' samples, kept as they change: every timeline row reads it, and
  // summing the map each time made long faulted runs quadratic.  Sample counts are whole numbers
  // (far below 2^53), so the running sum is exact whatever the order.
  double committed_samples = 0;

  void commit_round(long round, int rank, double samples, double compute_s, double usd) {
    Work& w = committed_rounds[round][rank];
    w.samples += samples;
    w.compute_s += compute_s;
    w.usd += usd;
    committed_samples += samples;
  }
  void roll_back_to(long round) {
    for (auto it = committed_rounds.lower_bound(round); it != committed_rounds.end(); ++it)
      for (const auto& [rank, work] : it->second) {
        lost_samples[rank] += work.samples;
        lost_compute_s[rank] += work.compute_s;
        lost_usd[rank] += work.usd;
        committed_samples -= work.samples;
      }
    committed_rounds.erase(committed_rounds.lower_bound(round), committed_rounds.end());
  }
  // The round a group's model resumes at: one past the last committed round (0: none).
  long committed_resume_round() const { return committed_rounds.empty() ? 0 : committed_rounds.rbegin()->first + 1; }
  double total_work_samples() const { return std::accumulate(work_samples.begin(), work_samples.end(), 0.0); }
  double total_lost_samples() const { return std::accumulate(lost_samples.begin(), lost_samples.end(), 0.0); }
  // The samples in the deployed model so far.  Group rounds: those of the committed rounds.  Else
  // (workers on their own: gossip, EASGD, parameter servers) every sample not lost in a
  // preemption: a live worker's unsynchronized steps are in its own model.
  double useful_samples(bool group_rounds) const {
    return group_rounds ? committed_samples : total_work_samples() - total_lost_samples();
  }

  // Worker `rank` trained on `samples` samples for `compute_s` seconds, billed `usd`.
  void add_work(int rank, double samples, double compute_s, double usd) {
    unsynced_samples[rank] += samples;
    unsynced_compute_s[rank] += compute_s;
    unsynced_usd[rank] += usd;
    work_samples[rank] += samples;
    work_compute_s[rank] += compute_s;
    work_usd[rank] += usd;
  }
  // Worker `rank` spent `seconds` booting or reloading state, billed `usd`.
  void add_overhead(int rank, double seconds, double usd) {
    overhead_s[rank] += seconds;
    overhead_usd[rank] += usd;
  }

};

}  // namespace geotrain::sim
