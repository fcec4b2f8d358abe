// Gossip SGD (Jin et al. 2016): workers train locally and, every `period` steps, average with
// one peer drawn from their seeded RNG.  Pull form: fetch theta_j and set
// theta_m = (theta_m + theta_j) / 2 (the request waits for the reply).  Push form: send theta_m
// to the peer, which averages it in on arrival while the sender goes on (at most one push in
// flight per worker).  A responder daemon on every worker's host answers pulls and applies
// pushes.  The deployed model is the average.
// Under faults a worker gossips only with peers that are up and serving; a pull whose peer goes
// down before replying is skipped and a push to a peer going down is lost (both counted in the
// results' "gossip": {"failed_exchanges"}); a returning worker copies a random serving peer's
// state (else the initial model) and resumes at the step it had reached.
#include <fmt/format.h>
#include <simgrid/Exception.hpp>

#include "runtime/ops.h"
#include "sim/json_reader.h"
#include "sim/resilience/membership.h"
#include "sim/strategies/average.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/strategies/catalog.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

constexpr int kGossipChannel = 2;
// Under faults: what a puller receives instead of a reply when its peer went down.
constexpr int kPeerLost = 100;

void average_into(runtime::Trainer& t, const std::vector<float>& other) {
  runtime::ops::average_pair(t.params(), other);
}

class Gossip final : public Strategy {
 public:
  Gossip(bool push, int period, MessageFormat wire_format)
      : push_(push), period_(period), wire_format_(wire_format) {}

  void prepare(World& world) override {
    // Under faults a worker that is down took its replica with it: the average is the serving
    // workers' (everyone's when none serves).
    world.deployed_parameters = [this, &world] {
      return average_of_replicas(world, world.membership ? serving_ : std::vector<bool>{});
    };
    const std::size_t m = world.trainers.size();
    steps_done_.assign(m, 0);
    serving_.assign(m, false);
    awaiting_.assign(m, {});
    pushes_.assign(m, {});
    if (!world.membership) return;
    world.workers_finish_alone = true;  // each worker takes its own steps
    world.extra["gossip"] = {{"failed_exchanges", 0}};
    world.membership->on_preempt([this, &world](int rank) { going_down(world, rank); });
  }

  void run(WorkerContext& ctx) override {
    if (ctx.restarted()) come_back(ctx);
    ctx.spawn_daemon("gossip", [this](WorkerContext& responder) { respond(responder); });
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    Transfer in_flight;  // push form: the one outstanding push (no comm: none), like a socket's send buffer
    // A restarted worker resumes at the step it had reached: every worker takes `steps` steps.
    for (long& step = steps_done_[ctx.rank()]; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      ctx.optimizer_step(trainer.grads());
      if ((step + 1) % period_ == 0) {
        const int peer = draw_peer(ctx);
        if (peer >= 0) push_ ? push(ctx, peer, in_flight) : pull(ctx, peer);
      }
      ctx.end_step(w.batch_per_worker, loss);
    }
    settle(ctx, in_flight);
  }

 private:
  struct Awaited {  // a pull waiting for its reply
    int peer = -1;
    long id = 0;
  };
  struct InFlight {  // a push on its way, and the unsynchronized work it carries
    long id = 0;
    double samples = 0, compute_s = 0, usd = 0;
  };

  // A peer drawn from the worker's RNG among the other workers (under faults: those up and
  // serving); -1 when there is none, and the exchange is skipped.
  int draw_peer(WorkerContext& ctx) const {
    std::vector<int> peers;
    for (int r = 0; r < ctx.world_size(); ++r)
      if (r != ctx.rank() && (!ctx.faults_on() || serving_[r])) peers.push_back(r);
    if (peers.empty()) return -1;
    return peers[ctx.rng().below(peers.size())];
  }

