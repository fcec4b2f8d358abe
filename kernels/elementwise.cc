// CPU element-wise update kernels: plain loops in index order.
#include "kernels/elementwise.h"

#include <algorithm>
#include <cmath>

namespace geotrain::kernels {

void subtract(float* out, const float* a, const float* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
}

void axpy(float* y, float a, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += x[i] * a;
}

void divide(float* out, const float* x, float d, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] / d;
}

void lerp(float* x, const float* y, float a, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = a * x[i] + (1 - a) * y[i];
}

void pull_toward(float* x, const float* target, float k, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] -= k * (x[i] - target[i]);
}

void average_pair(float* x, const float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = 0.5f * (x[i] + y[i]);
}

void elastic_step(float* u, float* x, const float* center, double beta, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    u[i] = static_cast<float>(beta * (x[i] - center[i]));
    x[i] -= u[i];
  }
}

void mean_of(float* out, const float* const* xs, std::size_t count, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    double sum = 0.0;
    for (std::size_t r = 0; r < count; ++r) sum += xs[r][i];
    out[i] = static_cast<float>(sum / static_cast<double>(count));
  }
}

double max_abs_diff(const float* a, const float* b, std::size_t n) {
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(double{a[i]} - b[i]));
  return worst;
}

}  // namespace geotrain::kernels
