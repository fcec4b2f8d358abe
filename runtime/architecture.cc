// Transformer layer lists and layer-list sums.
#include "runtime/architecture.h"

#include <string>

#include "kernels/check.h"

namespace geotrain::runtime {
namespace {

// Multiply-accumulate = one multiply + one add.
constexpr double kFlopsPerMac = 2;
// Matrices of the MLP: up and down (GELU); gate, up and down (SwiGLU).
constexpr double kGeluMlpMatrices = 2;
constexpr double kSwigluMlpMatrices = 3;
// Norms per block (before attention, before the MLP).
constexpr double kNormsPerBlock = 2;

double norm_parameters(const TransformerSpec& s) {
  return s.norm == Norm::layernorm ? 2.0 * s.d_model : 1.0 * s.d_model;  // gain (+ bias)
}

double kv_width(const TransformerSpec& s) {  // kv_heads x d_head
  return static_cast<double>(s.kv_heads) * (s.d_model / s.heads);
}

double mlp_matrices(const TransformerSpec& s) {
  return s.mlp == TransformerMlp::gelu ? kGeluMlpMatrices : kSwigluMlpMatrices;
}

void check_spec(const TransformerSpec& s) {
  GEOTRAIN_CHECK(s.layers > 0 && s.d_model > 0 && s.heads > 0 && s.kv_heads > 0 && s.d_ff > 0 && s.seq_len > 0 &&
                     s.vocab > 0,
                 "transformer sizes must be positive");
  GEOTRAIN_CHECK(s.d_model % s.heads == 0 && s.heads % s.kv_heads == 0,
                 "heads must divide d_model and kv_heads must divide heads");
}

}  // namespace

double transformer_block_parameters(const TransformerSpec& s) {
  const double d = s.d_model, kv = kv_width(s), ff = s.d_ff;
  const double attention = 2 * d * d + 2 * d * kv + (s.bias ? 2 * d + 2 * kv : 0);  // Q, O: d x d; K, V: d x kv
  const double mlp = mlp_matrices(s) * d * ff + (s.bias ? (mlp_matrices(s) - 1) * ff + d : 0);
  return kNormsPerBlock * norm_parameters(s) + attention + mlp;
}

double transformer_block_matmul_macs_per_token(const TransformerSpec& s) {
  const double d = s.d_model, kv = kv_width(s), ff = s.d_ff;
  return 2 * d * d + 2 * d * kv + mlp_matrices(s) * d * ff;
}

double transformer_attention_flops_per_token(const TransformerSpec& s) {
  // Per sequence T (T + 1) / 2 pairs x heads x d_head MACs, twice (scores, weighted values):
  // per token d_model x (T + 1) MACs.
  return kFlopsPerMac * static_cast<double>(s.d_model) * (static_cast<double>(s.seq_len) + 1);
}

double transformer_forward_flops_per_token(const TransformerSpec& s) {
  const double head_macs = static_cast<double>(s.d_model) * s.vocab;
  return kFlopsPerMac * (s.layers * transformer_block_matmul_macs_per_token(s) + head_macs) +
         s.layers * transformer_attention_flops_per_token(s);
}

std::vector<Layer> transformer_layers(const TransformerSpec& s) {
  check_spec(s);
  const double d = s.d_model, T = s.seq_len, V = s.vocab;
  std::vector<Layer> out;
  out.reserve(static_cast<std::size_t>(s.layers) + 2);
  const double positions = s.position_embedding == PositionEmbedding::learned ? T * d : 0;
  out.push_back({"embedding", V * d + positions, 0, 0});  // a lookup: no FLOPs
  const double block_forward =
      T * (kFlopsPerMac * transformer_block_matmul_macs_per_token(s) + transformer_attention_flops_per_token(s));
  const double block_parameters = transformer_block_parameters(s);
  for (int l = 0; l < s.layers; ++l)
    out.push_back({"block" + std::to_string(l), block_parameters, block_forward,
                   s.backward_flops_factor * block_forward});
  const double head_forward = T * kFlopsPerMac * d * V;
  out.push_back({"head", norm_parameters(s) + (s.tied_embeddings ? 0 : V * d), head_forward,
                 s.backward_flops_factor * head_forward});
  return out;
}

double total_parameters(const std::vector<Layer>& layers) {
  double sum = 0;
  for (const auto& l : layers) sum += l.parameters;
  return sum;
}

double total_forward_flops(const std::vector<Layer>& layers) {
  double sum = 0;
  for (const auto& l : layers) sum += l.forward_flops;
  return sum;
}

double total_training_flops(const std::vector<Layer>& layers) {
  double sum = 0;
  for (const auto& l : layers) sum += l.forward_flops + l.backward_flops;
  return sum;
}

}  // namespace geotrain::runtime
