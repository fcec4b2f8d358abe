// The request/reply link between workers and server nodes (parameter-server shards, EASGD's
// center), and what faults do to it.  Without faults it is the plain protocol: a worker posts a
// request to the server's inbox and waits for the reply on kReplyChannel.  Under faults:
// - a request to a server that is down, or whose server dies before answering, fails; the
//   worker waits faults.retry_after_s (communication time) and asks again, so nothing hangs;
// - a reply goes only to the worker incarnation that asked: one that died gets none (counted),
//   and ids in replies let a worker drop anything meant for an earlier request;
// - servers are daemons (they stop when the last worker stops), so a worker finishes with a
//   request the server answers once its last push was applied;
// - a server whose host comes back is restarted here with ctx.restarted() true; the strategy
//   reloads its state (checkpoint, else the initial model) and says so with restarted_event().
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/context.h"

namespace geotrain::sim {

// Message kinds of the faults protocol, beside strategy.h's kPull/kPush/kDone/kReply.
enum ServerFaultKind {
  kServerDown = 20,  // to a waiting worker: the server died before answering (a release)
  kWorkerDown = 21,  // to a server: a worker incarnation died (`request` holds its incarnation)
};

// A request in flight to one server.
struct PendingRequest {
  int server = 0;       // node id
  long id = 0;          // faults: the request's id (0 without faults)
  bool failed = false;  // faults: not sent (the server was down)
  Transfer reply;
};

class ServerLink {
 public:
  using ServerProgram = std::function<void(WorkerContext&, int index)>;

  // Called from Strategy::prepare.  `program` is the strategy's server program (restarted by the
  // link after a server fault); `notify_servers`: a worker about to be preempted is announced to
  // every server that is up with a kWorkerDown (synchronous servers need it to close a round
  // without the dead worker).  The hooks are set only in runs with faults.
  void prepare(World& world, ServerProgram program, bool notify_servers = false);

  // --- In a worker's program ---
  // First thing of a worker's program: records its incarnation (its requests carry it).
  void start_worker(WorkerContext& ctx);
  // Last thing: the worker stops taking part (a restarted server does not wait for it).
  void finish_worker(WorkerContext& ctx);
  // Requests to `servers` (node ids) in parallel, each asked again after retry_after_s until
  // it is answered.  replies[i] answers servers[i].  `make(i)` builds request i.
  std::vector<std::unique_ptr<Message>> ask_all(WorkerContext& ctx, const std::vector<int>& servers,
                                                const std::function<Message(std::size_t)>& make,
                                                std::uint64_t bytes);
  // Posts pushes to `servers` in parallel and waits until each landed in its server's inbox; under
  // faults a push that failed is posted again after retry_after_s until it lands.  `make(i)`
  // builds push i (called again for a retry) and its wire bytes.
  void push_all(WorkerContext& ctx, const std::vector<int>& servers,
                const std::function<std::pair<Message, std::uint64_t>(std::size_t)>& make);

  // Asynchronous workers take steps from the run's budget (WorkerContext::claim_step).  Under
  // faults a step claimed and not pushed yet goes back to the budget when its worker is preempted.
  bool claim_step(WorkerContext& ctx);
  // The worker's push landed: its claimed step is spent and its work synchronized.
  void pushed(WorkerContext& ctx);
  // A synchronous worker's rounds: without faults `steps` of them; under faults (it may be a
  // returning worker, that cannot count them) it goes on until the servers say every round ran.
  static bool more_rounds(const WorkerContext& ctx, long round) {
    return ctx.faults_on() || round < ctx.scenario().workload.steps;
  }
  // The workers a synchronous round counts in the timeline: the live ones under faults (0: all).
  static int round_members(WorkerContext& ctx);

  // Last thing before finish_worker(): without faults a kDone posted to each server; under
  // faults, when `confirm`, a kDone request each server answers once this worker's last push was
  // applied (servers are daemons then: nobody counts the workers that are done).
  void say_done(WorkerContext& ctx, const std::vector<int>& servers, bool confirm);

  // --- In a server's program ---
  // The server's loop goes on: under faults always (a daemon), else until every worker said done.
  static bool serving(const WorkerContext& ctx, int done) { return ctx.faults_on() || done < ctx.world_size(); }
  // A worker said done (kDone): under faults it gets `answer` (its last push was applied), else
  // it is counted in `done`.
  void done(WorkerContext& ctx, const Message& request, Message answer, int& done);
  // Under faults: the server becomes a daemon.  Call first.
  void start_server(WorkerContext& ctx);
  // The next message of the server's inbox; under faults messages whose transfer failed (their
  // sender died on the way) are skipped.
  std::unique_ptr<Message> receive(WorkerContext& ctx);
  // Answers `request` on kReplyChannel; under faults withheld (counted) when the incarnation that
  // asked is gone.
  void reply(WorkerContext& ctx, const Message& request, Message reply, std::uint64_t bytes);
  // Faults: the worker's program runs (started, not preempted, not finished).
  bool worker_live(int rank) const { return !live_.empty() && live_[rank] >= 0; }
  // Faults: the incarnation (restarts so far) of the worker that sent `message` (a request, a
  // push, or a kWorkerDown notice about it).
  static long incarnation_of(const Message& message) { return message.request >> kIncarnationShift; }
  // Faults: a restarted server says where its state came from (a fault event on its node).
  static void restarted_event(WorkerContext& ctx, const std::string& cause);
  // Faults: a push discarded by a synchronous server (computed for a round it no longer runs).
  void count_discarded_push();

 private:
  static constexpr int kIncarnationShift = 32;
  // Starts a request; under faults it fails at once when the server is down.
  PendingRequest ask(WorkerContext& ctx, int server, Message request, std::uint64_t bytes);
  // Waits for its reply.  Under faults: null when the request failed (counted).
  std::unique_ptr<Message> answer(WorkerContext& ctx, PendingRequest& request);
  // Faults: waits retry_after_s (communication time) before a failed request is asked again.
  static void wait_to_retry(WorkerContext& ctx);
  // Faults: the results' "server_requests" block, rewritten at each change (servers are
  // daemons: nobody sees the end of the run).
  void publish();
  void server_fault(World& world, int node, bool up);
  void worker_going_down(World& world, int rank);
  struct Awaited {
    int worker = 0, server = 0;
    long id = 0;
    simgrid::s4u::CommPtr comm;
  };

  World* world_ = nullptr;
  ServerProgram program_;
  std::vector<bool> claim_open_;   // faults, per worker: a claimed step not pushed yet
  bool notify_servers_ = false;
  int workers_ = 0;
  std::vector<bool> server_up_;    // per server index
  std::vector<long> live_;         // per worker: incarnation of its running program, -1 when none
  std::vector<long> next_seq_;     // per worker: requests of the current incarnation
  std::vector<Awaited> awaited_;   // replies workers wait for
  long failed_requests_ = 0, withheld_replies_ = 0, stale_replies_ = 0, discarded_pushes_ = 0;
};

}  // namespace geotrain::sim
