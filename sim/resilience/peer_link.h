// The peer-to-peer exchanges of gossip, and what faults do to them.  Without faults it is the
// plain protocol: a pull posts a request to the peer's inbox and waits for the reply; a push is a
// message the peer's responder (a daemon on its host) takes in while the sender goes on.  Under
// faults:
// - a worker exchanges only with peers that are up and serving (their responder takes messages);
// - a pull whose peer goes down before replying is released and fails; a push to a peer going
//   down is lost; both are counted in the results' "gossip": {"failed_exchanges"};
// - the work a push carries counts as synchronized once it landed (a pull's, once answered);
// - each exchange is a trace span naming the peer (category "gossip", not counted as
//   communication: its waits are);
// - a returning worker forgets what its previous incarnation waited for and received.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/context.h"
#include "sim/wire_format.h"

namespace geotrain::sim {

class PeerLink {
 public:
  // Called from Strategy::prepare.  Replies and releases travel on `channel`.
  void prepare(World& world, int channel);
  // `peer` may be chosen for an exchange (under faults: it is up and serving).
  bool reachable(int peer) const { return !faults_ || serving_[peer]; }
  // Whose replicas the deployed model averages: under faults the serving workers' (none listed:
  // everyone's).
  std::vector<bool> deployed_mask() const { return faults_ ? serving_ : std::vector<bool>{}; }

  // --- In a worker's program ---
  // Fetches `peer`'s parameters: its reply, or null when the exchange failed.
  std::unique_ptr<Message> pull(WorkerContext& ctx, int peer);
  // Sends `make()` (this worker's parameters) to `peer` once the push in flight has landed (or
  // failed); the new push is left in flight.
  void push(WorkerContext& ctx, int peer, Transfer& in_flight, const std::function<WireBody()>& make);
  // Waits for the push in flight, if any; one whose receiver went down is lost.
  void settle(WorkerContext& ctx, Transfer& in_flight);
  // A returning worker: nothing of its previous incarnation is awaited or in flight, and its inbox
  // is emptied of what reached that incarnation.
  void come_back(WorkerContext& ctx);

  // --- In a worker's responder ---
  // Under faults peers choose this node from now on.  Call first.
  void start_serving(WorkerContext& ctx);
  // The next message of the node's inbox (under faults: skipping those whose sender died on the way).
  std::unique_ptr<Message> receive(WorkerContext& ctx);
  // A pull's asker still waits for the reply (under faults it may have died or given up).
  bool awaited(const Message& pull) const { return !faults_ || awaiting_[pull.from].id == pull.version; }
  // Answers `pull` on the link's channel.
  void reply(WorkerContext& ctx, const Message& pull, WireBody body);
  // A push was taken in: the work its sender had done when sending it is synchronized.
  void landed(WorkerContext& ctx, const Message& push);

 private:
  struct Awaited {  // a pull waiting for its reply
    int peer = -1;
    long id = 0;
  };
  struct InFlight {  // a push on its way, and the unsynchronized work it carries
    long id = 0;
    double samples = 0, compute_s = 0, usd = 0;
  };
  // `rank` is about to be preempted (its actors still live): peers stop choosing it, and pulls
  // waiting for its reply are released (its death would not wake a receive whose request never
  // got an answer).
  void going_down(World& world, int rank);
  void count_failed(World& world);
  static void record(WorkerContext& ctx, const std::string& name, double start);

  bool faults_ = false;
  int channel_ = 0;
  std::vector<bool> serving_;      // faults: up, holding state, its responder taking messages
  std::vector<Awaited> awaiting_;  // per worker: the pull it waits on
  std::vector<InFlight> pushes_;   // per worker (faults): its push in flight
  long next_id_ = 0;               // ids of pulls and pushes, unique in the run
  long failed_exchanges_ = 0;
};

}  // namespace geotrain::sim
