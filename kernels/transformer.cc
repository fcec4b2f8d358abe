// Language-model kernels: plain loops in a fixed order, and the GEMM form of attention.
#include "kernels/transformer.h"

#include <algorithm>
#include <cmath>

#include "kernels/gemm.h"

namespace geotrain::kernels {
namespace {

constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluCubic = 0.044715f;

std::size_t at(int row, int C) { return static_cast<std::size_t>(row) * C; }

// Softmax over s <= t of row t of S (T, T), scaled by `scale`, into P; zeros above the diagonal.
void causal_softmax_rows(float* P, const float* S, int T, float scale) {
  for (int t = 0; t < T; ++t) {
    const float* srow = S + at(t, T);
    float* prow = P + at(t, T);
    float max = srow[0] * scale;
    for (int s = 1; s <= t; ++s) max = std::max(max, srow[s] * scale);
    double sum = 0;
    for (int s = 0; s <= t; ++s) {
      prow[s] = std::exp(srow[s] * scale - max);
      sum += prow[s];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int s = 0; s <= t; ++s) prow[s] *= inv;
    for (int s = t + 1; s < T; ++s) prow[s] = 0;
  }
}

// dS = P * (dP - rowsum(P * dP)) on s <= t, 0 above (overwrites dP).
void causal_softmax_backward_rows(float* dP, const float* P, int T) {
  for (int t = 0; t < T; ++t) {
    const float* prow = P + at(t, T);
    float* drow = dP + at(t, T);
    double dot = 0;
    for (int s = 0; s <= t; ++s) dot += static_cast<double>(prow[s]) * drow[s];
    const float d = static_cast<float>(dot);
    for (int s = 0; s <= t; ++s) drow[s] = prow[s] * (drow[s] - d);
    for (int s = t + 1; s < T; ++s) drow[s] = 0;
  }
}

// Copies head h's columns of part `part` (0 q, 1 k, 2 v) of sequence b's rows of qkv into dst(T, hs).
void gather_head(float* dst, const float* qkv, int b, int T, int C, int hs, int part, int h) {
  for (int t = 0; t < T; ++t)
    std::copy_n(qkv + at(b * T + t, 3 * C) + part * C + h * hs, hs, dst + at(t, hs));
}

void scatter_head(float* qkv_like, const float* src, int b, int T, int width, int offset, int hs) {
  for (int t = 0; t < T; ++t) std::copy_n(src + at(t, hs), hs, qkv_like + at(b * T + t, width) + offset);
}

void grow(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}

// Sequence b, head h's queries, keys and values into the scratch's (T, hs) blocks.
void gather_qkv(AttentionScratch& s, const float* qkv, int b, int T, int C, int hs, int h) {
  gather_head(s.q.data(), qkv, b, T, C, hs, 0, h);
  gather_head(s.k.data(), qkv, b, T, C, hs, 1, h);
  gather_head(s.v.data(), qkv, b, T, C, hs, 2, h);
}

}  // namespace

void embedding_forward(float* out, const std::int32_t* tokens, const float* wte, const float* wpe, int B, int T,
                       int C) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      float* o = out + at(b * T + t, C);
      const float* e = wte + at(tokens[b * T + t], C);
      const float* p = wpe + at(t, C);
      for (int c = 0; c < C; ++c) o[c] = e[c] + p[c];
    }
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const std::int32_t* tokens, int B, int T, int C) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const float* d = dout + at(b * T + t, C);
      float* de = dwte + at(tokens[b * T + t], C);
      float* dp = dwpe + at(t, C);
      for (int c = 0; c < C; ++c) {
        de[c] += d[c];
        dp[c] += d[c];
      }
    }
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* in, const float* gamma, const float* beta,
                       int N, int C) {
  for (int n = 0; n < N; ++n) {
    const float* x = in + at(n, C);
    double sum = 0;
    for (int c = 0; c < C; ++c) sum += x[c];
    const float m = static_cast<float>(sum / C);
    double var = 0;
    for (int c = 0; c < C; ++c) var += static_cast<double>(x[c] - m) * (x[c] - m);
    const float r = static_cast<float>(1.0 / std::sqrt(var / C + kLayerNormEps));
    float* o = out + at(n, C);
    for (int c = 0; c < C; ++c) o[c] = (x[c] - m) * r * gamma[c] + beta[c];
    mean[n] = m;
    rstd[n] = r;
  }
}

