// The recorder collects what happened in a run (compute and communication spans per worker,
// collective timings, per-step timeline rows) and writes results.json, timeline.csv and
// trace.json. Simulated time only; wall-clock figures go in the separate "perf" block.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/spill_list.h"

namespace geotrain::sim {

// How much of a run trace.json shows ("output": {"trace": ...}): nothing but the workers'
// names; every step's spans (a layer schedule's buckets as one span each for the backward and
// for the bucket all-reduces); or also a span per bucket and its backward.
enum class TraceDetail { none, steps, layers };
// The names in order of TraceDetail ("none", "steps", "layers").
std::vector<std::string> trace_detail_names();

struct Span {
  int rank = 0;
  std::string category;  // "compute", "communication" (exposed) or "overlapped" (hidden by compute)
  std::string name;      // e.g. "forward+backward", "allreduce/ring"
  double start_s = 0;
  double end_s = 0;
};

struct TimelineRow {
  int step = 0;               // completed steps (worker-steps / workers), from 0
  double time_s = 0;
  double samples = 0;         // cumulative
  double compute_usd = 0;     // cumulative
  double egress_usd = 0;      // cumulative
  std::uint64_t wan_bytes = 0;
  double train_loss = 0;      // mean of the losses reported since the previous row
  bool trained = false;       // a step since the previous row reported a loss (train_loss is one)
  bool evaluated = false;     // test_* hold an evaluation of the deployed model
  double test_loss = 0;
  double test_accuracy = 0;
  int alive_workers = 0;      // workers up at this row (membership changes under faults)
  double useful_samples = 0;  // cumulative samples in the deployed model (= samples without faults)
};

// Key of one collective shape: operation, algorithm, group size, bytes.
struct CollectiveKey {
  std::string op;         // "allreduce", "allgather", "broadcast"
  std::string algorithm;  // "ring", "tree", "hierarchical"
  int ranks = 0;
  std::uint64_t size_B = 0;
  auto operator<=>(const CollectiveKey&) const = default;
};

// A node of the trace: its name (the thread) and its region (the process).
struct TraceNode {
  std::string name;
  int region = 0;
};

// The trace's bytes in flight from one region to another, from time_s on.
struct WanInFlightSample {
  double time_s = 0;
  int src_region = 0, dst_region = 0;
  std::int64_t bytes = 0;
};

// trace.json keeps this many spans as they are ("output": {"trace_max_spans"}); the rest are
// aggregated (Recorder::add_span).
constexpr std::size_t kDefaultTraceMaxSpans = 300000;

// Timeline rows and WAN counter changes grow with the steps: past this many bytes of each, the
// recorder writes them to a temporary file in runs of that size and reads them back when it
// renders timeline.csv and trace.json (common/spill_list.h).  Memory stays bounded however many
// steps; output is the same bytes.
constexpr std::size_t kDefaultRecordsInMemoryBytes = std::size_t{16} << 20;
// The bytes of each kind of record that later Recorders of this process keep in memory (tests
// set it small to make short runs spill); kDefaultRecordsInMemoryBytes unless set.
void set_records_in_memory_bytes(std::size_t bytes);
std::size_t records_in_memory_bytes();

class Recorder {
 public:
  explicit Recorder(int workers, TraceDetail detail = TraceDetail::steps,
                    std::size_t max_spans = kDefaultTraceMaxSpans)
      : max_spans_(max_spans), compute_s_(workers, 0), comm_s_(workers, 0), in_layers_(workers, 0),
        detail_(detail), rows_(records_in_memory_bytes() / sizeof(TimelineRow)),
        wan_changes_(records_in_memory_bytes() / sizeof(WanInFlightSample), earlier_change) {}

