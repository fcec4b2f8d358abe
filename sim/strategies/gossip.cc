// Gossip SGD (Jin et al. 2016): workers train locally and, every `period` steps, average with
// one peer drawn from their seeded RNG.  Pull form: fetch theta_j and set
// theta_m = (theta_m + theta_j) / 2 (the request waits for the reply).  Push form: send theta_m
// to the peer, which averages it in on arrival while the sender goes on (at most one push in
// flight per worker).  A responder daemon on
// every worker's host answers pulls and applies pushes.  The deployed model is the average.
#include <optional>

#include "sim/json_reader.h"
#include "sim/strategies/average.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

constexpr int kGossipChannel = 2;

void average_into(runtime::Trainer& t, const std::vector<float>& other) {
  if (!t.is_real()) return;
  auto theta = t.params().values();
  for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = 0.5f * (theta[i] + other[i]);
}

class Gossip final : public Strategy {
 public:
  Gossip(bool push, int period, std::string wire_format)
      : push_(push), period_(period), wire_format_(std::move(wire_format)) {}

  void prepare(World& world) override {
    world.deployed_parameters = [&world] { return average_of_replicas(world); };
  }

  void run(WorkerContext& ctx) override {
    ctx.spawn_daemon("gossip", [this](WorkerContext& responder) { respond(responder); });
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const int m = ctx.world_size();
    std::optional<Transfer> in_flight;  // push form: one outstanding push, like a socket's send buffer
    for (int step = 0; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      trainer.optimizer_step(trainer.grads());
      if (m > 1 && (step + 1) % period_ == 0) {
        int peer = static_cast<int>(ctx.rng().below(static_cast<std::uint64_t>(m - 1)));
        if (peer >= ctx.rank()) ++peer;  // any worker but this one
        if (push_) {
          if (in_flight) ctx.wait(*in_flight);
          WireBody body = wire(trainer, w);
          in_flight = ctx.post_async(peer, {std::move(body.values), kPush, -1, 0}, body.bytes);
        } else {
          Transfer rx = ctx.recv_async(peer, kGossipChannel);
          ctx.post(peer, {{}, kPull, -1, 0}, kRequestBytes);
          average_into(trainer, ctx.wait(rx)->values);
        }
      }
      ctx.end_step(w.batch_per_worker, loss);
    }
    if (in_flight) ctx.wait(*in_flight);
  }

 private:
  // This worker's parameters as a message body in the wire format.
  WireBody wire(runtime::Trainer& trainer, const Workload& w) const {
    const std::span<const float> v = trainer.is_real() ? trainer.params().values() : std::span<const float>{};
    return to_wire(v, trainer.params().numel(), wire_format_, w.wire_bytes_per_param);
  }

  // Serves this node's inbox: answers pulls with the current parameters, averages pushes in.
  void respond(WorkerContext& ctx) const {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    for (;;) {
      auto msg = ctx.receive_inbox();
      if (msg->kind == kPull) {
        WireBody body = wire(trainer, w);
        ctx.send_detached(msg->from, {std::move(body.values), kReply, -1, 0}, body.bytes, kGossipChannel);
      } else if (msg->kind == kPush) {
        average_into(trainer, msg->values);
      }
    }
  }

  bool push_;
  int period_;
  std::string wire_format_;
};

}  // namespace

std::unique_ptr<Strategy> make_gossip(JsonReader& reader, const Scenario&) {
  const bool push = reader.choice_or("form", "pull", {"pull", "push"}) == "push";
  const int period = static_cast<int>(reader.integer_or("period", 1, 1, 1000000));
  const auto wire = reader.choice_or("wire_format", "native", wire_format_names());
  return std::make_unique<Gossip>(push, period, wire);
}

}  // namespace geotrain::sim
