// Elastic averaging SGD (Zhang et al. 2015, compared by Jin et al. 2016): workers train locally;
// every tau steps a worker pulls the center copy theta_g from a server, computes
// u = beta * (theta_m - theta_g), moves theta_m -= u and pushes u, which the server adds to the
// center asynchronously (theta_g += u).  The deployed model is the average of the replicas.
// Under faults (sim/resilience/server_link.h) the others go on: a preempted worker loses its
// local steps since its last push that landed; when it returns it restarts from the center (its
// first action is a pull) at the step of that push.  The center (server 0) that fails restarts
// from its last checkpoint (written every checkpoint.every_steps pushes applied), else from the
// initial model.  The deployed model averages the replicas of the workers that are up.
#include "kernels/reduce.h"
#include "runtime/ops.h"
#include "sim/json_reader.h"
#include "sim/resilience/deployed.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/resilience/server_link.h"
#include "sim/resilience/server_state.h"
#include "sim/catalog.h"
#include "sim/strategies/strategy.h"
#include "sim/training.h"

namespace geotrain::sim {
namespace {

class Easgd final : public Strategy {
 public:
  Easgd(int tau, double beta, ServerPlacement placement, MessageFormat wire_format)
      : tau_(tau), beta_(beta), placement_(placement), wire_format_(wire_format) {}

  std::vector<ServerPlacement> servers(const Scenario&) const override { return {placement_}; }

  void prepare(World& world) override {
    // The center: its version counts the pushes applied; nothing steps it (no optimizer state).
    center_ = ServerShard({0, static_cast<std::size_t>(world.scenario.workload.parameters)},
                          world.training.initial_parameters(), runtime::OptimizerSpec{}, false, "after {} pushes");
    synced_step_.assign(world.trainers.size(), 0);
    world.workers_finish_alone = true;  // each worker takes its own steps
    world.deployed_parameters = [this, &world] { return resilience::average_of_live_replicas(world, center_.params); };
    link_.prepare(world, [this](WorkerContext& ctx, int index) { run_server(ctx, index); });
  }

  void run(WorkerContext& ctx) override {
    link_.start_worker(ctx);
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const std::vector<int> server{ctx.world_size()};
    const std::size_t n = trainer.params().numel();
    int step = 0;
    if (ctx.restarted()) {
      // Back from a preemption: the local work since the last push is gone; restart from the center.
      step = synced_step_[ctx.rank()];
      const auto center = pull(ctx, server);
      if (trainer.is_real()) kernels::copy(trainer.params().values().data(), center->values.data(), n);
      trainer.optimizer().reset();
      resilience::log_event(ctx, "joined", "state from the center (" + ctx.platform().nodes()[server[0]].name + ")");
    }
    for (; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      ctx.optimizer_step(trainer.grads());
      if ((step + 1) % tau_ == 0) {
        const auto center = pull(ctx, server);
        std::vector<float> u;
        if (trainer.is_real()) {
          u.resize(n);
          runtime::ops::elastic_step(u, trainer.params().values(), center->values, beta_);
        }
        link_.push_all(ctx, server, [&](std::size_t) {
          WireBody body = to_wire(u, n, wire_format_, w.wire_bytes_per_param);
          return std::pair{Message{std::move(body.values), kPush, -1, 0}, body.bytes};
        });
        ctx.mark_synced();  // the push landed: a preemption no longer loses these steps
        synced_step_[ctx.rank()] = step + 1;
      }
      ctx.end_step(w.batch_per_worker, loss);
    }
    link_.say_done(ctx, server, true);
    // Done: if it is preempted now and comes back, it only restores its replica from the center.
    synced_step_[ctx.rank()] = w.steps;
    link_.finish_worker(ctx);
  }

  void run_server(WorkerContext& ctx, int) override {
    link_.start_server(ctx);
    const Workload& w = ctx.scenario().workload;
    const auto n = static_cast<std::size_t>(w.parameters);
    if (ctx.restarted()) center_.restore(ctx);
    for (int done = 0; ServerLink::serving(ctx, done);) {
      auto msg = link_.receive(ctx);
      if (msg->kind == kDone) {
        link_.done(ctx, *msg, {{}, kReply, -1, 0}, done);
      } else if (msg->kind == kPull) {
        WireBody body = to_wire(center_.params, n, wire_format_, w.wire_bytes_per_param);
        link_.reply(ctx, *msg, {std::move(body.values), kReply, -1, 0}, body.bytes);
      } else if (msg->kind == kPush) {
        if (!center_.params.empty()) kernels::add_into(center_.params.data(), msg->values.data(), center_.params.size());
        ++center_.version;
        center_.maybe_checkpoint(ctx);
      }
    }
  }

 private:
  std::unique_ptr<Message> pull(WorkerContext& ctx, const std::vector<int>& server) {
    auto replies = link_.ask_all(ctx, server, [](std::size_t) { return Message{{}, kPull, -1, 0}; }, kRequestBytes);
    return std::move(replies[0]);
  }

  int tau_;
  double beta_;
  ServerPlacement placement_;
  MessageFormat wire_format_;  // pulls' replies and pushes
  ServerShard center_{{0, 0}, {}, runtime::OptimizerSpec{}, false};  // set in prepare()
  std::vector<int> synced_step_;     // faults: per worker, its step count at its last push that landed
  ServerLink link_;
};

}  // namespace

StrategyInfo easgd_strategy() {
  StrategyInfo info{"easgd", "elastic averaging SGD: workers and a center variable pull toward each other every tau steps", {}};
  info.knobs = {{"tau", KnobType::integer, 4, 1, 1000000, false, {}, "local steps between exchanges with the center", "",
                 KnobRole::sync_period},
                // Zhang et al. recommend beta = 0.9 shared over the workers (their alpha = beta / p).
                {"beta", KnobType::number, nullptr, 0, 1, true, {}, "moving rate toward the center", "0.9 / workers"},
                {"wire_format", KnobType::choice, "native", 0, 0, false, message_format_names(), "compression of the exchanged parameters"},
                {"server", KnobType::object, nullptr, 0, 0, false, {}, "where the server nodes run: {region, instance, pricing}",
                 "the first fleet entry's region and instance, on demand"}};
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& scenario) -> std::unique_ptr<Strategy> {
    const int tau = static_cast<int>(read_integer(reader, knob_of(knobs, "tau")));
    const double beta = read_number(reader, knob_of(knobs, "beta"), 0.9 / scenario.worker_count());
    const MessageFormat wire = message_format_from_name(read_choice(reader, knob_of(knobs, "wire_format")));
    auto strategy = std::make_unique<Easgd>(tau, beta, parse_server_placement(reader, scenario), wire);
    strategy->traits.group_rounds = false;  // workers come and go on their own (sim/resilience/)
    strategy->traits.survives_link_down = false;
    return strategy;
  };
  info.add_state = [](const nlohmann::json&, const std::string&, StateBytes& b) {
    b.add_worker("pulled center", kFp32_B);
    b.add_server("center", kFp32_B);
  };
  return info;
}

}  // namespace geotrain::sim
