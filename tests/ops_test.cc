// runtime/ops (the strategies' element-wise math), the CPU backend behind the trainer, and the
// settings parsed once into enums (wire formats, backend, optimizer): hand-computed values,
// exact bit patterns where an op must keep its expression, no-ops on size-only tensors.
#include "runtime/ops.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

#include "runtime/backend.h"
#include "runtime/optimizer.h"
#include "sim/json_reader.h"
#include "sim/strategies/outer.h"

namespace geotrain::runtime {
namespace {

TEST(Ops, ElementwiseValuesByHand) {
  std::vector<float> out(3);
  ops::sub(out, std::vector<float>{5, 1, -2}, std::vector<float>{2, 4, -2});
  EXPECT_EQ(out, (std::vector<float>{3, -3, 0}));

  std::vector<float> y{1, 2, 3};
  ops::axpy(y, 2.0f, std::vector<float>{1, -1, 0.5f});
  EXPECT_EQ(y, (std::vector<float>{3, 0, 4}));

  ops::divide(y, y, 4.0f);  // in place
  EXPECT_EQ(y, (std::vector<float>{0.75f, 0, 1}));

  std::vector<float> x{4, 8};
  ops::pull_toward(x, std::vector<float>{0, 4}, 0.25f);  // x -= 0.25 (x - t)
  EXPECT_EQ(x, (std::vector<float>{3, 7}));

  ops::average_pair(x, std::vector<float>{1, 1});
  EXPECT_EQ(x, (std::vector<float>{2, 4}));

  std::vector<float> u(2), theta{1, 3};
  ops::elastic_step(u, theta, std::vector<float>{0, 1}, 0.5);  // u = 0.5 (theta - c); theta -= u
  EXPECT_EQ(u, (std::vector<float>{0.5f, 1}));
  EXPECT_EQ(theta, (std::vector<float>{0.5f, 2}));

  EXPECT_EQ(ops::max_abs_diff(std::vector<float>{1, -2, 3}, std::vector<float>{1, 2, 2.5f}), 4.0);
}

TEST(Ops, LerpWithAlphaZeroCopiesBitForBit) {
  // alpha = 0 overwrites: -0 stays -0 and inf in x does not leak (0 * inf would be NaN).
  std::vector<float> x{INFINITY, 1};
  ops::lerp(x, std::vector<float>{-0.0f, 2}, 0.0);
  EXPECT_TRUE(std::signbit(x[0]) && x[0] == 0);
  EXPECT_EQ(x[1], 2.0f);
  std::vector<float> z{2, 4};
  ops::lerp(z, std::vector<float>{6, 0}, 0.25);  // 0.25 x + 0.75 y
  EXPECT_EQ(z, (std::vector<float>{5, 1}));
}

TEST(Ops, MeanSumsInDoubleInTheGivenOrder) {
  // In fp32, 1e8 + 1 + 1 - 1e8 loses both ones; summed in double the mean is exactly 0.5.
  const std::vector<float> a{1e8f}, b{1}, c{1}, d{-1e8f};
  const std::vector<std::span<const float>> xs{a, b, c, d};
  std::vector<float> out(1);
  ops::mean(out, xs);
  EXPECT_EQ(out[0], 0.5f);
}

TEST(Ops, QuantizeRoundTripIsTheKernelsAndNoOpOnFp32AndPhantoms) {
  std::vector<float> v{1.0f + 1.0f / 1024, 3};  // 1 + 2^-10 is exact in fp16, 1 + 2^-11 is not
  std::vector<float> w{1.0f + 1.0f / 2048, 3};
  ops::quantize_roundtrip(v, kernels::WireFormat::fp16);
  ops::quantize_roundtrip(w, kernels::WireFormat::fp16);
  EXPECT_EQ(v[0], 1.0f + 1.0f / 1024);
  EXPECT_EQ(w[0], 1.0f);  // a tie, to even
  std::vector<float> same{1.0f + 1.0f / 2048};
  ops::quantize_roundtrip(same, kernels::WireFormat::fp32);
  EXPECT_EQ(same[0], 1.0f + 1.0f / 2048);

  Tensor phantom = Tensor::phantom(4);
  ops::quantize_roundtrip(phantom, kernels::WireFormat::int8);
  ops::average_pair(phantom, std::vector<float>{1, 2});  // no values: sizes not even looked at
  ops::copy(phantom, std::vector<float>{});
  EXPECT_FALSE(phantom.is_real());
  Tensor real = Tensor::from({1, 2});
  ops::copy(real, std::vector<float>{7, 8});
  EXPECT_EQ(real.values()[1], 8.0f);
}

TEST(Backend, NamesParseOnceAndTheCpuBackendStepsTheOptimizer) {
  EXPECT_EQ(parse_backend("cpu"), BackendKind::cpu);
  EXPECT_EQ(parse_backend("none"), BackendKind::none);
  EXPECT_FALSE(parse_backend("cuda").has_value());
  EXPECT_EQ(backend_name(BackendKind::cpu), "cpu");
  EXPECT_EQ(parse_optimizer_kind("nesterov"), OptimizerKind::nesterov);
  EXPECT_FALSE(parse_optimizer_kind("Adam").has_value());

  ModelSpec model;  // softmax regression 2 -> 2: W (2,2), b (2)
  model.inputs = 2;
  model.outputs = 2;
  auto backend = make_backend(BackendKind::cpu, model);
  EXPECT_EQ(backend->kind(), BackendKind::cpu);
  EXPECT_EQ(backend->parameter_count(), 6u);
  // Zero weights: both classes at probability 1/2, loss ln 2; dL/db = p - onehot = (-1/2, 1/2).
  std::vector<float> params(6, 0.0f), grads(6);
  const float x[2] = {1, 0};
  const std::int32_t label = 0;
  EXPECT_NEAR(backend->forward_backward(grads, params, x, &label, nullptr, 1), std::log(2.0), 1e-6);
  EXPECT_FLOAT_EQ(grads[4], -0.5f);
  EXPECT_FLOAT_EQ(grads[5], 0.5f);
  OptimizerSpec sgd;
  sgd.lr = 0.1;
  Optimizer opt(sgd, 6);
  backend->optimizer_step(opt, params, grads, 2.0);  // lr 0.1 x 2
  EXPECT_FLOAT_EQ(params[4], 0.1f);
  EXPECT_EQ(opt.steps(), 1);
}

}  // namespace
}  // namespace geotrain::runtime