  // Fetches `peer`'s parameters and averages them in.  Under faults the exchange is skipped when
  // the peer went down before its reply arrived.
  void pull(WorkerContext& ctx, int peer) {
    const int me = ctx.rank();
    const double start = ctx.now();
    const long id = ++next_id_;
    awaiting_[me] = {peer, id};
    Transfer rx = ctx.recv_reply_async(peer, kGossipChannel);
    // A peer that began going down meanwhile gets no request (its going_down() released us):
    // a message to a host being turned off would have no receiver.
    if (!ctx.faults_on() || serving_[peer]) ctx.post(peer, {{}, kPull, -1, id}, kRequestBytes);
    std::unique_ptr<Message> reply;
    try {
      reply = ctx.wait(rx);
      while (reply->version != id) {  // faults only: a release meant for an earlier pull
        rx = ctx.recv_reply_async(peer, kGossipChannel);
        reply = ctx.wait(rx);
      }
    } catch (const simgrid::Exception&) {
      reply.reset();  // the reply's transfer failed: the peer's host went off while it flowed
    }
    awaiting_[me] = {};
    const bool ok = reply && reply->kind == kReply;
    if (ok) average_into(ctx.trainer(), reply->values);
    if (!ctx.faults_on()) return;
    if (ok) ctx.mark_synced();
    else count_failed(ctx.world());
    record(ctx, "pull from " + ctx.platform().nodes()[peer].name + (ok ? "" : " (failed)"), start);
  }

  // Sends this worker's parameters to `peer` once the previous push has landed (or failed).
  void push(WorkerContext& ctx, int peer, Transfer& in_flight) {
    settle(ctx, in_flight);
    const int me = ctx.rank();
    if (ctx.faults_on() && !serving_[peer]) {  // it began going down while the last push drained
      count_failed(ctx.world());
      return;
    }
    WireBody body = wire(ctx.trainer(), ctx.scenario().workload);
    const long id = ++next_id_;
    if (ctx.faults_on()) {
      const FaultLog& log = *ctx.world().faults;
      pushes_[me] = {id, log.unsynced_samples[me], log.unsynced_compute_s[me], log.unsynced_usd[me]};
    }
    in_flight = ctx.post_async(peer, {std::move(body.values), kPush, -1, id}, body.bytes);
    if (ctx.faults_on()) record(ctx, "push to " + ctx.platform().nodes()[peer].name, ctx.now());
  }

  // Waits for the push in flight, if any; one whose receiver went down is lost.
  void settle(WorkerContext& ctx, Transfer& in_flight) {
    if (!in_flight.comm) return;
    try {
      ctx.wait(in_flight);
    } catch (const simgrid::Exception&) {
      count_failed(ctx.world());
    }
    in_flight = Transfer{};
  }

  // This worker's parameters as a message body in the wire format.
  WireBody wire(runtime::Trainer& trainer, const Workload& w) const {
    const std::span<const float> v = trainer.is_real() ? trainer.params().values() : std::span<const float>{};
    return to_wire(v, trainer.params().numel(), wire_format_, w.wire_bytes_per_param);
  }

  // Serves this node's inbox: answers pulls with the current parameters, averages pushes in.
  void respond(WorkerContext& ctx) {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const bool faults = ctx.faults_on();
    // Peers choose this node from now on: their messages find the inbox taking them at once.
    if (faults) serving_[ctx.rank()] = true;
    for (;;) {
      std::unique_ptr<Message> msg;
      try {
        msg = ctx.receive_inbox();
      } catch (const simgrid::Exception&) {
        continue;  // faults only: a message whose sender's host went off on the way
      }
      if (msg->kind == kPull) {
        // A puller that died or gave up (its peer went down) no longer waits for this reply.
        if (faults && awaiting_[msg->from].id != msg->version) continue;
        WireBody body = wire(trainer, w);
        ctx.send_detached(msg->from, {std::move(body.values), kReply, -1, msg->version}, body.bytes, kGossipChannel);
      } else if (msg->kind == kPush) {
        average_into(trainer, msg->values);
        if (faults) landed(ctx.world(), msg->from, msg->version);
      }
    }
  }

