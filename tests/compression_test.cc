// The compression kernels (kernels/quantize.h, kernels/sparse.h) against hand-worked encodings,
// exhaustive rounding boundaries, brute-force references and the error bound of every format.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/quantize.h"
#include "kernels/sparse.h"
#include "runtime/rng.h"

namespace geotrain::kernels {
namespace {

using runtime::Rng;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr WireFormat kAllFormats[] = {WireFormat::fp32, WireFormat::bf16, WireFormat::fp16,
                                      WireFormat::int8, WireFormat::fp4_e3m0, WireFormat::ternary};

std::vector<float> normal_values(Rng& rng, std::size_t n, double scale = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(scale * rng.normal());
  return v;
}

// ---------------------------------------------------------------------------------------------
// Names and sizes

TEST(QuantizeFormat, NamesParseBothWays) {
  for (const WireFormat f : kAllFormats) EXPECT_EQ(parse_wire_format(wire_format_name(f)), f);
  EXPECT_EQ(parse_wire_format("fp4"), WireFormat::fp4_e3m0);
  EXPECT_EQ(parse_wire_format("ternary"), WireFormat::ternary);
  EXPECT_EQ(wire_format_name(WireFormat::fp4_e3m0), "fp4");
  for (const char* bad : {"", "FP16", "fp8", "fp4_e3m0", "int4", " fp32"})
    EXPECT_FALSE(parse_wire_format(bad).has_value()) << bad;
  EXPECT_FALSE(is_block_scaled(WireFormat::fp16));
  EXPECT_TRUE(is_block_scaled(WireFormat::fp4_e3m0));
}

TEST(QuantizeFormat, WireBytesPerFormat) {
  // n = 1000, block 256 -> 4 blocks -> 16 scale bytes.
  EXPECT_EQ(block_count(1000, 256), 4u);
  EXPECT_EQ(wire_bytes(WireFormat::fp32, 1000, 256), 4000u);
  EXPECT_EQ(wire_bytes(WireFormat::bf16, 1000, 256), 2000u);
  EXPECT_EQ(wire_bytes(WireFormat::fp16, 1000, 256), 2000u);
  EXPECT_EQ(wire_bytes(WireFormat::int8, 1000, 256), 1000u + 16u);
  EXPECT_EQ(wire_bytes(WireFormat::fp4_e3m0, 1000, 256), 500u + 16u);
  EXPECT_EQ(wire_bytes(WireFormat::ternary, 1000, 256), 250u + 16u);
  // Odd tails round up to whole bytes; a 1-value tail block still has a scale.
  EXPECT_EQ(wire_bytes(WireFormat::fp4_e3m0, 1025, 256), 513u + 20u);
  EXPECT_EQ(wire_bytes(WireFormat::ternary, 1025, 256), 257u + 20u);
  for (const WireFormat f : kAllFormats) EXPECT_EQ(wire_bytes(f, 0, 256), 0u);
  // fp4 with 256-value blocks: one eighth of fp32 plus 4 bytes per 256 values (1/256 of fp32).
  constexpr std::size_t kMillion = 1u << 20;
  EXPECT_DOUBLE_EQ(static_cast<double>(wire_bytes(WireFormat::fp4_e3m0, kMillion, kDefaultBlockValues)) /
                       static_cast<double>(wire_bytes(WireFormat::fp32, kMillion, kDefaultBlockValues)),
                   1.0 / 8 + 1.0 / 256);
}

// ---------------------------------------------------------------------------------------------
// fp16

TEST(QuantizeFp16, SpecialValues) {
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);     // largest finite
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);     // under the midpoint 65520
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);     // the midpoint ties to even: inf
  EXPECT_EQ(fp32_to_fp16(-1e6f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(kInf), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-kInf), 0xfc00);
  EXPECT_EQ(fp16_to_fp32(0x7c00), kInf);
  EXPECT_EQ(fp16_to_fp32(0xfc00), -kInf);
  const std::uint16_t nan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  EXPECT_TRUE(std::isnan(fp16_to_fp32(nan)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(std::bit_cast<float>(0x7f800001u)))));  // signalling
  // Subnormals: units of 2^-24 (5.96e-8).  1e-8 is under half a unit: it rounds to (signed) zero.
  EXPECT_EQ(fp32_to_fp16(1e-8f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-1e-8f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1e-7f), 0x0002);                     // 1.68 units -> 2
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);     // 0.5 unit ties to even 0
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 -> 2
  EXPECT_EQ(fp32_to_fp16(std::ldexp(5.0f, -25)), 0x0002);     // 2.5 -> 2
  EXPECT_EQ(fp32_to_fp16(6e-5f), 0x03ef);                     // 1006.6 units -> 1007
  EXPECT_EQ(fp32_to_fp16(std::ldexp(2047.0f, -25)), 0x0400);  // 1023.5 units -> smallest normal
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x83ff), -std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);
  // Normals: 1 + 2^-11 is half an ulp above 1 and ties to the even 1.0.
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
}