void layernorm_backward(float* din, float* dgamma, float* dbeta, const float* dout, const float* in,
                        const float* gamma, const float* mean, const float* rstd, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const float* x = in + at(n, C);
    const float* d = dout + at(n, C);
    const float m = mean[n], r = rstd[n];
    double g_sum = 0, gx_sum = 0;
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * r;
      const float g = d[c] * gamma[c];
      g_sum += g;
      gx_sum += static_cast<double>(g) * xhat;
    }
    const float g_mean = static_cast<float>(g_sum / C), gx_mean = static_cast<float>(gx_sum / C);
    float* dx = din + at(n, C);
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * r;
      dgamma[c] += d[c] * xhat;
      dbeta[c] += d[c];
      dx[c] += r * (d[c] * gamma[c] - g_mean - xhat * gx_mean);
    }
  }
}

// With u = sqrt(2/pi) (x + 0.044715 x^3): 0.5 (1 + tanh u) = s = 1 / (1 + e^(-2u)), the logistic
// of 2u, so gelu(x) = x s and gelu'(x) = s + 2 x s (1 - s) du/dx (1 - tanh^2 u = 4 s (1 - s)).
// One expf instead of tanhf (which goes through expm1f), and no cancellation near 0.
namespace {
float gelu_gate(float x) { return 1.0f / (1.0f + std::exp(-2.0f * kGeluScale * (x + kGeluCubic * x * x * x))); }
}  // namespace

void gelu_forward(float* out, const float* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = in[i] * gelu_gate(in[i]);
}

void gelu_backward(float* din, const float* dout, const float* in, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float x = in[i];
    const float s = gelu_gate(x);
    const float du = kGeluScale * (1.0f + 3.0f * kGeluCubic * x * x);
    din[i] = dout[i] * (s + 2.0f * x * s * (1.0f - s) * du);
  }
}

void attention_forward_reference(float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h)
      for (int t = 0; t < T; ++t) {
        const float* q = qkv + at(b * T + t, 3 * C) + h * hs;
        float* p = att + (static_cast<std::size_t>(b * NH + h) * T + t) * T;
        double max = -HUGE_VAL;
        for (int s = 0; s <= t; ++s) {
          const float* k = qkv + at(b * T + s, 3 * C) + C + h * hs;
          double dot = 0;
          for (int i = 0; i < hs; ++i) dot += static_cast<double>(q[i]) * k[i];
          p[s] = static_cast<float>(dot * scale);
          max = std::max(max, static_cast<double>(p[s]));
        }
        double sum = 0;
        for (int s = 0; s <= t; ++s) sum += std::exp(p[s] - max);
        for (int s = 0; s <= t; ++s) p[s] = static_cast<float>(std::exp(p[s] - max) / sum);
        for (int s = t + 1; s < T; ++s) p[s] = 0;
        float* o = out + at(b * T + t, C) + h * hs;
        for (int i = 0; i < hs; ++i) {
          double acc = 0;
          for (int s = 0; s <= t; ++s) acc += static_cast<double>(p[s]) * qkv[at(b * T + s, 3 * C) + 2 * C + h * hs + i];
          o[i] = static_cast<float>(acc);
        }
      }
}

