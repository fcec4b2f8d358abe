// PacTrain (2025): prune the model once to sparsity s by weight magnitude (after a dense DDP
// warm-up, or on a pre-trained checkpoint) into one global mask K, identical on every worker;
// then each step masks the gradient, compacts the (1-s)N kept entries into a dense vector (no
// indices on the wire), all-reduces it, scatters it back, steps, and re-applies the mask.
// Optional ternary quantization of the compact gradient.
#include <filesystem>
#include <fstream>

#include "kernels/sparse.h"
#include "sim/json_reader.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

class PacTrain final : public Strategy {
 public:
  PacTrain(double sparsity, int warmup, std::string quantize, AllreduceAlgo algo, std::string checkpoint)
      : sparsity_(sparsity), warmup_(warmup), quantize_(std::move(quantize)), algo_(algo), checkpoint_(std::move(checkpoint)) {}

  void prepare(World& world) override {
    if (checkpoint_.empty() || !world.trainers[0]->is_real()) return;
    std::ifstream in(checkpoint_, std::ios::binary);
    std::vector<float> params(world.trainers[0]->params().numel());
    in.read(reinterpret_cast<char*>(params.data()), static_cast<std::streamsize>(params.size() * sizeof(float)));
    for (auto& t : world.trainers) std::copy(params.begin(), params.end(), t->params().values().begin());
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const int warmup = checkpoint_.empty() ? std::min(warmup_, w.steps) : 0;
    for (int step = 0; step < warmup; ++step) dense_step(ctx, trainer, w);
    // Replicas are identical after DDP (or a shared checkpoint): every worker derives the same mask.
    const std::size_t n = trainer.params().numel();
    std::vector<std::uint8_t> mask;
    std::size_t kept = kernels::pruning_kept_count(n, sparsity_);
    if (trainer.is_real()) {
      mask.resize(n);
      kept = kernels::magnitude_prune_mask(mask.data(), trainer.params().values().data(), n, sparsity_);
      kernels::apply_mask(trainer.params().values().data(), mask.data(), n);
    }
    for (int step = warmup; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      runtime::Tensor compact = trainer.is_real() ? runtime::Tensor::zeros(kept) : runtime::Tensor::phantom(kept);
      compact.set_wire_bytes_per_value(w.wire_bytes_per_param);
      if (trainer.is_real()) kernels::compact_masked(compact.values().data(), trainer.grads().values().data(), mask.data(), n);
      if (quantize_ == "ternary") apply_wire_format(compact, "ternary");
      ctx.allreduce_mean(compact, algo_);
      if (trainer.is_real()) {
        kernels::scatter_masked(trainer.grads().values().data(), compact.values().data(), mask.data(), n);
        trainer.optimizer_step(trainer.grads());
        kernels::apply_mask(trainer.params().values().data(), mask.data(), n);
      }
      ctx.end_step(w.batch_per_worker, loss);
    }
  }

 private:
  void dense_step(WorkerContext& ctx, runtime::Trainer& trainer, const Workload& w) {
    const double loss = ctx.compute_gradient(w.batch_per_worker);
    ctx.allreduce_mean(trainer.grads(), algo_);
    trainer.optimizer_step(trainer.grads());
    ctx.end_step(w.batch_per_worker, loss);
  }

  double sparsity_;
  int warmup_;
  std::string quantize_;
  AllreduceAlgo algo_;
  std::string checkpoint_;
};

}  // namespace

std::unique_ptr<Strategy> make_pactrain(JsonReader& reader, const Scenario& scenario) {
  const double sparsity = reader.number_or("sparsity", 0.5, 0, 0.999);
  const int warmup = static_cast<int>(reader.integer_or("warmup_steps", 20, 0, 100000000));
  const std::string quantize = reader.choice_or("quantize", "none", {"none", "ternary"});
  const auto algo = allreduce_algo_from_name(reader.choice_or("allreduce", "ring", allreduce_algo_names()));
  std::string checkpoint = reader.string_or("checkpoint", "");
  if (!checkpoint.empty()) {
    // A raw little-endian fp32 file holding exactly the model's parameters.
    std::filesystem::path p = checkpoint;
    if (p.is_relative() && !scenario.file.empty()) p = std::filesystem::path(scenario.file).parent_path() / p;
    const auto expected = static_cast<std::uintmax_t>(scenario.workload.parameters) * sizeof(float);
    if (!std::filesystem::is_regular_file(p) || std::filesystem::file_size(p) != expected)
      reader.fail("checkpoint", "expected a raw fp32 file of exactly " + std::to_string(expected) +
                                    " bytes (the model's parameters), relative to the scenario's folder");
    checkpoint = p.string();
  }
  return std::make_unique<PacTrain>(sparsity, warmup, quantize, algo, checkpoint);
}

}  // namespace geotrain::sim
