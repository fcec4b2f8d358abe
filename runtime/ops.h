// Tensor ops for strategies and collectives: the element-wise math of update rules (difference,
// axpy, interpolation, pull, mean of a set, quantization round trip) over spans and Tensors,
// delegating to kernels/.  Strategies call these instead of looping over values.  Tensor forms
// are no-ops on size-only tensors; span forms REQUIRE equal sizes (checked).
#pragma once
#include <cstddef>
#include <span>

#include "kernels/quantize.h"
#include "runtime/tensor.h"

namespace geotrain::runtime::ops {

// dst = src.
void copy(std::span<float> dst, std::span<const float> src);
// dst += src.
void add(std::span<float> dst, std::span<const float> src);
// x *= factor.
void scale(std::span<float> x, float factor);
// out = a - b.
void sub(std::span<float> out, std::span<const float> a, std::span<const float> b);
// y += x * a.
void axpy(std::span<float> y, float a, std::span<const float> x);
// out = x / d (a true division).  In place allowed.
void divide(std::span<float> out, std::span<const float> x, float d);
// x = alpha == 0 ? y : a * x + (1 - a) * y, with a = (float)alpha.
void lerp(std::span<float> x, std::span<const float> y, double alpha);
// x -= k * (x - target).
void pull_toward(std::span<float> x, std::span<const float> target, float k);
// x = 0.5 * (x + y).
void average_pair(std::span<float> x, std::span<const float> y);
// u = beta * (x - center) (in double, rounded to fp32);  x -= u.
void elastic_step(std::span<float> u, std::span<float> x, std::span<const float> center, double beta);
// out = the element-wise mean of xs, summed in double in the order of xs.  REQUIRES: xs not empty.
void mean(std::span<float> out, std::span<const std::span<const float>> xs);
// The largest element-wise |a - b| (in double).
double max_abs_diff(std::span<const float> a, std::span<const float> b);

// Values per fp32 scale of the block-scaled wire formats in strategy messages.
inline constexpr std::size_t kWireScaleBlock = 256;
// x = decode(encode(x)) in `format` with kWireScaleBlock values per scale (fp32: unchanged).
void quantize_roundtrip(std::span<float> x, kernels::WireFormat format);

// Tensor forms: no-ops when the output tensor is size-only.
void quantize_roundtrip(Tensor& x, kernels::WireFormat format);
void average_pair(Tensor& x, std::span<const float> y);
void copy(Tensor& dst, std::span<const float> src);

}  // namespace geotrain::runtime::ops
