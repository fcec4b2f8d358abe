// Model descriptions (runtime/architecture.h, workload.model "transformer" and "layers"), the
// compute model's overrides and optimizer step (sim/compute_model.h), and the model figures in
// results: published parameter counts exactly, FLOPs against hand formulas, per-layer sums,
// closed-form step times, and bad input.
#include <string>

#include <gtest/gtest.h>

#include "runtime/architecture.h"
#include "runtime/model.h"
#include "sim/compute_model.h"
#include "test_util.h"

namespace geotrain {
namespace {

using nlohmann::json;

// The one-region, one-type test scenario with `model` as its workload's model.
json scenario_with_model(const json& model, int workers = 2) {
  testing::UniformNet net;
  net.regions = 1;
  net.workers_per_region = workers;
  json s = testing::uniform_scenario(net, 1, "ring");
  s["workload"]["model"] = model;
  return s;
}

sim::Workload workload_of(const json& model) {
  return sim::parse_scenario(scenario_with_model(model), "f.json").workload;
}

const json kGpt2Small = {{"type", "transformer"}, {"layers", 12}, {"d_model", 768}, {"heads", 12},
                         {"seq_len", 1024},       {"vocab", 50257}};
const json kLlama7B = {{"type", "transformer"}, {"layers", 32}, {"d_model", 4096}, {"heads", 32}, {"d_ff", 11008},
                       {"mlp", "swiglu"},       {"seq_len", 2048}, {"vocab", 32000}};

json with(json base, const std::string& key, const json& value) {
  base[key] = value;
  return base;
}

// --- Parameter counts -------------------------------------------------------------------------

TEST(Architecture, Gpt2SmallHasItsPublishedParameterCount) {
  // GPT-2 family defaults: learned positions, layernorm, biases, tied embeddings.
  EXPECT_EQ(workload_of(kGpt2Small).parameters, 124439808.0);
}

TEST(Architecture, Gpt2MediumAndLargeMatchTheArchitecture) {
  // By hand: wte V d + wpe T d + L (12 d^2 + 13 d) + final layernorm 2 d, V = 50257, T = 1024.
  //  medium, L 24, d 1024: 51,463,168 + 1,048,576 + 24 x 12,596,224 + 2,048 = 354,823,168
  //  large,  L 36, d 1280: 64,328,960 + 1,310,720 + 36 x 19,677,440 + 2,560 = 774,030,080
  // (the counts of Hugging Face's gpt2-medium and gpt2-large checkpoints).
  json medium = kGpt2Small, large = kGpt2Small;
  medium["layers"] = 24, medium["d_model"] = 1024, medium["heads"] = 16;
  large["layers"] = 36, large["d_model"] = 1280, large["heads"] = 20;
  EXPECT_EQ(workload_of(medium).parameters, 354823168.0);
  EXPECT_EQ(workload_of(large).parameters, 774030080.0);
}

TEST(Architecture, Llama7BShapeHasItsPublishedParameterCount) {
  // LLaMA family defaults: rotary positions, rmsnorm, no biases, untied.
  EXPECT_EQ(workload_of(kLlama7B).parameters, 6738415616.0);
}

TEST(Architecture, GroupedQueryAttentionSizesKeyAndValueByKvHeads) {
  // A LLaMA-2-70B shape: 80 layers, d 8192, 64 heads, 8 K/V heads (d_head 128: K and V are
  // 8192 x 1024 each), d_ff 28672, vocab 32000.  Block: 2 x 8192^2 + 2 x 8192 x 1024 +
  // 3 x 8192 x 28672 + 2 x 8192 = 855,654,400; total 2 x 32000 x 8192 + 80 x block + 8192.
  json m = kLlama7B;
  m["layers"] = 80, m["d_model"] = 8192, m["heads"] = 64, m["kv_heads"] = 8, m["d_ff"] = 28672;
  EXPECT_EQ(workload_of(m).parameters, 68976648192.0);
  // Without grouping K and V are d x d: 80 x 2 x 8192 x (8192 - 1024) more.
  m.erase("kv_heads");
  EXPECT_EQ(workload_of(m).parameters, 68976648192.0 + 80.0 * 2 * 8192 * 7168);
}

TEST(Architecture, FamilyKnobsChangeTheCountByTheirSize) {
  const double base = 124439808.0, d = 768, V = 50257, T = 1024, L = 12;
  EXPECT_EQ(workload_of(with(kGpt2Small, "tied_embeddings", false)).parameters, base + V * d);
  EXPECT_EQ(workload_of(with(kGpt2Small, "position_embedding", "rotary")).parameters, base - T * d);
  // rmsnorm: no norm bias (2 per block + the final one); no linear biases: 4d + 4d + d per block.
  EXPECT_EQ(workload_of(with(kGpt2Small, "norm", "rmsnorm")).parameters, base - (2 * L + 1) * d);
  EXPECT_EQ(workload_of(with(kGpt2Small, "bias", false)).parameters, base - L * (3 * d + d + 4 * d + d));
  EXPECT_EQ(workload_of(with(kGpt2Small, "d_ff", 2048)).parameters, base - L * (2 * d * 1024 + 1024));
}

// --- FLOPs ------------------------------------------------------------------------------------

TEST(Architecture, Gpt2SmallForwardFlopsPerTokenIsTwiceTheMatmulsPlusCausalAttention) {
  // N_matmul = L x 12 d^2 (Q, K, V, O: 4 d^2; MLP: 8 d^2) + d V (the LM head, tied or not)
  //          = 12 x 7,077,888 + 38,597,376 = 123,532,032 multiply-accumulates per token.
  // Causal attention per token per block: 2 x d x (T + 1) = 2 x 768 x 1025 = 1,574,400.
  const double n_matmul = 12.0 * 12 * 768 * 768 + 768.0 * 50257;
  ASSERT_EQ(n_matmul, 123532032.0);
  const double forward_per_token = 2 * n_matmul + 12 * 2.0 * 768 * 1025;
  EXPECT_EQ(forward_per_token, 265956864.0);
  const sim::Workload w = workload_of(kGpt2Small);
  EXPECT_EQ(runtime::transformer_forward_flops_per_token(w.transformer), forward_per_token);
  // Training = 6 N + 3 x attention per token (backward = 2 x forward), x seq_len per sample.
  EXPECT_EQ(w.flops_per_sample, (6 * n_matmul + 3 * 12 * 2.0 * 768 * 1025) * 1024);
  EXPECT_EQ(runtime::total_forward_flops(w.layers), forward_per_token * 1024);
}

TEST(Architecture, AttentionTermIsTheCausalCountOfQueryKeyPairs) {
  // T = 4, d = 8, one block: pairs (t, s <= t) = 1 + 2 + 3 + 4 = 10 per head; 2 heads of d_head 4;
  // scores and weighted values: 2 x 10 x 2 x 4 = 160 MACs = 320 FLOPs per sequence, 80 per token.
  runtime::TransformerSpec s;
  s.layers = 1, s.d_model = 8, s.heads = 2, s.kv_heads = 2, s.d_ff = 32, s.seq_len = 4, s.vocab = 10;
  EXPECT_EQ(runtime::transformer_attention_flops_per_token(s), 80.0);
}

TEST(Architecture, LayerListIsEmbeddingBlocksHeadAndSumsToTheTotals) {
  const sim::Workload w = workload_of(kGpt2Small);
  ASSERT_EQ(w.layers.size(), 14u);
  EXPECT_EQ(w.layers.front().name, "embedding");
  EXPECT_EQ(w.layers[1].name, "block0");
  EXPECT_EQ(w.layers[12].name, "block11");
  EXPECT_EQ(w.layers.back().name, "head");
  EXPECT_EQ(w.layers.front().parameters, 50257.0 * 768 + 1024.0 * 768);
  EXPECT_EQ(w.layers.front().forward_flops, 0.0);  // a lookup
  EXPECT_EQ(w.layers[1].parameters, 7087872.0);
  // Tied: the head holds only the final norm, but its matmul costs FLOPs.
  EXPECT_EQ(w.layers.back().parameters, 2.0 * 768);
  EXPECT_EQ(w.layers.back().forward_flops, 1024 * 2.0 * 768 * 50257);
  double parameters = 0, flops = 0;
  for (const auto& l : w.layers) {
    EXPECT_EQ(l.backward_flops, 2 * l.forward_flops) << l.name;
    parameters += l.parameters;
    flops += l.forward_flops + l.backward_flops;
  }
  EXPECT_EQ(parameters, w.parameters);
  EXPECT_EQ(flops, w.flops_per_sample);
  // Untied: the head carries the LM head's matrix.
  EXPECT_EQ(workload_of(kLlama7B).layers.back().parameters, 4096.0 + 32000.0 * 4096);
}

TEST(Architecture, BackwardFlopsFactorScalesOnlyTheBackward) {
  const sim::Workload w = workload_of(with(kGpt2Small, "backward_flops_factor", 1.5));
  const double forward = runtime::total_forward_flops(w.layers);
  EXPECT_EQ(w.layers[3].backward_flops, 1.5 * w.layers[3].forward_flops);
  EXPECT_DOUBLE_EQ(w.flops_per_sample, 2.5 * forward);
}

TEST(Architecture, ExplicitLayersDefaultTheirBackwardToTwiceTheForward) {
  const json model = {{"type", "layers"},
                      {"layers", {{{"name", "conv"}, {"parameters", 1000}, {"forward_flops", 3e6}},
                                  {{"name", "fc"}, {"parameters", 500}, {"forward_flops", 1e6}, {"backward_flops", 5e6}}}}};
  const sim::Workload w = workload_of(model);
  ASSERT_EQ(w.layers.size(), 2u);
  EXPECT_EQ(w.layers[0].name, "conv");
  EXPECT_EQ(w.layers[0].backward_flops, 6e6);
  EXPECT_EQ(w.layers[1].backward_flops, 5e6);
  EXPECT_EQ(w.parameters, 1500.0);
  EXPECT_EQ(w.flops_per_sample, 3e6 + 6e6 + 1e6 + 5e6);
  EXPECT_EQ(w.wire_bytes_per_param, 4.0);  // fp32 default outside transformers
}

TEST(Architecture, ProfileIsOneLayerAndKeepsItsFlopsExactly) {
  const sim::Workload w = workload_of({{"type", "profile"}, {"parameters", 7}, {"flops_per_sample", 1e9 + 1}});
  ASSERT_EQ(w.layers.size(), 1u);
  EXPECT_EQ(w.layers[0].parameters, 7.0);
  EXPECT_EQ(w.layers[0].forward_flops, (1e9 + 1) / 3);
  EXPECT_EQ(w.layers[0].backward_flops, (1e9 + 1) * 2 / 3);
  EXPECT_EQ(w.flops_per_sample, 1e9 + 1);  // the compute time's input, as given
}

TEST(Architecture, RealMlpLayersSumToItsParametersAndFlops) {
  runtime::ModelSpec spec;
  spec.inputs = 784, spec.hidden = {100, 50}, spec.outputs = 10;
  const runtime::Mlp mlp(spec);
  const auto layers = mlp.layers();
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].name, "dense0");
  EXPECT_EQ(layers[0].parameters, 784.0 * 100 + 100);
  // First layer: no input gradient; its backward is the weight gradient, bias gradient, activation.
  EXPECT_EQ(layers[0].backward_flops, 2.0 * 784 * 100 + 100 + 100);
  EXPECT_EQ(runtime::total_parameters(layers), static_cast<double>(mlp.parameter_count()));
  EXPECT_EQ(runtime::total_training_flops(layers), mlp.flops_per_sample());
  runtime::ModelSpec softmax;
  softmax.inputs = 784, softmax.outputs = 10;
  const runtime::Mlp regression(softmax);
  ASSERT_EQ(regression.layers().size(), 1u);
  EXPECT_EQ(runtime::total_training_flops(regression.layers()), regression.flops_per_sample());
}