void attention_backward_reference(float* dqkv, const float* dout, const float* att, const float* qkv, int B, int T,
                                  int C, int NH) {
  const int hs = C / NH;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  std::fill_n(dqkv, static_cast<std::size_t>(B) * T * 3 * C, 0.0f);
  std::vector<double> dp(static_cast<std::size_t>(T));
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h)
      for (int t = 0; t < T; ++t) {
        const float* p = att + (static_cast<std::size_t>(b * NH + h) * T + t) * T;
        const float* d = dout + at(b * T + t, C) + h * hs;
        // dp[s] = dout_t . v_s;  dv_s += p[s] dout_t
        double pdp = 0;
        for (int s = 0; s <= t; ++s) {
          const float* v = qkv + at(b * T + s, 3 * C) + 2 * C + h * hs;
          float* dv = dqkv + at(b * T + s, 3 * C) + 2 * C + h * hs;
          double dot = 0;
          for (int i = 0; i < hs; ++i) {
            dot += static_cast<double>(d[i]) * v[i];
            dv[i] += p[s] * d[i];
          }
          dp[s] = dot;
          pdp += p[s] * dot;
        }
        // ds = p (dp - sum p dp); dq_t += ds k_s scale; dk_s += ds q_t scale
        const float* q = qkv + at(b * T + t, 3 * C) + h * hs;
        float* dq = dqkv + at(b * T + t, 3 * C) + h * hs;
        for (int s = 0; s <= t; ++s) {
          const float ds = static_cast<float>(p[s] * (dp[s] - pdp) * scale);
          const float* k = qkv + at(b * T + s, 3 * C) + C + h * hs;
          float* dk = dqkv + at(b * T + s, 3 * C) + C + h * hs;
          for (int i = 0; i < hs; ++i) {
            dq[i] += ds * k[i];
            dk[i] += ds * q[i];
          }
        }
      }
}


void attention_forward(float* out, float* att, const float* qkv, int B, int T, int C, int NH, AttentionScratch& s) {
  const int hs = C / NH;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hs)));
  const std::size_t block = static_cast<std::size_t>(T) * hs;
  for (auto* v : {&s.q, &s.k, &s.v, &s.y}) grow(*v, block);
  grow(s.dp, static_cast<std::size_t>(T) * T);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h) {
      gather_qkv(s, qkv, b, T, C, hs, h);
      float* P = att + static_cast<std::size_t>(b * NH + h) * T * T;
      gemm(s.dp.data(), s.q.data(), s.k.data(), T, T, hs, false, true, 1.0f, 0.0f);  // S = Q K^T
      causal_softmax_rows(P, s.dp.data(), T, scale);
      gemm(s.y.data(), P, s.v.data(), T, hs, T, false, false, 1.0f, 0.0f);  // Y = P V
      scatter_head(out, s.y.data(), b, T, C, h * hs, hs);
    }
}

void attention_backward(float* dqkv, const float* dout, const float* att, const float* qkv, int B, int T, int C,
                        int NH, AttentionScratch& s) {
  const int hs = C / NH;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hs)));
  const std::size_t block = static_cast<std::size_t>(T) * hs;
  for (auto* v : {&s.q, &s.k, &s.v, &s.dy, &s.dq, &s.dk, &s.dv}) grow(*v, block);
  grow(s.dp, static_cast<std::size_t>(T) * T);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h) {
      gather_qkv(s, qkv, b, T, C, hs, h);
      for (int t = 0; t < T; ++t) std::copy_n(dout + at(b * T + t, C) + h * hs, hs, s.dy.data() + at(t, hs));
      const float* P = att + static_cast<std::size_t>(b * NH + h) * T * T;
      gemm(s.dp.data(), s.dy.data(), s.v.data(), T, T, hs, false, true, 1.0f, 0.0f);  // dP = dY V^T
      gemm(s.dv.data(), P, s.dy.data(), T, hs, T, true, false, 1.0f, 0.0f);          // dV = P^T dY
      causal_softmax_backward_rows(s.dp.data(), P, T);                                // dS
      gemm(s.dq.data(), s.dp.data(), s.k.data(), T, hs, T, false, false, scale, 0.0f);  // dQ = dS K
      gemm(s.dk.data(), s.dp.data(), s.q.data(), T, hs, T, true, false, scale, 0.0f);   // dK = dS^T Q
      scatter_head(dqkv, s.dq.data(), b, T, 3 * C, h * hs, hs);
      scatter_head(dqkv, s.dk.data(), b, T, 3 * C, C + h * hs, hs);
      scatter_head(dqkv, s.dv.data(), b, T, 3 * C, 2 * C + h * hs, hs);
    }
}

}  // namespace geotrain::kernels
