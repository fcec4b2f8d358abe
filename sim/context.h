// The worker context: everything a strategy's per-worker program may do. Compute advances
// simulated time by the compute-time model; messages travel through SimGrid mailboxes with real
// values when the tensor is real and only bytes when it is phantom; every byte is metered.
// Strategies and collectives are written against this class only.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Mailbox.hpp>

#include "runtime/rng.h"
#include "runtime/tensor.h"
#include "runtime/trainer.h"
#include "sim/collectives/algo.h"
#include "sim/resilience/fault_log.h"
#include "sim/ledger.h"
#include "sim/platform.h"
#include "sim/recorder.h"
#include "sim/scenario.h"

namespace geotrain::sim {

struct LentValues;  // sim/collectives/lent_values.h

// What rides in a message: the values of a real tensor slice (empty for phantom tensors), and
// for request/reply protocols (parameter servers, gossip) a kind, the sender and a version.
// Collectives may instead lend the values (`lent`): the receiver reads them in the sender's
// tensor, no copy (sim/collectives/lent_values.h).
struct Message {
  Message() = default;
  // Brace-initialized as before: {values, kind, from, version}.
  Message(std::vector<float> values, int kind = 0, int from = -1, long version = 0)
      : values(std::move(values)), kind(kind), from(from), version(version) {}

  std::vector<float> values;
  int kind = 0;
  int from = -1;
  long version = 0;
  std::shared_ptr<LentValues> lent;
  // Request/reply protocols under faults (parameter servers, EASGD): the request's id, echoed in
  // its reply, so that a requester recognizes a reply (or a release) meant for an earlier request.
  long request = 0;
  // A message sent without a wait (put(): posts, detached sends) across regions: its bytes count
  // in the trace's WAN in-flight counter until the receiver takes it (wait() or receive_inbox()).
  std::uint64_t wan_in_flight_B = 0;
  // A weighted average's weight, sent beside the values as metadata (hivemind's averager: the
  // peer's sample count; never part of the compressed values).
  double weight = 0;
  // A parameter server's overlapped step: which key (a piece of the shard) a push or its answer
  // is about.
  int key = 0;
};

// A send or receive in flight.  Movable; wait on it with WorkerContext::wait*.
struct Transfer {
  simgrid::s4u::CommPtr comm;
  // Receives only: where SimGrid puts the payload.  Shared: under faults a receive abandoned by a
  // failed round may still complete after its Transfer is gone (sim/resilience/membership.h keeps the slot).
  std::shared_ptr<Message*> slot;
  std::uint64_t in_flight_B = 0;   // sends: bytes counted in flight until the wait
  int src_region = -1, dst_region = -1;  // sends: the regions it crosses (the WAN counter)
};

// A collective started with WorkerContext::start_overlapped(); join it with join().
struct Overlapped {
  simgrid::s4u::ActorPtr actor;
};

class Training;
class Membership;
class Resilient;
class WorkerContext;

// The resilience layer's hook on workers' transfers (installed in runs with faults, null
// otherwise; sim/resilience/membership.h): it tracks them, so that a round that fails can cancel
// them, and waits on them, so that a transfer of an aborted round fails its waiter.
class TransferObserver {
 public:
  virtual ~TransferObserver() = default;
  virtual void started(WorkerContext& ctx, Transfer& t, bool is_send) = 0;
  // Waits for `t` to complete; throws when its round aborts (RoundAborted) or it fails.
  virtual void wait(WorkerContext& ctx, Transfer& t) = 0;
};
class AnalyticCollectives;
struct GroupView;
struct AllreduceGroup;  // sim/collectives/collectives.h

// The shared state of one simulation.  SimGrid runs one actor at a time, so no locking.
struct World {
  const Scenario& scenario;
  const Platform& platform;
  Ledger& ledger;
  Recorder& recorder;
  Training& training;
  std::vector<std::unique_ptr<runtime::Trainer>> trainers;  // one per worker
  // The parameters to evaluate ("the model the strategy would deploy"); defaults to worker 0's.
  std::function<std::vector<float>()> deployed_parameters;
  long steps_claimed = 0;           // worker-steps handed out by claim_step()
  nlohmann::ordered_json extra;     // strategy-specific results (e.g. staleness)
  bool diverged = false;
  std::string stop_reason;
  // Runs with faults only (null otherwise): group views of synchronous strategies, fault counters.
  Membership* membership = nullptr;
  FaultLog* faults = nullptr;
  // Runs with faults: [worker] when a fallback replacement put it on demand (kNever: never).
  std::vector<double> on_demand_from_s;
  // Runs with server faults ("faults": {"servers"}): the fault injector calls it when server node
  // `node` is about to go down (up = false; its actors still live) and once its host is back on
  // (up = true).  The strategy owning the servers sets it in prepare() and restarts its server
  // program on the way up.
  std::function<void(int node, bool up)> on_server_fault;
  // Runs with faults: the workers finish on their own (each takes its own steps, e.g. EASGD)
  // rather than together.  Then the first one to finish does not end the job: faults keep coming
  // and returning workers come back until no worker runs.  Set in prepare().
  bool workers_finish_alone = false;
  // "collective" fidelity (sim/collectives/analytic.h): collectives meet here instead of running
  // as flows.  Null in message fidelity.
  AnalyticCollectives* analytic = nullptr;
  // The strategy's declarations to the resilience layer (sim/resilience/replica.h); null for bare
  // worker programs (a data-parallel replica is assumed).
  Resilient* resilient = nullptr;
  TransferObserver* transfers = nullptr;
  // The resilience layer's records: per round, the first worker that applied it and the hash of
  // its state (the agreement check), and the samples each member brought (the round log).
  std::map<long, std::pair<int, std::uint64_t>> agreement;
  std::map<long, std::map<int, double>> round_samples;
};

// Evaluates the deployed parameters on the test set into `row`.  REQUIRES: real training.
void evaluate_into(World& world, TimelineRow& row);

class WorkerContext {
 public:
  WorkerContext(World& world, int rank);