  // Counts the span's time as compute or exposed communication of its rank, and keeps it for
  // trace.json unless the detail leaves it out (TraceDetail::none; a layer section at "steps").
  // The first max_spans spans are kept as they are (and the rest of the instant the last of them
  // ends at: the spans ending then); each later one joins the aggregate of its rank, category
  // and name over an interval of simulated time (one span in trace.json with the count and the
  // busy seconds).  At most max_spans / 2 aggregates: when there would be more, the interval
  // doubles and neighbouring aggregates merge (between instants).  Memory and trace.json stay
  // bounded.  trace.json does not depend on the order of the spans of one instant.
  void add_span(Span span);
  // add_span() for each of `ranks` in turn, the span given as theirs (identical workers,
  // sim/run.cc): the same sums, bit for bit, as one call per rank.
  void add_span_for(const std::vector<int>& ranks, Span span);
  // Spans of `rank` from now until the matching end_layers() are per-layer detail: kept only at
  // TraceDetail::layers (their times still count).  Sections nest (a worker and its stream actor
  // each open one); the caller adds step-level spans with add_step_span() instead.
  void begin_layers(int rank) { ++in_layers_[rank]; }
  void end_layers(int rank) { --in_layers_[rank]; }
  // A step-level span that stands for a layer section's spans: kept at TraceDetail::steps only.
  void add_step_span(Span span);
  // add_step_span() for each of `ranks` in turn, the span given as theirs (identical workers).
  void add_step_span_for(const std::vector<int>& ranks, Span span);
  // True when per-layer spans are kept (the caller need not add step-level ones).
  bool keeps_layers() const { return detail_ == TraceDetail::layers; }
  // `times` collectives of shape `key` of duration_s each (as many calls of one).
  void add_collective(const CollectiveKey& key, double duration_s, int times = 1);
  // The count and total seconds of the collectives of shape `key` (add_collective()'s), for
  // callers that add many without looking the key up each time.  The reference stays valid.
  std::pair<std::uint64_t, double>& collective_tally(const CollectiveKey& key) { return collectives_[key]; }
  // A worker finished a step on `samples` samples with mean loss `loss`.  Every `workers` calls
  // (or a forced call) append a timeline row at the latest `now_s` of those calls, whose costs
  // and evaluation the caller fills.  Returns true when this call appended a row.
  bool end_step(double samples, double loss, double now_s, int workers, bool force_row);
  // REQUIRES (both): row_count() > 0.
  TimelineRow& last_row() { return rows_.back(); }
  const TimelineRow& last_row() const { return rows_.back(); }
  void append_row(const TimelineRow& row) { rows_.push_back(row); }
  std::size_t row_count() const { return rows_.size(); }
  // Why the rows or WAN counter changes could not be written to their temporary file (a full
  // disk), or "": then the timeline and trace are incomplete, and the run must not be reported.
  const std::string& spill_failure() const {
    return rows_.failure().empty() ? wan_changes_.failure() : rows_.failure();
  }
  // Visits the timeline rows in order (some may be read back from the disk).
  template <class Visit>
  void for_each_row(Visit&& visit) const { rows_.for_each(visit); }

  double compute_s(int rank) const { return compute_s_[rank]; }
  // Compute seconds of all nodes by span name ("forward", "backward", "forward+backward",
  // "optimizer step", ...).
  const std::map<std::string, double>& compute_s_by_name() const { return compute_by_name_; }
  double communication_s(int rank) const { return comm_s_[rank]; }
  const std::map<CollectiveKey, std::pair<std::uint64_t, double>>& collectives() const {
    return collectives_;
  }

  // The bytes in flight from region src to region dst (a WAN pair: src != dst) change by delta_B
  // at now_s (a transfer started: > 0; it ended: < 0).  Changes at one time merge into one sample.
  // REQUIRES: now_s never decreases between calls for one pair; the count never goes below 0.
  void add_wan_in_flight(int src_region, int dst_region, std::int64_t delta_B, double now_s);
  // The run ended at end_s: what is still counted in flight (a message nobody took, a transfer a
  // fault cut off) stops counting there, so every counter ends at 0.
  void close_wan_in_flight(double end_s);
  // The WAN bytes in flight of one stream's collectives, one after another, at times that need
  // not follow the clock (collective fidelity's bucketed meeting times its buckets ahead): call
  // add_stream_window() for each collective in launch order, with `bytes` per (src, dst) WAN pair
  // in pair order, then close_stream_windows().  Each window adds its bytes at start_s and takes
  // them away at end_s; where a pair's window starts when its previous one ended, the two changes
  // are one (the trace's samples are the same: one per pair and instant, the value after all its
  // changes, the pairs in the order of their first change at it).  REQUIRES: start_s at or after
  // the previous window's end_s, start_s <= end_s, bytes >= 0.
  void add_stream_window(double start_s, double end_s, const std::vector<std::pair<std::pair<int, int>, std::int64_t>>& bytes);
  void close_stream_windows();
  // Visits the samples: per WAN pair, the bytes in flight after all changes at each time, in time
  // order (a pair's sample at a time where its first change of that time was).
  void for_each_wan_sample(const std::function<void(const WanInFlightSample&)>& visit) const;

  // timeline.csv; train_loss is empty on rows without a reported loss and everywhere when
  // `real_losses` is false (size-only runs report no loss).
  std::string timeline_csv(bool real_losses) const;
  void write_timeline_csv(std::ostream& out, bool real_losses) const;
  // Chrome trace event format: a process per region (pid = region index, named by
  // `region_names`), a thread per node (tid = rank, named by its TraceNode) in its region's
  // process, a complete event per span (kept spans by start time, then node, end, category and
  // name; then the aggregates), and a counter track ("ph":"C") per WAN pair with traffic, in the
  // source region's process: "WAN in flight to <dst> (bytes)".
  std::string trace_json(const std::vector<TraceNode>& nodes, const std::vector<std::string>& region_names) const;
  // The same, written to `out` an event at a time.
  void write_trace_json(std::ostream& out, const std::vector<TraceNode>& nodes,
                        const std::vector<std::string>& region_names) const;

