// What one worker trains: its replica of the parameters, its gradient buffer, its optimizer and
// its shard of the data. A real trainer runs the model and the optimizer on its Backend
// (runtime/backend.h); a phantom trainer has only sizes and no backend (timing-and-cost runs of
// any model size), and the same strategy code drives both.
#pragma once
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <vector>

#include "runtime/backend.h"
#include "runtime/dataset.h"
#include "runtime/math_pool.h"
#include "runtime/model.h"
#include "runtime/optimizer.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace geotrain::runtime {

class Trainer {
 public:
  // Size-only: `parameters` values, `wire_bytes` per value on the wire.
  Trainer(std::size_t parameters, double wire_bytes, OptimizerSpec optimizer);
  // Real: starts from `initial` parameters, runs on a `backend` backend.  REQUIRES: `train`
  // outlives the trainer; backend != none.
  Trainer(const ModelSpec& model, const Dataset& train, std::vector<std::uint32_t> shard, OptimizerSpec optimizer,
          std::span<const float> initial, Rng rng, double wire_bytes, BackendKind backend = BackendKind::cpu);

  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  bool is_real() const { return params_.is_real(); }
  // Every accessor but the const params() first waits for a pass started by
  // start_forward_backward(): a pass writes the gradient and reads the parameters.
  Tensor& params() {
    settle();
    return params_;
  }
  const Tensor& params() const { return params_; }
  Tensor& grads() {
    settle();
    return grads_;
  }
  Optimizer& optimizer() {
    settle();
    return optimizer_;
  }
  // A tensor of the parameters' size, real or phantom like them, with the same wire format.
  Tensor like_params() const;

  // Mean gradient of the next `batch` samples of the shard into grads(); returns the mean loss
  // (0 for phantom).  The shard is reshuffled with the worker's RNG at every epoch.
  double forward_backward(int batch);
  // Same on given training-set indices (tests that need exact batches).
  double forward_backward_on(std::span<const std::uint32_t> indices);
  // forward_backward(batch) on one of `pool`'s threads (at once in this thread when `pool` is
  // null or the trainer is phantom); finish_forward_backward() returns its loss (or rethrows).
  // The pass reads only what this trainer owns (parameters, shard, RNG, model buffers) and the
  // read-only training set, and every other access to the trainer waits for it, so whoever
  // touches the trainer afterwards sees exactly what an immediate pass would have left.
  void start_forward_backward(int batch, MathPool* pool);
  double finish_forward_backward();
  // params = optimizer(params, g).  No-op for phantom tensors.
  void optimizer_step(const Tensor& g, double lr_scale = 1.0);
  std::size_t shard_size() const { return shard_.size(); }

 private:
  Tensor params_, grads_;
  Optimizer optimizer_;
  std::unique_ptr<Backend> backend_;  // null for phantom trainers
  const Dataset* train_ = nullptr;
  std::vector<std::uint32_t> shard_;
  std::size_t cursor_ = 0;
  Rng rng_{0};
  std::vector<float> batch_x_, batch_y_;
  std::vector<std::int32_t> batch_labels_;
  MathPool* pool_ = nullptr;     // where the pass in `pending_` runs
  MathPool::Ticket pending_;     // a pass not yet waited for
  double loss_ = 0;              // the last started pass's loss, once settled
  std::exception_ptr error_;     // ... or what it threw

  void settle() {
    if (pending_) wait_for_pass();
  }
  void wait_for_pass();
  double pass(int batch);
  double pass_on(std::span<const std::uint32_t> indices);
};

}  // namespace geotrain::runtime
