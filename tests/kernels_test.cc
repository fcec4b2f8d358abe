// The CPU kernels (GEMM, layers, losses, optimizer updates) and runtime::Optimizer, each checked
// against an independent reference on seeded inputs: closed forms, finite differences, double loops.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/gemm.h"
#include "kernels/nn.h"
#include "kernels/optim.h"
#include "runtime/optimizer.h"
#include "runtime/rng.h"

namespace geotrain::kernels {
namespace {

using runtime::Rng;

// n values uniform in [lo, hi).
std::vector<float> uniform_values(Rng& rng, std::size_t n, double lo = -1.0, double hi = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(lo + (hi - lo) * rng.uniform());
  return v;
}

std::vector<float> normal_values(Rng& rng, std::size_t n, double scale = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(scale * rng.normal());
  return v;
}

// |actual - ref| <= abs + rel * |ref| for every element, reporting the first few misses.
void expect_close(const std::vector<float>& actual, const std::vector<double>& ref, double abs, double rel,
                  const char* what) {
  ASSERT_EQ(actual.size(), ref.size()) << what;
  int misses = 0;
  for (std::size_t i = 0; i < ref.size() && misses < 5; ++i) {
    const double tol = abs + rel * std::fabs(ref[i]);
    if (!(std::fabs(actual[i] - ref[i]) <= tol)) {
      ++misses;
      ADD_FAILURE() << what << "[" << i << "]: got " << actual[i] << ", want " << ref[i] << " (tolerance " << tol
                    << ")";
    }
  }
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// ---------------------------------------------------------------------------------------------
// GEMM

TEST(KernelsGemm, ReferenceMatchesHandComputed2x2ForAllTransposes) {
  // A = [[1,2],[3,4]], B = [[5,6],[7,8]], C0 = [[1,-1],[2,0]]; C = 2 op(A) op(B) + 0.5 C0.
  const std::vector<float> A = {1, 2, 3, 4}, B = {5, 6, 7, 8}, C0 = {1, -1, 2, 0};
  struct Case {
    bool ta, tb;
    std::vector<double> want;
  };
  const Case cases[] = {
      {false, false, {38.5, 43.5, 87, 100}},  // AB     = [[19,22],[43,50]]
      {true, false, {52.5, 59.5, 77, 88}},    // A^T B  = [[26,30],[38,44]]
      {false, true, {34.5, 45.5, 79, 106}},   // A B^T  = [[17,23],[39,53]]
      {true, true, {46.5, 61.5, 69, 92}},     // A^TB^T = [[23,31],[34,46]]
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "trans_a=" << c.ta << " trans_b=" << c.tb);
    std::vector<float> C = C0;
    gemm_reference(C.data(), A.data(), B.data(), 2, 2, 2, c.ta, c.tb, 2.0f, 0.5f);
    expect_close(C, c.want, 0, 0, "gemm_reference");
    C = C0;
    gemm(C.data(), A.data(), B.data(), 2, 2, 2, c.ta, c.tb, 2.0f, 0.5f);
    expect_close(C, c.want, 0, 0, "gemm");
  }
}

TEST(KernelsGemm, BlasMatchesReferenceOnOddShapesAllTransposes) {
  struct Shape {
    int M, N, K;
  };
  constexpr float kAlpha = 0.75f, kBeta = -1.25f;
  Rng rng(1234);
  for (const Shape s : {Shape{7, 5, 3}, Shape{33, 17, 65}, Shape{1, 9, 4}, Shape{64, 100, 784}}) {
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) {
        SCOPED_TRACE(::testing::Message() << s.M << "x" << s.N << "x" << s.K << " trans_a=" << ta << " trans_b=" << tb);
        const auto A = uniform_values(rng, static_cast<std::size_t>(s.M) * s.K);
        const auto B = uniform_values(rng, static_cast<std::size_t>(s.K) * s.N);
        const auto C0 = uniform_values(rng, static_cast<std::size_t>(s.M) * s.N);
        std::vector<float> fast = C0, ref = C0;
        gemm(fast.data(), A.data(), B.data(), s.M, s.N, s.K, ta, tb, kAlpha, kBeta);
        gemm_reference(ref.data(), A.data(), B.data(), s.M, s.N, s.K, ta, tb, kAlpha, kBeta);
        // fp32 accumulation over K terms of size <= 1: error ~ K * 2^-24, far under 1e-4.
        expect_close(fast, to_double(ref), 1e-4, 1e-5, "gemm vs gemm_reference");
        // The result must differ from beta*C0 (op(A)op(B) was really added).
        double moved = 0;
        for (std::size_t i = 0; i < C0.size(); ++i) moved += std::fabs(fast[i] - kBeta * C0[i]);
        EXPECT_GT(moved, 0.01 * static_cast<double>(C0.size()));
      }
  }
}

// ---------------------------------------------------------------------------------------------
// Layers

TEST(KernelsNn, BiasAddAndBiasGrad) {
  constexpr int B = 5, N = 7;
  Rng rng(11);
  const auto x = normal_values(rng, B * N), bias = normal_values(rng, N);
  std::vector<float> out = x;
  bias_add(out.data(), bias.data(), B, N);
  for (int b = 0; b < B; ++b)
    for (int n = 0; n < N; ++n) EXPECT_EQ(out[b * N + n], x[b * N + n] + bias[n]) << b << "," << n;

  std::vector<float> dbias(N, 123.0f);  // overwritten, not accumulated into
  bias_grad(dbias.data(), x.data(), B, N);
  std::vector<double> sums(N, 0.0);
  for (int b = 0; b < B; ++b)
    for (int n = 0; n < N; ++n) sums[n] += x[b * N + n];
  expect_close(dbias, sums, 1e-6, 1e-6, "bias_grad");
}

// Central differences of an element-wise forward at every x, times dout; the step actually taken
// is measured in float so that rounding of x +- h does not bias the quotient.
template <typename Forward>
std::vector<double> elementwise_fd(Forward forward, const std::vector<float>& x, const std::vector<float>& dout,
                                   float h) {
  std::vector<double> d(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float xp = x[i] + h, xm = x[i] - h;
    float fp, fm;
    forward(&fp, &xp, 1);
    forward(&fm, &xm, 1);
    d[i] = dout[i] * (static_cast<double>(fp) - fm) / (static_cast<double>(xp) - xm);
  }
  return d;
}

TEST(KernelsNn, ReluForwardAndBackwardVsFiniteDifferences) {
  constexpr std::size_t n = 200;
  constexpr float h = 1e-3f;
  Rng rng(12);
  auto x = normal_values(rng, n);
  for (auto& v : x)  // keep away from the kink, where the derivative is not defined
    if (std::fabs(v) < 10 * h) v = v < 0 ? -10 * h : 10 * h;
  const auto dout = normal_values(rng, n);
  std::vector<float> out(n);
  relu_forward(out.data(), x.data(), n);
  int positives = 0;
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(out[i], x[i] > 0 ? x[i] : 0.0f);
    positives += x[i] > 0;
  }
  EXPECT_GT(positives, 50);
  EXPECT_LT(positives, 150);
  std::vector<float> in_place = x;
  relu_forward(in_place.data(), in_place.data(), n);
  EXPECT_EQ(in_place, out);

