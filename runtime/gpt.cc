// Gpt: forward, backward and evaluation through the language-model kernels (BLAS GEMMs).
#include "runtime/gpt.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/check.h"
#include "kernels/gemm.h"
#include "kernels/nn.h"

namespace geotrain::runtime {
namespace {

constexpr double kInitStd = 0.02;  // GPT-2
constexpr int kEvalBatch = 8;      // sequences per forward pass of an evaluation

std::size_t sz(long long n) { return static_cast<std::size_t>(n); }

}  // namespace

std::string gpt_unsupported(const TransformerSpec& s) {
  if (s.mlp != TransformerMlp::gelu) return "a GELU MLP (mlp \"gelu\")";
  if (s.position_embedding != PositionEmbedding::learned) return "learned positions (position_embedding \"learned\")";
  if (s.norm != Norm::layernorm) return "LayerNorm (norm \"layernorm\")";
  if (!s.bias) return "biases (bias true)";
  if (!s.tied_embeddings) return "tied embeddings (tied_embeddings true)";
  if (s.kv_heads != s.heads) return "as many key/value heads as heads (kv_heads = heads)";
  return "";
}

Gpt::Gpt(TransformerSpec spec) : spec_(spec) {
  GEOTRAIN_CHECK(gpt_unsupported(spec_).empty(), "the CPU language model trains the GPT-2 family only");
  const std::size_t C = sz(spec_.d_model), F = sz(spec_.d_ff), V = sz(spec_.vocab), T = sz(spec_.seq_len);
  BlockLayout& b = block_;
  std::size_t at = 0;
  const auto take = [&at](std::size_t n) { return std::exchange(at, at + n); };
  b.ln1_g = take(C), b.ln1_b = take(C), b.w_qkv = take(C * 3 * C), b.b_qkv = take(3 * C);
  b.w_proj = take(C * C), b.b_proj = take(C), b.ln2_g = take(C), b.ln2_b = take(C);
  b.w_fc = take(C * F), b.b_fc = take(F), b.w_out = take(F * C), b.b_out = take(C);
  b.size = at;
  wpe_at_ = V * C;
  blocks_at_ = wpe_at_ + T * C;
  lnf_at_ = blocks_at_ + sz(spec_.layers) * b.size;
  parameter_count_ = lnf_at_ + 2 * C;
}

void Gpt::init(std::span<float> params, Rng& rng) const {
  GEOTRAIN_CHECK(params.size() == parameter_count_, "parameter vector of the wrong size");
  const double residual_std = kInitStd / std::sqrt(2.0 * spec_.layers);
  const auto normal = [&](std::size_t from, std::size_t n, double stddev) {
    for (std::size_t i = 0; i < n; ++i) params[from + i] = static_cast<float>(rng.normal() * stddev);
  };
  const auto fill = [&](std::size_t from, std::size_t n, float value) {
    std::fill_n(params.begin() + static_cast<std::ptrdiff_t>(from), n, value);
  };
  const std::size_t C = sz(spec_.d_model), F = sz(spec_.d_ff);
  normal(0, blocks_at_, kInitStd);  // wte and wpe
  for (int l = 0; l < spec_.layers; ++l) {
    const std::size_t s = block_start(l);
    const BlockLayout& b = block_;
    fill(s + b.ln1_g, C, 1.0f), fill(s + b.ln1_b, C, 0.0f);
    normal(s + b.w_qkv, C * 3 * C, kInitStd), fill(s + b.b_qkv, 3 * C, 0.0f);
    normal(s + b.w_proj, C * C, residual_std), fill(s + b.b_proj, C, 0.0f);
    fill(s + b.ln2_g, C, 1.0f), fill(s + b.ln2_b, C, 0.0f);
    normal(s + b.w_fc, C * F, kInitStd), fill(s + b.b_fc, F, 0.0f);
    normal(s + b.w_out, F * C, residual_std), fill(s + b.b_out, C, 0.0f);
  }
  fill(lnf_at_, C, 1.0f), fill(lnf_at_ + C, C, 0.0f);
}

const std::vector<float>& Gpt::forward(std::span<const float> params, const float* x, int B) {
  const int T = spec_.seq_len, C = spec_.d_model, F = spec_.d_ff, V = spec_.vocab, NH = spec_.heads;
  const int N = B * T;
  const float* P = params.data();
  tokens_.resize(sz(N));
  targets_.resize(sz(N));
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      tokens_[sz(b * T + t)] = static_cast<std::int32_t>(x[sz(b) * (T + 1) + t]);
      targets_[sz(b * T + t)] = static_cast<std::int32_t>(x[sz(b) * (T + 1) + t + 1]);
    }
  embedded_.resize(sz(N) * C);
  kernels::embedding_forward(embedded_.data(), tokens_.data(), P, P + wpe_at_, B, T, C);
  acts_.resize(sz(spec_.layers));
  residual_.resize(sz(spec_.layers));
  const float* input = embedded_.data();
  for (int l = 0; l < spec_.layers; ++l) {
    BlockActs& a = acts_[sz(l)];
    const float* p = P + block_start(l);
    const BlockLayout& o = block_;
    for (auto* v : {&a.ln1, &a.atty, &a.res_mid, &a.ln2}) v->resize(sz(N) * C);
    for (auto* v : {&a.ln1_mean, &a.ln1_rstd, &a.ln2_mean, &a.ln2_rstd}) v->resize(sz(N));
    a.qkv.resize(sz(N) * 3 * C);
    a.att.resize(sz(B) * NH * T * T);
    a.fc.resize(sz(N) * F);
    a.fc_gelu.resize(sz(N) * F);
    residual_[sz(l)].resize(sz(N) * C);
    // Attention: res_mid = input + attention(LN1(input)) W_proj + b_proj
    kernels::layernorm_forward(a.ln1.data(), a.ln1_mean.data(), a.ln1_rstd.data(), input, p + o.ln1_g, p + o.ln1_b, N, C);
    kernels::gemm(a.qkv.data(), a.ln1.data(), p + o.w_qkv, N, 3 * C, C, false, false, 1.0f, 0.0f);
    kernels::bias_add(a.qkv.data(), p + o.b_qkv, N, 3 * C);
    kernels::attention_forward(a.atty.data(), a.att.data(), a.qkv.data(), B, T, C, NH, scratch_);
    std::copy_n(input, sz(N) * C, a.res_mid.data());
    kernels::gemm(a.res_mid.data(), a.atty.data(), p + o.w_proj, N, C, C, false, false, 1.0f, 1.0f);
    kernels::bias_add(a.res_mid.data(), p + o.b_proj, N, C);
    // MLP: residual = res_mid + GELU(LN2(res_mid) W_fc + b_fc) W_out + b_out
    kernels::layernorm_forward(a.ln2.data(), a.ln2_mean.data(), a.ln2_rstd.data(), a.res_mid.data(), p + o.ln2_g,
                               p + o.ln2_b, N, C);
    kernels::gemm(a.fc.data(), a.ln2.data(), p + o.w_fc, N, F, C, false, false, 1.0f, 0.0f);
    kernels::bias_add(a.fc.data(), p + o.b_fc, N, F);
    kernels::gelu_forward(a.fc_gelu.data(), a.fc.data(), a.fc.size());
    float* out = residual_[sz(l)].data();
    std::copy_n(a.res_mid.data(), sz(N) * C, out);
    kernels::gemm(out, a.fc_gelu.data(), p + o.w_out, N, C, F, false, false, 1.0f, 1.0f);
    kernels::bias_add(out, p + o.b_out, N, C);
    input = out;
  }
  lnf_.resize(sz(N) * C);
  lnf_mean_.resize(sz(N));
  lnf_rstd_.resize(sz(N));
  kernels::layernorm_forward(lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), input, P + lnf_at_, P + lnf_at_ + C, N, C);
  logits_.resize(sz(N) * V);
  kernels::gemm(logits_.data(), lnf_.data(), P, N, V, C, false, true, 1.0f, 0.0f);  // tied head: lnf wte^T
  return logits_;
}

