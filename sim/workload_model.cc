// Transformer and layer-list model descriptions, and the workload's precision.
#include "sim/workload_model.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "sim/input_tables.h"
#include "sim/json_reader.h"
#include "sim/limits.h"
#include "sim/scenario.h"

namespace geotrain::sim {
namespace {

using limits::kMaxBackwardFlopsFactor;
using limits::kMaxParameters;
using limits::kMaxSeqLen;
using limits::kMaxTransformerLayers;
using limits::kMaxVocab;
constexpr long kMaxWidth = limits::kMaxTransformerWidth;  // d_model, d_ff
// The default MLP width, as in GPT-2 and the original transformer: 4 x d_model.
constexpr long kDefaultFfPerModel = 4;
using input::kDtypes;

// The model must stay inside the limits every other model type has.
void check_totals(JsonReader& m, const Workload& w) {
  if (w.parameters > kMaxParameters)
    m.fail_here(fmt::format("a model of at most {:g} parameters (this one has {:.6g})", kMaxParameters, w.parameters));
  if (w.flops_per_sample > limits::kMaxFlopsPerSample)
    m.fail_here(fmt::format("at most {:g} FLOPs per sample, forward and backward (this one needs {:.6g})",
                            limits::kMaxFlopsPerSample, w.flops_per_sample));
}

}  // namespace

double dtype_bytes(const std::string& dtype) {
  if (dtype == "fp32") return 4;
  if (dtype == "bf16" || dtype == "fp16") return 2;
  if (dtype == "fp8") return 1;
  throw std::invalid_argument("unknown dtype " + dtype);
}

void parse_transformer(JsonReader& m, Workload& w) {
  runtime::TransformerSpec& t = w.transformer;
  t.layers = static_cast<int>(m.integer("layers", 1, kMaxTransformerLayers));
  t.d_model = static_cast<int>(m.integer("d_model", 1, kMaxWidth));
  t.heads = static_cast<int>(m.integer("heads", 1, t.d_model));
  if (t.d_model % t.heads != 0)
    m.fail("heads", fmt::format("expected a divisor of d_model ({}): d_head = d_model / heads", t.d_model));
  t.kv_heads = static_cast<int>(m.integer_or("kv_heads", t.heads, 1, t.heads));
  if (t.heads % t.kv_heads != 0)
    m.fail("kv_heads", fmt::format("expected a divisor of heads ({}): each K/V head serves heads / kv_heads "
                                   "query heads",
                                   t.heads));
  t.mlp = m.choice_or("mlp", "gelu", input::kTransformerMlps) == "gelu" ? runtime::TransformerMlp::gelu
                                                                   : runtime::TransformerMlp::swiglu;
  const bool gpt2 = t.mlp == runtime::TransformerMlp::gelu;  // else the LLaMA family's defaults
  t.d_ff = static_cast<int>(m.integer_or("d_ff", std::min(kDefaultFfPerModel * t.d_model, kMaxWidth), 1, kMaxWidth));
  t.seq_len = static_cast<int>(m.integer("seq_len", 1, kMaxSeqLen));
  t.vocab = static_cast<int>(m.integer("vocab", 1, kMaxVocab));
  t.tied_embeddings = m.boolean_or("tied_embeddings", gpt2);
  t.position_embedding = m.choice_or("position_embedding", gpt2 ? "learned" : "rotary", input::kPositionEmbeddings) ==
                                 "learned"
                             ? runtime::PositionEmbedding::learned
                             : runtime::PositionEmbedding::rotary;
  t.norm = m.choice_or("norm", gpt2 ? "layernorm" : "rmsnorm", input::kNorms) == "layernorm"
               ? runtime::Norm::layernorm
               : runtime::Norm::rmsnorm;
  t.bias = m.boolean_or("bias", gpt2);
  t.backward_flops_factor =
      m.number_or("backward_flops_factor", runtime::kDefaultBackwardFlopsFactor, 0, kMaxBackwardFlopsFactor, true);
  m.finish();
  w.layers = runtime::transformer_layers(t);
  w.parameters = runtime::total_parameters(w.layers);
  w.flops_per_sample = runtime::total_training_flops(w.layers);
  check_totals(m, w);
}

void parse_layer_list(JsonReader& m, Workload& w) {
  for (auto& l : m.objects("layers", 1)) {
    runtime::Layer layer;
    layer.name = l.string("name");
    layer.parameters = l.number("parameters", 0, kMaxParameters);
    layer.forward_flops = l.number("forward_flops", 0, limits::kMaxFlopsPerSample);
    layer.backward_flops = l.number_or("backward_flops", runtime::kDefaultBackwardFlopsFactor * layer.forward_flops, 0,
                                       limits::kMaxFlopsPerSample);
    l.finish();
    w.layers.push_back(std::move(layer));
  }
  m.finish();
  w.parameters = runtime::total_parameters(w.layers);
  w.flops_per_sample = runtime::total_training_flops(w.layers);
  if (w.parameters < 1) m.fail("layers", "expected at least one trainable parameter in all layers together");
  check_totals(m, w);
}

void parse_precision(JsonReader& r, Workload& w) {
  // A size-only transformer trains in bf16 by default; the CPU backend computes in fp32.
  std::string params = w.model_type == "transformer" && w.backend == runtime::BackendKind::none ? "bf16" : "fp32";
  r.allow("precision");
  bool params_given = false;
  if (r.has("precision")) {
    auto p = r.object("precision");
    params_given = p.has("params");
    params = p.choice_or("params", params, kDtypes);
    w.optimizer_state_dtype = p.choice_or("optimizer_state", "fp32", kDtypes);
    p.finish();
  }
  w.optimizer_state_bytes_per_value = dtype_bytes(w.optimizer_state_dtype);
  if (r.has("wire_bytes_per_param")) {
    if (params_given)
      r.fail("wire_bytes_per_param",
             "give the parameters' size once: either wire_bytes_per_param or precision.params, not both");
    w.wire_bytes_per_param = r.number("wire_bytes_per_param", limits::kMinWireBytesPerParam, limits::kMaxWireBytesPerParam);
    w.param_dtype = "";
  } else {
    w.param_dtype = params;
    w.wire_bytes_per_param = dtype_bytes(params);
  }
}

}  // namespace geotrain::sim