// --- Precision and the optimizer step ---------------------------------------------------------

TEST(Architecture, PrecisionSetsWireBytesWithFamilyDefaults) {
  EXPECT_EQ(workload_of(kGpt2Small).wire_bytes_per_param, 2.0);  // bf16
  json s = scenario_with_model(kGpt2Small);
  s["workload"]["precision"] = {{"params", "fp32"}, {"optimizer_state", "bf16"}};
  const sim::Workload w = sim::parse_scenario(s, "f.json").workload;
  EXPECT_EQ(w.wire_bytes_per_param, 4.0);
  EXPECT_EQ(w.optimizer_state_bytes_per_value, 2.0);
  s["workload"].erase("precision");
  s["workload"]["wire_bytes_per_param"] = 1;  // the override stays
  EXPECT_EQ(sim::parse_scenario(s, "f.json").workload.wire_bytes_per_param, 1.0);
}

// An H100-like 8-GPU type with its memory bandwidth, for the optimizer step.
json with_hbm(json s, double hbm_GBps) {
  s["topology"]["instance_types"]["gpu"]["gpus"] = 8;
  s["topology"]["instance_types"]["gpu"]["hbm_GBps"] = hbm_GBps;
  return s;
}

TEST(Architecture, OptimizerStepTimeIsTheBytesItTouchesOverMemoryBandwidth) {
  json s = with_hbm(scenario_with_model(kGpt2Small), 3350);
  s["workload"]["optimizer"] = {{"name", "adamw"}, {"lr", 1e-4}};
  const sim::Scenario adam = sim::parse_scenario(s, "f.json");
  // bf16 parameters read + written (4 B), bf16 gradient read (2 B), two fp32 moments read + written (16 B).
  EXPECT_EQ(sim::optimizer_step_bytes_per_param(adam.workload), 22.0);
  const sim::InstanceType& type = adam.topology.instance_types.at("gpu");
  EXPECT_DOUBLE_EQ(sim::optimizer_step_s(adam, type), 124439808.0 * 22 / (8 * 3350e9));
  s["workload"]["optimizer"] = {{"name", "momentum"}, {"lr", 0.1}};
  EXPECT_EQ(sim::optimizer_step_bytes_per_param(sim::parse_scenario(s, "f.json").workload), 14.0);
  s["workload"]["optimizer"] = {{"name", "sgd"}, {"lr", 0.1}};
  EXPECT_EQ(sim::optimizer_step_bytes_per_param(sim::parse_scenario(s, "f.json").workload), 6.0);
  EXPECT_TRUE(adam.warnings.empty());
}