  std::vector<float> din(n);
  relu_backward(din.data(), dout.data(), out.data(), n);
  expect_close(din, elementwise_fd(relu_forward, x, dout, h), 1e-4, 1e-3, "relu_backward");
}

TEST(KernelsNn, TanhForwardAndBackwardVsFiniteDifferences) {
  constexpr std::size_t n = 200;
  Rng rng(13);
  const auto x = normal_values(rng, n, 1.5);
  const auto dout = normal_values(rng, n);
  std::vector<float> out(n);
  tanh_forward(out.data(), x.data(), n);
  std::vector<double> want(n);
  for (std::size_t i = 0; i < n; ++i) want[i] = std::tanh(static_cast<double>(x[i]));
  expect_close(out, want, 1e-7, 1e-6, "tanh_forward");
  std::vector<float> in_place = x;
  tanh_forward(in_place.data(), in_place.data(), n);
  EXPECT_EQ(in_place, out);

  std::vector<float> din(n);
  tanh_backward(din.data(), dout.data(), out.data(), n);
  expect_close(din, elementwise_fd(tanh_forward, x, dout, 3e-3f), 2e-4, 1e-3, "tanh_backward");
}

// Mean cross-entropy by the naive formula log(sum exp) - logit[label], in double (accurate for
// moderate logits: no max subtraction, so it shares nothing with the kernel's method).
double naive_cross_entropy(const std::vector<float>& logits, const std::vector<std::int32_t>& labels, int B, int C) {
  double loss = 0;
  for (int b = 0; b < B; ++b) {
    double sum = 0;
    for (int c = 0; c < C; ++c) sum += std::exp(static_cast<double>(logits[b * C + c]));
    loss += std::log(sum) - logits[b * C + labels[b]];
  }
  return loss / B;
}