  // Node id: workers are 0..world_size()-1, servers follow.
  int rank() const { return rank_; }
  // Identical workers (sim/run.cc): this context's actor does the work of every worker in
  // `ranks` (ascending, this one first; outlives the context): it records every span, collective
  // and step end once per worker and counts as that many members where collectives meet.  It
  // sends no point-to-point message and starts no helper actor.
  void stand_for(const std::vector<int>& ranks);
  // How many workers this context's actor stands for (1 unless stand_for()).
  int stands_for_count() const { return stands_for_ ? static_cast<int>(stands_for_->size()) : 1; }
  // The ranks this context records for, ascending: those it stands for, or its own.
  const std::vector<int>& recorded_ranks() const { return stands_for_ ? *stands_for_ : own_rank_; }
  int world_size() const { return static_cast<int>(world_.platform.workers().size()); }
  // Every worker's rank, ascending: 0 .. world_size() - 1.
  const std::vector<int>& all_ranks() const { return world_.platform.all_ranks(); }
  bool is_worker() const { return rank_ < world_size(); }
  const WorkerInfo& info() const { return world_.platform.nodes()[rank_]; }
  const Scenario& scenario() const { return world_.scenario; }
  const Platform& platform() const { return world_.platform; }
  World& world() { return world_; }
  double now() const;
  runtime::Rng& rng() { return rng_; }
  // This worker's trainer (parameters, gradient, optimizer, data).  REQUIRES: is_worker().
  runtime::Trainer& trainer() { return *world_.trainers.at(rank_); }

