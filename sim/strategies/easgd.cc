// Elastic averaging SGD (Zhang et al. 2015, compared by Jin et al. 2016): workers train locally;
// every tau steps a worker pulls the center copy theta_g from a server, computes
// u = beta * (theta_m - theta_g), moves theta_m -= u and pushes u, which the server adds to the
// center asynchronously (theta_g += u).  The deployed model is the average of the replicas.
#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/strategies/average.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/strategy.h"
#include "sim/training.h"

namespace geotrain::sim {
namespace {

class Easgd final : public Strategy {
 public:
  Easgd(int tau, double beta, ServerPlacement placement, std::string wire_format)
      : tau_(tau), beta_(beta), placement_(placement), wire_format_(std::move(wire_format)) {}

  std::vector<ServerPlacement> servers(const Scenario&) const override { return {placement_}; }

  void prepare(World& world) override {
    center_ = world.training.initial_parameters();
    world.deployed_parameters = [&world] { return average_of_replicas(world); };
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const int server = ctx.world_size();
    const std::size_t n = trainer.params().numel();
    for (int step = 0; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      trainer.optimizer_step(trainer.grads());
      if ((step + 1) % tau_ == 0) {
        Transfer rx = ctx.recv_async(server, kReplyChannel);
        ctx.post(server, {{}, kPull, -1, 0}, kRequestBytes);
        auto center = ctx.wait(rx);
        std::vector<float> u;
        if (trainer.is_real()) {
          auto theta = trainer.params().values();
          u.resize(theta.size());
          for (std::size_t i = 0; i < u.size(); ++i) {
            u[i] = static_cast<float>(beta_ * (theta[i] - center->values[i]));
            theta[i] -= u[i];
          }
        }
        WireBody body = to_wire(u, n, wire_format_, w.wire_bytes_per_param);
        Transfer push = ctx.post_async(server, {std::move(body.values), kPush, -1, 0}, body.bytes);
        ctx.wait(push);
      }
      ctx.end_step(w.batch_per_worker, loss);
    }
    ctx.post(server, {{}, kDone, -1, 0}, kRequestBytes);
  }

  void run_server(WorkerContext& ctx, int) override {
    const Workload& w = ctx.scenario().workload;
    const auto n = static_cast<std::size_t>(w.parameters);
    for (int done = 0; done < ctx.world_size();) {
      auto msg = ctx.receive_inbox();
      if (msg->kind == kDone) {
        ++done;
      } else if (msg->kind == kPull) {
        WireBody body = to_wire(center_, n, wire_format_, w.wire_bytes_per_param);
        ctx.send_detached(msg->from, {std::move(body.values), kReply, -1, 0}, body.bytes, kReplyChannel);
      } else if (!center_.empty()) {
        kernels::add_into(center_.data(), msg->values.data(), center_.size());
      }
    }
  }

 private:
  int tau_;
  double beta_;
  ServerPlacement placement_;
  std::string wire_format_;  // pulls' replies and pushes
  std::vector<float> center_;
};

}  // namespace

std::unique_ptr<Strategy> make_easgd(JsonReader& reader, const Scenario& scenario) {
  const int tau = static_cast<int>(reader.integer_or("tau", 4, 1, 1000000));
  // Zhang et al. recommend beta = 0.9 shared over the workers (their alpha = beta / p).
  const double beta = reader.number_or("beta", 0.9 / scenario.worker_count(), 0, 1, true);
  const auto wire = reader.choice_or("wire_format", "native", wire_format_names());
  return std::make_unique<Easgd>(tau, beta, parse_server_placement(reader, scenario), wire);
}

}  // namespace geotrain::sim
