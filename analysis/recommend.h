// Strategy recommendation for a planned deployment (`geotrain validate`): the candidate
// strategies, the short run that represents each, and the ranking of their size-only results.
// Pure: runs no simulation. What it knows of the strategies (knob defaults, which knob is a sync
// period or a warm-up) it reads from the strategy catalog, the JSON `geotrain strategies --json`
// prints (sim::strategy_catalog_json(); the catalog also gives each strategy's training state).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace geotrain::analysis {

// What the candidates depend on.
struct DeploymentShape {
  int planned_steps = 0;            // workload.steps of the deployment (rounds for a Hivemind plan)
  int regions = 0;                  // distinct regions of the fleet
  bool any_spot = false;            // a fleet entry is priced spot
  nlohmann::json planned_strategy;  // the deployment's strategy object; null when it names none
  int workers = 0;                  // workers of the fleet (0: unknown, lengths are not converted)
  int batch_per_worker = 0;         // workload.batch_per_worker (0: unknown)
};

// Samples the plan trains on: planned_steps rounds of target_batch samples for a Hivemind plan,
// else planned_steps x workers x batch_per_worker (0 when workers or batch_per_worker is unknown).
double planned_samples(const DeploymentShape& shape);
// The plan's length in `strategy`'s own unit, for the same samples: rounds of target_batch for
// hivemind, else steps of workers x batch_per_worker; rounded up, at least 1.  The plan's own
// strategy gets planned_steps back; with workers or batch_per_worker unknown, planned_steps.
int planned_length(const nlohmann::json& strategy, const DeploymentShape& shape);
// The wire format of the plan that the DiLoCo-family candidates take over: its "wire_format"
// (or a Hivemind plan's "compression") when it names one they accept (fp32, bf16, fp16, int8,
// fp4, ternary); "" otherwise ("native", none, no plan).
std::string planned_wire_format(const DeploymentShape& shape);

struct Candidate {
  std::string name;          // strategy name
  std::string knobs;         // knob_text(strategy)
  nlohmann::json strategy;   // the strategy object to run
  int steps = 0;             // workload.steps of its run: representative_steps()
  bool as_planned = false;   // the deployment's own strategy
  std::string note;          // when the run is not to scale, e.g. its warm-up share exceeds the plan's
  int job_steps = 0;         // the whole plan in its unit: planned_length() (validate's projection)
};

// Sync periods each candidate runs: enough to average over several outer rounds.
inline constexpr int kSyncPeriods = 3;

// The candidates, in a fixed order: the planned strategy (when given and not one of the list)
// first, then ddp ring, ddp hierarchical (2+ regions), diloco H = 16, 64, 256, streaming_diloco
// (H 64, 4 fragments, tau 1, fp4), pactrain (sparsity 0.8, no warm-up: the steady state), topk
// (1%, error feedback), hivemind (target batch 32768; spot fleets only), parameter_server (async,
// 1 shard). The DiLoCo family uses a hierarchical all-reduce on 2+ regions, and the plan's wire
// format when it names one (planned_wire_format; streaming_diloco's fp4 gives way to it).
// Candidates whose sync period exceeds the plan's length in steps (planned_length: a Hivemind
// plan's rounds are converted through samples) are left out, with the reason appended to
// `skipped`.  Each candidate's steps are representative_steps() of its planned_length().
// `catalog`: the strategy catalog JSON (every strategy named here or planned is in it).
std::vector<Candidate> candidate_strategies(const nlohmann::json& catalog, const DeploymentShape& shape,
                                            std::vector<std::string>& skipped);

// Steps run at least when a strategy has a warm-up, so that the warm-up takes its planned share
// of the run (the whole plan when it is at most this long).
inline constexpr int kWarmupRunSteps = 2000;

// Steps of a short run that stands for the whole deployment: kSyncPeriods sync periods (H for the
// DiLoCo family, tau for easgd, period for gossip: the catalog's "sync_period" knob; else 1 step,
// or round for hivemind), never more than `planned_steps`. With warm-up steps w (the "warmup"
// knob: pactrain, palsgd): max(w + kSyncPeriods periods, kWarmupRunSteps), never more than
// `planned_steps`.
int representative_steps(const nlohmann::json& catalog, const nlohmann::json& strategy, int planned_steps);
// The warm-up steps of a strategy (its "warmup" knob unless its "warm_start" knob is set: pactrain
// without a checkpoint, palsgd), else 0.
int warmup_steps(const nlohmann::json& catalog, const nlohmann::json& strategy);

// "allreduce=ring H=64": the strategy's knobs (every key but name) as key=value, in key order.
std::string knob_text(const nlohmann::json& strategy);

// The figures of one candidate's run, from its results.json.
struct CandidateResult {
  double simulated_s = 0;
  double samples = 0;
  double throughput_samples_per_s = 0;
  double compute_usd = 0;
  double egress_usd = 0;
  double wan_bytes = 0;
  std::optional<double> granularity;     // compute / exposed communication; none without communication
  std::optional<double> staleness_mean;  // asynchronous parameter server only

  double total_usd() const { return compute_usd + egress_usd; }
  // Dollars per 1M samples (+inf without samples).
  double usd_per_million_samples() const;
  // egress / total dollars, 0 to 1 (0 when nothing was spent).
  double egress_share() const;
  // WAN bytes per 1M samples, in GB (1e9 bytes).
  double wan_GB_per_million_samples() const;

  bool operator==(const CandidateResult&) const = default;
};

// Reads the figures from a results.json object.  Missing keys read as 0 / none.
CandidateResult candidate_result(const nlohmann::json& results);
// The subset of results.json that candidate_result() reads (small enough for a pipe).
nlohmann::json result_summary(const nlohmann::json& results);

// Warnings on one candidate: egress exceeds compute cost; granularity below 1 (communication-
// bound); stale gradients (asynchronous parameter server).
std::vector<std::string> candidate_warnings(const CandidateResult& result);

// Indices of the candidates worth reporting, in order: a listed candidate is dropped when it has
// the planned strategy's name, the knobs of one are a subset of the other's and their results are
// identical (they differ only in knobs left at their defaults, e.g. {"name": "hivemind"} planned
// with every default written out).  REQUIRES: results.size() == candidates.size().
std::vector<std::size_t> distinct_candidates(const std::vector<Candidate>& candidates,
                                             const std::vector<CandidateResult>& results);

// Ranking rule: dollars per 1M samples ascending, then throughput descending, then input order.
// Returns indices into `results`.
std::vector<std::size_t> rank_candidates(const std::vector<CandidateResult>& results);
// The index of the highest throughput (first on ties).  REQUIRES: results not empty.
std::size_t fastest_candidate(const std::vector<CandidateResult>& results);

// With faults: each candidate's whole job projected over draws of the fault process (the
// summary of analysis::replica_summary).  The order of candidates by expected dollars to finish
// (the mean of total_usd), ties by the mean time, then by the order given.
std::vector<std::size_t> rank_by_expected_dollars(const std::vector<nlohmann::ordered_json>& summaries);

}  // namespace geotrain::analysis