// Every boundary between two adjacent positive finite fp16 values: the midpoint ties to the even
// code, one fp32 ulp either side goes to the nearer code.  Also: decode then encode is identity.
TEST(QuantizeFp16, EveryRoundingBoundaryAndExactDecode) {
  for (std::uint32_t h = 0; h < 0x7bff; ++h) {
    const auto lo = static_cast<std::uint16_t>(h), hi = static_cast<std::uint16_t>(h + 1);
    ASSERT_EQ(fp32_to_fp16(fp16_to_fp32(lo)), lo);
    const float mid = static_cast<float>((static_cast<double>(fp16_to_fp32(lo)) + fp16_to_fp32(hi)) / 2);
    ASSERT_EQ(fp32_to_fp16(mid), (lo & 1) ? hi : lo) << "h=" << h;
    ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, 0.0f)), lo) << "h=" << h;
    ASSERT_EQ(fp32_to_fp16(std::nextafter(mid, kInf)), hi) << "h=" << h;
    ASSERT_EQ(fp32_to_fp16(-mid), static_cast<std::uint16_t>(0x8000 | ((lo & 1) ? hi : lo)));
  }
}

#ifdef __FLT16_MAX__
// The compiler's own _Float16 conversion as an independent reference, over a sweep of fp32 patterns.
TEST(QuantizeFp16, MatchesCompilerFloat16OnFp32Sweep) {
  constexpr std::uint64_t kStride = 4099;  // about a million patterns, all exponents
  for (std::uint64_t b = 0; b <= 0xffffffffu; b += kStride) {
    const float x = std::bit_cast<float>(static_cast<std::uint32_t>(b));
    if (std::isnan(x)) continue;
    const auto want = std::bit_cast<std::uint16_t>(static_cast<_Float16>(x));
    ASSERT_EQ(fp32_to_fp16(x), want) << "x=" << x << " bits=" << b;
    ASSERT_EQ(fp16_to_fp32(want), static_cast<float>(static_cast<_Float16>(x)));
  }
}
#else
TEST(QuantizeFp16, MatchesCompilerFloat16OnFp32Sweep) { GTEST_SKIP() << "this compiler has no _Float16"; }
#endif

TEST(QuantizeFp16, RelativeErrorAtMostTwoToMinus11OnSeededNormalData) {
  Rng rng(101);
  const auto x = normal_values(rng, 200000, 100.0);
  std::vector<float> y(x.size());
  roundtrip(WireFormat::fp16, y.data(), x.data(), x.size(), kDefaultBlockValues);
  const double bound = std::ldexp(1.0, -11), min_normal = std::ldexp(1.0, -14);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::fabs(x[i]) < min_normal) continue;  // subnormal range: absolute error 2^-25 instead
    const double rel = std::fabs(static_cast<double>(y[i]) - x[i]) / std::fabs(x[i]);
    ASSERT_LE(rel, bound) << "x=" << x[i];
    worst = std::max(worst, rel);
  }
  EXPECT_GT(worst, 0.9 * bound);  // the bound is tight: 11 significant bits, no more
}

