// Google Benchmark of one real training step on the CPU beside the BLAS sgemm of its dominant
// shape, both in GFLOP/s: the MLP 784-100-10 (batch 64, SGD) and scenarios/diloco-lm.json's
// language model (4 layers, d_model 128, 4 heads, 128-token sequences, one worker's batch of 8,
// AdamW); not a test (run by hand, single BLAS thread).
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "kernels/gemm.h"
#include "kernels/optim.h"
#include "runtime/corpus.h"
#include "runtime/gpt.h"
#include "runtime/model.h"
#include "runtime/optimizer.h"
#include "runtime/rng.h"

using namespace geotrain;

namespace {

constexpr int kInputs = 784;    // Fashion-MNIST pixels
constexpr int kHidden = 100;
constexpr int kClasses = 10;
constexpr int kBatch = 64;      // samples per step
constexpr float kLr = 0.01f;
constexpr double kGiga = 1e9;

std::vector<float> normal_values(runtime::Rng& rng, std::size_t n) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}

// loss_and_grad + SGD update; the GFLOP counter is a rate (shown as GFLOP=x/s), from
// Mlp::flops_per_sample() * batch.
void BM_MlpTrainingStep(benchmark::State& state) {
  runtime::Mlp mlp({.inputs = kInputs, .hidden = {kHidden}, .outputs = kClasses,
                    .activation = runtime::Activation::relu});
  runtime::Rng rng(1);
  std::vector<float> params(mlp.parameter_count()), grads(mlp.parameter_count());
  mlp.init(params, rng);
  const auto x = normal_values(rng, static_cast<std::size_t>(kBatch) * kInputs);  // (B, 784)
  std::vector<std::int32_t> labels(kBatch);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(kClasses));
  for (auto _ : state) {
    const double loss = mlp.loss_and_grad(grads, params, x.data(), labels.data(), nullptr, kBatch);
    benchmark::DoNotOptimize(loss);
    kernels::sgd_step(params.data(), grads.data(), kLr, 0.0f, params.size());
    benchmark::ClobberMemory();
  }
  const double flops_per_step = mlp.flops_per_sample() * kBatch;
  state.counters["GFLOP"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * flops_per_step / kGiga, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MlpTrainingStep)->Unit(benchmark::kMicrosecond);

// C (M,N) = A (M,K) B (K,N) on seeded normal values, timed; 2*M*N*K FLOPs.
void time_sgemm(benchmark::State& state, int M, int N, int K) {
  runtime::Rng rng(2);
  const auto A = normal_values(rng, static_cast<std::size_t>(M) * K);
  const auto B = normal_values(rng, static_cast<std::size_t>(K) * N);
  std::vector<float> C(static_cast<std::size_t>(M) * N);
  for (auto _ : state) {
    kernels::gemm(C.data(), A.data(), B.data(), M, N, K, false, false, 1.0f, 0.0f);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * M * N * K / kGiga,
                                               benchmark::Counter::kIsRate);
}

// The step's dominant GEMM: activations (64,784) times W1 (784,100).
void BM_SgemmDominantShape(benchmark::State& state) { time_sgemm(state, kBatch, kHidden, kInputs); }
BENCHMARK(BM_SgemmDominantShape)->Unit(benchmark::kMicrosecond);

// diloco-lm's model and one worker's batch.
runtime::TransformerSpec lm_spec() {
  runtime::TransformerSpec s;
  s.layers = 4;
  s.d_model = 128;
  s.heads = s.kv_heads = 4;
  s.d_ff = 4 * s.d_model;
  s.seq_len = 128;
  s.vocab = runtime::kByteVocab;
  return s;
}
constexpr int kLmBatch = 8;

// The FLOPs of one LM training step: 6 per parameter-token for the weights' GEMMs (forward,
// and the two backward GEMMs) plus attention's scores and weighted sums (2 x B*T*T*C forward,
// counted in full as the kernels compute them, times 3 for forward and backward).
double lm_flops_per_step(const runtime::TransformerSpec& s, std::size_t parameters) {
  const double tokens = static_cast<double>(kLmBatch) * s.seq_len;
  const double weight_params = static_cast<double>(parameters) - static_cast<double>(s.seq_len) * s.d_model;  // wpe is a lookup
  const double attention = 3.0 * 2.0 * 2.0 * tokens * s.seq_len * s.d_model * s.layers;
  return 6.0 * tokens * weight_params + attention;
}

// loss_and_grad + AdamW update of the language model on KJV-like synthetic text.
void BM_GptTrainingStep(benchmark::State& state) {
  const auto spec = lm_spec();
  runtime::Gpt gpt(spec);
  runtime::Rng rng(1);
  std::vector<float> params(gpt.parameter_count()), grads(gpt.parameter_count());
  gpt.init(params, rng);
  const auto text = runtime::make_synthetic_books(1, kLmBatch * (spec.seq_len + 1))[0].text;
  std::vector<float> x(text.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<unsigned char>(text[i]);
  runtime::OptimizerSpec o;
  o.name = "adamw";
  o.lr = 1e-3;
  runtime::Optimizer adamw(o, params.size());
  for (auto _ : state) {
    const double loss = gpt.loss_and_grad(grads, params, x.data(), nullptr, nullptr, kLmBatch);
    benchmark::DoNotOptimize(loss);
    adamw.step(params, grads);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * lm_flops_per_step(spec, params.size()) / kGiga, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GptTrainingStep)->Unit(benchmark::kMillisecond);

// The LM step's dominant GEMM: the MLP's first layer, (B*T, C) times W_fc (C, 4C).
void BM_SgemmGptDominantShape(benchmark::State& state) {
  const auto spec = lm_spec();
  time_sgemm(state, kLmBatch * spec.seq_len, spec.d_ff, spec.d_model);
}
BENCHMARK(BM_SgemmGptDominantShape)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  kernels::set_blas_threads(1);  // as the simulator runs it: one BLAS thread per process
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