  // Advances simulated time by the compute-time model for forward and backward passes over
  // `samples` samples: samples x flops_per_sample / (instance FLOP/s x utilization).
  void compute(double samples);
  // Advances simulated time by `flops` at this worker's rate (a part of a pass: "forward",
  // "backward"), recorded as compute `label`; `samples` count as this worker's work (faults).
  void compute_flops(double flops, double samples, const char* label);
  // Forward and backward on the next `batch` samples of this worker's shard: the trainer's
  // gradient gets the real mean gradient (real runs) and simulated time advances as compute()
  // would, or by the measured wall time when the scenario asks for "measured".  Returns the loss.
  // `forward_done`: FLOPs per sample of this pass's forward spent already (compute_flops()), e.g.
  // while the step waited for a merge (Streaming DiLoCo); the rest of the forward and the
  // backward are then timed as two spans.  REQUIRES: 0 with measured compute.
  double compute_gradient(int batch, double forward_done = 0);

  // One local optimizer step: the trainer's parameters = optimizer(parameters, grads), after
  // simulated time advances by optimizer_step_s() of this worker's instance (sim/compute_model.h),
  // recorded as compute "optimizer step".  No time passes when that is 0 (an unknown GPU memory
  // bandwidth): not even a zero-length wait, which would reorder SimGrid's events.
  void optimizer_step(const runtime::Tensor& grads, double lr_scale = 1.0);
  // optimizer_step()'s time alone, for a step whose values were applied already (DiLoCo's inner
  // step of an overlapped sync, which must precede its outer gradient).
  void spend_optimizer_step();

  // Waits `seconds` of simulated time doing nothing (e.g. matchmaking).
  void sleep(double seconds);
  // Spends `seconds` of simulated time on framework software (launches, accumulation, a host-side
  // optimizer step), recorded as `category` ("compute" or "communication") `label`.  No time
  // passes when seconds <= 0.
  void busy(double seconds, const char* label, const char* category = "compute");

  // Takes one worker-step from the run's budget (steps x workers); false when spent.  For
  // strategies whose workers progress at their own pace (asynchronous ones).
  bool claim_step();
  // True once the run must end (divergence).  Loops of every strategy check it.
  bool stopped() const { return world_.diverged; }

  // Averages `t` over all workers with `algo`; real tensors end with the exact mean (the same
  // order of additions on every run), phantom tensors only cost time and bytes.
  void allreduce_mean(runtime::Tensor& t, AllreduceAlgo algo);
  // Same over `members` (ascending ranks, this worker among them): the ring, tree and hierarchy
  // are rebuilt over the members, in the platform's ring order.
  void allreduce_mean(runtime::Tensor& t, AllreduceAlgo algo, const std::vector<int>& members);
  // The same leaving the element-wise sum.
  void allreduce_sum(runtime::Tensor& t, AllreduceAlgo algo, const std::vector<int>& members);
  // The weighted mean sum_j weight_j x t_j / sum_j weight_j over `members`, each bringing its own
  // `weight`, with values (and partial results) travelling in `format`; returns the total weight.
  // REQUIRES: algo's table row has a weighted mean (Hivemind's averager: weighted_butterfly).
  double allreduce_weighted_mean(runtime::Tensor& t, AllreduceAlgo algo, const std::vector<int>& members,
                                 double weight, kernels::WireFormat format);

