// Streaming DiLoCo (Douillard et al. 2025): DiLoCo whose parameters are split into P fragments
// that synchronize on staggered schedules (fragment p at steps t with (t - p*H/P) mod H == 0),
// so only about 1/P of the parameters is in flight at once.  A fragment's all-reduce overlaps
// the next tau inner steps (it runs in a helper actor while the worker computes); its result is
// applied tau steps later and merged with the local progress:
//   theta_g_p = OuterOpt(theta_g_p, mean delta_p);  theta_m_p = alpha*theta_m_p + (1-alpha)*theta_g_p.
// Outer gradients travel in the chosen wire format (fp32, bf16, fp16, fp4) and sum in fp32.
// Fragments are contiguous, near-equal slices of the flat parameter vector.
#include <deque>
#include <memory>

#include "sim/json_reader.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class StreamingDiloco final : public Strategy {
 public:
  StreamingDiloco(int h, int fragments, int tau, double alpha, OuterConfig outer)
      : h_(h), fragments_(fragments), tau_(tau), alpha_(alpha), outer_(std::move(outer)) {}

  void prepare(World& world) override {
    for (const auto& t : world.trainers) {
      std::vector<std::unique_ptr<GlobalCopy>> mine;
      for (int f = 0; f < fragments_; ++f)
        mine.push_back(std::make_unique<GlobalCopy>(*t, chunk_range(t->params().numel(), fragments_, f),
                                                    outer_.optimizer));
      globals_.push_back(std::move(mine));
    }
    world.deployed_parameters = [this] {
      std::vector<float> all;
      for (const auto& g : globals_[0]) all.insert(all.end(), g->params().values().begin(), g->params().values().end());
      return all;
    };
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    auto& globals = globals_[ctx.rank()];
    const Workload& w = ctx.scenario().workload;
    std::deque<Pending> pending;
    for (int step = 0; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      trainer.optimizer_step(trainer.grads());
      const int t = step + 1;
      while (!pending.empty() && pending.front().apply_at <= t) {
        finish_sync(ctx, pending.front(), *globals[pending.front().fragment], trainer);
        pending.pop_front();
      }
      for (int f = 0; f < fragments_; ++f)
        if (syncs_at(f, t)) start_sync(ctx, f, t, *globals[f], trainer, pending);
      ctx.end_step(w.batch_per_worker, loss);
    }
    for (auto& p : pending) finish_sync(ctx, p, *globals[p.fragment], trainer);
  }

 private:
  struct Pending {
    int fragment = 0;
    int apply_at = 0;
    Overlapped op;
    std::shared_ptr<runtime::Tensor> delta;
  };

  bool syncs_at(int f, int t) const {
    const int offset = f * h_ / fragments_;
    return t >= offset && t > 0 && (t - offset) % h_ == 0;
  }

  void start_sync(WorkerContext& ctx, int f, int t, GlobalCopy& global, runtime::Trainer& trainer,
                  std::deque<Pending>& pending) {
    auto delta = std::make_shared<runtime::Tensor>(global.outer_gradient(trainer, outer_.wire_format));
    if (tau_ == 0) {
      ctx.allreduce_mean(*delta, outer_.allreduce);
      global.step(*delta);
      global.merge_into(trainer, alpha_);
      return;
    }
    const AllreduceAlgo algo = outer_.allreduce;
    Overlapped op = ctx.start_overlapped(1 + f, [delta, algo](WorkerContext& comm) { comm.allreduce_mean(*delta, algo); });
    pending.push_back({f, t + tau_, op, delta});
  }

  void finish_sync(WorkerContext& ctx, Pending& p, GlobalCopy& global, runtime::Trainer& trainer) {
    ctx.join(p.op);
    global.step(*p.delta);
    global.merge_into(trainer, alpha_);
  }

  int h_, fragments_, tau_;
  double alpha_;
  OuterConfig outer_;
  std::vector<std::vector<std::unique_ptr<GlobalCopy>>> globals_;  // [worker][fragment]
};


}  // namespace

std::unique_ptr<Strategy> make_streaming_diloco(JsonReader& reader, const Scenario&) {
  const int h = static_cast<int>(reader.integer_or("H", 100, 1, 100000000));
  const int fragments = static_cast<int>(reader.integer_or("fragments", 1, 1, 4096));
  if (fragments > h) reader.fail("fragments", "expected at most H fragments (each needs its own sync step)");
  const int tau = static_cast<int>(reader.integer_or("tau", 1, 0, 1000000));
  if (tau >= h) reader.fail("tau", "expected tau < H (one sync of a fragment in flight at a time)");
  const double alpha = reader.number_or("alpha", 0.5, 0, 1);
  // The paper's outer Nesterov: lr ~0.4, momentum 0.9.
  return std::make_unique<StreamingDiloco>(h, fragments, tau, alpha, parse_outer(reader, nesterov_spec(0.4, 0.9)));
}

}  // namespace geotrain::sim