TEST(Architecture, UnknownMemoryBandwidthGivesNoOptimizerTimeAndAWarning) {
  const sim::Scenario s = sim::parse_scenario(scenario_with_model(kGpt2Small), "f.json");
  EXPECT_EQ(sim::optimizer_step_s(s, s.topology.instance_types.at("gpu")), 0.0);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("\"gpu\" has no hbm_GBps"), std::string::npos) << s.warnings[0];
}

TEST(Architecture, WorkerOptimizerStepAdvancesSimulatedTimeByTheClosedForm) {
  json s = with_hbm(scenario_with_model(kGpt2Small, 1), 3350);
  s["workload"]["optimizer"] = {{"name", "adamw"}, {"lr", 1e-4}};
  const auto results = testing::run_program_isolated(s, [](sim::WorkerContext& ctx) {
    ctx.optimizer_step(ctx.trainer().grads());
    ctx.optimizer_step(ctx.trainer().grads());
  });
  EXPECT_NEAR(results["simulated_s"].get<double>(), 2 * 124439808.0 * 22 / (8 * 3350e9), 1e-15);
  EXPECT_NEAR(results["time_breakdown_s"]["compute"].get<double>(), results["simulated_s"].get<double>(), 1e-15);
}

// --- Achieved utilization ---------------------------------------------------------------------