  // --- Faults (sim/resilience/membership.h).  Without faults these reduce to the plain calls. ---
  // True when workers can be preempted or links fail in this run.
  bool faults_on() const { return world_.membership != nullptr; }
  // This worker came back after a preemption (its actor was started anew).
  bool restarted() const { return restarted_; }
  void mark_restarted() { restarted_ = true; }
  // The round this worker's program starts at: 0, or the round a returning worker rejoined at
  // (set by the resilience layer before the program runs).
  long start_round() const { return start_round_; }
  void set_start_round(long round) { start_round_ = round; }
  // One round of a synchronous strategy: `body(members)` runs the round's collectives among the
  // view's members.  When the view aborts (a member died, a transfer failed) `restore()` puts
  // back what body changed, and after scenario faults.retry_after_s the round runs again with the
  // survivors.  Returns the members of the committed view (all workers without faults; valid
  // until this worker's next round); this worker's unsynchronized work counts as synchronized
  // from then on.  Rounds are numbered 0, 1, ... in the order they commit; an overlapped helper
  // may ask for round r+1 while round r is still open (it waits for its view).  Work this worker
  // does meanwhile on its other actor stays unsynchronized after the commit, unless
  // `concurrent_work_in_round` (a stream's round whose gradient that backward produces).
  const std::vector<int>& sync_round(long round, const std::function<void(const std::vector<int>&)>& body,
                                     const std::function<void()>& restore, bool concurrent_work_in_round = false);
  // Keeps `members` as this worker's last committed round's (a round its helper actor ran) and
  // returns them; valid until this worker's next round.
  const std::vector<int>& keep_round_members(std::vector<int> members) {
    round_members_ = std::move(members);
    return round_members_;
  }
  // Workers of the current group (all workers without faults).
  int group_size() const;
  // A restarted worker waits until a view admits it; null when the job ended meanwhile.
  std::shared_ptr<GroupView> join_group();
  // Simulates pulling `bytes` of state from live worker `donor` (throws simgrid::Exception when
  // the donor dies meanwhile); counted as restart overhead.
  void pull_state(int donor, std::uint64_t bytes);
  // This worker's work so far counts as synchronized: a preemption no longer loses it.  For
  // strategies outside sync_round() (gossip: an exchange completed).  No-op without faults.
  void mark_synced();
  // Writes a checkpoint of `bytes` to the scenario's store (blocking); `fill` copies the state
  // into it once the write landed.  Reads the last one back (time and bytes); false when none.
  void write_checkpoint(long round, std::uint64_t bytes, const std::function<void(Checkpoint&)>& fill);
  bool read_checkpoint();
  // A server's checkpoint of `bytes` to the store and back (parameter-server shards, EASGD's
  // center): blocking, metered transfers counted in the checkpoint bytes; each write is billed as
  // stored until this server's next one lands.  The state itself is the strategy's to keep.
  // REQUIRES: a server node, and a scenario with "checkpoint".
  void write_server_checkpoint(std::uint64_t bytes);
  void read_server_checkpoint(std::uint64_t bytes);
  // Copies `t` of worker `root` to every worker.
  void broadcast(runtime::Tensor& t, int root);
  // Every worker contributes `mine` (same numel everywhere); all receive the concatenation in
  // rank order.
  runtime::Tensor allgather(const runtime::Tensor& mine);
  // Same over `members` (ascending ranks, this worker among them): the ring is rebuilt over the
  // members, in the platform's ring order; the concatenation is in the members' order.
  runtime::Tensor allgather(const runtime::Tensor& mine, const std::vector<int>& members);
  // The pieces of that all-gather: its ring (the members in the platform's ring order) and a
  // tensor of numel() x members with this worker's part at its ring position ...
  struct GatherRing {
    std::vector<int> order;     // ring position -> rank
    std::vector<int> slots;     // ring position -> place in the members' order
    runtime::Tensor ring = runtime::Tensor::phantom(0);
    std::size_t each = 0;       // values per member
  };
  GatherRing gather_ring(const runtime::Tensor& mine, const std::vector<int>& members) const;
  // ... and, once gathered, the parts in the members' order (a phantom ring as it is).
  static runtime::Tensor in_members_order(GatherRing& gathered);

  // This worker finished one step after training on `samples` samples with mean loss `loss`.
  // Every `workers` such calls make a timeline row; rows at the evaluation interval evaluate the
  // deployed model.  A NaN or infinite loss stops the run (marked diverged).
  // `group`: how many workers end this step together (0: all workers; fewer in rounds where
  // some are down).
  void end_step(double samples, double loss = 0, int group = 0);
  // end_step() in two halves, for a strategy that does work at the step's end which must count
  // in the step's row (its values: evaluation) but not in its time (it overlaps the next step):
  // close_step() spends the framework overhead, stops a diverged run and returns the step's end
  // time; end_step_at() then records the step as ended at `end_s` (a row's time is its latest).
  double close_step(double samples, double loss);
  void end_step_at(double samples, double loss, int group, double end_s);

