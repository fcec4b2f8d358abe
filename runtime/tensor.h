// A flat fp32 tensor that either holds its values ("real") or only its size ("phantom").
// Collectives and strategies are written once against Tensor: with a real tensor they move
// and reduce real values; with a phantom they move only bytes (timing and cost runs).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/quantize.h"

namespace geotrain::runtime {

class Tensor {
 public:
  // A size-only tensor of `numel` values.
  static Tensor phantom(std::size_t numel);
  // A real tensor of `numel` zeros.
  static Tensor zeros(std::size_t numel);
  // A real tensor holding `values`.
  static Tensor from(std::vector<float> values);

  std::size_t numel() const { return numel_; }
  bool is_real() const { return real_; }

  // Bytes one value occupies on the wire (4 for fp32, 2 for fp16/bf16, 0.5 for fp4).
  // The in-memory master copy stays fp32 either way.
  double wire_bytes_per_value() const { return wire_bytes_per_value_; }
  void set_wire_bytes_per_value(double bytes) { wire_bytes_per_value_ = bytes; }
  // Bytes that `count` values of this tensor occupy on the wire, rounded up to whole bytes.
  std::uint64_t wire_bytes(std::size_t count) const;
  // The format the values of an all-reduce of this tensor travel in (kernels/quantize.h): every
  // partial sum a member sends is rounded through it first, and so is a complete sum once, by the
  // member that completes it, before it goes back out (every member ends with the same values).
  // fp32 (the default): nothing is rounded.  The bytes stay wire_bytes_per_value's.
  kernels::WireFormat sum_format() const { return sum_format_; }
  void set_sum_format(kernels::WireFormat format) { sum_format_ = format; }

  // REQUIRES: is_real().
  std::span<float> values();
  std::span<const float> values() const;
  // Values [begin, begin+count).  REQUIRES: is_real() and the range inside the tensor.
  std::span<float> slice(std::size_t begin, std::size_t count);
  std::span<const float> slice(std::size_t begin, std::size_t count) const;

 private:
  Tensor(std::size_t numel, bool real) : numel_(numel), real_(real) {}
  std::size_t numel_ = 0;
  bool real_ = false;
  double wire_bytes_per_value_ = 4.0;
  kernels::WireFormat sum_format_ = kernels::WireFormat::fp32;
  std::vector<float> data_;
};

}  // namespace geotrain::runtime
