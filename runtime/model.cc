// Mlp: forward, backward and evaluation through the kernels (BLAS GEMM).
#include "runtime/model.h"

#include <cmath>
#include <string>

#include "kernels/gemm.h"
#include "kernels/nn.h"
#include "kernels/check.h"

namespace geotrain::runtime {
namespace {
constexpr int kEvalBatch = 1000;
constexpr double kLossFlopsPerOutput = 5;
}  // namespace

Mlp::Mlp(ModelSpec spec) : spec_(std::move(spec)) {
  widths_.push_back(spec_.inputs);
  for (int h : spec_.hidden) widths_.push_back(h);
  widths_.push_back(spec_.outputs);
  for (std::size_t l = 1; l < widths_.size(); ++l)
    parameter_count_ += static_cast<std::size_t>(widths_[l - 1]) * widths_[l] + widths_[l];
}

double Mlp::flops_per_sample() const {
  double flops = 0;
  const std::size_t layers = widths_.size() - 1;
  for (std::size_t l = 1; l <= layers; ++l) {
    const double in = widths_[l - 1], out = widths_[l];
    flops += 4 * in * out + 2 * out;          // forward GEMM, weight gradient, bias, bias gradient
    if (l > 1) flops += 2 * in * out;         // input gradient
    if (l < layers) flops += 2 * out;         // activation and its derivative
  }
  return flops + kLossFlopsPerOutput * widths_.back();
}

std::vector<Layer> Mlp::layers() const {
  std::vector<Layer> out;
  const std::size_t count = widths_.size() - 1;
  for (std::size_t l = 1; l <= count; ++l) {
    const double in = widths_[l - 1], width = widths_[l];
    const bool hidden = l < count;
    Layer layer{"dense" + std::to_string(l - 1), in * width + width, 0, 0};
    layer.forward_flops = 2 * in * width + width + (hidden ? width : 0);  // GEMM, bias, activation
    layer.backward_flops = 2 * in * width + width + (l > 1 ? 2 * in * width : 0) + (hidden ? width : 0);
    if (!hidden) layer.forward_flops += kLossFlopsPerOutput * width;
    out.push_back(std::move(layer));
  }
  return out;
}

void Mlp::init(std::span<float> params, Rng& rng) const {
  GEOTRAIN_CHECK(params.size() == parameter_count_, "parameter vector of the wrong size");
  std::size_t at = 0;
  for (std::size_t l = 1; l < widths_.size(); ++l) {
    const std::size_t in = widths_[l - 1], out = widths_[l];
    const double bound = std::sqrt(6.0 / static_cast<double>(in));
    for (std::size_t i = 0; i < in * out; ++i) params[at++] = static_cast<float>((2 * rng.uniform() - 1) * bound);
    for (std::size_t i = 0; i < out; ++i) params[at++] = 0.0f;
  }
}

void Mlp::forward(std::span<const float> params, const float* x, int B) {
  acts_.resize(widths_.size());
  acts_[0].assign(x, x + static_cast<std::size_t>(B) * widths_[0]);
  std::size_t at = 0;
  for (std::size_t l = 1; l < widths_.size(); ++l) {
    const int in = widths_[l - 1], out = widths_[l];
    const float* W = params.data() + at;                       // (in, out)
    const float* b = W + static_cast<std::size_t>(in) * out;   // (out)
    at += static_cast<std::size_t>(in) * out + out;
    auto& z = acts_[l];
    z.resize(static_cast<std::size_t>(B) * out);
    kernels::gemm(z.data(), acts_[l - 1].data(), W, B, out, in, false, false, 1.0f, 0.0f);  // (B,out)
    kernels::bias_add(z.data(), b, B, out);
    if (l + 1 < widths_.size()) {
      if (spec_.activation == Activation::relu) kernels::relu_forward(z.data(), z.data(), z.size());
      else kernels::tanh_forward(z.data(), z.data(), z.size());
    }
  }
}

double Mlp::loss_and_grad(std::span<float> grads, std::span<const float> params, const float* x,
                          const std::int32_t* labels, const float* targets, int B) {
  GEOTRAIN_CHECK(params.size() == parameter_count_ && grads.size() == parameter_count_, "wrong sizes");
  forward(params, x, B);
  const std::size_t L = widths_.size() - 1;
  delta_.resize(acts_[L].size());
  const double loss =
      spec_.loss == Loss::softmax_cross_entropy
          ? kernels::softmax_cross_entropy(delta_.data(), acts_[L].data(), labels, B, widths_[L])
          : kernels::half_mse(delta_.data(), acts_[L].data(), targets, acts_[L].size());
  // Walk back through the layers; `at` is the end of layer l's parameters.
  std::size_t at = parameter_count_;
  for (std::size_t l = L; l >= 1; --l) {
    const int in = widths_[l - 1], out = widths_[l];
    at -= static_cast<std::size_t>(in) * out + out;
    float* dW = grads.data() + at;                         // (in, out)
    float* db = dW + static_cast<std::size_t>(in) * out;   // (out)
    kernels::gemm(dW, acts_[l - 1].data(), delta_.data(), in, out, B, true, false, 1.0f, 0.0f);
    kernels::bias_grad(db, delta_.data(), B, out);
    if (l == 1) break;
    delta_prev_.resize(static_cast<std::size_t>(B) * in);
    kernels::gemm(delta_prev_.data(), delta_.data(), params.data() + at, B, in, out, false, true, 1.0f, 0.0f);
    if (spec_.activation == Activation::relu)
      kernels::relu_backward(delta_prev_.data(), delta_prev_.data(), acts_[l - 1].data(), delta_prev_.size());
    else
      kernels::tanh_backward(delta_prev_.data(), delta_prev_.data(), acts_[l - 1].data(), delta_prev_.size());
    std::swap(delta_, delta_prev_);
  }
  return loss;
}

Evaluation Mlp::evaluate(std::span<const float> params, const Dataset& data) {
  Evaluation e;
  const std::size_t n = data.size();
  if (n == 0) return e;
  double loss_sum = 0;
  long correct = 0;
  for (std::size_t begin = 0; begin < n; begin += kEvalBatch) {
    const int B = static_cast<int>(std::min<std::size_t>(kEvalBatch, n - begin));
    forward(params, data.x.data() + begin * data.features, B);
    const auto& out = acts_.back();
    if (spec_.loss == Loss::softmax_cross_entropy) {
      loss_sum += B * kernels::softmax_cross_entropy(nullptr, out.data(), data.labels.data() + begin, B, spec_.outputs);
      correct += kernels::count_correct(out.data(), data.labels.data() + begin, B, spec_.outputs);
    } else {
      loss_sum += B * kernels::half_mse(nullptr, out.data(), data.y.data() + begin, static_cast<std::size_t>(B));
    }
  }
  e.loss = loss_sum / static_cast<double>(n);
  e.accuracy = spec_.loss == Loss::softmax_cross_entropy ? static_cast<double>(correct) / static_cast<double>(n) : 0;
  return e;
}

}  // namespace geotrain::runtime
