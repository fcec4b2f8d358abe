// A decoder-only GPT-2-style language model that trains for real on the CPU: token embedding
// and learned positions, pre-LayerNorm blocks (causal multi-head self-attention, GELU MLP), a
// final LayerNorm and an output head tied to the token embedding.  The architecture is the
// size-only transformer's (runtime/architecture.h), so both count the same parameters.
//
// A sample is a row of seq_len + 1 token ids (as floats): the model reads tokens 0..T-1 and
// predicts tokens 1..T.  The loss is the mean cross-entropy per predicted token, in nats.
//
// Parameter layout (weights (in, out), y = x W + b):
//   wte (V, C), wpe (T, C),
//   per block: ln1 gain, ln1 bias (C, C), W_qkv (C, 3C), b_qkv (3C), W_proj (C, C), b_proj (C),
//              ln2 gain, ln2 bias (C, C), W_fc (C, F), b_fc (F), W_out (F, C), b_out (C),
//   final LayerNorm gain and bias (C, C).
#pragma once
#include <string>
#include <vector>

#include "kernels/transformer.h"
#include "runtime/model.h"

namespace geotrain::runtime {

// Why the CPU language model cannot train `s` ("" when it can): it trains the GPT-2 family only
// (GELU MLP, learned positions, LayerNorm, biases, tied embeddings, kv_heads = heads).
std::string gpt_unsupported(const TransformerSpec& s);

class Gpt final : public Network {
 public:
  // REQUIRES: gpt_unsupported(spec) is empty.
  explicit Gpt(TransformerSpec spec);

  const TransformerSpec& spec() const { return spec_; }
  std::size_t parameter_count() const override { return parameter_count_; }
  // GPT-2's initialization: weights and embeddings N(0, 0.02), the two projections into the
  // residual stream (W_proj, W_out) N(0, 0.02 / sqrt(2 layers)), biases 0, LayerNorm gains 1.
  void init(std::span<float> params, Rng& rng) const override;
  double loss_and_grad(std::span<float> grads, std::span<const float> params, const float* x,
                       const std::int32_t* labels, const float* targets, int B) override;
  // Mean loss per token and next-token accuracy over every sequence of `data`.
  Evaluation evaluate(std::span<const float> params, const Dataset& data) override;

 private:
  // Offsets of one block's tensors from the block's start.
  struct BlockLayout {
    std::size_t ln1_g, ln1_b, w_qkv, b_qkv, w_proj, b_proj, ln2_g, ln2_b, w_fc, b_fc, w_out, b_out, size;
  };
  // A block's saved activations for the backward pass.
  struct BlockActs {
    std::vector<float> ln1, ln1_mean, ln1_rstd, qkv, att, atty, res_mid, ln2, ln2_mean, ln2_rstd, fc, fc_gelu;
  };

  // Forward pass of B sequences; fills the activations, returns the logits' buffer (B*T, V).
  const std::vector<float>& forward(std::span<const float> params, const float* x, int B);
  std::size_t block_start(int layer) const { return blocks_at_ + static_cast<std::size_t>(layer) * block_.size; }

  TransformerSpec spec_;
  BlockLayout block_{};
  std::size_t wpe_at_ = 0, blocks_at_ = 0, lnf_at_ = 0, parameter_count_ = 0;
  // Activations of the last forward pass.
  std::vector<std::int32_t> tokens_, targets_;
  std::vector<float> embedded_;               // (B*T, C): the residual stream's input
  std::vector<BlockActs> acts_;
  std::vector<std::vector<float>> residual_;  // residual_[l] (B*T, C): block l's output
  std::vector<float> lnf_, lnf_mean_, lnf_rstd_, logits_;
  // Backward scratch.
  std::vector<float> dlogits_, dres_, dln_, dbig_, dqkv_;
  kernels::AttentionScratch scratch_;
};

}  // namespace geotrain::runtime