// ---------------------------------------------------------------------------------------------
// bf16

TEST(QuantizeBf16, SpecialValuesAndTies) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // half ulp: tie to even
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);  // 1.5 ulp: tie to even (up)
  EXPECT_EQ(fp32_to_bf16(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)), 0x3f81);
  EXPECT_EQ(fp32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_bf16(kInf), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(-kInf), 0xff80);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::bit_cast<float>(0x7f800001u)))));
  EXPECT_EQ(bf16_to_fp32(0x3f81), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_EQ(fp32_to_bf16(std::ldexp(1.0f, -133)), 0x0001);  // fp32 subnormals pass through
}

TEST(QuantizeBf16, RelativeErrorAtMostTwoToMinus8OnSeededNormalData) {
  Rng rng(102);
  const auto x = normal_values(rng, 200000, 1e-3);
  std::vector<float> y(x.size());
  roundtrip(WireFormat::bf16, y.data(), x.data(), x.size(), kDefaultBlockValues);
  const double bound = std::ldexp(1.0, -8);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] == 0.0f) continue;
    const double rel = std::fabs(static_cast<double>(y[i]) - x[i]) / std::fabs(x[i]);
    ASSERT_LE(rel, bound) << "x=" << x[i];
    worst = std::max(worst, rel);
  }
  EXPECT_GT(worst, 0.9 * bound);
}

// ---------------------------------------------------------------------------------------------
// int8

TEST(QuantizeInt8, HandWorkedBlocks) {
  // Block 0: max 127 -> scale 1; -63.5 rounds away from zero; 0.25 -> 0; 2.5 -> 3.
  // Block 1: all zeros -> scale 0 -> zeros.  Block 2 (tail of 1): its own scale 2/127.
  const std::vector<float> x = {127, -63.5f, 0.25f, 2.5f, 0, 0, 0, 0, -2};
  std::vector<std::int8_t> q(x.size());
  std::vector<float> scales(3), y(x.size());
  encode_int8(q.data(), scales.data(), x.data(), x.size(), 4);
  EXPECT_EQ(scales, (std::vector<float>{1.0f, 0.0f, 2.0f / 127.0f}));
  EXPECT_EQ(q, (std::vector<std::int8_t>{127, -64, 0, 3, 0, 0, 0, 0, -127}));
  decode_int8(y.data(), q.data(), scales.data(), x.size(), 4);
  EXPECT_EQ(y, (std::vector<float>{127, -64, 0, 3, 0, 0, 0, 0, -127 * (2.0f / 127.0f)}));
}

TEST(QuantizeInt8, ErrorAtMostHalfScaleOnSeededNormalData) {
  constexpr std::size_t kN = 100000, kBlock = 256;  // 391 blocks, the last one 160 values
  Rng rng(103);
  const auto x = normal_values(rng, kN);
  std::vector<std::int8_t> q(kN);
  std::vector<float> scales(block_count(kN, kBlock)), y(kN);
  encode_int8(q.data(), scales.data(), x.data(), kN, kBlock);
  decode_int8(y.data(), q.data(), scales.data(), kN, kBlock);
  double worst_in_scales = 0;
  for (std::size_t b = 0; b < scales.size(); ++b) {
    const std::size_t begin = b * kBlock, end = std::min(kN, begin + kBlock);
    float block_max = 0;
    for (std::size_t i = begin; i < end; ++i) block_max = std::max(block_max, std::fabs(x[i]));
    ASSERT_EQ(scales[b], block_max / 127.0f);
    for (std::size_t i = begin; i < end; ++i) {
      ASSERT_GE(q[i], -127);
      if (std::fabs(x[i]) == block_max) {
        EXPECT_EQ(std::abs(q[i]), 127);
      }
      // Half a step, plus fp32 rounding of x/scale and q*scale (each under 2^-17 of a step).
      const double err = std::fabs(static_cast<double>(y[i]) - x[i]);
      ASSERT_LE(err, scales[b] * (0.5 + std::ldexp(1.0, -14))) << "i=" << i;
      worst_in_scales = std::max(worst_in_scales, err / scales[b]);
    }
  }
  EXPECT_GT(worst_in_scales, 0.49);  // uniform rounding error really reaches half a step
}