TEST(KernelsNn, SoftmaxCrossEntropyLossAndGradient) {
  constexpr int B = 5, C = 7;
  Rng rng(14);
  const auto logits = normal_values(rng, B * C, 3.0);
  std::vector<std::int32_t> labels(B);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(C));

  std::vector<float> dlogits(B * C, 99.0f);
  const double loss = softmax_cross_entropy(dlogits.data(), logits.data(), labels.data(), B, C);
  const double want = naive_cross_entropy(logits, labels, B, C);
  EXPECT_NEAR(loss, want, 1e-12 + 1e-12 * want);
  EXPECT_EQ(softmax_cross_entropy(nullptr, logits.data(), labels.data(), B, C), loss);

  // Central differences of the (double) loss; the float step is measured exactly.
  constexpr float h = 1e-3f;
  std::vector<double> fd(B * C);
  for (int i = 0; i < B * C; ++i) {
    std::vector<float> p = logits, m = logits;
    p[i] += h;
    m[i] -= h;
    fd[i] = (softmax_cross_entropy(nullptr, p.data(), labels.data(), B, C) -
             softmax_cross_entropy(nullptr, m.data(), labels.data(), B, C)) /
            (static_cast<double>(p[i]) - m[i]);
  }
  expect_close(dlogits, fd, 1e-6, 1e-3, "dlogits vs finite differences");
  for (int b = 0; b < B; ++b) {
    double row = 0;
    for (int c = 0; c < C; ++c) row += dlogits[b * C + c];
    EXPECT_NEAR(row, 0.0, 1e-7) << "row " << b;
    EXPECT_LT(dlogits[b * C + labels[b]], 0.0f) << "row " << b;  // the label's logit must rise
  }
}

TEST(KernelsNn, SoftmaxCrossEntropyLargeLogitsDoNotOverflow) {
  // Logits near 1e4: exp() of them overflows any float or double.  Row 0's label holds the
  // largest logit; row 1's label is 3 below the largest.
  constexpr int B = 2, C = 3;
  const std::vector<float> logits = {1e4f, 1e4f - 1, 1e4f - 2, -1e4f, 1e4f, 1e4f - 3};
  const std::vector<std::int32_t> labels = {0, 2};
  std::vector<float> d(B * C);
  const double loss = softmax_cross_entropy(d.data(), logits.data(), labels.data(), B, C);
  const double lse0 = std::log(1 + std::exp(-1.0) + std::exp(-2.0));  // minus the top logit
  const double lse1 = std::log(1 + std::exp(-3.0));                   // exp(-2e4) vanishes
  EXPECT_NEAR(loss, (lse0 + (lse1 + 3)) / 2, 1e-9);
  const std::vector<double> want = {
      (std::exp(-lse0) - 1) / 2, std::exp(-1 - lse0) / 2, std::exp(-2 - lse0) / 2,
      0.0, std::exp(-lse1) / 2, (std::exp(-3 - lse1) - 1) / 2};
  expect_close(d, want, 1e-7, 1e-6, "dlogits at 1e4");
}

