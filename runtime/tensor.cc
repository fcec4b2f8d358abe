// Tensor: real or phantom fp32 storage.
#include "runtime/tensor.h"

#include <cmath>

#include "kernels/check.h"

namespace geotrain::runtime {

Tensor Tensor::phantom(std::size_t numel) { return Tensor(numel, false); }

Tensor Tensor::zeros(std::size_t numel) {
  Tensor t(numel, true);
  t.data_.assign(numel, 0.0f);
  return t;
}

Tensor Tensor::from(std::vector<float> values) {
  Tensor t(values.size(), true);
  t.data_ = std::move(values);
  return t;
}

std::uint64_t Tensor::wire_bytes(std::size_t count) const {
  return static_cast<std::uint64_t>(std::ceil(static_cast<double>(count) * wire_bytes_per_value_));
}

std::span<float> Tensor::values() {
  GEOTRAIN_CHECK(real_, "values() of a phantom tensor");
  return {data_.data(), data_.size()};
}

std::span<const float> Tensor::values() const {
  GEOTRAIN_CHECK(real_, "values() of a phantom tensor");
  return {data_.data(), data_.size()};
}

std::span<float> Tensor::slice(std::size_t begin, std::size_t count) {
  GEOTRAIN_CHECK(real_ && begin + count <= numel_, "slice outside the tensor");
  return {data_.data() + begin, count};
}

std::span<const float> Tensor::slice(std::size_t begin, std::size_t count) const {
  GEOTRAIN_CHECK(real_ && begin + count <= numel_, "slice outside the tensor");
  return {data_.data() + begin, count};
}

}  // namespace geotrain::runtime
