// Top-k gradient sparsification (baseline for PacTrain): each worker keeps the k largest-magnitude
// entries of its gradient, with its own indices, so the workers all-gather (value, index) pairs
// -- the volume grows with the worker count -- and each sums the M sparse gradients.  "dgc" is the
// same with error feedback: what a worker did not send stays in its residual for later steps.
// Each step is a round of the group (sim/resilience/): the sparse gradients of the committed
// view's members are averaged; the replica is the parameters and optimizer (a returning worker
// starts with a zero residual: the residual was the dead worker's local memory).
#include <bit>

#include "kernels/reduce.h"
#include "kernels/sparse.h"
#include "sim/json_reader.h"
#include "sim/resilience/replica.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class TopK final : public Strategy {
 public:
  TopK(double ratio, bool error_feedback) : ratio_(ratio), error_feedback_(error_feedback) {}

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const std::size_t n = trainer.params().numel();
    const std::size_t k = std::max<std::size_t>(1, static_cast<std::size_t>(ratio_ * static_cast<double>(n)));
    // A returning worker copies a live replica; its residual (local memory) restarts at zero.
    std::vector<float> residual(trainer.is_real() && error_feedback_ ? n : 0, 0.0f);
    std::vector<std::int32_t> idx(trainer.is_real() ? k : 0);
    std::vector<float> val(trainer.is_real() ? k : 0);
    for (long step = ctx.start_round(); step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      // One message per worker: k values then k indices (bit-copied into floats), 4 B each.
      runtime::Tensor packed = trainer.is_real() ? runtime::Tensor::zeros(2 * k) : runtime::Tensor::phantom(2 * k);
      if (trainer.is_real()) {
        const float* g = trainer.grads().values().data();
        if (error_feedback_) kernels::error_feedback_topk(idx.data(), val.data(), residual.data(), g, n, k);
        else kernels::topk_by_magnitude(idx.data(), val.data(), g, n, k);
        auto p = packed.values();
        for (std::size_t j = 0; j < k; ++j) {
          p[j] = val[j];
          p[k + j] = std::bit_cast<float>(idx[j]);
        }
      }
      // The all-gather leaves `packed` (and the residual) as they were: a retry sends them again,
      // so there is nothing to restore.
      runtime::Tensor all = runtime::Tensor::phantom(0);
      const auto members = ctx.sync_round(
          step, [&](const std::vector<int>& group) { all = ctx.allgather(packed, group); }, [] {});
      if (trainer.is_real()) {
        auto g = trainer.grads().values();
        std::fill(g.begin(), g.end(), 0.0f);
        const auto a = all.values();
        for (std::size_t m = 0; m < members.size(); ++m)  // the members' rank order: a fixed order of additions
          for (std::size_t j = 0; j < k; ++j)
            g[std::bit_cast<std::int32_t>(a[m * 2 * k + k + j])] += a[m * 2 * k + j];
        kernels::scale(g.data(), 1.0f / static_cast<float>(members.size()), n);
        trainer.optimizer_step(trainer.grads());
      }
      resilience::applied(ctx, step + 1, members);
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
    }
  }

 private:
  double ratio_;
  bool error_feedback_;
};

}  // namespace

std::unique_ptr<Strategy> make_topk(JsonReader& reader, const Scenario&) {
  const OnFailure on_failure = parse_on_failure(reader);
  const double ratio = reader.number_or("ratio", 0.01, 0, 1, true);
  const bool ef = reader.boolean_or("error_feedback", false);
  auto topk = std::make_unique<TopK>(ratio, ef);
  topk->traits.on_failure = on_failure;
  return topk;
}

std::unique_ptr<Strategy> make_dgc(JsonReader& reader, const Scenario&) {
  const OnFailure on_failure = parse_on_failure(reader);
  const double ratio = reader.number_or("ratio", 0.001, 0, 1, true);
  auto dgc = std::make_unique<TopK>(ratio, true);
  dgc->traits.on_failure = on_failure;
  return dgc;
}

}  // namespace geotrain::sim
