// Fully connected models on a flat parameter vector: softmax regression (no hidden layer), an
// MLP with configurable hidden layers (ReLU or tanh), and linear regression (squared loss).
// The model holds only its architecture and scratch buffers; parameters and gradients are
// flat fp32 vectors so collectives can move them whole. Layout per layer: W (in,out), b (out).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/architecture.h"
#include "runtime/dataset.h"
#include "runtime/rng.h"

namespace geotrain::runtime {

enum class Activation { relu, tanh };
enum class Loss { softmax_cross_entropy, half_mse };

struct ModelSpec {
  int inputs = 0;
  std::vector<int> hidden;  // empty: softmax/linear regression
  int outputs = 0;          // classes, or 1 for regression
  Activation activation = Activation::relu;
  Loss loss = Loss::softmax_cross_entropy;
};

struct Evaluation {
  double loss = 0;
  double accuracy = 0;  // 0 for regression
};

class Mlp {
 public:
  explicit Mlp(ModelSpec spec);

  const ModelSpec& spec() const { return spec_; }
  std::size_t parameter_count() const { return parameter_count_; }
  // Forward + backward FLOPs for one training sample, from the architecture:
  // per layer 2*in*out (forward GEMM) + 2*in*out (weight gradient) + 2*in*out (input gradient,
  // not for the first layer) + out (bias) + out (bias gradient) + 2*out (activation and its
  // derivative, hidden layers), plus 5 per output for the loss.
  double flops_per_sample() const;
  // The same per layer ("dense0", "dense1", ...): parameters in*out + out; forward the GEMM, the
  // bias and the activation (hidden layers), plus the loss in the last layer; backward the rest.
  // The sums are parameter_count() and flops_per_sample().
  std::vector<Layer> layers() const;

  // Uniform(-sqrt(6/in), sqrt(6/in)) weights (He et al.), zero biases.
  void init(std::span<float> params, Rng& rng) const;

  // Mean loss of a batch of B samples and its gradient (overwrites `grads`).  x is (B, inputs);
  // labels (B) for cross-entropy, targets (B) for squared loss.
  double loss_and_grad(std::span<float> grads, std::span<const float> params, const float* x,
                       const std::int32_t* labels, const float* targets, int B);
  // Mean loss and accuracy over a whole dataset (batched forward only).
  Evaluation evaluate(std::span<const float> params, const Dataset& data);

 private:
  // Forward pass of B rows; fills acts_ (acts_[0] is the input copy, acts_.back() the output).
  void forward(std::span<const float> params, const float* x, int B);
  ModelSpec spec_;
  std::vector<int> widths_;  // inputs, hidden..., outputs
  std::size_t parameter_count_ = 0;
  std::vector<std::vector<float>> acts_;    // per layer, (B, width)
  std::vector<float> delta_, delta_prev_;   // scratch gradients (B, width)
};

}  // namespace geotrain::runtime
