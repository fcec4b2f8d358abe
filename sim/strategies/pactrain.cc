// PacTrain (2025): prune the model once to sparsity s by weight magnitude (after a dense DDP
// warm-up, or on a pre-trained checkpoint) into one global mask K, identical on every worker;
// then each step masks the gradient, compacts the (1-s)N kept entries into a dense vector (no
// indices on the wire), all-reduces it, scatters it back, steps, and re-applies the mask.
// Optional ternary quantization of the compact gradient: every partial sum of the all-reduce is
// rounded to ternary before each hop (the complete sum once).
// Every step (warm-up or sparse) is a round of the group (sim/resilience/), as in DDP; the
// replica is the parameters, optimizer and mask, so a returning worker, or a group that rolls
// back to a checkpoint, keeps the mask it pruned with.  With overlap the (compact) buckets'
// all-reduces are the step's round under faults too, as DDP's (overlapped_group_step()).
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "kernels/reduce.h"
#include "kernels/sparse.h"
#include "runtime/ops.h"
#include "sim/json_reader.h"
#include "sim/catalog.h"
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
  PacTrain(double sparsity, int warmup, bool ternary, AllreduceAlgo algo, std::string checkpoint,
           std::optional<double> bucket_cap_B)
      : sparsity_(sparsity), warmup_(warmup), ternary_(ternary), algo_(algo), checkpoint_(std::move(checkpoint)),
        bucket_cap_B_(bucket_cap_B) {}

  void prepare(World& world) override {
    masks_.assign(world.trainers.size(), {});
    warmup_ = checkpoint_.empty() ? std::min(warmup_, world.scenario.workload.steps) : 0;
    if (checkpoint_.empty() || !world.trainers[0]->is_real()) return;
    std::ifstream in(checkpoint_, std::ios::binary);
    pretrained_.resize(world.trainers[0]->params().numel());
    in.read(reinterpret_cast<char*>(pretrained_.data()), static_cast<std::streamsize>(pretrained_.size() * sizeof(float)));
    for (auto& t : world.trainers) runtime::ops::copy(t->params(), pretrained_);
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const std::size_t n = trainer.params().numel();
    std::vector<std::uint8_t>& mask = masks_[ctx.rank()];  // empty until pruned (and in size-only runs)
    // With overlap, DDP's buckets of the dense gradient (the cap counts its bytes, as a DDP
    // communication hook receives them); after the pruning each bucket carries its kept entries.
    std::vector<GradientBucket> dense;
    if (bucket_cap_B_) dense = gradient_buckets(w.layers, n, trainer.grads().wire_bytes_per_value(), *bucket_cap_B_);
    long step = ctx.start_round();
    for (; step < warmup_; ++step) dense_step(ctx, trainer, w, step, dense);
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
    const std::vector<GradientBucket> buckets = compact_buckets(dense, mask, n, kept);
    for (; step < w.steps; ++step) {
      runtime::Tensor compact = trainer.is_real() ? runtime::Tensor::zeros(kept) : runtime::Tensor::phantom(kept);
      compact.set_wire_bytes_per_value(w.wire_bytes_per_param);
      if (ternary_) set_allreduce_wire_format(compact, kernels::WireFormat::ternary);
      double loss = 0;
      const auto& members = averaged_gradient_round(ctx, step, buckets, algo_, [&]() -> runtime::Tensor& {
        if (trainer.is_real()) kernels::compact_masked(compact.values().data(), trainer.grads().values().data(), mask.data(), n);
        return compact;
      }, loss);
      // The optimizer steps over the dense model (pruned entries get a zero gradient), in time as DDP's.
      if (trainer.is_real()) kernels::scatter_masked(trainer.grads().values().data(), compact.values().data(), mask.data(), n);
      ctx.optimizer_step(trainer.grads());
      if (trainer.is_real()) kernels::apply_mask(trainer.params().values().data(), mask.data(), n);
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
  void dense_step(WorkerContext& ctx, runtime::Trainer& trainer, const Workload& w, long step,
                  const std::vector<GradientBucket>& buckets) {
    double loss = 0;
    const auto& members = averaged_gradient_round(
        ctx, step, buckets, algo_, [&]() -> runtime::Tensor& { return trainer.grads(); }, loss);
    ctx.optimizer_step(trainer.grads());
    resilience::applied(ctx, step + 1, members);
    ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members.size()));
  }

  static std::uint64_t mask_bytes(const World& world) {
    return kMaskBytesPerParam * static_cast<std::uint64_t>(world.trainers.front()->params().numel());
  }

  double sparsity_;
  int warmup_;
  bool ternary_;  // quantize the compact gradient to ternary
  AllreduceAlgo algo_;
  std::string checkpoint_;
  std::optional<double> bucket_cap_B_;  // overlap: the dense gradient's bucket cap in bytes
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
  for (auto& k : overlap_knobs(true, true)) info.knobs.push_back(std::move(k));
  info.on_failure = true;
  info.overlaps_under_faults = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& scenario) -> std::unique_ptr<Strategy> {
    const double sparsity = read_number(reader, knob_of(knobs, "sparsity"));
    const int warmup = static_cast<int>(read_integer(reader, knob_of(knobs, "warmup_steps")));
    const bool ternary = read_choice(reader, knob_of(knobs, "quantize")) == "ternary";
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
    return std::make_unique<PacTrain>(sparsity, warmup, ternary, algo, checkpoint, read_overlap(reader, knobs, scenario, {}, /*under_faults=*/true));
  };
  constexpr double kMaskEntry_B = 1;  // one byte per parameter (kernels/sparse.h)
  info.add_state = [](const nlohmann::json&, const std::string&, StateBytes& b) { b.add_worker("mask", kMaskEntry_B); };
  return info;
}

}  // namespace geotrain::sim
