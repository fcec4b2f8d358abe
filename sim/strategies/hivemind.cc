// Hivemind-style collaborative averaging (as used by Erben et al. 2023): peers train and
// accumulate gradients, committing their samples to the current round; once the round's
// committed samples reach the target batch size, every peer (all alive: faults come later)
// waits the matchmaking delay, compresses its accumulated gradient (fp16 by default) and joins
// a butterfly all-reduce whose parts are sized by each peer's bandwidth.  The sample-weighted
// mean gradient is applied at once, or one round late (delayed update) so that the averaging
// overlaps the next round's compute.  workload.steps counts rounds (optimizer steps).
#include <optional>

#include "kernels/reduce.h"
#include "sim/json_reader.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Hivemind final : public Strategy {
 public:
  Hivemind(double target_batch, double matchmaking_s, std::string compression, bool delayed)
      : target_batch_(target_batch), matchmaking_s_(matchmaking_s), compression_(std::move(compression)),
        delayed_(delayed) {}

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const std::size_t n = trainer.params().numel();
    std::optional<Overlapped> in_flight;
    std::shared_ptr<runtime::Tensor> averaging;  // the round being averaged in the background
    for (int round = 0; round < w.steps; ++round) {
      // Accumulate sample-weighted gradients, plus the sample count in the last slot.
      auto accum = std::make_shared<runtime::Tensor>(trainer.is_real() ? runtime::Tensor::zeros(n + 1)
                                                                        : runtime::Tensor::phantom(n + 1));
      while (committed(round) < target_batch_) {
        commit(round, w.batch_per_worker);
        const double loss = ctx.compute_gradient(w.batch_per_worker);
        if (trainer.is_real()) {
          auto a = accum->values();
          const auto g = trainer.grads().values();
          for (std::size_t i = 0; i < n; ++i) a[i] += g[i] * static_cast<float>(w.batch_per_worker);
          a[n] += static_cast<float>(w.batch_per_worker);
        }
        ctx.end_step(w.batch_per_worker, loss);
      }
      if (in_flight) {  // delayed update: apply the previous round now
        ctx.join(*in_flight);
        apply(trainer, *averaging);
        in_flight.reset();
      }
      ctx.sleep(matchmaking_s_);
      apply_wire_format(*accum, compression_);
      const auto weights = bandwidth_weights(ctx);
      auto average = [accum, weights](WorkerContext& c) {
        butterfly_allreduce_sum(c, *accum, c.platform().ring_order(), weights);
      };
      if (delayed_) {
        in_flight = ctx.start_overlapped(1, average);
        averaging = accum;
      } else {
        average(ctx);
        apply(trainer, *accum);
      }
    }
    if (in_flight) {
      ctx.join(*in_flight);
      apply(trainer, *averaging);
    }
  }

 private:
  double committed(int round) const { return round < static_cast<int>(committed_.size()) ? committed_[round] : 0; }
  void commit(int round, double samples) {
    if (static_cast<int>(committed_.size()) <= round) committed_.resize(round + 1, 0);
    committed_[round] += samples;
  }

  // Parts of the butterfly sized by each peer's NIC bandwidth.
  static std::vector<double> bandwidth_weights(const WorkerContext& ctx) {
    std::vector<double> w;
    for (int rank : ctx.platform().ring_order()) w.push_back(ctx.platform().nodes()[rank].type->nic_Bps);
    return w;
  }

  // g = sum(g_i * samples_i) / sum(samples_i); then the inner optimizer steps with it.
  static void apply(runtime::Trainer& trainer, runtime::Tensor& summed) {
    if (!trainer.is_real()) return;
    const auto s = summed.values();
    const std::size_t n = s.size() - 1;
    auto g = trainer.grads().values();
    for (std::size_t i = 0; i < n; ++i) g[i] = s[i] / s[n];
    trainer.optimizer_step(trainer.grads());
  }

  double target_batch_, matchmaking_s_;
  std::string compression_;
  bool delayed_;
  std::vector<double> committed_;  // samples committed to each round, over all peers
};

}  // namespace

std::unique_ptr<Strategy> make_hivemind(JsonReader& reader, const Scenario&) {
  const double target = reader.number_or("target_batch", 32768, 1, 1e12);
  const double matchmaking = reader.non_negative_or("matchmaking_s", 5.0);
  const std::string compression = reader.choice_or("compression", "fp16", {"fp32", "fp16", "bf16"});
  const bool delayed = reader.boolean_or("delayed_update", true);
  return std::make_unique<Hivemind>(target, matchmaking, compression, delayed);
}

}  // namespace geotrain::sim
