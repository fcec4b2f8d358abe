// The real-training side of a run: loads the dataset named by the scenario, builds one trainer
// per worker (real on the CPU backend, size-only otherwise) from one shared initial model, and
// evaluates parameter vectors on the test set.  With runtime::math_threads() > 1 it also owns
// the pool the workers' passes run on.
#pragma once
#include <memory>
#include <span>
#include <vector>

#include "runtime/trainer.h"
#include "sim/scenario.h"

namespace geotrain::sim {

class Training {
 public:
  // Loads data when the backend is real.  Throws runtime::DataError when data cannot be read.
  Training(const Scenario& scenario, int workers);

  bool is_real() const { return real_; }
  // The trainer of worker `rank` (its own shard and RNG sub-stream, the shared initial model).
  std::unique_ptr<runtime::Trainer> make_trainer(int rank) const;
  // Test loss and accuracy of `params` (a language model: validation loss per token and
  // next-token accuracy).  REQUIRES: is_real().
  runtime::Evaluation evaluate(std::span<const float> params);
  const std::vector<float>& initial_parameters() const { return initial_; }
  // Samples of the training set (0 when not real: no data is read).
  std::size_t train_samples() const { return data_.train.size(); }
  // Threads for the workers' forward/backward passes: min(runtime::math_threads(), workers) when
  // real and more than one, else none (null).  Outlives the trainers made here only if the
  // Training does: destroy trainers first.
  runtime::MathPool* pool() { return pool_.get(); }

 private:
  const Scenario& scenario_;
  bool real_ = false;
  runtime::TrainTest data_;
  std::vector<std::vector<std::uint32_t>> shards_;
  std::vector<float> initial_;
  std::unique_ptr<runtime::Network> eval_model_;
  std::unique_ptr<runtime::MathPool> pool_;
};

}  // namespace geotrain::sim