// ---------------------------------------------------------------------------------------------
// fp4 E3M0

TEST(QuantizeFp4, HandWorkedCodesAndPacking) {
  // One block, s = 8: magnitudes 8, 4, 2, 1, 0.5, 0.25, 0.125 (codes 7..1) and 0 (code 0).
  const std::vector<float> x = {8, -4, 6, 5.99f, 0.125f, 0.0625f, 0.0624f, -0.01f, -3};
  std::vector<std::uint8_t> packed(5);
  float scale = 0;
  encode_fp4_e3m0(packed.data(), &scale, x.data(), x.size(), 256);
  EXPECT_EQ(scale, 8.0f);
  // Codes: 8->7, -4->8|6, 6 (=0.75*8, tie)->7, 5.99->6, 0.125->1, 0.0625 (=8/128, tie)->1,
  // 0.0624->0, -0.01->0 (no negative zero), -3 (> 0.75*4)->8|6.  Even index in the low nibble.
  EXPECT_EQ(packed, (std::vector<std::uint8_t>{0xe7, 0x67, 0x11, 0x00, 0x0e}));
  std::vector<float> y(x.size());
  decode_fp4_e3m0(y.data(), packed.data(), &scale, x.size(), 256);
  EXPECT_EQ(y, (std::vector<float>{8, -4, 8, 4, 0.125f, 0.125f, 0, 0, -4}));
  EXPECT_FALSE(std::signbit(y[7]));
}

// Brute force: the decoded value is the linear-space nearest of {0, s*2^-e : e = 0..6} (ties to the
// larger), and |x - decoded| <= max(|x|/3, s*2^-7).
TEST(QuantizeFp4, NearestInLinearSpaceAndErrorBoundOnSeededNormalData) {
  constexpr std::size_t kN = 50000, kBlock = 256;
  Rng rng(104);
  const auto x = normal_values(rng, kN);
  std::vector<float> y(kN);
  roundtrip(WireFormat::fp4_e3m0, y.data(), x.data(), kN, kBlock);
  double worst_relative = 0;
  for (std::size_t begin = 0; begin < kN; begin += kBlock) {
    const std::size_t end = std::min(kN, begin + kBlock);
    double s = 0;
    for (std::size_t i = begin; i < end; ++i) s = std::max(s, std::fabs(static_cast<double>(x[i])));
    for (std::size_t i = begin; i < end; ++i) {
      const double a = std::fabs(static_cast<double>(x[i]));
      double best = 0;
      for (int e = 6; e >= 0; --e)  // ascending magnitudes; >= lets ties go to the larger one
        if (std::fabs(a - std::ldexp(s, -e)) <= std::fabs(a - best)) best = std::ldexp(s, -e);
      ASSERT_EQ(std::fabs(static_cast<double>(y[i])), best) << "i=" << i << " x=" << x[i];
      if (best != 0) {
        ASSERT_EQ(std::signbit(y[i]), std::signbit(x[i]));
      }
      const double err = std::fabs(y[i] - static_cast<double>(x[i]));
      ASSERT_LE(err, std::max(a / 3, std::ldexp(s, -7))) << "i=" << i;
      if (a >= std::ldexp(s, -6)) worst_relative = std::max(worst_relative, err / a);
    }
  }
  EXPECT_GT(worst_relative, 0.3);  // values just under 0.75 * 2^-e lose almost a third
}

// ---------------------------------------------------------------------------------------------
// Ternary

