// PacTrain (2025): prune the model once to sparsity s by weight magnitude (after a dense DDP
// warm-up, or on a pre-trained checkpoint) into one global mask K, identical on every worker;
// then each step masks the gradient, compacts the (1-s)N kept entries into a dense vector (no
// indices on the wire), all-reduces it, scatters it back, steps, and re-applies the mask.
// Optional ternary quantization of the compact gradient.
// Under faults every step (warm-up or sparse) is a round of the group, as in DDP; a returning
// worker copies a live replica's parameters, optimizer and mask.  Checkpoints hold the mask too
// (one byte per parameter), so a group that rolls back keeps the mask it pruned with.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "kernels/reduce.h"
#include "kernels/sparse.h"
#include "sim/json_reader.h"
#include "sim/strategies/catalog.h"
#include "sim/strategies/outer.h"
#include "sim/strategies/restart.h"
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
    if (checkpoint_.empty() || !world.trainers[0]->is_real()) return;
    std::ifstream in(checkpoint_, std::ios::binary);
    pretrained_.resize(world.trainers[0]->params().numel());
    in.read(reinterpret_cast<char*>(pretrained_.data()), static_cast<std::streamsize>(pretrained_.size() * sizeof(float)));
    for (auto& t : world.trainers) std::copy(pretrained_.begin(), pretrained_.end(), t->params().values().begin());
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const int warmup = checkpoint_.empty() ? std::min(warmup_, w.steps) : 0;
    const std::size_t n = trainer.params().numel();
    std::vector<std::uint8_t>& mask = masks_[ctx.rank()];  // empty until pruned (and in size-only runs)
    long step = 0;
    if (ctx.restarted() && (step = rejoin(ctx, [&](long round) { return state_source(ctx, round, warmup); })) < 0)
      return;
    std::vector<float> saved;  // what the round's all-reduce overwrites, for a retry (faults only)
    for (; step < warmup; ++step) dense_step(ctx, trainer, w, step, saved);
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
      const auto members = allreduce_mean_round(ctx, step, compact, algo_, saved);
      if (trainer.is_real()) {
        kernels::scatter_masked(trainer.grads().values().data(), compact.values().data(), mask.data(), n);
        trainer.optimizer_step(trainer.grads());
        kernels::apply_mask(trainer.params().values().data(), mask.data(), n);
      }
      if (ctx.faults_on())
        maybe_checkpoint(ctx, step + 1, members, state_bytes_of(ctx, true), [&](Checkpoint& c) {
          save_replica(trainer, c);
          c.mask = mask;
        });
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
    }
  }

 private:
  void dense_step(WorkerContext& ctx, runtime::Trainer& trainer, const Workload& w, long step,
                  std::vector<float>& saved) {
    const double loss = ctx.compute_gradient(w.batch_per_worker);
    const auto members = allreduce_mean_round(ctx, step, trainer.grads(), algo_, saved);
    trainer.optimizer_step(trainer.grads());
    if (ctx.faults_on())
      maybe_checkpoint(ctx, step + 1, members, state_bytes_of(ctx, false),
                       [&trainer](Checkpoint& c) { save_replica(trainer, c); });
    ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
  }

  // Bytes of a replica's state: parameters and optimizer, plus the mask once pruned.
  static std::uint64_t state_bytes_of(WorkerContext& ctx, bool with_mask) {
    const std::size_t n = ctx.trainer().params().numel();
    return state_bytes(n, ctx.scenario().workload.optimizer) + (with_mask ? kMaskBytesPerParam * n : 0);
  }

  // A returning worker copies a replica and its mask (empty before the pruning, which it then does
  // itself); from the initial model it restarts from the pre-trained checkpoint when there is one.
  StateSource state_source(WorkerContext& ctx, long round, int warmup) {
    std::vector<std::uint8_t>& mask = masks_[ctx.rank()];
    // A live member at a round from the warm-up's end on has pruned already.
    StateSource s = replica_state(ctx, state_bytes_of(ctx, round >= warmup));
    s.from_donor = [this, &mask, replica = s.from_donor](int donor) {
      replica(donor);
      mask = masks_[donor];
    };
    s.from_checkpoint = [&mask, replica = s.from_checkpoint](const Checkpoint& c) {
      replica(c);
      mask = c.mask;
    };
    s.from_initial = [this, &ctx, &mask, replica = s.from_initial] {
      replica();
      runtime::Trainer& t = ctx.trainer();
      if (t.is_real() && !pretrained_.empty()) std::copy(pretrained_.begin(), pretrained_.end(), t.params().values().begin());
      mask.clear();
    };
    return s;
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

StrategyInfo pactrain_strategy() {
  StrategyInfo info{"pactrain", "PacTrain: prune after a dense warm-up, then all-reduce only the kept (masked) gradients", {}};
  info.knobs = {{"sparsity", KnobType::number, 0.5, 0, 0.999, false, {}, "share of the weights pruned after the warm-up"},
                {"warmup_steps", KnobType::integer, 20, 0, 100000000, false, {}, "dense steps before pruning", "", KnobRole::warmup},
                {"quantize", KnobType::choice, "none", 0, 0, false, {"none", "ternary"}, "quantization of the sparse gradients"},
                {"allreduce", KnobType::choice, "ring", 0, 0, false, allreduce_algo_names(), "all-reduce algorithm"},
                {"checkpoint", KnobType::text, "", 0, 0, false, {},
                 "raw fp32 file of pretrained parameters (relative to the scenario): no warm-up", "", KnobRole::warm_start}};
  info.on_failure = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& scenario) -> std::unique_ptr<Strategy> {
    const double sparsity = read_number(reader, knob_of(knobs, "sparsity"));
    const int warmup = static_cast<int>(read_integer(reader, knob_of(knobs, "warmup_steps")));
    const std::string quantize = read_choice(reader, knob_of(knobs, "quantize"));
    const auto algo = allreduce_algo_from_name(read_choice(reader, knob_of(knobs, "allreduce")));
    std::string checkpoint = read_text(reader, knob_of(knobs, "checkpoint"));
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
  };
  constexpr double kMaskEntry_B = 1;  // one byte per parameter (kernels/sparse.h)
  info.add_state = [](const nlohmann::json&, const std::string&, StateBytes& b) { b.add_worker("mask", kMaskEntry_B); };
  return info;
}

}  // namespace geotrain::sim
