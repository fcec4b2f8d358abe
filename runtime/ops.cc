// Tensor ops: size checks, then the kernels/ loops.
#include "runtime/ops.h"

#include <vector>

#include "kernels/check.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace geotrain::runtime::ops {

void copy(std::span<float> dst, std::span<const float> src) {
  GEOTRAIN_CHECK(dst.size() == src.size(), "copy of tensors of different sizes");
  kernels::copy(dst.data(), src.data(), dst.size());
}

void add(std::span<float> dst, std::span<const float> src) {
  GEOTRAIN_CHECK(dst.size() == src.size(), "add of tensors of different sizes");
  kernels::add_into(dst.data(), src.data(), dst.size());
}

void scale(std::span<float> x, float factor) { kernels::scale(x.data(), factor, x.size()); }

void sub(std::span<float> out, std::span<const float> a, std::span<const float> b) {
  GEOTRAIN_CHECK(out.size() == a.size() && a.size() == b.size(), "sub of tensors of different sizes");
  kernels::subtract(out.data(), a.data(), b.data(), out.size());
}

void axpy(std::span<float> y, float a, std::span<const float> x) {
  GEOTRAIN_CHECK(y.size() == x.size(), "axpy of tensors of different sizes");
  kernels::axpy(y.data(), a, x.data(), y.size());
}

void divide(std::span<float> out, std::span<const float> x, float d) {
  GEOTRAIN_CHECK(out.size() == x.size(), "divide of tensors of different sizes");
  kernels::divide(out.data(), x.data(), d, out.size());
}

void lerp(std::span<float> x, std::span<const float> y, double alpha) {
  GEOTRAIN_CHECK(x.size() == y.size(), "lerp of tensors of different sizes");
  if (alpha == 0) kernels::copy(x.data(), y.data(), x.size());
  else kernels::lerp(x.data(), y.data(), static_cast<float>(alpha), x.size());
}

void pull_toward(std::span<float> x, std::span<const float> target, float k) {
  GEOTRAIN_CHECK(x.size() == target.size(), "pull_toward of tensors of different sizes");
  kernels::pull_toward(x.data(), target.data(), k, x.size());
}

void average_pair(std::span<float> x, std::span<const float> y) {
  GEOTRAIN_CHECK(x.size() == y.size(), "average_pair of tensors of different sizes");
  kernels::average_pair(x.data(), y.data(), x.size());
}

void elastic_step(std::span<float> u, std::span<float> x, std::span<const float> center, double beta) {
  GEOTRAIN_CHECK(u.size() == x.size() && x.size() == center.size(), "elastic_step of tensors of different sizes");
  kernels::elastic_step(u.data(), x.data(), center.data(), beta, x.size());
}

void mean(std::span<float> out, std::span<const std::span<const float>> xs) {
  GEOTRAIN_CHECK(!xs.empty(), "mean of no tensors");
  std::vector<const float*> ptrs;
  ptrs.reserve(xs.size());
  for (const auto& x : xs) {
    GEOTRAIN_CHECK(x.size() == out.size(), "mean of tensors of different sizes");
    ptrs.push_back(x.data());
  }
  kernels::mean_of(out.data(), ptrs.data(), ptrs.size(), out.size());
}

double max_abs_diff(std::span<const float> a, std::span<const float> b) {
  GEOTRAIN_CHECK(a.size() == b.size(), "max_abs_diff of tensors of different sizes");
  return kernels::max_abs_diff(a.data(), b.data(), a.size());
}

void quantize_roundtrip(std::span<float> x, kernels::WireFormat format) {
  if (format == kernels::WireFormat::fp32) return;
  kernels::roundtrip(format, x.data(), x.data(), x.size(), kWireScaleBlock);  // in place
}

void quantize_roundtrip(Tensor& x, kernels::WireFormat format) {
  if (x.is_real()) quantize_roundtrip(x.values(), format);
}

void average_pair(Tensor& x, std::span<const float> y) {
  if (x.is_real()) average_pair(x.values(), y);
}

void copy(Tensor& dst, std::span<const float> src) {
  if (dst.is_real()) copy(dst.values(), src);
}

}  // namespace geotrain::runtime::ops