TEST(QuantizeTernary, HandWorkedThresholdsAndPacking) {
  // mean|x| = 8 / 8 = 1, threshold 0.5 (strict: +-0.5 become 0).
  const std::vector<float> x = {1, -2, 0.25f, -0.75f, 3, 0, 0.5f, -0.5f};
  std::vector<std::uint8_t> packed(2);
  float scale = 0;
  encode_ternary(packed.data(), &scale, x.data(), x.size(), 8);
  EXPECT_EQ(scale, 1.0f);
  // Codes 01 10 00 10 | 01 00 00 00, value i at bits 2*(i%4).
  EXPECT_EQ(packed, (std::vector<std::uint8_t>{0x89, 0x01}));
  std::vector<float> y(x.size());
  decode_ternary(y.data(), packed.data(), &scale, x.size(), 8);
  EXPECT_EQ(y, (std::vector<float>{1, -1, 0, -1, 1, 0, 0, 0}));
}

// Per value: zero iff |x| <= s/2 (error |x|), else sign(x)*s (error ||x| - s|).  On normal data
// s ~ E|x| = 0.798 sigma, so about P(|z| <= 0.399) = 31% become zero, and the decoded mass
// sum|y| / sum|x| ~ P(|z| > 0.399) = 0.69: deterministic ternary shrinks, it is not unbiased.
TEST(QuantizeTernary, ThresholdRuleAndShrinkageOnSeededNormalData) {
  constexpr std::size_t kN = 65536, kBlock = 256;
  Rng rng(105);
  const auto x = normal_values(rng, kN);
  std::vector<std::uint8_t> packed(kN / 4);
  std::vector<float> scales(block_count(kN, kBlock)), y(kN);
  encode_ternary(packed.data(), scales.data(), x.data(), kN, kBlock);
  decode_ternary(y.data(), packed.data(), scales.data(), kN, kBlock);
  std::size_t zeros = 0;
  double mass_x = 0, mass_y = 0;
  for (std::size_t i = 0; i < kN; ++i) {
    const float s = scales[i / kBlock];
    if (std::fabs(x[i]) <= 0.5f * s) {
      ASSERT_EQ(y[i], 0.0f) << "i=" << i;
      ++zeros;
    } else {
      ASSERT_EQ(y[i], std::copysign(s, x[i])) << "i=" << i;
    }
    mass_x += std::fabs(x[i]);
    mass_y += std::fabs(y[i]);
  }
  double mean_abs = 0;
  for (std::size_t i = 0; i < kBlock; ++i) mean_abs += std::fabs(static_cast<double>(x[i]));
  EXPECT_EQ(scales[0], static_cast<float>(mean_abs / kBlock));
  EXPECT_NEAR(static_cast<double>(zeros) / kN, 0.31, 0.02);
  EXPECT_NEAR(mass_y / mass_x, 0.69, 0.02);
}

// ---------------------------------------------------------------------------------------------
// One buffer for any format, and roundtrip

TEST(QuantizeRoundtrip, EqualsDecodeOfEncodeBitForBitForEveryFormat) {
  constexpr std::size_t kN = 1001, kBlock = 64;  // odd n, short tail block
  Rng rng(106);
  const auto x = normal_values(rng, kN, 3.0);
  for (const WireFormat f : kAllFormats) {
    SCOPED_TRACE(wire_format_name(f));
    constexpr std::uint8_t kSentinel = 0xa5;
    const std::size_t bytes = wire_bytes(f, kN, kBlock);
    std::vector<std::uint8_t> wire(bytes + 8, kSentinel);
    encode(f, wire.data() + 1, x.data(), kN, kBlock);  // +1: an unaligned buffer must work
    EXPECT_EQ(wire[0], kSentinel);
    for (std::size_t i = bytes + 1; i < wire.size(); ++i) EXPECT_EQ(wire[i], kSentinel) << "overrun at " << i;
    std::vector<float> decoded(kN), direct(kN), in_place = x;
    decode(f, decoded.data(), wire.data() + 1, kN, kBlock);
    roundtrip(f, direct.data(), x.data(), kN, kBlock);
    roundtrip(f, in_place.data(), in_place.data(), kN, kBlock);
    for (std::size_t i = 0; i < kN; ++i) {
      ASSERT_EQ(std::bit_cast<std::uint32_t>(direct[i]), std::bit_cast<std::uint32_t>(decoded[i])) << i;
      ASSERT_EQ(std::bit_cast<std::uint32_t>(in_place[i]), std::bit_cast<std::uint32_t>(decoded[i])) << i;
    }
    if (f == WireFormat::fp32) {
      EXPECT_EQ(decoded, x);
    }
  }
}

