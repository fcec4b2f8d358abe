// CPU quantization kernels: bit-level fp16/bf16 conversion and the block-scaled int8, fp4 E3M0
// and ternary codecs. Plain loops in index order, so results are bit-reproducible.
#include "kernels/quantize.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/check.h"

namespace geotrain::kernels {
namespace {

constexpr float kInt8MaxCode = 127.0f;     // symmetric range [-127, 127]; -128 is never used
constexpr int kFp4MaxCode = 7;             // code c means magnitude s * 2^-(kFp4MaxCode - c)
constexpr std::uint8_t kFp4SignBit = 0x8;
constexpr std::uint8_t kFp4CodeMask = 0x7;
constexpr std::uint8_t kTernaryPlus = 0x1, kTernaryMinus = 0x2, kTernaryMask = 0x3;
constexpr int kFp4Bits = 4, kTernaryBits = 2;  // packed bits per value

// fp32 / fp16 layout constants.
constexpr std::uint32_t kF32AbsMask = 0x7fffffffu, kF32Inf = 0x7f800000u;
constexpr std::uint32_t kF32Fp16Overflow = 0x477ff000u;  // 65520: rounds to inf in fp16
constexpr std::uint32_t kF32Fp16MinNormal = 0x38800000u; // 2^-14
constexpr std::uint32_t kF32ExponentRebias = 112u << 23; // (127 - 15) in the exponent field
constexpr int kF32MinExpFp16Subnormal = 102;             // biased exponent of 2^-25
constexpr std::uint16_t kF16Inf = 0x7c00, kF16QuietNan = 0x7e00, kF16Sign = 0x8000;
constexpr std::uint16_t kBf16QuietBit = 0x0040;

// ---- per-value codecs shared by encode, decode and roundtrip --------------------------------

std::int8_t int8_code(float x, float scale) {
  if (scale == 0.0f) return 0;
  const float q = std::round(x / scale);
  return static_cast<std::int8_t>(std::clamp(q, -kInt8MaxCode, kInt8MaxCode));
}
float int8_value(std::int8_t q, float scale) { return static_cast<float>(q) * scale; }

std::uint8_t fp4_code(float x, float s) {
  if (s == 0.0f) return 0;
  const double a = std::fabs(static_cast<double>(x));
  int c = kFp4MaxCode;
  for (; c > 0; --c) {
    const double magnitude = std::ldexp(static_cast<double>(s), c - kFp4MaxCode);
    // Midpoint to the next lower representable: 0.75*m between m and m/2, m/2 between m and 0.
    const double midpoint = c > 1 ? 0.75 * magnitude : 0.5 * magnitude;
    if (a >= midpoint) break;
  }
  if (c == 0) return 0;
  return static_cast<std::uint8_t>((x < 0 ? kFp4SignBit : 0) | c);
}
float fp4_value(std::uint8_t code, float s) {
  const int c = code & kFp4CodeMask;
  if (c == 0) return 0.0f;
  const float magnitude = std::ldexp(s, c - kFp4MaxCode);
  return (code & kFp4SignBit) ? -magnitude : magnitude;
}

std::uint8_t ternary_code(float x, float s) {
  const float half = 0.5f * s;
  if (x > half) return kTernaryPlus;
  if (x < -half) return kTernaryMinus;
  return 0;
}
float ternary_value(std::uint8_t code, float s) {
  if (code == kTernaryPlus) return s;
  if (code == kTernaryMinus) return -s;
  return 0.0f;
}

// ---- block scales -------------------------------------------------------------------------

float max_abs(const float* x, std::size_t len) {
  float m = 0.0f;
  for (std::size_t i = 0; i < len; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}
float mean_abs(const float* x, std::size_t len) {
  double sum = 0.0;
  for (std::size_t i = 0; i < len; ++i) sum += std::fabs(static_cast<double>(x[i]));
  return len == 0 ? 0.0f : static_cast<float>(sum / static_cast<double>(len));
}
float block_scale(WireFormat format, const float* x, std::size_t len) {
  switch (format) {
    case WireFormat::int8: return max_abs(x, len) / kInt8MaxCode;
    case WireFormat::fp4_e3m0: return max_abs(x, len);
    case WireFormat::ternary: return mean_abs(x, len);
    default: GEOTRAIN_CHECK(false, "block_scale of a format without scales"); return 0.0f;
  }
}

// Calls fn(scale_index, begin, len) for every block of `block` values in [0, n).
template <class Fn>
void for_each_block(std::size_t n, std::size_t block, Fn fn) {
  GEOTRAIN_CHECK(block > 0, "block > 0");
  for (std::size_t b = 0, begin = 0; begin < n; ++b, begin += block) fn(b, begin, std::min(block, n - begin));
}

// Packed sub-byte codes: `bits` per value, value i in byte i/per_byte at bit bits*(i%per_byte).
void put_code(std::uint8_t* packed, std::size_t i, std::uint8_t code, int bits) {
  const std::size_t per_byte = 8 / bits, slot = i % per_byte;
  if (slot == 0) packed[i / per_byte] = code;  // first value of a byte clears the byte
  else packed[i / per_byte] = static_cast<std::uint8_t>(packed[i / per_byte] | (code << (bits * slot)));
}
std::uint8_t get_code(const std::uint8_t* packed, std::size_t i, int bits) {
  const std::size_t per_byte = 8 / bits, slot = i % per_byte;
  return static_cast<std::uint8_t>((packed[i / per_byte] >> (bits * slot)) & ((1u << bits) - 1));
}

// Bytes of n packed codes of `bits` each: ceil(n / (8 / bits)).
std::uint64_t packed_bytes(std::size_t n, int bits) {
  const std::uint64_t per_byte = 8 / bits;
  return (static_cast<std::uint64_t>(n) + per_byte - 1) / per_byte;
}

}  // namespace

// ---- names and sizes ----------------------------------------------------------------------

std::optional<WireFormat> parse_wire_format(std::string_view name) {
  for (WireFormat f : {WireFormat::fp32, WireFormat::bf16, WireFormat::fp16, WireFormat::int8,
                       WireFormat::fp4_e3m0, WireFormat::ternary})
    if (wire_format_name(f) == name) return f;
  return std::nullopt;
}

std::string_view wire_format_name(WireFormat format) {
  switch (format) {
    case WireFormat::fp32: return "fp32";
    case WireFormat::bf16: return "bf16";
    case WireFormat::fp16: return "fp16";
    case WireFormat::int8: return "int8";
    case WireFormat::fp4_e3m0: return "fp4";
    case WireFormat::ternary: return "ternary";
  }
  return "?";
}

bool is_block_scaled(WireFormat format) {
  return format == WireFormat::int8 || format == WireFormat::fp4_e3m0 || format == WireFormat::ternary;
}

std::size_t block_count(std::size_t n, std::size_t block) {
  GEOTRAIN_CHECK(block > 0, "block > 0");
  return (n + block - 1) / block;
}

std::uint64_t wire_bytes(WireFormat format, std::size_t n, std::size_t block) {
  const std::uint64_t values = n;
  switch (format) {
    case WireFormat::fp32: return 4 * values;
    case WireFormat::bf16:
    case WireFormat::fp16: return 2 * values;
    default: break;
  }
  const std::uint64_t scales = kScaleBytes * block_count(n, block);
  if (format == WireFormat::int8) return values + scales;
  if (format == WireFormat::fp4_e3m0) return packed_bytes(n, kFp4Bits) + scales;
  return packed_bytes(n, kTernaryBits) + scales;
}

// ---- fp16 and bf16 ------------------------------------------------------------------------

std::uint16_t fp32_to_fp16(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & kF16Sign);
  const std::uint32_t abs = bits & kF32AbsMask;
  if (abs > kF32Inf) return static_cast<std::uint16_t>(sign | kF16QuietNan | ((abs >> 13) & 0x3ff));
  if (abs >= kF32Fp16Overflow) return static_cast<std::uint16_t>(sign | kF16Inf);
  if (abs >= kF32Fp16MinNormal) {
    // Round to nearest even on the 13 dropped mantissa bits; a carry bumps the exponent.
    const std::uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | ((rounded - kF32ExponentRebias) >> 13));
  }
  const int exponent = static_cast<int>(abs >> 23);
  if (exponent < kF32MinExpFp16Subnormal) return sign;  // below 2^-25: rounds to zero
  // Subnormal: the value is mantissa * 2^(exponent-150); in units of 2^-24 that is
  // mantissa >> (126 - exponent), rounded to nearest even.  1024 lands on the smallest normal.
  const std::uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
  const int shift = 126 - exponent;  // 14..24
  std::uint32_t q = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rest > half || (rest == half && (q & 1u))) ++q;
  return static_cast<std::uint16_t>(sign | q);
}