TEST(KernelsNn, CountCorrectTakesFirstIndexOnTies) {
  constexpr int C = 4;
  const std::vector<float> logits = {
      1, 3, 3, 0,   // tie between 1 and 2: arg-max is 1
      1, 3, 3, 0,   // same row, label 2: wrong
      5, 5, 5, 5,   // all tied: arg-max is 0
      -1, -2, 0, -3,  // arg-max 2
      -1, -2, 0, -3,  // label 3: wrong
  };
  const std::vector<std::int32_t> labels = {1, 2, 0, 2, 3};
  EXPECT_EQ(count_correct(logits.data(), labels.data(), 5, C), 3);
  EXPECT_EQ(count_correct(logits.data() + C, labels.data() + 1, 1, C), 0);

  // Random rows against a plain arg-max loop.
  constexpr int B = 100;
  Rng rng(15);
  const auto r = normal_values(rng, B * C);
  std::vector<std::int32_t> l(B);
  int want = 0;
  for (int b = 0; b < B; ++b) {
    l[b] = static_cast<std::int32_t>(rng.below(C));
    int best = 0;
    for (int c = 1; c < C; ++c)
      if (r[b * C + c] > r[b * C + best]) best = c;
    want += best == l[b];
  }
  EXPECT_EQ(count_correct(r.data(), l.data(), B, C), want);
  EXPECT_GT(want, 0);
  EXPECT_LT(want, B);
}

TEST(KernelsNn, HalfMseValueAndGradient) {
  constexpr std::size_t n = 37;
  Rng rng(16);
  const auto pred = normal_values(rng, n), target = normal_values(rng, n);
  std::vector<float> dpred(n);
  const double loss = half_mse(dpred.data(), pred.data(), target.data(), n);
  double want = 0;
  std::vector<double> grad(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(pred[i]) - target[i];
    want += d * d;
    grad[i] = d / n;
  }
  want *= 0.5 / n;
  EXPECT_NEAR(loss, want, 1e-12 * want);
  EXPECT_EQ(half_mse(nullptr, pred.data(), target.data(), n), loss);
  expect_close(dpred, grad, 1e-9, 1e-6, "dpred vs formula");
  // And against central differences of the loss (exact for a quadratic up to rounding).
  std::vector<double> fd(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<float> p = pred, m = pred;
    p[i] += 1e-2f;
    m[i] -= 1e-2f;
    fd[i] = (half_mse(nullptr, p.data(), target.data(), n) - half_mse(nullptr, m.data(), target.data(), n)) /
            (static_cast<double>(p[i]) - m[i]);
  }
  expect_close(dpred, fd, 1e-7, 1e-5, "dpred vs finite differences");
}

// ---------------------------------------------------------------------------------------------
// Optimizer kernels against double-precision loops written from the formulas in kernels/optim.h.

constexpr std::size_t kOptN = 64;
constexpr int kOptSteps = 3;
constexpr float kLr = 0.1f, kMu = 0.9f, kWd = 0.01f;

struct OptFixture {
  std::vector<float> w0;
  std::vector<std::vector<float>> grads;  // one per step
};

OptFixture opt_fixture(std::uint64_t seed) {
  Rng rng(seed);
  OptFixture f;
  f.w0 = normal_values(rng, kOptN);
  for (int s = 0; s < kOptSteps; ++s) f.grads.push_back(normal_values(rng, kOptN));
  return f;
}

