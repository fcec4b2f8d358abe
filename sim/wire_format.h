// Wire formats of strategy messages: parsed once at load (an enum, not a string), the bytes a
// value takes on the wire, and a message body's quantization round trip.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/quantize.h"
#include "runtime/tensor.h"
#include "sim/json_reader.h"

namespace geotrain::sim {

// Reads the wire format knob `key`: one of `allowed` (every kernels::WireFormat when empty), by
// its kernels::wire_format_name; `fallback` when absent.  Throws BadInput listing the names.
kernels::WireFormat read_wire_format(JsonReader& reader, std::string_view key, kernels::WireFormat fallback,
                                     const std::vector<kernels::WireFormat>& allowed = {});

// A strategy message's format, parsed once at load: nullopt is "native" (the workload's
// wire_bytes_per_param, no quantization: gradient compression off), else a wire format.
using MessageFormat = std::optional<kernels::WireFormat>;
// Reads a strategy's "wire_format" knob: "native" (the default) or any wire format name.
MessageFormat read_message_format(JsonReader& reader);
// Every wire format's name; the same with "native" first (the choices of a "wire_format" knob).
std::vector<std::string> wire_format_names();
std::vector<std::string> message_format_names();
// The format called `name` (nullopt: native).  REQUIRES: one of message_format_names().
MessageFormat message_format_from_name(const std::string& name);

// Bytes one value takes on the wire in `format` (per-block scale overhead included).
double wire_bytes_per_value(kernels::WireFormat format);
// Sets t's wire format and quantizes and dequantizes its values in it (no-op on the values for
// fp32 and phantom tensors).
void apply_wire_format(runtime::Tensor& t, kernels::WireFormat format);
// For a tensor about to be all-reduced in `format` (ddp, pactrain): sizes its messages by the
// format and makes the all-reduce round every partial sum it sends, and each complete sum once,
// through it (runtime::Tensor::sum_format), as a real compressed all-reduce must; the values are
// left as they are until then.
void set_allreduce_wire_format(runtime::Tensor& t, kernels::WireFormat format);

// A message body of `count` values in `format`: the values after one quantization round trip
// (empty for size-only runs, where `values` is empty) and its bytes on the wire.
struct WireBody {
  std::vector<float> values;
  std::uint64_t bytes = 0;
};
WireBody to_wire(std::span<const float> values, std::size_t count, MessageFormat format,
                 double native_bytes_per_value);

}  // namespace geotrain::sim