namespace geotrain::sim {
namespace {

using testing::error_of;

TEST(WireFormats, ParsedOnceIntoEnumsWithTheNamesInMessages) {
  const auto none = nlohmann::json::object();
  JsonReader empty(none, "f.json");
  EXPECT_FALSE(read_message_format(empty).has_value());  // default: native
  const auto native = nlohmann::json::parse(R"({"wire_format": "native"})");
  JsonReader n(native, "f.json");
  EXPECT_FALSE(read_message_format(n).has_value());
  const auto fp4 = nlohmann::json::parse(R"({"wire_format": "fp4"})");
  JsonReader f(fp4, "f.json");
  EXPECT_EQ(read_message_format(f), kernels::WireFormat::fp4_e3m0);
  const auto bad = nlohmann::json::parse(R"({"wire_format": "fp8"})");
  JsonReader b(bad, "f.json");
  EXPECT_EQ(error_of([&] { read_message_format(b); }),
            "f.json: /wire_format: \"fp8\": expected one of \"native\" | \"fp32\" | \"bf16\" | \"fp16\" | \"int8\" | \"fp4\" | \"ternary\"");
  // A restricted knob lists only what it allows; its default is the fallback.
  const auto h = nlohmann::json::parse(R"({"compression": "int8"})");
  JsonReader hr(h, "f.json");
  using kernels::WireFormat;
  EXPECT_EQ(error_of([&] {
              read_wire_format(hr, "compression", WireFormat::fp16, {WireFormat::fp32, WireFormat::fp16});
            }),
            "f.json: /compression: \"int8\": expected one of \"fp32\" | \"fp16\"");
  JsonReader empty2(none, "f.json");
  EXPECT_EQ(read_wire_format(empty2, "compression", WireFormat::fp16), WireFormat::fp16);
  // Bytes per value: exact with the per-block scale (4 bytes per 256 values).
  EXPECT_EQ(wire_bytes_per_value(WireFormat::fp16), 2.0);
  EXPECT_EQ(wire_bytes_per_value(WireFormat::int8), 1.0 + 4.0 / 256);
  // to_wire: native keeps values and uses the workload's bytes; a format rounds them.
  const std::vector<float> v{1.0f + 1.0f / 2048};
  EXPECT_EQ(to_wire(v, 1, std::nullopt, 3.0).bytes, 3u);
  EXPECT_EQ(to_wire(v, 1, std::nullopt, 3.0).values[0], v[0]);
  EXPECT_EQ(to_wire(v, 1, WireFormat::fp16, 3.0).values[0], 1.0f);
  EXPECT_EQ(to_wire(v, 1, WireFormat::fp16, 3.0).bytes, 2u);
}

}  // namespace
}  // namespace geotrain::sim
