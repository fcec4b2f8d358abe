// Synchronous data parallel (Jin et al. 2016): every step each worker computes a gradient on
// its batch, the gradients are averaged with an all-reduce, and every replica applies the mean.
#include "sim/json_reader.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class Ddp final : public Strategy {
 public:
  explicit Ddp(AllreduceAlgo algo) : algo_(algo) {}

  void run(WorkerContext& ctx) override {
    const Workload& w = ctx.scenario().workload;
    runtime::Tensor grad = runtime::Tensor::phantom(static_cast<std::size_t>(w.parameters));
    grad.set_wire_bytes_per_value(w.wire_bytes_per_param);
    for (int step = 0; step < w.steps; ++step) {
      ctx.compute(w.batch_per_worker);
      ctx.allreduce_mean(grad, algo_);
      ctx.end_step(step, w.batch_per_worker);
    }
  }

 private:
  AllreduceAlgo algo_;
};

}  // namespace

std::unique_ptr<Strategy> make_ddp(JsonReader& reader) {
  const auto algo = reader.choice_or("allreduce", "ring", allreduce_algo_names());
  return std::make_unique<Ddp>(allreduce_algo_from_name(algo));
}

}  // namespace geotrain::sim
