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
#include "runtime/ops.h"
#include "sim/json_reader.h"
#include "sim/resilience/peer_link.h"
#include "sim/resilience/deployed.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/catalog.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

constexpr int kGossipChannel = 2;

void average_into(runtime::Trainer& t, const std::vector<float>& other) {
  runtime::ops::average_pair(t.params(), other);
}

class Gossip final : public Strategy {
 public:
  Gossip(bool push, int period, MessageFormat wire_format)
      : push_(push), period_(period), wire_format_(wire_format) {}

  void prepare(World& world) override {
    // Under faults a worker that is down took its replica with it (sim/resilience/peer_link.h).
    world.deployed_parameters = [this, &world] { return resilience::average_of_replicas(world, link_.deployed_mask()); };
    steps_done_.assign(world.trainers.size(), 0);
    link_.prepare(world, kGossipChannel);
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
        if (peer >= 0 && push_) link_.push(ctx, peer, in_flight, [&] { return wire(trainer, w); });
        else if (peer >= 0) pull(ctx, peer);
      }
      ctx.end_step(w.batch_per_worker, loss);
    }
    link_.settle(ctx, in_flight);
  }

 private:
  // A peer drawn from the worker's RNG among the other workers it can reach; -1 when there is
  // none, and the exchange is skipped.
  int draw_peer(WorkerContext& ctx) const {
    std::vector<int> peers;
    for (int r = 0; r < ctx.world_size(); ++r)
      if (r != ctx.rank() && link_.reachable(r)) peers.push_back(r);
    if (peers.empty()) return -1;
    return peers[ctx.rng().below(peers.size())];
  }

  // Fetches `peer`'s parameters and averages them in (skipped when the exchange failed).
  void pull(WorkerContext& ctx, int peer) {
    if (const auto reply = link_.pull(ctx, peer)) average_into(ctx.trainer(), reply->values);
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
    link_.start_serving(ctx);
    for (;;) {
      const auto msg = link_.receive(ctx);
      if (msg->kind == kPull && link_.awaited(*msg)) {
        link_.reply(ctx, *msg, wire(trainer, w));
      } else if (msg->kind == kPush) {
        average_into(trainer, msg->values);
        link_.landed(ctx, *msg);
      }
    }
  }

  // A returning worker starts a new RNG stream (its first incarnation's draws are not replayed)
  // and copies the state (parameters and optimizer) of a random serving peer, else the initial
  // model.
  void come_back(WorkerContext& ctx) {
    link_.come_back(ctx);
    resilience::reload_from_peer(ctx, *this, [this, &ctx] { return draw_peer(ctx); });
  }

  bool push_;
  int period_;
  MessageFormat wire_format_;
  std::vector<long> steps_done_;  // per worker, across its incarnations
  PeerLink link_;
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