float fp16_to_fp32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & kF16Sign) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | kF32Inf | (mantissa << 13));
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in fp32
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exponent << 23) + kF32ExponentRebias) | (mantissa << 13));
}

std::uint16_t fp32_to_bf16(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & kF32AbsMask) > kF32Inf) return static_cast<std::uint16_t>((bits >> 16) | kBf16QuietBit);
  const std::uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);  // nearest even
  return static_cast<std::uint16_t>(rounded >> 16);
}

float bf16_to_fp32(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

void encode_fp16(std::uint16_t* out, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(x[i]);
}
void decode_fp16(float* out, const std::uint16_t* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(in[i]);
}
void encode_bf16(std::uint16_t* out, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = fp32_to_bf16(x[i]);
}
void decode_bf16(float* out, const std::uint16_t* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(in[i]);
}

// ---- block-scaled formats -----------------------------------------------------------------

void encode_int8(std::int8_t* q, float* scales, const float* x, std::size_t n, std::size_t block) {
  for_each_block(n, block, [&](std::size_t b, std::size_t begin, std::size_t len) {
    scales[b] = block_scale(WireFormat::int8, x + begin, len);
    for (std::size_t i = begin; i < begin + len; ++i) q[i] = int8_code(x[i], scales[b]);
  });
}
void decode_int8(float* out, const std::int8_t* q, const float* scales, std::size_t n, std::size_t block) {
  for_each_block(n, block, [&](std::size_t b, std::size_t begin, std::size_t len) {
    for (std::size_t i = begin; i < begin + len; ++i) out[i] = int8_value(q[i], scales[b]);
  });
}

void encode_fp4_e3m0(std::uint8_t* packed, float* scales, const float* x, std::size_t n, std::size_t block) {
  for_each_block(n, block, [&](std::size_t b, std::size_t begin, std::size_t len) {
    scales[b] = block_scale(WireFormat::fp4_e3m0, x + begin, len);
    for (std::size_t i = begin; i < begin + len; ++i) put_code(packed, i, fp4_code(x[i], scales[b]), kFp4Bits);
  });
}
void decode_fp4_e3m0(float* out, const std::uint8_t* packed, const float* scales, std::size_t n,
                     std::size_t block) {
  for_each_block(n, block, [&](std::size_t b, std::size_t begin, std::size_t len) {
    for (std::size_t i = begin; i < begin + len; ++i) out[i] = fp4_value(get_code(packed, i, kFp4Bits), scales[b]);
  });
}

void encode_ternary(std::uint8_t* packed, float* scales, const float* x, std::size_t n, std::size_t block) {
  for_each_block(n, block, [&](std::size_t b, std::size_t begin, std::size_t len) {
    scales[b] = block_scale(WireFormat::ternary, x + begin, len);
    for (std::size_t i = begin; i < begin + len; ++i)
      put_code(packed, i, ternary_code(x[i], scales[b]), kTernaryBits);
  });
}
void decode_ternary(float* out, const std::uint8_t* packed, const float* scales, std::size_t n,
                    std::size_t block) {
  for_each_block(n, block, [&](std::size_t b, std::size_t begin, std::size_t len) {
    for (std::size_t i = begin; i < begin + len; ++i)
      out[i] = ternary_value(get_code(packed, i, kTernaryBits), scales[b]);
  });
}

// ---- one buffer for any format, and the round trip ------------------------------------------

void encode(WireFormat format, std::uint8_t* wire, const float* x, std::size_t n, std::size_t block) {
  if (format == WireFormat::fp32) {
    if (n > 0) std::memcpy(wire, x, n * sizeof(float));
    return;
  }
  if (format == WireFormat::fp16 || format == WireFormat::bf16) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint16_t h = format == WireFormat::fp16 ? fp32_to_fp16(x[i]) : fp32_to_bf16(x[i]);
      std::memcpy(wire + 2 * i, &h, sizeof h);
    }
    return;
  }
  const std::size_t blocks = block_count(n, block);
  std::vector<float> scales(blocks);  // the wire may be unaligned for floats: copy them in after
  std::uint8_t* payload = wire + kScaleBytes * blocks;
  if (format == WireFormat::int8) encode_int8(reinterpret_cast<std::int8_t*>(payload), scales.data(), x, n, block);
  if (format == WireFormat::fp4_e3m0) encode_fp4_e3m0(payload, scales.data(), x, n, block);
  if (format == WireFormat::ternary) encode_ternary(payload, scales.data(), x, n, block);
  if (blocks > 0) std::memcpy(wire, scales.data(), kScaleBytes * blocks);
}

