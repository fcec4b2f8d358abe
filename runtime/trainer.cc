// Trainer: batches from the shard, loss and gradient and optimizer steps through the backend.
#include "runtime/trainer.h"

#include <algorithm>
#include <utility>

#include "kernels/check.h"

namespace geotrain::runtime {

Trainer::Trainer(std::size_t parameters, double wire_bytes, OptimizerSpec optimizer)
    : params_(Tensor::phantom(parameters)), grads_(Tensor::phantom(parameters)), optimizer_(std::move(optimizer), 0) {
  params_.set_wire_bytes_per_value(wire_bytes);
  grads_.set_wire_bytes_per_value(wire_bytes);
}

Trainer::Trainer(const ModelSpec& model, const Dataset& train, std::vector<std::uint32_t> shard,
                 OptimizerSpec optimizer, std::span<const float> initial, Rng rng, double wire_bytes,
                 BackendKind backend)
    : params_(Tensor::from({initial.begin(), initial.end()})),
      grads_(Tensor::zeros(initial.size())),
      optimizer_(std::move(optimizer), initial.size()),
      backend_(make_backend(backend, model)),
      train_(&train),
      shard_(std::move(shard)),
      rng_(rng) {
  GEOTRAIN_CHECK(backend_->parameter_count() == initial.size(), "initial parameters do not fit the model");
  GEOTRAIN_CHECK(!shard_.empty(), "a worker's data shard is empty");
  params_.set_wire_bytes_per_value(wire_bytes);
  grads_.set_wire_bytes_per_value(wire_bytes);
}

Trainer::~Trainer() { settle(); }

Tensor Trainer::like_params() const {
  Tensor t = is_real() ? Tensor::zeros(params_.numel()) : Tensor::phantom(params_.numel());
  t.set_wire_bytes_per_value(params_.wire_bytes_per_value());
  return t;
}

double Trainer::forward_backward(int batch) {
  settle();
  return pass(batch);
}

double Trainer::forward_backward_on(std::span<const std::uint32_t> indices) {
  settle();
  return pass_on(indices);
}

void Trainer::start_forward_backward(int batch, MathPool* pool) {
  settle();
  error_ = nullptr;
  if (pool == nullptr || !is_real()) {
    try {
      loss_ = pass(batch);
    } catch (...) {
      error_ = std::current_exception();
    }
    return;
  }
  pool_ = pool;
  pending_ = pool->submit([this, batch] { return pass(batch); });
}

double Trainer::finish_forward_backward() {
  settle();
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  return loss_;
}

void Trainer::wait_for_pass() {
  const MathPool::Ticket ticket = std::exchange(pending_, nullptr);
  try {
    loss_ = pool_->wait(ticket);
  } catch (...) {
    error_ = std::current_exception();
  }
}

double Trainer::pass(int batch) {
  if (!is_real()) return 0;
  std::vector<std::uint32_t> idx(static_cast<std::size_t>(batch));
  for (auto& i : idx) {
    if (cursor_ == 0)  // a new epoch: reshuffle (Fisher-Yates with the worker's stream)
      for (std::size_t k = shard_.size(); k > 1; --k) std::swap(shard_[k - 1], shard_[rng_.below(k)]);
    i = shard_[cursor_];
    cursor_ = (cursor_ + 1) % shard_.size();
  }
  return pass_on(idx);
}

double Trainer::pass_on(std::span<const std::uint32_t> indices) {
  if (!is_real()) return 0;
  const int B = static_cast<int>(indices.size());
  const int F = train_->features;
  batch_x_.resize(static_cast<std::size_t>(B) * F);
  batch_labels_.resize(B);
  batch_y_.resize(B);
  for (int b = 0; b < B; ++b) {
    const std::size_t i = indices[b];
    std::copy_n(train_->x.begin() + static_cast<std::ptrdiff_t>(i * F), F, batch_x_.begin() + static_cast<std::ptrdiff_t>(b) * F);
    if (train_->classes > 0) batch_labels_[b] = train_->labels[i];
    else batch_y_[b] = train_->y[i];
  }
  return backend_->forward_backward(grads_.values(), params_.values(), batch_x_.data(), batch_labels_.data(),
                                    batch_y_.data(), B);
}

void Trainer::optimizer_step(const Tensor& g, double lr_scale) {
  settle();
  if (!is_real()) return;
  backend_->optimizer_step(optimizer_, params_.values(), g.values(), lr_scale);
}

}  // namespace geotrain::runtime
