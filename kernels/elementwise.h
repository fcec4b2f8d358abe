// Element-wise update kernels on the CPU (the spec for GPU twins) used by the strategies' update
// rules: differences, interpolations, pulls toward a copy, means of a set of vectors.  Outputs
// first, then inputs, then sizes.  Each loop runs in index order and keeps the stated expression
// (and its float/double intermediates), so results are bit-reproducible.  Nothing allocates.
#pragma once
#include <cstddef>

namespace geotrain::kernels {

// out[i] = a[i] - b[i].
void subtract(float* out, const float* a, const float* b, std::size_t n);

// y[i] += x[i] * a.
void axpy(float* y, float a, const float* x, std::size_t n);

// out[i] = x[i] / d  (a true division, not a multiplication by 1/d).  In place allowed.
void divide(float* out, const float* x, float d, std::size_t n);

// x[i] = a * x[i] + (1 - a) * y[i]  (fp32 throughout).
void lerp(float* x, const float* y, float a, std::size_t n);

// x[i] -= k * (x[i] - target[i]): x moves a fraction k of the way toward target.
void pull_toward(float* x, const float* target, float k, std::size_t n);

// x[i] = 0.5f * (x[i] + y[i]).
void average_pair(float* x, const float* y, std::size_t n);

// Elastic step: u[i] = (float)(beta * (double)(x[i] - center[i]));  x[i] -= u[i].
void elastic_step(float* u, float* x, const float* center, double beta, std::size_t n);

// out[i] = (float)((0.0 + xs[0][i] + xs[1][i] + ... + xs[count-1][i]) / count), summed in
// double in the order of xs.  REQUIRES: count > 0; every xs[r] holds n values.
void mean_of(float* out, const float* const* xs, std::size_t count, std::size_t n);

// The largest |(double)a[i] - b[i]| (0 for n = 0).
double max_abs_diff(const float* a, const float* b, std::size_t n);

}  // namespace geotrain::kernels
