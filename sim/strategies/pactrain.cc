// PacTrain (2025): prune the model once to sparsity s by weight magnitude (after a dense DDP
// warm-up, or on a pre-trained checkpoint) into one global mask K, identical on every worker;
// then each step masks the gradient, compacts the (1-s)N kept entries into a dense vector (no
// indices on the wire), all-reduces it, scatters it back, steps, and re-applies the mask.
// Optional ternary quantization of the compact gradient.
// Every step (warm-up or sparse) is a round of the group (sim/resilience/), as in DDP; the
// replica is the parameters, optimizer and mask, so a returning worker, or a group that rolls
// back to a checkpoint, keeps the mask it pruned with.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "kernels/reduce.h"
#include "kernels/sparse.h"
#include "sim/json_reader.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/strategies/strategy.h"

namespace geotrain::sim {
namespace {

// Bytes of the mask in a state transfer or checkpoint: one per parameter (a uint8 per entry, as
// kernels/sparse.h keeps it and analysis/recommend.cc counts it).
constexpr std::uint64_t kMaskBytesPerParam = 1;

class PacTrain final : public Strategy {
 public:
  PacTrain(double sparsity, int warmup, std::string quantize, AllreduceAlgo algo, std::string checkpoint)
      : sparsity_(sparsity), warmup_(warmup), quantize_(std::move(quantize)), algo_(algo), checkpoint_(std::move(checkpoint)) {}

  void prepare(World& world) override {
    masks_.assign(world.trainers.size(), {});
    warmup_ = checkpoint_.empty() ? std::min(warmup_, world.scenario.workload.steps) : 0;
    if (checkpoint_.empty() || !world.trainers[0]->is_real()) return;
    std::ifstream in(checkpoint_, std::ios::binary);
    pretrained_.resize(world.trainers[0]->params().numel());
    in.read(reinterpret_cast<char*>(pretrained_.data()), static_cast<std::streamsize>(pretrained_.size() * sizeof(float)));
    for (auto& t : world.trainers) std::copy(pretrained_.begin(), pretrained_.end(), t->params().values().begin());
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const std::size_t n = trainer.params().numel();
    std::vector<std::uint8_t>& mask = masks_[ctx.rank()];  // empty until pruned (and in size-only runs)
    long step = ctx.start_round();
    for (; step < warmup_; ++step) dense_step(ctx, trainer, w, step);
    // Replicas are identical after DDP (or a shared checkpoint): every worker derives the same mask
    // (a worker that returned after the pruning holds its donor's already).
    std::size_t kept = kernels::pruning_kept_count(n, sparsity_);
    if (trainer.is_real()) {
      if (mask.empty()) {
        mask.resize(n);
        kernels::magnitude_prune_mask(mask.data(), trainer.params().values().data(), n, sparsity_);
      }
      kept = static_cast<std::size_t>(std::count(mask.begin(), mask.end(), std::uint8_t{1}));
      kernels::apply_mask(trainer.params().values().data(), mask.data(), n);
    }
    for (; step < w.steps; ++step) {
      const double loss = ctx.compute_gradient(w.batch_per_worker);
      runtime::Tensor compact = trainer.is_real() ? runtime::Tensor::zeros(kept) : runtime::Tensor::phantom(kept);
      compact.set_wire_bytes_per_value(w.wire_bytes_per_param);
      if (trainer.is_real()) kernels::compact_masked(compact.values().data(), trainer.grads().values().data(), mask.data(), n);
      if (quantize_ == "ternary") apply_wire_format(compact, "ternary");
      const auto members = resilience::allreduce_round(ctx, step, compact, algo_);
      if (trainer.is_real()) {
        kernels::scatter_masked(trainer.grads().values().data(), compact.values().data(), mask.data(), n);
        trainer.optimizer_step(trainer.grads());
        kernels::apply_mask(trainer.params().values().data(), mask.data(), n);
      }
      resilience::applied(ctx, step + 1, members);
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
    }
  }

  // The replica: parameters and optimizer, plus the mask once pruned (one byte per parameter;
  // the mask is computed after the warm-up's last round, so a checkpoint of that round has none).
  // From the start of the job the parameters are the pre-trained checkpoint's, when there is one.
  ReplicaState replica(World& world, int rank, long round) override {
    ReplicaState s = Strategy::replica(world, rank, round);
    if (!pretrained_.empty()) s.tensors.front().initial = pretrained_;
    s.opaque = &masks_[rank];
    if (round > warmup_) s.bytes += mask_bytes(world);
    return s;
  }
  // A worker joining at the warm-up's end or later pulls a mask (its donor has pruned).
  std::uint64_t join_bytes(World& world, int rank, long round) override {
    return Strategy::replica(world, rank, round).bytes + (round >= warmup_ ? mask_bytes(world) : 0);
  }

 private:
  void dense_step(WorkerContext& ctx, runtime::Trainer& trainer, const Workload& w, long step) {
    const double loss = ctx.compute_gradient(w.batch_per_worker);
    const auto members = resilience::allreduce_round(ctx, step, trainer.grads(), algo_);
    trainer.optimizer_step(trainer.grads());
    resilience::applied(ctx, step + 1, members);
    ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
  }

  static std::uint64_t mask_bytes(const World& world) {
    return kMaskBytesPerParam * static_cast<std::uint64_t>(world.trainers.front()->params().numel());
  }

  double sparsity_;
  int warmup_;
  std::string quantize_;
  AllreduceAlgo algo_;
  std::string checkpoint_;
  std::vector<float> pretrained_;                   // the checkpoint's parameters (real runs)
  std::vector<std::vector<std::uint8_t>> masks_;  // per worker
};

}  // namespace

std::unique_ptr<Strategy> make_pactrain(JsonReader& reader, const Scenario& scenario) {
  const OnFailure on_failure = parse_on_failure(reader);
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
  auto pactrain = std::make_unique<PacTrain>(sparsity, warmup, quantize, algo, checkpoint);
  pactrain->traits.on_failure = on_failure;
  return pactrain;
}

}  // namespace geotrain::sim