void decode(WireFormat format, float* out, const std::uint8_t* wire, std::size_t n, std::size_t block) {
  if (format == WireFormat::fp32) {
    if (n > 0) std::memcpy(out, wire, n * sizeof(float));
    return;
  }
  if (format == WireFormat::fp16 || format == WireFormat::bf16) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t h;
      std::memcpy(&h, wire + 2 * i, sizeof h);
      out[i] = format == WireFormat::fp16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
    }
    return;
  }
  const std::size_t blocks = block_count(n, block);
  std::vector<float> scales(blocks);
  if (blocks > 0) std::memcpy(scales.data(), wire, kScaleBytes * blocks);
  const std::uint8_t* payload = wire + kScaleBytes * blocks;
  if (format == WireFormat::int8)
    decode_int8(out, reinterpret_cast<const std::int8_t*>(payload), scales.data(), n, block);
  if (format == WireFormat::fp4_e3m0) decode_fp4_e3m0(out, payload, scales.data(), n, block);
  if (format == WireFormat::ternary) decode_ternary(out, payload, scales.data(), n, block);
}

void roundtrip(WireFormat format, float* out, const float* x, std::size_t n, std::size_t block) {
  switch (format) {
    case WireFormat::fp32:
      if (out != x && n > 0) std::memmove(out, x, n * sizeof(float));
      return;
    case WireFormat::fp16:
      for (std::size_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
      return;
    case WireFormat::bf16:
      for (std::size_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
      return;
    default: break;
  }
  // Each block's scale is taken before any of its values is overwritten, so out == x is safe.
  for_each_block(n, block, [&](std::size_t, std::size_t begin, std::size_t len) {
    const float s = block_scale(format, x + begin, len);
    for (std::size_t i = begin; i < begin + len; ++i) {
      if (format == WireFormat::int8) out[i] = int8_value(int8_code(x[i], s), s);
      if (format == WireFormat::fp4_e3m0) out[i] = fp4_value(fp4_code(x[i], s), s);
      if (format == WireFormat::ternary) out[i] = ternary_value(ternary_code(x[i], s), s);
    }
  });
}

}  // namespace geotrain::kernels
