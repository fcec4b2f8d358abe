// Group membership of synchronous strategies when workers come and go: round by round, a view
// says who takes part; a member that dies (or a transfer that fails) aborts the view, whose
// survivors retry in the next one; a round counts only once every member of its view finished
// it (a commit); returning workers join at the next view.  Used only in runs with faults.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Actor.hpp>

#include "sim/context.h"

namespace geotrain::sim {

// Thrown inside a round whose view was aborted (sync_round() retries the round).
struct RoundAborted {};

struct GroupView {
  long round = 0;
  int attempt = 0;
  int serial = 0;             // views opened before this one (unique per view)
  std::vector<int> members;   // ranks, ascending
  std::vector<int> joiners;   // members that hold no state yet (returned after a preemption)
  bool aborted = false;
  bool committed = false;
  int commits = 0;
  bool has(int rank) const;
  bool is_joiner(int rank) const;
};

class Membership;
// The transfer hook of runs with faults (sim/context.h): workers' transfers are tracked by
// `membership`, and a wait fails when the waiter's round view aborted.
std::unique_ptr<TransferObserver> make_round_transfers(Membership& membership);

class Membership {
 public:
  // `elastic`: a round goes on with the survivors; otherwise it waits until all `workers` are
  // back.
  Membership(int workers, bool elastic);

  // Workers alive at the start (a worker whose instance starts down is not).
  void start(const std::vector<bool>& alive_at_start);
  // The fault injector: worker `rank` died (aborts the open view it is in) / is ready to work
  // again (it joins the next view).
  void down(int rank);
  void ready(int rank);
  bool alive(int rank) const { return alive_[rank]; }
  // A round goes on with the survivors (false: it waits until every worker is back).
  bool elastic() const { return elastic_; }
  // Up and holding the current state (not preempted, not reloading after a restart).
  bool holds_state(int rank) const { return alive_[rank] && joined_[rank]; }
  // Protocols outside group views (gossip) learn of a preemption before the worker's host goes
  // off, while its actors still live (a message posted to it later would find a receiver that
  // is dead and not yet removed): the fault injector calls preempting(rank), which runs the
  // listeners.
  void on_preempt(std::function<void(int rank)> listener) { preempt_listeners_.push_back(std::move(listener)); }
  void preempting(int rank) {
    for (const auto& listener : preempt_listeners_) listener(rank);
  }
  int alive_count() const;
  // Members of the open view (alive workers while none is open).
  int group_size() const { return view_ ? static_cast<int>(view_->members.size()) : alive_count(); }

  // The open view once it is for round `round` or a later one.  Blocks while none is open
  // (waiting for members to come back) and while an earlier round's is: strategies whose syncs
  // overlap compute (Streaming DiLoCo, Hivemind) ask for round r+1 before round r committed.
  // Null once the job ended.
  std::shared_ptr<GroupView> current(long round);
  // A joiner waits until a view admits it.
  std::shared_ptr<GroupView> await_admission(int rank);
  // A joiner reloaded the state of its view's round: it holds state from now on (a view re-formed
  // after an abort keeps that round instead of rolling back as if nobody held it).
  void loaded(int rank) { joined_[rank] = alive_[rank]; }
  // Member `rank` finished the round of `view`; waits for the others.  True: committed (the next
  // round's view opens); false: the view was aborted meanwhile.
  bool commit(const std::shared_ptr<GroupView>& view, int rank);
  // A member saw a failure: aborts `view` (cancels its members' transfers) and opens the next.
  void abort(const std::shared_ptr<GroupView>& view);
  // The job is over: waiting workers stop waiting (current() and await_admission() return null).
  void close();
  // Where a view of only joiners restarts (the round of the last checkpoint, or 0).
  void set_rollback_round(long round) { rollback_round_ = round; }

  // Transfers of members in flight, cancelled when their view aborts.  `slot`: a receive's
  // destination, kept alive while the receive may still complete (a collective that failed on one
  // transfer abandons its other receives, which the abort's releases or late senders complete).
  void track(int rank, const simgrid::s4u::CommPtr& comm, bool is_send, std::shared_ptr<void> slot = nullptr);
  void untrack(int rank, const simgrid::s4u::Comm* comm);
  // Transfers kept here that never completed (started, unmatched or still flowing).
  int pending_transfers() const;
  // The run is over (the engine returned): cancels those transfers, so that none is freed while
  // started (SimGrid prints a backtrace for a started transfer it frees: "Comm freed before its
  // completion").  REQUIRES: no actor runs any more.
  void cancel_pending();

 private:
  void open(long round, int attempt, const std::vector<int>& previous);
  // Suspends the caller until `done()` holds; wake_all makes every waiter check again.
  template <class Done>
  void wait_until(Done done);
  void wake_all();

  int workers_;
  bool elastic_;
  std::vector<bool> alive_, joined_;   // joined: holds state (took part in a committed view)
  std::vector<bool> pending_;          // ready, waiting to join
  std::shared_ptr<GroupView> view_;    // the open view (null while waiting for members)
  long waiting_round_ = 0;             // the round to open once enough members are back
  int waiting_attempt_ = 0;
  std::vector<int> waiting_previous_;
  long rollback_round_ = 0;
  bool closed_ = false;
  int views_opened_ = 0;
  struct Tracked {
    simgrid::s4u::CommPtr comm;
    bool is_send;
    std::shared_ptr<void> slot;
  };
  // Keeps a transfer that may still complete (not finished, failed or cancelled), and a
  // receive's slot, alive until the end of the run.
  void keep_if_pending(const Tracked& t);
  std::vector<std::vector<Tracked>> comms_;
  std::vector<std::shared_ptr<void>> abandoned_slots_;
  std::vector<simgrid::s4u::CommPtr> abandoned_comms_;  // pending transfers of failed rounds
  // Transfers the abort started to release blocked members (kept alive here), and their sinks.
  std::vector<simgrid::s4u::CommPtr> releases_;
  std::vector<std::unique_ptr<void*>> sinks_;
  std::vector<simgrid::s4u::ActorPtr> waiting_;  // suspended in wait_until
  std::vector<std::function<void(int)>> preempt_listeners_;
};

}  // namespace geotrain::sim
