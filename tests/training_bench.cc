// Google Benchmark of one real training step on the CPU (MLP 784-100-10, batch 64, SGD) beside the
// BLAS sgemm of its dominant shape, both in GFLOP/s; not a test (run by hand, single BLAS thread).
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "kernels/gemm.h"
#include "kernels/optim.h"
#include "runtime/model.h"
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

// The step's dominant GEMM: activations (64,784) times W1 (784,100); 2*M*N*K FLOPs.
void BM_SgemmDominantShape(benchmark::State& state) {
  constexpr int M = kBatch, N = kHidden, K = kInputs;
  runtime::Rng rng(2);
  const auto A = normal_values(rng, static_cast<std::size_t>(M) * K);  // (M,K)
  const auto B = normal_values(rng, static_cast<std::size_t>(K) * N);  // (K,N)
  std::vector<float> C(static_cast<std::size_t>(M) * N);               // (M,N)
  for (auto _ : state) {
    kernels::gemm(C.data(), A.data(), B.data(), M, N, K, false, false, 1.0f, 0.0f);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP"] = benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * M * N * K / kGiga,
                                               benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SgemmDominantShape)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  kernels::set_blas_threads(1);  // as the simulator runs it: one BLAS thread per process
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
