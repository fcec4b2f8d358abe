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
#include "sim/strategies/catalog.h"
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
        kernels::pack_pairs(packed.values().data(), val.data(), idx.data(), k);
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
          kernels::scatter_add_pairs(g.data(), a.data() + m * 2 * k, k);
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

StrategyInfo topk_strategy() {
  StrategyInfo info{"topk", "top-k sparsification: each worker sends its largest gradient entries", {}};
  info.knobs = {{"ratio", KnobType::number, 0.01, 0, 1, true, {}, "share of the gradient's entries sent"},
                {"error_feedback", KnobType::boolean, false, 0, 0, false, {}, "keep what was not sent and add it next step"}};
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario&) -> std::unique_ptr<Strategy> {
    const double ratio = read_number(reader, knob_of(knobs, "ratio"));
    const bool ef = read_boolean(reader, knob_of(knobs, "error_feedback"));
    return std::make_unique<TopK>(ratio, ef);
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) {
    if (knobs["error_feedback"].get<bool>()) b.add_worker("error-feedback residual", kFp32_B);
  };
  return info;
}

StrategyInfo dgc_strategy() {
  StrategyInfo info{"dgc", "deep gradient compression: top-k with error feedback", {}};
  info.knobs = {{"ratio", KnobType::number, 0.001, 0, 1, true, {}, "share of the gradient's entries sent"}};
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario&) -> std::unique_ptr<Strategy> {
    const double ratio = read_number(reader, knob_of(knobs, "ratio"));
    return std::make_unique<TopK>(ratio, true);
  };
  info.add_state = [](const nlohmann::json&, const std::string&, StateBytes& b) { b.add_worker("error-feedback residual", kFp32_B); };
  return info;
}

}  // namespace geotrain::sim
