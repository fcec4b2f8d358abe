// Training: data loading, sharding, initial model, evaluation.
#include "sim/training.h"

#include <algorithm>

#include "kernels/gemm.h"

namespace geotrain::sim {

Training::Training(const Scenario& scenario, int workers) : scenario_(scenario) {
  const Workload& w = scenario.workload;
  real_ = w.backend != runtime::BackendKind::none;
  if (!real_) return;
  kernels::set_blas_threads(1);  // reproducible, and leaves cores to parallel runs
  const DatasetSpec& d = w.dataset;
  if (d.name == "fashion_mnist") {
    data_ = runtime::load_fashion_mnist(d.path, d.train_samples, d.test_samples);
  } else {
    data_ = runtime::make_synthetic_linear(d.features, d.train_samples, d.test_samples, d.noise, scenario.seed).data;
  }
  runtime::Rng shard_rng = runtime::Rng::substream(scenario.seed, "shards");
  shards_ = runtime::make_shards(data_.train, workers, d.partition, shard_rng);
  runtime::Rng init_rng = runtime::Rng::substream(scenario.seed, "init");
  initial_.resize(static_cast<std::size_t>(w.parameters));
  runtime::Mlp(w.model).init(initial_, init_rng);
  eval_model_ = std::make_unique<runtime::Mlp>(w.model);
  const int threads = std::min(runtime::math_threads(), workers);
  if (threads > 1) pool_ = std::make_unique<runtime::MathPool>(threads);
}

std::unique_ptr<runtime::Trainer> Training::make_trainer(int rank) const {
  const Workload& w = scenario_.workload;
  if (!real_)
    return std::make_unique<runtime::Trainer>(static_cast<std::size_t>(w.parameters), w.wire_bytes_per_param,
                                              w.optimizer);
  return std::make_unique<runtime::Trainer>(w.model, data_.train, shards_[rank], w.optimizer, initial_,
                                            runtime::Rng::substream(scenario_.seed, "data-" + std::to_string(rank)),
                                            w.wire_bytes_per_param, w.backend);
}

runtime::Evaluation Training::evaluate(std::span<const float> params) {
  return eval_model_->evaluate(params, data_.test);
}

}  // namespace geotrain::sim
