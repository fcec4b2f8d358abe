// Kernels of a GPT-2-style language model on the CPU: token and position embedding, LayerNorm,
// GELU and causal multi-head self-attention.  Activations are rows of tokens, (B*T, C)
// row-major for B sequences of T tokens.  Each op has a plain reference (loops in the order of
// its formula); attention, the one op with a faster form, also has the fast version the model
// runs (GEMMs per sequence and head through BLAS), tested against its reference.  The
// cross-entropy over the vocabulary is kernels/nn.h's softmax_cross_entropy on (B*T, V) logits;
// AdamW is kernels/optim.h's.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace geotrain::kernels {

// out(B*T, C) = wte[tokens[b,t]] + wpe[t].  wte (V, C), wpe (T_max >= T, C).
void embedding_forward(float* out, const std::int32_t* tokens, const float* wte, const float* wpe, int B, int T,
                       int C);
// dwte[tokens[b,t]] += dout[b,t];  dwpe[t] += dout[b,t]  (accumulates, in row order).
void embedding_backward(float* dwte, float* dwpe, const float* dout, const std::int32_t* tokens, int B, int T, int C);

// LayerNorm's variance epsilon (GPT-2's).
inline constexpr float kLayerNormEps = 1e-5f;

// Per row of in(N, C): out = (in - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps)
// (biased variance).  mean(N) and rstd(N) are saved for the backward pass.
void layernorm_forward(float* out, float* mean, float* rstd, const float* in, const float* gamma, const float* beta,
                       int N, int C);
// With xhat = (in - mean) * rstd and g = dout * gamma:
//   din += rstd * (g - mean(g) - xhat * mean(g * xhat)),  dgamma += sum over rows of dout * xhat,
//   dbeta += sum over rows of dout  (all three accumulate).
void layernorm_backward(float* din, float* dgamma, float* dbeta, const float* dout, const float* in,
                        const float* gamma, const float* mean, const float* rstd, int N, int C);

// GELU, GPT-2's tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
void gelu_forward(float* out, const float* in, std::size_t n);
// din = dout * gelu'(in)  (overwrites; in place allowed: din == dout).
void gelu_backward(float* din, const float* dout, const float* in, std::size_t n);

// Causal multi-head self-attention.  qkv(B*T, 3C) holds q | k | v per token, each C = NH heads of
// hs = C / NH values.  Per sequence, head and position t:
//   p[t, s] = softmax over s <= t of (q_t . k_s) / sqrt(hs)   (0 for s > t),
//   out[t] = sum over s of p[t, s] v_s   (head h's hs columns of out(B*T, C)).
// att(B, NH, T, T) receives p.
void attention_forward_reference(float* out, float* att, const float* qkv, int B, int T, int C, int NH);
// dqkv(B*T, 3C) = the gradient of sum(out * dout) with respect to qkv (overwrites).
void attention_backward_reference(float* dqkv, const float* dout, const float* att, const float* qkv, int B, int T,
                                  int C, int NH);

// Scratch for the fast attention: per (sequence, head) blocks of (T, hs) and (T, T).  Grown on
// first use; reusable across calls of any size.
struct AttentionScratch {
  std::vector<float> q, k, v, y, dy, dq, dk, dv, dp;
};
// The same contracts as the references, by GEMMs per (sequence, head): S = Q K^T / sqrt(hs),
// the causal softmax row by row, Y = P V; backward dP = dY V^T, dV = P^T dY, the softmax's
// Jacobian, dQ = dS K / sqrt(hs), dK = dS^T Q / sqrt(hs).
void attention_forward(float* out, float* att, const float* qkv, int B, int T, int C, int NH, AttentionScratch& s);
void attention_backward(float* dqkv, const float* dout, const float* att, const float* qkv, int B, int T, int C,
                        int NH, AttentionScratch& s);

}  // namespace geotrain::kernels