// Relative L2 error on the same data orders the formats by their bits per value.
TEST(QuantizeRoundtrip, ErrorGrowsAsBitsShrink) {
  Rng rng(107);
  const auto x = normal_values(rng, 1 << 16);
  std::vector<double> error;
  for (const WireFormat f : kAllFormats) {
    std::vector<float> y(x.size());
    roundtrip(f, y.data(), x.data(), x.size(), kDefaultBlockValues);
    double num = 0, den = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      num += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
      den += static_cast<double>(x[i]) * x[i];
    }
    error.push_back(std::sqrt(num / den));
  }
  // fp32, bf16, fp16, int8, fp4, ternary: fp16 (11 bits) beats bf16 (8 bits).
  EXPECT_EQ(error[0], 0.0);
  EXPECT_LT(error[2], error[1]);
  EXPECT_LT(error[1], error[3]);
  EXPECT_LT(error[3], error[4]);
  EXPECT_LT(error[4], error[5]);
  EXPECT_LT(error[1], std::ldexp(1.0, -8));
  EXPECT_LT(error[4], 1.0 / 3);
}

// ---------------------------------------------------------------------------------------------
// Top-k

// Reference: the full order (|x| descending, then index ascending), first k, sorted by index.
std::vector<std::int32_t> topk_by_sort(const std::vector<float>& x, std::size_t k) {
  std::vector<std::int32_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int32_t a, std::int32_t b) { return std::fabs(x[a]) > std::fabs(x[b]); });
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

TEST(SparseTopk, MatchesFullSortWithManyTies) {
  Rng rng(201);
  auto x = normal_values(rng, 5000);
  for (auto& v : x) v = std::round(v * 4) / 4;  // multiples of 1/4: heavy ties, +-pairs, zeros
  for (const std::size_t k : {0u, 1u, 7u, 100u, 2500u, 4999u, 5000u}) {
    SCOPED_TRACE(k);
    std::vector<std::int32_t> idx(k);
    std::vector<float> val(k);
    topk_by_magnitude(idx.data(), val.data(), x.data(), x.size(), k);
    EXPECT_EQ(idx, topk_by_sort(x, k));
    for (std::size_t j = 0; j < k; ++j) ASSERT_EQ(val[j], x[idx[j]]);
  }
}

TEST(SparseTopk, TiesGoToTheLowerIndex) {
  const std::vector<float> x = {1, -3, 3, 2, -3, 0, -0.0f};
  std::vector<std::int32_t> idx(2);
  std::vector<float> val(2);
  topk_by_magnitude(idx.data(), val.data(), x.data(), x.size(), 2);  // three -3/3 tie for two places
  EXPECT_EQ(idx, (std::vector<std::int32_t>{1, 2}));
  idx.resize(3);
  val.resize(3);
  topk_by_magnitude(idx.data(), val.data(), x.data(), x.size(), 3);
  EXPECT_EQ(idx, (std::vector<std::int32_t>{1, 2, 4}));
  EXPECT_EQ(val, (std::vector<float>{-3, 3, -3}));
  const std::vector<float> zeros = {0, -0.0f, 0};  // +0 and -0 tie
  topk_by_magnitude(idx.data(), val.data(), zeros.data(), zeros.size(), 1);
  EXPECT_EQ(idx[0], 0);
}