  // Point-to-point.  `bytes` is what goes on the wire; `message` rides along.  Messages between
  // one pair on one channel arrive in send order.
  // channel -1: this context's channel().
  Transfer send_async(int dst, std::vector<float> values, std::uint64_t bytes, int channel = -1);
  // The same with a whole message (its `from` is set to this node).
  Transfer send_message_async(int dst, Message message, std::uint64_t bytes, int channel = -1);
  Transfer recv_async(int src, int channel = -1);
  // One step of a ring on this context's channel: a send of `payload` to dst (null: a flow of
  // bytes only, for phantom tensors; no message is made) and a receive from src.  Returns the
  // received message (null for bytes only) once it arrived; `tx` is the send, still to wait for.
  // Without faults the send starts first and the receive is posted and awaited in one simcall,
  // as a plain SimGrid actor would (one switch to SimGrid's kernel fewer per step).  With faults
  // the receive is posted first and both are handed to the resilience layer from their start.
  std::unique_ptr<Message> exchange(int dst, std::unique_ptr<Message> payload, std::uint64_t bytes, int src,
                                    Transfer& tx);
  // The same for a receive outside synchronous rounds (a request's reply, e.g. a gossip pull's):
  // an aborted group view does not release it (sync_round() would hand that release to a round).
  Transfer recv_reply_async(int src, int channel);
  // A send nobody waits for (server replies): it completes on its own.
  void send_detached(int dst, Message message, std::uint64_t bytes, int channel = 0);
  // Sends to dst's inbox, where messages from every sender queue in arrival order.  The bytes
  // flow at once (the inbox buffers them); post() forgets the transfer, post_async() lets the
  // sender wait until its bytes have arrived, which keeps one sender's messages in order.
  void post(int dst, Message message, std::uint64_t bytes);
  Transfer post_async(int dst, Message message, std::uint64_t bytes);
  // Starts a helper actor on this node's host with its own context for the same node id (it
  // takes over this node's inbox).  It is a daemon: it ends when the last worker ends.
  void spawn_daemon(const std::string& suffix, std::function<void(WorkerContext&)> program);
  // Runs `program` (collectives of this node) in a helper actor while this one goes on
  // computing: communication really overlaps compute.  The helper uses message channel
  // `channel` (distinct from 0 and from any other collective in flight) and its time counts as
  // overlapped, not exposed, communication.  join() waits for it (the wait is exposed).
  Overlapped start_overlapped(int channel, std::function<void(WorkerContext&)> program);
  void join(Overlapped& op);
  // The message channel this context's collectives use (0 unless an overlapped helper).
  int channel() const { return channel_; }
  // The view of the group round in progress (sync_round, faults only), else null.
  const std::shared_ptr<GroupView>& round_view() const { return view_; }

  // Receives the next message of this node's inbox (blocks).
  std::unique_ptr<Message> receive_inbox();
  // Faults: drops what this node's inbox holds (a returning node does not get what reached the
  // one that died); senders still waiting on those messages see their transfer fail.
  void discard_inbox();
  // Waits for the transfer; for a receive returns the message (caller owns it).
  std::unique_ptr<Message> wait(Transfer& t);
  // A send's bytes stop counting in flight (ledger and trace): its wait returned, or the
  // resilience layer aborted it.  Nothing for a receive or a send already ended.
  void end_in_flight(Transfer& t);

  // Times a collective for the trace and the collective statistics.
  class CollectiveTimer {
   public:
    CollectiveTimer(WorkerContext& ctx, CollectiveKey key);
    ~CollectiveTimer();
    CollectiveTimer(const CollectiveTimer&) = delete;
    CollectiveTimer& operator=(const CollectiveTimer&) = delete;

