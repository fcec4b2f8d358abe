// Model architectures as layer lists: per layer, its trainable parameters and its forward and
// backward FLOPs per sample.  Pure arithmetic on sizes (no tensors, no SimGrid): what the compute
// model, the optimizer step and layer schedules read.  Not a model that runs: runtime/model.h is.
// The conventions (what counts as a FLOP, causal attention) are in docs/SCENARIO_FORMAT.md.
#pragma once
#include <string>
#include <vector>

namespace geotrain::runtime {

// One layer of a model, in order from the input to the output.
struct Layer {
  std::string name;
  double parameters = 0;      // trainable values
  double forward_flops = 0;   // per sample
  double backward_flops = 0;  // per sample
};

// The backward pass of a matmul is two matmuls of the forward's size (input and weight gradients).
inline constexpr double kDefaultBackwardFlopsFactor = 2;

enum class TransformerMlp { gelu, swiglu };
enum class PositionEmbedding { learned, rotary };
enum class Norm { layernorm, rmsnorm };

// A decoder-only transformer language model.  Defaults of the two families the parser fills in
// (sim/scenario.cc): mlp gelu -> GPT-2 (learned positions of seq_len rows, layernorm with gain and
// bias, linear biases, tied embeddings); mlp swiglu -> LLaMA (rotary positions, no position
// parameters, rmsnorm, no linear biases, untied).  The LM head never has a bias.
struct TransformerSpec {
  int layers = 0;      // blocks
  int d_model = 0;
  int heads = 0;       // query heads; d_head = d_model / heads
  int kv_heads = 0;    // key/value heads (grouped-query attention); REQUIRES: divides heads
  int d_ff = 0;        // MLP hidden width
  TransformerMlp mlp = TransformerMlp::gelu;
  int seq_len = 0;     // tokens per sample
  int vocab = 0;
  bool tied_embeddings = true;  // the LM head reuses the token embedding's matrix
  PositionEmbedding position_embedding = PositionEmbedding::learned;
  Norm norm = Norm::layernorm;
  bool bias = true;    // biases of the attention and MLP projections
  double backward_flops_factor = kDefaultBackwardFlopsFactor;
};

// Trainable values of one block: two norms, Q/K/V/O projections, the MLP.
double transformer_block_parameters(const TransformerSpec& s);
// Multiply-accumulates per token of one block's matmuls (Q, K, V, O projections and the MLP).
double transformer_block_matmul_macs_per_token(const TransformerSpec& s);
// FLOPs per token of one block's attention scores (Q K^T) and weighted values (A V), causal:
// position t (0-based) attends to the t + 1 positions 0..t, so a sequence of T tokens has
// T (T + 1) / 2 query-key pairs per head; each costs d_head multiply-accumulates for the score
// and d_head for the weighted value.  Per token: 2 x d_model x (T + 1).
double transformer_attention_flops_per_token(const TransformerSpec& s);
// Forward FLOPs per token of the whole model: 2 x (every matmul's multiply-accumulates, the LM
// head's included, tied or not) + layers x attention.  The embedding lookup, norms, activations,
// softmax and biases are not counted (the convention of Kaplan et al. 2020 and PaLM's MFU).
double transformer_forward_flops_per_token(const TransformerSpec& s);

// The layer list: "embedding" (token embedding, plus position embedding when learned; no FLOPs),
// "block0".."block{layers-1}", then "head" (the final norm, plus the LM head's matrix when untied;
// the LM head's matmul FLOPs always).  FLOPs per sample = per token x seq_len; backward =
// backward_flops_factor x forward.  REQUIRES: a valid spec (positive sizes, heads divides
// d_model, kv_heads divides heads).
std::vector<Layer> transformer_layers(const TransformerSpec& s);

// Sums over a layer list.
double total_parameters(const std::vector<Layer>& layers);
double total_forward_flops(const std::vector<Layer>& layers);
// Forward + backward FLOPs per sample.
double total_training_flops(const std::vector<Layer>& layers);

}  // namespace geotrain::runtime