double Gpt::loss_and_grad(std::span<float> grads, std::span<const float> params, const float* x,
                          const std::int32_t* /*labels*/, const float* /*targets*/, int B) {
  GEOTRAIN_CHECK(params.size() == parameter_count_ && grads.size() == parameter_count_, "wrong sizes");
  const int T = spec_.seq_len, C = spec_.d_model, F = spec_.d_ff, V = spec_.vocab, NH = spec_.heads;
  const int N = B * T;
  forward(params, x, B);
  const float* P = params.data();
  float* G = grads.data();
  std::fill(grads.begin(), grads.end(), 0.0f);
  dlogits_.resize(sz(N) * V);
  const double loss = kernels::softmax_cross_entropy(dlogits_.data(), logits_.data(), targets_.data(), N, V);
  // Head (tied): d wte = dlogits^T lnf;  d lnf = dlogits wte.
  dln_.resize(sz(N) * C);
  kernels::gemm(G, dlogits_.data(), lnf_.data(), V, C, N, true, false, 1.0f, 0.0f);
  kernels::gemm(dln_.data(), dlogits_.data(), P, N, C, V, false, false, 1.0f, 0.0f);
  dres_.assign(sz(N) * C, 0.0f);
  const float* last = spec_.layers > 0 ? residual_.back().data() : embedded_.data();
  kernels::layernorm_backward(dres_.data(), G + lnf_at_, G + lnf_at_ + C, dln_.data(), last, P + lnf_at_,
                              lnf_mean_.data(), lnf_rstd_.data(), N, C);
  dbig_.resize(sz(N) * F);
  dqkv_.resize(sz(N) * 3 * C);
  for (int l = spec_.layers - 1; l >= 0; --l) {
    const BlockActs& a = acts_[sz(l)];
    const float* p = P + block_start(l);
    float* g = G + block_start(l);
    const BlockLayout& o = block_;
    const float* input = l == 0 ? embedded_.data() : residual_[sz(l - 1)].data();
    // MLP branch; dres is d residual_[l].
    kernels::gemm(dbig_.data(), dres_.data(), p + o.w_out, N, F, C, false, true, 1.0f, 0.0f);
    kernels::gemm(g + o.w_out, a.fc_gelu.data(), dres_.data(), F, C, N, true, false, 1.0f, 0.0f);
    kernels::bias_grad(g + o.b_out, dres_.data(), N, C);
    kernels::gelu_backward(dbig_.data(), dbig_.data(), a.fc.data(), dbig_.size());
    kernels::gemm(dln_.data(), dbig_.data(), p + o.w_fc, N, C, F, false, true, 1.0f, 0.0f);
    kernels::gemm(g + o.w_fc, a.ln2.data(), dbig_.data(), C, F, N, true, false, 1.0f, 0.0f);
    kernels::bias_grad(g + o.b_fc, dbig_.data(), N, F);
    kernels::layernorm_backward(dres_.data(), g + o.ln2_g, g + o.ln2_b, dln_.data(), a.res_mid.data(), p + o.ln2_g,
                                a.ln2_mean.data(), a.ln2_rstd.data(), N, C);
    // Attention branch; dres is now d res_mid.
    kernels::gemm(dln_.data(), dres_.data(), p + o.w_proj, N, C, C, false, true, 1.0f, 0.0f);  // d atty
    kernels::gemm(g + o.w_proj, a.atty.data(), dres_.data(), C, C, N, true, false, 1.0f, 0.0f);
    kernels::bias_grad(g + o.b_proj, dres_.data(), N, C);
    kernels::attention_backward(dqkv_.data(), dln_.data(), a.att.data(), a.qkv.data(), B, T, C, NH, scratch_);
    kernels::gemm(dln_.data(), dqkv_.data(), p + o.w_qkv, N, C, 3 * C, false, true, 1.0f, 0.0f);
    kernels::gemm(g + o.w_qkv, a.ln1.data(), dqkv_.data(), C, 3 * C, N, true, false, 1.0f, 0.0f);
    kernels::bias_grad(g + o.b_qkv, dqkv_.data(), N, 3 * C);
    kernels::layernorm_backward(dres_.data(), g + o.ln1_g, g + o.ln1_b, dln_.data(), input, p + o.ln1_g,
                                a.ln1_mean.data(), a.ln1_rstd.data(), N, C);
  }
  kernels::embedding_backward(G, G + wpe_at_, dres_.data(), tokens_.data(), B, T, C);
  return loss;
}

Evaluation Gpt::evaluate(std::span<const float> params, const Dataset& data) {
  Evaluation e;
  const std::size_t n = data.size();
  if (n == 0) return e;
  const int T = spec_.seq_len, V = spec_.vocab;
  GEOTRAIN_CHECK(data.features == T + 1, "evaluation sequences of another length");
  double loss_sum = 0;
  long correct = 0;
  for (std::size_t begin = 0; begin < n; begin += kEvalBatch) {
    const int B = static_cast<int>(std::min<std::size_t>(kEvalBatch, n - begin));
    const auto& logits = forward(params, data.x.data() + begin * data.features, B);
    loss_sum += static_cast<double>(B) * T * kernels::softmax_cross_entropy(nullptr, logits.data(), targets_.data(), B * T, V);
    correct += kernels::count_correct(logits.data(), targets_.data(), B * T, V);
  }
  const double tokens = static_cast<double>(n) * T;
  e.loss = loss_sum / tokens;
  e.accuracy = static_cast<double>(correct) / tokens;
  return e;
}

}  // namespace geotrain::runtime
