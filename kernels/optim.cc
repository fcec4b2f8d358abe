// CPU optimizer kernels.
#include "kernels/optim.h"

#include <cmath>

namespace geotrain::kernels {

void sgd_step(float* w, const float* g, float lr, float weight_decay, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) w[i] -= lr * (g[i] + weight_decay * w[i]);
}

void momentum_step(float* w, float* v, const float* g, float lr, float mu, float weight_decay, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = mu * v[i] + (g[i] + weight_decay * w[i]);
    w[i] -= lr * v[i];
  }
}

void nesterov_step(float* w, float* v, const float* g, float lr, float mu, float weight_decay, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float grad = g[i] + weight_decay * w[i];
    v[i] = mu * v[i] + grad;
    w[i] -= lr * (grad + mu * v[i]);
  }
}

void adamw_step(float* w, float* m, float* v, const float* g, float lr, float beta1, float beta2,
                float eps, float weight_decay, long step, std::size_t n) {
  const double c1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double c2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  for (std::size_t i = 0; i < n; ++i) {
    m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    const double mhat = m[i] / c1, vhat = v[i] / c2;
    w[i] -= static_cast<float>(lr * (mhat / (std::sqrt(vhat) + eps) + weight_decay * w[i]));
  }
}

}  // namespace geotrain::kernels
