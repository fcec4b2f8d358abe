// The language model's kernels (kernels/transformer.h): values by hand, gradients against
// central finite differences, and the fast attention against its plain reference.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/transformer.h"
#include "runtime/rng.h"

namespace geotrain {
namespace {

std::vector<float> normals(std::size_t n, std::uint64_t seed, double stddev = 1.0) {
  runtime::Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal() * stddev);
  return v;
}

// sum(out * weights) in double: a scalar whose gradient with respect to out is `weights`.
double weighted_sum(const std::vector<float>& out, const std::vector<float>& weights) {
  double s = 0;
  for (std::size_t i = 0; i < out.size(); ++i) s += static_cast<double>(out[i]) * weights[i];
  return s;
}

// Checks grad[i] against (f(x + eps e_i) - f(x - eps e_i)) / 2 eps for every i of x (f reads x).
// Tolerance: 2e-3 absolute + 1e-2 relative (fp32 forward passes, eps = 1e-2).
void expect_gradient(std::vector<float>& x, const std::vector<float>& grad, const std::function<double()>& f,
                     const char* what) {
  constexpr float kEps = 1e-2f;
  ASSERT_EQ(x.size(), grad.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float keep = x[i];
    x[i] = keep + kEps;
    const double up = f();
    x[i] = keep - kEps;
    const double down = f();
    x[i] = keep;
    const double fd = (up - down) / (2.0 * kEps);
    ASSERT_NEAR(grad[i], fd, 2e-3 + 1e-2 * std::abs(fd)) << what << " [" << i << "]";
  }
}

TEST(LmKernels, GeluIsGpt2sTanhApproximation) {
  const std::vector<float> x = {-3.0f, -1.0f, 0.0f, 0.5f, 1.0f, 2.0f};
  std::vector<float> y(x.size());
  kernels::gelu_forward(y.data(), x.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double u = std::sqrt(2.0 / M_PI) * (x[i] + 0.044715 * std::pow(x[i], 3));
    EXPECT_NEAR(y[i], 0.5 * x[i] * (1 + std::tanh(u)), 1e-6) << x[i];
  }
  EXPECT_NEAR(y[4], 0.841192, 1e-6);  // gelu_tanh(1)
  EXPECT_EQ(y[2], 0.0f);
  // Far out the gate saturates without inf or NaN: gelu(-30) = -0, gelu(30) = 30, slopes 0 and 1.
  const std::vector<float> far = {-30.0f, 30.0f}, ones = {1.0f, 1.0f};
  std::vector<float> g(2), dg(2);
  kernels::gelu_forward(g.data(), far.data(), 2);
  kernels::gelu_backward(dg.data(), ones.data(), far.data(), 2);
  EXPECT_EQ(g[0], 0.0f);
  EXPECT_EQ(g[1], 30.0f);
  EXPECT_EQ(dg[0], 0.0f);
  EXPECT_EQ(dg[1], 1.0f);
}

TEST(LmKernels, GeluBackwardMatchesFiniteDifferences) {
  std::vector<float> x = normals(40, 1, 2.0), w = normals(40, 2);
  std::vector<float> y(x.size()), dx(x.size());
  kernels::gelu_backward(dx.data(), w.data(), x.data(), x.size());
  expect_gradient(x, dx, [&] {
    kernels::gelu_forward(y.data(), x.data(), x.size());
    return weighted_sum(y, w);
  }, "gelu");
}

TEST(LmKernels, LayerNormNormalizesEachRowThenScalesAndShifts) {
  const std::vector<float> in = {1, 2, 3, 4, -2, -2, -2, -2};  // row 2: zero variance
  const std::vector<float> gamma = {1, 2, 1, 1}, beta = {0, 0, 0.5f, 0};
  std::vector<float> out(8), mean(2), rstd(2);
  kernels::layernorm_forward(out.data(), mean.data(), rstd.data(), in.data(), gamma.data(), beta.data(), 2, 4);
  // Row 1: mean 2.5, variance 1.25.
  const double r = 1 / std::sqrt(1.25 + 1e-5);
  EXPECT_NEAR(mean[0], 2.5, 1e-6);
  EXPECT_NEAR(rstd[0], r, 1e-5);
  EXPECT_NEAR(out[0], -1.5 * r, 1e-5);
  EXPECT_NEAR(out[1], -0.5 * r * 2, 1e-5);
  EXPECT_NEAR(out[2], 0.5 * r + 0.5, 1e-5);
  EXPECT_NEAR(out[3], 1.5 * r, 1e-5);
  // Row 2: constant, so every value is beta.
  EXPECT_NEAR(mean[1], -2, 1e-6);
  EXPECT_NEAR(out[6], 0.5, 1e-6);
  EXPECT_NEAR(out[4], 0.0, 1e-6);
}

TEST(LmKernels, LayerNormBackwardMatchesFiniteDifferences) {
  constexpr int N = 3, C = 5;
  std::vector<float> in = normals(N * C, 3), gamma = normals(C, 4), beta = normals(C, 5), w = normals(N * C, 6);
  for (auto& g : gamma) g += 1;
  std::vector<float> out(N * C), mean(N), rstd(N);
  const auto f = [&] {
    kernels::layernorm_forward(out.data(), mean.data(), rstd.data(), in.data(), gamma.data(), beta.data(), N, C);
    return weighted_sum(out, w);
  };
  f();
  std::vector<float> din(N * C, 0.0f), dgamma(C, 0.0f), dbeta(C, 0.0f);
  kernels::layernorm_backward(din.data(), dgamma.data(), dbeta.data(), w.data(), in.data(), gamma.data(), mean.data(),
                              rstd.data(), N, C);
  expect_gradient(in, din, f, "layernorm input");
  expect_gradient(gamma, dgamma, f, "layernorm gain");
  expect_gradient(beta, dbeta, f, "layernorm bias");
  // The three accumulate: a second call doubles them.
  const auto once = din;
  kernels::layernorm_backward(din.data(), dgamma.data(), dbeta.data(), w.data(), in.data(), gamma.data(), mean.data(),
                              rstd.data(), N, C);
  for (std::size_t i = 0; i < din.size(); ++i) EXPECT_FLOAT_EQ(din[i], 2 * once[i]);
}

TEST(LmKernels, EmbeddingAddsTokenAndPositionRowsAndItsGradientAccumulatesRepeats) {
  constexpr int V = 3, T = 2, C = 2;
  const std::vector<float> wte = {1, 2, 10, 20, 100, 200}, wpe = {0.5f, 0.25f, -1, -2};
  const std::vector<std::int32_t> tokens = {2, 2, 0, 1};  // two sequences of two tokens
  std::vector<float> out(4 * C);
  kernels::embedding_forward(out.data(), tokens.data(), wte.data(), wpe.data(), 2, T, C);
  EXPECT_EQ(out, (std::vector<float>{100.5f, 200.25f, 99, 198, 1.5f, 2.25f, 9, 18}));
  const std::vector<float> dout = {1, 1, 2, 2, 3, 3, 4, 4};
  std::vector<float> dwte(V * C, 0.0f), dwpe(T * C, 0.0f);
  kernels::embedding_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), 2, T, C);
  EXPECT_EQ(dwte, (std::vector<float>{3, 3, 4, 4, 3, 3}));  // token 2 twice: 1 + 2
  EXPECT_EQ(dwpe, (std::vector<float>{4, 4, 6, 6}));        // position 0: 1 + 3
}

