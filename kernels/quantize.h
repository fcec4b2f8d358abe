// Wire formats for compressed communication on the CPU (the spec for GPU twins): fp16, bf16,
// block-scaled int8, block-scaled fp4 E3M0 and block-scaled ternary. Outputs first, then inputs,
// then sizes. Values in memory stay fp32; these functions only encode, decode or round-trip.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace geotrain::kernels {

enum class WireFormat { fp32, bf16, fp16, int8, fp4_e3m0, ternary };

// "fp32", "bf16", "fp16", "int8", "fp4", "ternary" -> the format; anything else -> nullopt.
std::optional<WireFormat> parse_wire_format(std::string_view name);
// The inverse of parse_wire_format ("fp4" for fp4_e3m0).
std::string_view wire_format_name(WireFormat format);
// True for int8, fp4_e3m0 and ternary: they carry one fp32 scale per block of values.
bool is_block_scaled(WireFormat format);

// A block of 256 values per scale: 4 scale bytes add 1/64 byte per value (1.6% of fp32).
inline constexpr std::size_t kDefaultBlockValues = 256;
inline constexpr std::size_t kScaleBytes = sizeof(float);

// Number of blocks (scales) for n values: ceil(n / block).  REQUIRES: block > 0.
std::size_t block_count(std::size_t n, std::size_t block);

// Bytes n values occupy on the wire, scales included:
//   fp32 4n;  bf16, fp16 2n;  int8 n + 4*blocks;  fp4_e3m0 ceil(n/2) + 4*blocks;
//   ternary ceil(n/4) + 4*blocks, with blocks = ceil(n/block).
// `block` is ignored by fp32/bf16/fp16.  REQUIRES: block > 0 for the block-scaled formats.
std::uint64_t wire_bytes(WireFormat format, std::size_t n, std::size_t block);

// ---------------------------------------------------------------------------------------------
// fp16: IEEE 754 binary16 (1 sign, 5 exponent bits with bias 15, 10 mantissa bits).
// Encoding rounds to nearest, ties to even, with subnormals (down to 2^-24); magnitudes at or
// above 65520 (the midpoint between 65504 and 2^16) become inf; inf stays inf; NaN stays a
// quiet NaN (sign and the top 9 payload bits kept, quiet bit set).  Decoding is exact.
std::uint16_t fp32_to_fp16(float x);
float fp16_to_fp32(std::uint16_t h);
void encode_fp16(std::uint16_t* out, const float* x, std::size_t n);      // out(n) <- x(n)
void decode_fp16(float* out, const std::uint16_t* in, std::size_t n);     // out(n) <- in(n)

// bf16: the top 16 bits of fp32 (1 sign, 8 exponent, 7 mantissa bits).  Encoding rounds to
// nearest, ties to even (finite values near FLT_MAX may round to inf); NaN stays a quiet NaN.
// Decoding is exact (appends 16 zero bits).
std::uint16_t fp32_to_bf16(float x);
float bf16_to_fp32(std::uint16_t h);
void encode_bf16(std::uint16_t* out, const float* x, std::size_t n);
void decode_bf16(float* out, const std::uint16_t* in, std::size_t n);

// ---------------------------------------------------------------------------------------------
// Block-scaled formats.  Values are cut into consecutive blocks of `block` values (the last one
// may be shorter); block b covers x[b*block, min(n, (b+1)*block)) and has scales[b].
// REQUIRES for all of them: block > 0, finite inputs (gradients); with inf or NaN in a block
// its decoded values are unspecified.

// int8: scale = max|x| / 127 over the block (fp32 division);  q = round(x / scale), with
// std::round (ties away from zero), clamped to [-127, 127];  decoded value = q * scale.
// A block of zeros (or one whose scale underflows to 0) has scale 0 and decodes to zeros.
// Error per value: |x - q*scale| <= scale/2 up to fp32 rounding (tested: scale*(1/2 + 2^-14)).
// q(n), scales(blocks) <- x(n);  out(n) <- q(n), scales(blocks).
void encode_int8(std::int8_t* q, float* scales, const float* x, std::size_t n, std::size_t block);
void decode_int8(float* out, const std::int8_t* q, const float* scales, std::size_t n, std::size_t block);

// fp4 E3M0: 4 bits per value, sign + 3-bit code c, no mantissa.  Per block s = max|x| (fp32).
//   bit 3: sign (1 = negative);  bits 2..0: c.
//   c = 0 -> 0;   c in 1..7 -> s * 2^-(7-c), i.e. magnitudes s, s/2, s/4, ..., s/64.
// Rounding: to the nearest representable magnitude in LINEAR space, ties to the larger one.
// So |x| >= 0.75*s*2^-e maps up to s*2^-e (e = 0..5), |x| >= s*2^-7 maps to s*2^-6, and
// |x| < s*2^-7 maps to 0, always written as code 0000 (no negative zero).  Comparisons are
// exact (done in double).  A block of zeros has s = 0 and decodes to zeros.
// Error bound per value: |x - decoded| <= max(|x| / 3, s * 2^-7); the /3 is reached just
// under 0.75*s*2^-e (0.75 -> 0.5 loses a third).  The block maximum decodes exactly to +-s.
// Packing: value i sits in byte i/2, low nibble for even i, high nibble for odd i; an odd n
// leaves the last high nibble 0.  packed(ceil(n/2)), scales(blocks) <- x(n).
void encode_fp4_e3m0(std::uint8_t* packed, float* scales, const float* x, std::size_t n, std::size_t block);
void decode_fp4_e3m0(float* out, const std::uint8_t* packed, const float* scales, std::size_t n,
                     std::size_t block);

// Ternary (PacTrain-style deterministic thresholding; TernGrad uses max|x| and stochastic
// rounding instead): per block s = mean|x| (summed in double in index order, rounded to fp32);
// t = +1 if x > s/2, -1 if x < -s/2, else 0;  decoded value = t * s.
// NOT unbiased: the decoded value is a deterministic function of x (E[decoded] != x in general).
// Error per value: |x| when t = 0 (so <= s/2), ||x| - s| otherwise (unbounded by s).
// Packing: 2 bits per value, value i at bits 2*(i%4) of byte i/4; 00 = 0, 01 = +1, 10 = -1
// (11 is never written and decodes to 0).  packed(ceil(n/4)), scales(blocks) <- x(n).
void encode_ternary(std::uint8_t* packed, float* scales, const float* x, std::size_t n, std::size_t block);
void decode_ternary(float* out, const std::uint8_t* packed, const float* scales, std::size_t n,
                    std::size_t block);

// ---------------------------------------------------------------------------------------------
// Any format through one byte buffer of exactly wire_bytes(format, n, block) bytes.  Layout:
// the block scales first (fp32, host byte order, blocks * 4 bytes) for the block-scaled formats,
// then the values (fp32, uint16, int8 or packed codes as above, host byte order).
void encode(WireFormat format, std::uint8_t* wire, const float* x, std::size_t n, std::size_t block);
void decode(WireFormat format, float* out, const std::uint8_t* wire, std::size_t n, std::size_t block);

// out(n) = decode(encode(x(n))), bit for bit, without building the wire buffer (for the simulator
// when only the error of a format matters).  In place allowed (out == x).  Allocates nothing.
void roundtrip(WireFormat format, float* out, const float* x, std::size_t n, std::size_t block);

}  // namespace geotrain::kernels