TEST(KernelsOptim, SgdMatchesReference) {
  const auto f = opt_fixture(21);
  std::vector<float> w = f.w0;
  std::vector<double> rw = to_double(f.w0);
  for (int s = 0; s < kOptSteps; ++s) {
    sgd_step(w.data(), f.grads[s].data(), kLr, kWd, kOptN);
    for (std::size_t i = 0; i < kOptN; ++i) rw[i] -= double{kLr} * (f.grads[s][i] + double{kWd} * rw[i]);
    expect_close(w, rw, 1e-6, 1e-5, "sgd w");
  }
}

TEST(KernelsOptim, MomentumMatchesReference) {
  const auto f = opt_fixture(22);
  std::vector<float> w = f.w0, v(kOptN, 0.0f);
  std::vector<double> rw = to_double(f.w0), rv(kOptN, 0.0);
  for (int s = 0; s < kOptSteps; ++s) {
    momentum_step(w.data(), v.data(), f.grads[s].data(), kLr, kMu, kWd, kOptN);
    for (std::size_t i = 0; i < kOptN; ++i) {
      rv[i] = double{kMu} * rv[i] + (f.grads[s][i] + double{kWd} * rw[i]);
      rw[i] -= double{kLr} * rv[i];
    }
    expect_close(v, rv, 1e-6, 1e-5, "momentum v");
    expect_close(w, rw, 1e-6, 1e-5, "momentum w");
  }
}

TEST(KernelsOptim, NesterovMatchesReference) {
  const auto f = opt_fixture(23);
  std::vector<float> w = f.w0, v(kOptN, 0.0f);
  std::vector<double> rw = to_double(f.w0), rv(kOptN, 0.0);
  for (int s = 0; s < kOptSteps; ++s) {
    nesterov_step(w.data(), v.data(), f.grads[s].data(), kLr, kMu, kWd, kOptN);
    for (std::size_t i = 0; i < kOptN; ++i) {
      const double g = f.grads[s][i] + double{kWd} * rw[i];
      rv[i] = double{kMu} * rv[i] + g;
      rw[i] -= double{kLr} * (g + double{kMu} * rv[i]);
    }
    expect_close(v, rv, 1e-6, 1e-5, "nesterov v");
    expect_close(w, rw, 1e-6, 1e-5, "nesterov w");
  }
}

TEST(KernelsOptim, AdamwMatchesReference) {
  constexpr float kB1 = 0.9f, kB2 = 0.999f, kEps = 1e-8f, kAdamLr = 1e-2f;
  const auto f = opt_fixture(24);
  std::vector<float> w = f.w0, m(kOptN, 0.0f), v(kOptN, 0.0f);
  std::vector<double> rw = to_double(f.w0), rm(kOptN, 0.0), rv(kOptN, 0.0);
  for (int s = 0; s < kOptSteps; ++s) {
    const long t = s + 1;
    adamw_step(w.data(), m.data(), v.data(), f.grads[s].data(), kAdamLr, kB1, kB2, kEps, kWd, t, kOptN);
    const double c1 = 1 - std::pow(double{kB1}, t), c2 = 1 - std::pow(double{kB2}, t);
    for (std::size_t i = 0; i < kOptN; ++i) {
      const double g = f.grads[s][i];
      rm[i] = kB1 * rm[i] + (1 - double{kB1}) * g;
      rv[i] = kB2 * rv[i] + (1 - double{kB2}) * g * g;
      rw[i] -= kAdamLr * (rm[i] / c1) / (std::sqrt(rv[i] / c2) + kEps) + double{kAdamLr} * kWd * rw[i];
    }
    expect_close(m, rm, 1e-7, 1e-5, "adamw m");
    expect_close(v, rv, 1e-9, 1e-5, "adamw v");
    expect_close(w, rw, 1e-6, 1e-5, "adamw w");
  }
}