   private:
    WorkerContext& ctx_;
    CollectiveKey key_;
    double start_s_;
    bool outer_;  // already inside a collective
  };

  // While it lives, this context's collective spans in the trace are named
  // "<op>/<algorithm> <note>" (e.g. "allreduce/ring fragment 3": which of Streaming DiLoCo's
  // fragments a sync is); the collective statistics keep their plain key.
  class SpanNote {
   public:
    SpanNote(WorkerContext& ctx, std::string note) : ctx_(ctx) { ctx.span_note_ = std::move(note); }
    ~SpanNote() { ctx_.span_note_.clear(); }
    SpanNote(const SpanNote&) = delete;
    SpanNote& operator=(const SpanNote&) = delete;

   private:
    WorkerContext& ctx_;
  };

 private:
  // Pays the scenario's per-collective launch cost (strategy knob collective_launch_s).
  void launch_collective();
  void fill_costs(TimelineRow& row) const;
  // Records `span` (this worker's) in the recorder, for every worker this one stands for.
  void record(Span span);
  // The trace's WAN in-flight counter from node src to node dst changes by delta_B (nothing when
  // both are in one region).
  void wan_in_flight(int src, int dst, std::int64_t delta_B);
  void wan_in_flight_between(int src_region, int dst_region, std::int64_t delta_B);
  // A send of `payload` (null: bytes only) to dst, started, metered and counted in flight.
  Transfer start_send(int dst, std::unique_ptr<Message> payload, std::uint64_t bytes, int channel);
  // A receive from src on `channel`, not started: into a slot for a message, or (bytes only) into
  // a sink nobody reads.
  Transfer receive_init(int src, int channel, bool with_message);
  // The receiver took a message: a WAN message nobody waited for stops counting in flight.
  void taken(Message& msg);
  // The round log of strategies that keep one (sim/resilience/replica.h): the group's first
  // member records the committed round.
  void log_round(long round, const std::vector<int>& members);
  // `members` (ascending ranks) in ring order and by region: the platform's whole group when
  // every worker is a member, else built into `subset`.
  const AllreduceGroup& group_of(const std::vector<int>& members, AllreduceGroup& subset) const;
  // The all-reduce over `group` with `algo`'s table row; leaves the mean or the sum.
  void allreduce_over(runtime::Tensor& t, AllreduceAlgo algo, const AllreduceGroup& group, bool mean);
  // A put of `message` to `box` (a mailbox towards node dst), rate-capped and metered; not started.
  simgrid::s4u::CommPtr put(simgrid::s4u::Mailbox* box, int dst, Message message, std::uint64_t bytes);
  // The mailbox of this node's sends to `peer` on `channel` and their rate cap; the mailbox of
  // its receives from `peer`.  Each remembers the last peer and channel it was asked for: a ring
  // step sends to one neighbour and receives from the other, over and over (every message of the
  // message fidelity asks).
  struct Route {
    int peer = -1, channel = 0;
    simgrid::s4u::Mailbox* box = nullptr;
    double rate_cap_Bps = 0;  // sends only
    int peer_region = -1;     // sends only: the region they go to
  };
  const Route& route_to(int peer, int channel);
  simgrid::s4u::Mailbox* mailbox_from(int peer, int channel);

  World& world_;
  int rank_;
  runtime::Rng rng_;
  bool inbox_owner_ = false;
  bool in_collective_ = false;
  std::string span_note_;  // SpanNote
  int channel_ = 0;
  bool overlapped_ = false;
  bool restarted_ = false;
  long start_round_ = 0;
  std::shared_ptr<GroupView> view_;  // the view of the round in progress (sync_round, faults only)
  std::vector<int> round_members_;   // the last committed view's members (sync_round, faults only)
  const std::vector<int>* stands_for_ = nullptr;  // identical workers: the ranks this actor stands for
  std::vector<int> own_rank_;  // {rank_}
  Route to_, from_;  // route_to's and mailbox_from's last answers
};

}  // namespace geotrain::sim