TEST(LmKernels, AttentionOfTwoTokensByHand) {
  // One sequence, one head of size 1 (C = 1): q | k | v per token.
  const std::vector<float> qkv = {0.3f, 2.0f, 5.0f,    // token 0
                                  1.0f, -1.0f, 7.0f};  // token 1
  std::vector<float> out(2), att(4);
  kernels::attention_forward_reference(out.data(), att.data(), qkv.data(), 1, 2, 1, 1);
  // Token 0 sees only itself; token 1 weighs scores q1 k0 = 2 and q1 k1 = -1.
  EXPECT_FLOAT_EQ(out[0], 5.0f);
  const double p0 = std::exp(2.0) / (std::exp(2.0) + std::exp(-1.0));
  EXPECT_NEAR(att[2], p0, 1e-6);
  EXPECT_NEAR(att[3], 1 - p0, 1e-6);
  EXPECT_EQ(att[1], 0.0f);  // masked: token 0 never sees token 1
  EXPECT_NEAR(out[1], p0 * 5 + (1 - p0) * 7, 1e-5);
}

TEST(LmKernels, AttentionBackwardMatchesFiniteDifferences) {
  constexpr int B = 2, T = 4, C = 6, NH = 2;
  std::vector<float> qkv = normals(B * T * 3 * C, 7), w = normals(B * T * C, 8);
  std::vector<float> out(B * T * C), att(B * NH * T * T), dqkv(qkv.size());
  kernels::attention_forward_reference(out.data(), att.data(), qkv.data(), B, T, C, NH);
  kernels::attention_backward_reference(dqkv.data(), w.data(), att.data(), qkv.data(), B, T, C, NH);
  expect_gradient(qkv, dqkv, [&] {
    kernels::attention_forward_reference(out.data(), att.data(), qkv.data(), B, T, C, NH);
    return weighted_sum(out, w);
  }, "attention");
  // Causality: the last token's q, k and v change nothing before it: their gradient from the
  // first token's output alone is zero.
  std::vector<float> first_only(w.size(), 0.0f);
  std::copy_n(w.begin(), C, first_only.begin());
  kernels::attention_backward_reference(dqkv.data(), first_only.data(), att.data(), qkv.data(), B, T, C, NH);
  for (int i = 0; i < 3 * C; ++i) EXPECT_EQ(dqkv[(T - 1) * 3 * C + i], 0.0f) << i;
}

TEST(LmKernels, FastAttentionEqualsTheReference) {
  constexpr int B = 3, T = 9, C = 12, NH = 3;
  const std::vector<float> qkv = normals(B * T * 3 * C, 9), dout = normals(B * T * C, 10);
  std::vector<float> out_ref(B * T * C), att_ref(B * NH * T * T), dqkv_ref(qkv.size());
  std::vector<float> out(B * T * C), att(B * NH * T * T, -1.0f), dqkv(qkv.size(), 42.0f);
  kernels::attention_forward_reference(out_ref.data(), att_ref.data(), qkv.data(), B, T, C, NH);
  kernels::attention_backward_reference(dqkv_ref.data(), dout.data(), att_ref.data(), qkv.data(), B, T, C, NH);
  kernels::AttentionScratch scratch;
  kernels::attention_forward(out.data(), att.data(), qkv.data(), B, T, C, NH, scratch);
  kernels::attention_backward(dqkv.data(), dout.data(), att.data(), qkv.data(), B, T, C, NH, scratch);
  const auto expect_close = [](const std::vector<float>& a, const std::vector<float>& b, const char* what) {
    for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5 + 1e-5 * std::abs(b[i])) << what << i;
  };
  expect_close(out, out_ref, "out");
  expect_close(att, att_ref, "att");
  expect_close(dqkv, dqkv_ref, "dqkv");
}

}  // namespace
}  // namespace geotrain