// ---------------------------------------------------------------------------------------------
// Masks and index lists

TEST(SparseMask, CompactScatterRoundTripAndIndexForms) {
  constexpr std::size_t kN = 3001;
  Rng rng(202);
  const auto x = normal_values(rng, kN);
  std::vector<std::uint8_t> mask(kN);
  for (auto& m : mask) m = rng.uniform() < 0.3 ? static_cast<std::uint8_t>(1 + rng.below(255)) : 0;
  const std::size_t nnz = mask_count(mask.data(), kN);
  ASSERT_GT(nnz, 800u);
  ASSERT_LT(nnz, 1000u);

  std::vector<float> dense(nnz);
  EXPECT_EQ(compact_masked(dense.data(), x.data(), mask.data(), kN), nnz);
  std::vector<float> back(kN, 99.0f);
  scatter_masked(back.data(), dense.data(), mask.data(), kN);
  std::vector<float> masked = x;
  apply_mask(masked.data(), mask.data(), kN);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(back[i], mask[i] ? x[i] : 0.0f) << i;
  EXPECT_EQ(masked, back);

  std::vector<float> base(kN, 1.0f);
  scatter_add_masked(base.data(), dense.data(), mask.data(), kN);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(base[i], mask[i] ? 1.0f + x[i] : 1.0f) << i;

  // The sorted-index form gives the same vectors.
  std::vector<std::int32_t> idx(nnz);
  EXPECT_EQ(mask_to_indices(idx.data(), mask.data(), kN), nnz);
  EXPECT_TRUE(std::is_sorted(idx.begin(), idx.end()));
  std::vector<float> gathered(nnz), scattered(kN, 99.0f), added(kN, 1.0f);
  gather_indices(gathered.data(), x.data(), idx.data(), nnz);
  EXPECT_EQ(gathered, dense);
  scatter_indices(scattered.data(), gathered.data(), idx.data(), nnz, kN);
  EXPECT_EQ(scattered, back);
  scatter_add_indices(added.data(), gathered.data(), idx.data(), nnz);
  EXPECT_EQ(added, base);
}

// ---------------------------------------------------------------------------------------------
// Magnitude pruning

TEST(SparsePrune, KeepsExactlyTheRoundedCountOfLargestMagnitudes) {
  EXPECT_EQ(pruning_kept_count(1000, 0.8), 200u);  // 0.2*1000 = 199.99999999999997 in double
  EXPECT_EQ(pruning_kept_count(1001, 0.5), 501u);  // 500.5 rounds away from zero
  EXPECT_EQ(pruning_kept_count(7, 0.5), 4u);
  EXPECT_EQ(pruning_kept_count(1000, 0.0), 1000u);
  EXPECT_EQ(pruning_kept_count(1000, 0.9999), 0u);
  Rng rng(203);
  for (const std::size_t n : {7u, 1000u, 1001u}) {
    const auto x = normal_values(rng, n);
    for (const double s : {0.0, 0.1, 0.5, 0.8, 0.9, 0.99}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " s=" << s);
      std::vector<std::uint8_t> mask(n, 7);
      const std::size_t kept = magnitude_prune_mask(mask.data(), x.data(), n, s);
      EXPECT_EQ(kept, static_cast<std::size_t>(std::llround((1 - s) * n)));
      EXPECT_EQ(mask_count(mask.data(), n), kept);
      float smallest_kept = kInf, largest_pruned = 0;
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_TRUE(mask[i] == 0 || mask[i] == 1);
        if (mask[i]) smallest_kept = std::min(smallest_kept, std::fabs(x[i]));
        else largest_pruned = std::max(largest_pruned, std::fabs(x[i]));
      }
      if (kept > 0 && kept < n) {
        EXPECT_GT(smallest_kept, largest_pruned);
      }
    }
  }
  // All magnitudes equal: the lowest indices are kept.
  const std::vector<float> flat = {2, -2, 2, -2, 2, -2, 2, -2, 2, -2};
  std::vector<std::uint8_t> mask(flat.size());
  EXPECT_EQ(magnitude_prune_mask(mask.data(), flat.data(), flat.size(), 0.7), 3u);
  EXPECT_EQ(mask, (std::vector<std::uint8_t>{1, 1, 1, 0, 0, 0, 0, 0, 0, 0}));
}