  // Faults: a push landed, so the work its sender had done when sending it is synchronized.
  void landed(World& world, int from, long id) {
    InFlight& p = pushes_[from];
    if (p.id != id) return;  // its sender died since and counted that work lost
    world.faults->unsynced_samples[from] -= p.samples;
    world.faults->unsynced_compute_s[from] -= p.compute_s;
    world.faults->unsynced_usd[from] -= p.usd;
    p = {};
  }

  // Faults: `rank` is about to be preempted (its actors still live).  Peers stop choosing it, and
  // pulls waiting for its reply are released: the host's death would not wake a receive whose
  // request never got an answer.
  void going_down(World& world, int rank) {
    serving_[rank] = false;
    awaiting_[rank] = {};  // its own pull dies with it: no reply for it
    pushes_[rank] = {};    // its push in flight no longer synchronizes anything: its work is lost
    for (int p = 0; p < static_cast<int>(awaiting_.size()); ++p) {
      if (awaiting_[p].peer != rank) continue;
      const long id = awaiting_[p].id;
      awaiting_[p] = {};
      WorkerContext(world, rank).send_detached(p, {{}, kPeerLost, -1, id}, 0, kGossipChannel);
    }
  }

  // Faults: a returning worker starts a new RNG stream (its first incarnation's draws are not
  // replayed), empties its inbox of what reached its previous incarnation, and copies the
  // state (parameters and optimizer) of a random serving peer, else the initial model.
  void come_back(WorkerContext& ctx) {
    awaiting_[ctx.rank()] = {};
    pushes_[ctx.rank()] = {};
    ctx.discard_inbox();
    resilience::reload_from_peer(ctx, *this, [this, &ctx] { return draw_peer(ctx); });
  }

  void count_failed(World& world) { world.extra["gossip"]["failed_exchanges"] = ++failed_exchanges_; }

  // Faults: an exchange as a trace span naming the peer (category "gossip", not counted as
  // communication: its waits are).
  static void record(WorkerContext& ctx, const std::string& name, double start) {
    ctx.world().recorder.add_span({ctx.rank(), "gossip", name, start, ctx.now()});
  }

  bool push_;
  int period_;
  MessageFormat wire_format_;
  std::vector<long> steps_done_;   // per worker, across its incarnations
  std::vector<bool> serving_;      // faults: up, holding state, its responder taking messages
  std::vector<Awaited> awaiting_;  // per worker: the pull it waits on
  std::vector<InFlight> pushes_;   // per worker (faults): its push in flight
  long next_id_ = 0;               // ids of pulls and pushes, unique in the run
  long failed_exchanges_ = 0;
};

}  // namespace

StrategyInfo gossip_strategy() {
  StrategyInfo info{"gossip", "gossip averaging: each worker averages with one random peer", {}};
  info.knobs = {{"form", KnobType::choice, "pull", 0, 0, false, {"pull", "push"}, "pull a peer's copy or push one's own"},
                {"period", KnobType::integer, 1, 1, 1000000, false, {}, "local steps between gossip exchanges", "",
                 KnobRole::sync_period},
                {"wire_format", KnobType::choice, "native", 0, 0, false, message_format_names(), "compression of the exchanged parameters"}};
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario&) -> std::unique_ptr<Strategy> {
    const bool push = read_choice(reader, knob_of(knobs, "form")) == "push";
    const int period = static_cast<int>(read_integer(reader, knob_of(knobs, "period")));
    const MessageFormat wire = message_format_from_name(read_choice(reader, knob_of(knobs, "wire_format")));
    auto strategy = std::make_unique<Gossip>(push, period, wire);
    strategy->traits.group_rounds = false;  // workers come and go on their own (sim/resilience/)
    strategy->traits.survives_link_down = false;
    strategy->traits.checkpoints = false;  // every worker holds its own replica: no group state
    return strategy;
  };
  info.add_state = [](const nlohmann::json&, const std::string&, StateBytes& b) { b.add_worker("peer copy", kFp32_B); };
  return info;
}

}  // namespace geotrain::sim
