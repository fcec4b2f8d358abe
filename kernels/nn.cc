// CPU layer kernels: plain loops in a fixed order.
#include "kernels/nn.h"

#include <algorithm>
#include <cmath>

namespace geotrain::kernels {

void bias_add(float* out, const float* bias, int B, int N) {
  for (int b = 0; b < B; ++b)
    for (int n = 0; n < N; ++n) out[b * N + n] += bias[n];
}

void bias_grad(float* dbias, const float* dout, int B, int N) {
  for (int n = 0; n < N; ++n) dbias[n] = 0;
  for (int b = 0; b < B; ++b)
    for (int n = 0; n < N; ++n) dbias[n] += dout[b * N + n];
}

void relu_forward(float* out, const float* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = in[i] > 0 ? in[i] : 0.0f;
}

void relu_backward(float* din, const float* dout, const float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) din[i] = out[i] > 0 ? dout[i] : 0.0f;
}

void tanh_forward(float* out, const float* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
}

void tanh_backward(float* din, const float* dout, const float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) din[i] = dout[i] * (1.0f - out[i] * out[i]);
}

double softmax_cross_entropy(float* dlogits, const float* logits, const std::int32_t* labels, int B, int C) {
  double loss = 0;
  for (int b = 0; b < B; ++b) {
    const float* row = logits + static_cast<std::size_t>(b) * C;
    const float max = *std::max_element(row, row + C);
    double sum = 0;
    for (int c = 0; c < C; ++c) sum += std::exp(static_cast<double>(row[c]) - max);
    const double log_sum = std::log(sum) + max;
    loss += log_sum - row[labels[b]];
    if (dlogits) {
      float* d = dlogits + static_cast<std::size_t>(b) * C;
      for (int c = 0; c < C; ++c) {
        const double p = std::exp(static_cast<double>(row[c]) - log_sum);
        d[c] = static_cast<float>((p - (c == labels[b] ? 1.0 : 0.0)) / B);
      }
    }
  }
  return loss / B;
}

int count_correct(const float* logits, const std::int32_t* labels, int B, int C) {
  int correct = 0;
  for (int b = 0; b < B; ++b) {
    const float* row = logits + static_cast<std::size_t>(b) * C;
    if (std::max_element(row, row + C) - row == labels[b]) ++correct;
  }
  return correct;
}

double half_mse(float* dpred, const float* pred, const float* target, std::size_t n) {
  double loss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(pred[i]) - target[i];
    loss += 0.5 * d * d;
    if (dpred) dpred[i] = static_cast<float>(d / static_cast<double>(n));
  }
  return loss / static_cast<double>(n);
}

}  // namespace geotrain::kernels