 private:
  // A kept span: its category and name as indices into texts_ (a run has a few dozen distinct
  // ones and millions of spans).
  struct KeptSpan {
    int rank = 0;
    std::uint32_t category = 0, name = 0;
    double start_s = 0, end_s = 0;
  };
  std::uint32_t text_id(std::string&& text);
  void keep(Span span);
  void keep_ids(int rank, std::uint32_t category, std::uint32_t name, double start_s, double end_s);
  struct Aggregate {
    double start_s = 0, end_s = 0, busy_s = 0;
    std::uint64_t count = 0;
  };
  // (rank, category, name, interval index) of the spans past the cap; category and name as text
  // ids (trace_json orders the aggregates by the texts).
  using AggregateKey = std::tuple<int, std::uint32_t, std::uint32_t, std::int64_t>;
  struct AggregateHash {
    std::size_t operator()(const AggregateKey& k) const;
  };
  // Hashed: at the cap there are max_spans / 2 of them.  Iteration order does not matter: a span
  // joins one aggregate, and a doubling merges two aggregates into one (a + b == b + a).
  using Aggregates = std::unordered_map<AggregateKey, Aggregate, AggregateHash>;
  static void merge(Aggregate& into, const Aggregate& a);
  // add_span_for's memory of where each rank's aggregate of one (category, name) was last:
  // pointers into aggregates_ (stable until a widening rebuilds it: aggregate_generation_).
  struct AggregateRow {
    struct Slot {
      std::int64_t index = 0;
      std::uint64_t generation = 0;
      Aggregate* aggregate = nullptr;
    };
    std::uint32_t category = 0, name = 0;
    std::vector<Slot> by_rank;
  };
  AggregateRow& aggregate_row(std::uint32_t category, std::uint32_t name);
  // aggregates_[key], counting the new ones past the first interval.
  Aggregate& aggregate(const AggregateKey& key);
  // Doubles `interval_s` (merging neighbouring aggregates) until at most `most` are left, or one
  // per rank, category and name (every interval index 0: nothing left to merge).  `past_first`:
  // how many have an interval index above 0, before and after (a count, not a scan per instant).
  static void widen(Aggregates& aggregates, double& interval_s, std::size_t most, std::size_t& past_first);
  std::size_t max_aggregates() const { return std::max<std::size_t>(1, max_spans_ / 2); }

  std::vector<std::string> texts_;
  std::unordered_map<std::string, std::uint32_t> text_ids_;
  std::vector<KeptSpan> spans_;
  std::size_t max_spans_;
  Aggregates aggregates_;
  double interval_s_ = 0;  // of the aggregates; 0 until the cap is reached
  double aggregate_instant_s_ = 0;  // the end time of the last aggregated span
  std::uint64_t aggregate_generation_ = 0;  // counts the widenings that rebuilt aggregates_
  std::size_t aggregates_past_first_ = 0;  // of aggregates_: those with an interval index above 0
  std::vector<AggregateRow> aggregate_rows_;
  std::uint64_t aggregated_spans_ = 0;
  std::vector<double> compute_s_, comm_s_;
  std::map<std::string, double> compute_by_name_;
  std::vector<int> in_layers_;  // per rank: layer sections open
  TraceDetail detail_;
  std::map<CollectiveKey, std::pair<std::uint64_t, double>> collectives_;  // count, total time
  long worker_steps_ = 0;
  long since_row_ = 0;        // end_step calls since the last row
  double row_end_s_ = 0;      // the latest end among them
  double samples_ = 0;
  double loss_sum_ = 0;
  int losses_ = 0;
  common::SpillList<TimelineRow> rows_;
  std::map<std::pair<int, int>, std::int64_t> wan_in_flight_B_;        // (src, dst) region: now
  static bool earlier_change(const WanInFlightSample& a, const WanInFlightSample& b) { return a.time_s < b.time_s; }
  common::SpillList<WanInFlightSample> wan_changes_;  // .bytes: the change; read back in time order
  std::map<std::pair<int, int>, std::pair<double, std::int64_t>> stream_windows_;  // pair: open window's end, bytes
};

// WAN counter samples as trace.json writes them: all of them when there are at most `most`;
// otherwise each pair's step function averaged (time-weighted, whole bytes) over `interval_s`
// wide intervals from the first sample to the last, one sample at the start of each interval the
// pair was counted in, plus the pair's last sample (at most `most` in all, or 2 per pair when
// there are more than most / 3 pairs).  interval_s is 0 when nothing was thinned.
struct CounterSamples {
  std::vector<WanInFlightSample> samples;
  double interval_s = 0;
  std::size_t before = 0;  // the samples there were before thinning
};
CounterSamples thin_counters(const std::vector<WanInFlightSample>& samples, std::size_t most);
// The same for samples that are not held in memory: `replay` visits them all, in time order, each
// time it is called (twice).  Memory: the samples kept, at most `most` plus 2 per pair.
using SampleReplay = std::function<void(const std::function<void(const WanInFlightSample&)>&)>;
CounterSamples thin_counters(const SampleReplay& replay, std::size_t most);

// nccl-tests bus bandwidth factor for an operation over `ranks` ranks.
double busbw_factor(const std::string& op, int ranks);

}  // namespace geotrain::sim