// Simulated seconds of one 8-sample compute on one worker of `s`.
double compute_time_s(const json& s) {
  return testing::run_program_isolated(s, [](sim::WorkerContext& ctx) { ctx.compute(8); })["simulated_s"].get<double>();
}

TEST(Architecture, MfuOverridesTheCatalogUtilizationByTheExactRatio) {
  const json base = scenario_with_model({{"type", "profile"}, {"parameters", 1e6}, {"flops_per_sample", 1e12}}, 1);
  const double catalog_s = compute_time_s(base);  // utilization 0.5 of 100 TFLOP/s
  EXPECT_NEAR(catalog_s, 8 * 1e12 / (100e12 * 0.5), 1e-12);
  json workload_mfu = base;
  workload_mfu["workload"]["mfu"] = 0.25;
  EXPECT_NEAR(compute_time_s(workload_mfu) / catalog_s, 2.0, 1e-12);
  json entry_mfu = workload_mfu;  // the fleet entry's wins over the workload's
  entry_mfu["fleet"][0]["mfu"] = 1.0;
  EXPECT_NEAR(compute_time_s(entry_mfu) / catalog_s, 0.5, 1e-12);
}

// --- Results ----------------------------------------------------------------------------------

TEST(Architecture, TransformerResultsCarryTokensPerSecondAndMfuAchieved) {
  // One worker, no communication and no optimizer time: the MFU achieved is the utilization.
  json s = scenario_with_model(with(with(kGpt2Small, "layers", 2), "seq_len", 128), 1);
  s["workload"]["steps"] = 3;
  const auto r = testing::run_program_isolated(s, [](sim::WorkerContext& ctx) {
    for (int step = 0; step < 3; ++step) {
      ctx.compute(8);
      ctx.end_step(8);
    }
  });
  const double simulated_s = r["simulated_s"].get<double>();
  EXPECT_DOUBLE_EQ(r["tokens_per_s"].get<double>(), 24 * 128 / simulated_s);
  EXPECT_NEAR(r["mfu_achieved"].get<double>(), 0.5, 1e-12);
  ASSERT_EQ(r["warnings"].size(), 1u);  // the test type has no hbm_GBps
}