// ---------------------------------------------------------------------------------------------
// Error feedback

// Runs T steps of error_feedback_topk on `inputs` (T vectors of n) and returns, per entry, the
// sum of what was sent; checks every step sends the top-k of residual + g.
std::vector<double> run_error_feedback(std::vector<float>& residual, const std::vector<std::vector<float>>& inputs,
                                       std::size_t k, std::vector<double>* max_abs_residual) {
  const std::size_t n = residual.size();
  std::vector<double> sent(n, 0.0);
  std::vector<std::int32_t> idx(k);
  std::vector<float> val(k);
  for (const auto& g : inputs) {
    std::vector<float> expected = residual;
    for (std::size_t i = 0; i < n; ++i) expected[i] += g[i];
    error_feedback_topk(idx.data(), val.data(), residual.data(), g.data(), n, k);
    EXPECT_EQ(idx, topk_by_sort(expected, k));
    for (std::size_t j = 0; j < k; ++j) {
      EXPECT_EQ(val[j], expected[idx[j]]);
      EXPECT_EQ(residual[idx[j]], 0.0f);
      sent[idx[j]] += val[j];
    }
    for (std::size_t i = 0; i < n; ++i)
      (*max_abs_residual)[i] = std::max((*max_abs_residual)[i], std::fabs(static_cast<double>(expected[i])));
  }
  return sent;
}

TEST(SparseErrorFeedback, SentPlusResidualEqualsInputsExactlyOnDyadicData) {
  constexpr std::size_t kN = 1000, kK = 10, kSteps = 50;
  Rng rng(204);
  std::vector<std::vector<float>> inputs(kSteps, std::vector<float>(kN));
  std::vector<double> total(kN, 0.0);
  for (auto& g : inputs)
    for (std::size_t i = 0; i < kN; ++i) {
      g[i] = static_cast<float>(static_cast<int>(rng.below(1025)) - 512) / 64.0f;  // exact sums
      total[i] += g[i];
    }
  std::vector<float> residual(kN, 0.0f);
  std::vector<double> max_abs(kN, 0.0);
  const auto sent = run_error_feedback(residual, inputs, kK, &max_abs);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(sent[i] + residual[i], total[i]) << "entry " << i;
}

TEST(SparseErrorFeedback, SentPlusResidualEqualsInputsWithinRoundingOnNormalData) {
  constexpr std::size_t kN = 2000, kK = 20, kSteps = 100;
  Rng rng(205);
  std::vector<std::vector<float>> inputs(kSteps);
  std::vector<double> total(kN, 0.0);
  for (auto& g : inputs) {
    g = normal_values(rng, kN, 0.01);
    for (std::size_t i = 0; i < kN; ++i) total[i] += g[i];
  }
  std::vector<float> residual(kN, 0.0f);
  std::vector<double> max_abs(kN, 0.0);
  const auto sent = run_error_feedback(residual, inputs, kK, &max_abs);
  std::size_t ever_sent = 0;
  for (std::size_t i = 0; i < kN; ++i) {
    // Each `residual += g` rounds by at most 2^-24 of its result.
    const double tol = kSteps * std::ldexp(1.0, -24) * max_abs[i];
    ASSERT_LE(std::fabs(sent[i] + residual[i] - total[i]), tol) << "entry " << i;
    ever_sent += sent[i] != 0.0;
  }
  EXPECT_GT(ever_sent, kK * 10);  // the residual rotates: many entries get their turn
}

}  // namespace
}  // namespace geotrain::kernels
