// Element-wise reductions used by collectives: accumulate, copy and scale fp32 vectors.
// CPU versions; they are the spec for any accelerated twin. Nothing here allocates.
#pragma once
#include <cstddef>

namespace geotrain::kernels {

// dst[i] += src[i] for i in [0, n).  dst and src must not overlap.
void add_into(float* dst, const float* src, std::size_t n);

// dst[i] = src[i] for i in [0, n).
void copy(float* dst, const float* src, std::size_t n);

// x[i] *= factor for i in [0, n).
void scale(float* x, float factor, std::size_t n);

// dst[i] += factor * src[i] for i in [0, n) (the product rounded to fp32, then the sum).  dst and
// src must not overlap.
void add_scaled_into(float* dst, const float* src, float factor, std::size_t n);

// dst[i] = (dst[i] + src[i]) * factor: bit for bit add_into then scale (each operation rounds to
// fp32 either way), in one pass.
void add_then_scale(float* dst, const float* src, float factor, std::size_t n);

}  // namespace geotrain::kernels