TEST(Architecture, LegacyResultsHaveNoModelFigures) {
  const auto r = testing::run_program_isolated(scenario_with_model({{"type", "profile"}, {"parameters", 1e6},
                                                                    {"flops_per_sample", 1e9}}, 1),
                                               [](sim::WorkerContext& ctx) { ctx.compute(8); });
  EXPECT_FALSE(r.contains("tokens_per_s"));
  EXPECT_FALSE(r.contains("mfu_achieved"));
  EXPECT_FALSE(r.contains("warnings"));
}

// --- Bad input --------------------------------------------------------------------------------

std::string model_error(const json& model) { return testing::parse_error(scenario_with_model(model)); }

TEST(Architecture, BadDescriptionsNameTheFilePathValueAndWhatIsAllowed) {
  EXPECT_EQ(model_error(with(kGpt2Small, "heads", 5)),
            "f.json: /workload/model/heads: 5: expected a divisor of d_model (768): d_head = d_model / heads");
  EXPECT_EQ(model_error(with(kGpt2Small, "kv_heads", 5)),
            "f.json: /workload/model/kv_heads: 5: expected a divisor of heads (12): each K/V head serves "
            "heads / kv_heads query heads");
  EXPECT_EQ(model_error(with(kGpt2Small, "layers", 0)),
            "f.json: /workload/model/layers: 0: expected an integer in [1, 100000]");
  EXPECT_EQ(model_error(with(kGpt2Small, "dropout", 0.1)).rfind("f.json: /workload/model/dropout: ", 0), 0u);
  EXPECT_EQ(model_error({{"type", "layers"}, {"layers", json::array()}}),
            "f.json: /workload/model/layers: []: expected an array of at least 1 object(s)");
  EXPECT_EQ(model_error({{"type", "layers"}, {"layers", {{{"name", "x"}, {"parameters", -1}, {"forward_flops", 1}}}}}),
            "f.json: /workload/model/layers/0/parameters: -1: expected a number in [0, 1000000000000000]");
  EXPECT_EQ(model_error({{"type", "layers"}, {"layers", {{{"name", "x"}, {"parameters", 0}, {"forward_flops", 1}}}}}),
            "f.json: /workload/model/layers: [{\"forward_flops\":1,\"name\":\"x\",\"parameters\":0}]: expected at "
            "least one trainable parameter in all layers together");
}

TEST(Architecture, MfuOutsideZeroOneAndDoublePrecisionAreRefused) {
  json s = scenario_with_model(kGpt2Small);
  s["workload"]["mfu"] = 0;
  EXPECT_EQ(testing::parse_error(s), "f.json: /workload/mfu: 0: expected a number in (0, 1]");
  s["workload"]["mfu"] = 1.5;
  EXPECT_EQ(testing::parse_error(s), "f.json: /workload/mfu: 1.5: expected a number in (0, 1]");
  s["workload"].erase("mfu");
  s["fleet"][0]["mfu"] = -0.1;
  EXPECT_EQ(testing::parse_error(s), "f.json: /fleet/0/mfu: -0.1: expected a number in (0, 1]");
  s["fleet"][0].erase("mfu");
  s["workload"]["precision"] = {{"params", "bf16"}};
  s["workload"]["wire_bytes_per_param"] = 2;
  EXPECT_EQ(testing::parse_error(s), "f.json: /workload/wire_bytes_per_param: 2: give the parameters' size once: "
                                     "either wire_bytes_per_param or precision.params, not both");
  s["workload"].erase("wire_bytes_per_param");
  s["workload"]["precision"] = {{"params", "int4"}};
  EXPECT_EQ(testing::parse_error(s).rfind("f.json: /workload/precision/params: \"int4\": expected one of", 0), 0u);
  s["workload"]["precision"] = {{"param", "bf16"}};
  EXPECT_EQ(testing::parse_error(s).rfind("f.json: /workload/precision/param: ", 0), 0u);
  s["workload"].erase("precision");
  // GPT-2 small trains for real only at a byte-level vocabulary; a list of layers never does.
  s["workload"]["backend"] = "cpu";
  EXPECT_EQ(testing::parse_error(s), "f.json: /workload/model/vocab: 50257: expected 256: backend \"cpu\" trains on "
                                     "byte-level tokens");
  s["workload"]["model"] = {{"type", "layers"}, {"layers", {{{"name", "x"}, {"parameters", 10}, {"forward_flops", 1}}}}};
  EXPECT_EQ(testing::parse_error(s).rfind("f.json: /workload/backend: \"cpu\": backend \"cpu\" needs a real model", 0),
            0u);
}

}  // namespace
}  // namespace geotrain
