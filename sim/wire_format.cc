// Wire formats: names, parsing, bytes per value, quantization round trips.
#include "sim/wire_format.h"

#include <cmath>

#include "kernels/check.h"
#include "runtime/ops.h"

namespace geotrain::sim {

namespace {
// Every wire format, in the order the error messages list them.
constexpr kernels::WireFormat kAllFormats[] = {kernels::WireFormat::fp32, kernels::WireFormat::bf16,
                                               kernels::WireFormat::fp16, kernels::WireFormat::int8,
                                               kernels::WireFormat::fp4_e3m0, kernels::WireFormat::ternary};
constexpr std::string_view kNative = "native";
}  // namespace

std::vector<std::string> wire_format_names() {
  std::vector<std::string> names;
  for (const auto f : kAllFormats) names.emplace_back(kernels::wire_format_name(f));
  return names;
}

std::vector<std::string> message_format_names() {
  std::vector<std::string> names{std::string(kNative)};
  for (auto& n : wire_format_names()) names.push_back(std::move(n));
  return names;
}

MessageFormat message_format_from_name(const std::string& name) {
  if (name == kNative) return std::nullopt;
  const auto f = kernels::parse_wire_format(name);
  GEOTRAIN_CHECK(f.has_value(), "unknown wire format (validated at load)");
  return *f;
}

kernels::WireFormat read_wire_format(JsonReader& reader, std::string_view key, kernels::WireFormat fallback,
                                     const std::vector<kernels::WireFormat>& allowed) {
  std::vector<std::string> names;
  for (const auto f : allowed) names.emplace_back(kernels::wire_format_name(f));
  if (allowed.empty()) names = wire_format_names();
  const std::string name = reader.choice_or(key, std::string(kernels::wire_format_name(fallback)), names);
  return *kernels::parse_wire_format(name);
}

MessageFormat read_message_format(JsonReader& reader) {
  return message_format_from_name(reader.choice_or("wire_format", std::string(kNative), message_format_names()));
}

double wire_bytes_per_value(kernels::WireFormat format) {
  constexpr std::size_t kBlock = runtime::ops::kWireScaleBlock;
  constexpr std::size_t kValues = kBlock * 4096;  // a multiple of the block: exact overhead
  return static_cast<double>(kernels::wire_bytes(format, kValues, kBlock)) / kValues;
}

void apply_wire_format(runtime::Tensor& t, kernels::WireFormat format) {
  t.set_wire_bytes_per_value(wire_bytes_per_value(format));
  runtime::ops::quantize_roundtrip(t, format);
}

void set_allreduce_wire_format(runtime::Tensor& t, kernels::WireFormat format) {
  t.set_wire_bytes_per_value(wire_bytes_per_value(format));
  t.set_sum_format(format);
}

WireBody to_wire(std::span<const float> values, std::size_t count, MessageFormat format,
                 double native_bytes_per_value) {
  WireBody body;
  const double per_value = format ? wire_bytes_per_value(*format) : native_bytes_per_value;
  body.bytes = static_cast<std::uint64_t>(std::ceil(static_cast<double>(count) * per_value));
  body.values.assign(values.begin(), values.end());
  if (format && !body.values.empty()) runtime::ops::quantize_roundtrip(body.values, *format);
  return body;
}

}  // namespace geotrain::sim