TEST(KernelsOptim, AdamwFirstStepIsSignOfGradientPlusDecay) {
  // Step 1: mhat = g and vhat = g^2, so the update is lr * (sign(g) + wd * w) when |g| >> eps.
  constexpr float kAdamLr = 1e-2f, kDecay = 0.1f;
  Rng rng(25);
  auto w = normal_values(rng, kOptN);
  const auto w0 = w;
  std::vector<float> g(kOptN), m(kOptN, 0.0f), v(kOptN, 0.0f);
  for (std::size_t i = 0; i < kOptN; ++i) g[i] = static_cast<float>((i % 2 ? -1 : 1) * (0.1 + rng.uniform()));
  adamw_step(w.data(), m.data(), v.data(), g.data(), kAdamLr, 0.9f, 0.999f, 1e-8f, kDecay, 1, kOptN);
  std::vector<double> want(kOptN);
  for (std::size_t i = 0; i < kOptN; ++i) want[i] = w0[i] - kAdamLr * ((g[i] > 0 ? 1.0 : -1.0) + kDecay * w0[i]);
  expect_close(w, want, 1e-6, 1e-6, "adamw first step");
}

}  // namespace
}  // namespace geotrain::kernels

// ---------------------------------------------------------------------------------------------
// runtime::Optimizer: warm-up and reset.

namespace geotrain::runtime {
namespace {

// w_before - w_after of one step from w = 0 with gradient g.
std::vector<float> step_delta(Optimizer& opt, const std::vector<float>& g) {
  std::vector<float> w(g.size(), 0.0f);
  opt.step(w, g);
  for (auto& x : w) x = -x;
  return w;
}

TEST(Optimizer, WarmupRampsLearningRateLinearly) {
  constexpr long kWarmup = 4;
  const std::vector<float> g = {1.0f, -2.0f, 0.5f};
  OptimizerSpec spec;
  spec.name = "sgd";
  spec.lr = 0.1;
  Optimizer full(spec, g.size());
  spec.warmup_steps = kWarmup;
  Optimizer warm(spec, g.size());
  const auto full_delta = step_delta(full, g);
  for (std::size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(full_delta[i], 0.1 * g[i], 1e-7);
  for (long s = 1; s <= kWarmup + 2; ++s) {
    const auto d = step_delta(warm, g);
    const double factor = std::min(1.0, static_cast<double>(s) / kWarmup);
    EXPECT_EQ(warm.steps(), s);
    for (std::size_t i = 0; i < g.size(); ++i)
      EXPECT_NEAR(d[i], factor * full_delta[i], 1e-7) << "step " << s << " value " << i;
  }
  // lr_scale multiplies on top of the warm-up.
  warm.reset();
  std::vector<float> w(g.size(), 0.0f);
  warm.step(w, g, 0.5);
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(-w[i], 0.5 * full_delta[i] / kWarmup, 1e-8);
}

TEST(Optimizer, ResetForgetsMomentsAndStepCount) {
  const std::vector<float> g = {0.3f, -0.7f, 2.0f, -0.05f};
  for (const char* name : {"momentum", "nesterov", "adamw"}) {
    SCOPED_TRACE(name);
    OptimizerSpec spec;
    spec.name = name;
    spec.lr = 0.01;
    spec.warmup_steps = 3;
    Optimizer opt(spec, g.size());
    const auto first = step_delta(opt, g);
    const auto second = step_delta(opt, g);
    EXPECT_EQ(opt.steps(), 2);
    // With moments (and warm-up) the second step differs from the first...
    EXPECT_GT(std::fabs(second[0] - first[0]), 1e-4);
    opt.reset();
    EXPECT_EQ(opt.steps(), 0);
    // ...and after reset() the next step is the first step again.
    const auto again = step_delta(opt, g);
    for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(again[i], first[i], 1e-9) << i;
  }
}

}  // namespace
}  // namespace geotrain::runtime
