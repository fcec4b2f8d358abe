// Top-k gradient sparsification (baseline for PacTrain): each worker keeps the k largest-magnitude
// entries of its gradient, with its own indices, so the workers all-gather (value, index) pairs
// -- the volume grows with the worker count -- and each sums the M sparse gradients.
// "dgc" is Deep Gradient Compression (Lin et al. 2018): top-k of a velocity that accumulates what
// was not sent (error feedback), with the paper's additions, each switchable:
//   local clipping     g = clip(g, clip_norm / sqrt(N))                 (N workers)
//   momentum correct.  u = m u + g;  v += u   (else v += g)             (m: the momentum optimizer's)
//   top-k of v         send v[idx]; v[idx] = 0
//   momentum masking   u[idx] = 0
//   update             w -= lr mean(sent)   (plain SGD: the momentum is in u; else the optimizer)
//   sparsity warm-up   density 25%, 6.25%, 1.5625%, 0.39% in four equal stages, then `ratio`.
// With "overlap" (sim/layer_schedule.h) the gradient is cut into DDP's buckets and each bucket's
// own top-k (of its `ratio` share, at least one entry) is all-gathered as soon as the backward
// has produced it, beside the rest of the backward, as DGC's implementation compresses and sends
// each tensor from its backward hook; clipping and momentum correction still see the whole
// gradient.  One bucket, or overlap off, is the atomic step: one top-k of the whole gradient.
// Under faults the buckets' all-gathers are the step's round, run on the stream and redone by the
// survivors when a member is lost (overlapped_group_allgather_step()).
// Each step is a round of the group (sim/resilience/): the sparse gradients of the committed
// view's members are averaged; the replica is the parameters and optimizer (a returning worker
// starts with zero velocity and momentum: they were the dead worker's local memory).
#include <algorithm>
#include <cmath>
#include <optional>

#include "kernels/reduce.h"
#include "kernels/sparse.h"
#include "sim/json_reader.h"
#include "sim/layer_schedule.h"
#include "sim/strategies/outer.h"
#include "sim/resilience/replica.h"
#include "sim/catalog.h"
#include "sim/strategies/strategy.h"
#include "sim/training.h"

namespace geotrain::sim {
namespace {

// DGC's warm-up (Lin et al. 2018, section 3.3): the sparsity rises exponentially, 75%, 93.75%,
// 98.4375%, 99.6%, one stage per warm-up epoch (four in the paper).
constexpr int kWarmupStages = 4;
constexpr double kWarmupDensityFactor = 0.25;  // each stage keeps a quarter of the previous density
constexpr int kWarmupEpochs = 4;

// DGC's additions to error feedback; all off for plain top-k.
struct DgcOptions {
  bool momentum_correction = false;  // accumulate momentum into the velocity; the update adds none
  bool momentum_masking = false;     // zero the momentum of sent entries
  double clip_norm = 0;              // global threshold; each worker clips at clip_norm / sqrt(N); 0: off
  std::optional<long> warmup_steps;  // sparsity warm-up; nullopt: kWarmupEpochs epochs of the data
};

class TopK final : public Strategy {
 public:
  TopK(double ratio, bool error_feedback, DgcOptions dgc, std::optional<double> bucket_cap_B)
      : ratio_(ratio), error_feedback_(error_feedback), dgc_(dgc), bucket_cap_B_(bucket_cap_B) {}

  void prepare(World& world) override {
    const Scenario& s = world.scenario;
    const auto& opt = s.workload.optimizer;
    // Momentum correction moves the optimizer's momentum into the velocity; an optimizer without
    // momentum (sgd, adamw) keeps its own update and plain error feedback.
    correcting_ = dgc_.momentum_correction && (opt.name == "momentum" || opt.name == "nesterov");
    momentum_ = static_cast<float>(opt.momentum);
    nesterov_ = opt.name == "nesterov";
    workers_ = s.worker_count();
    if (dgc_.warmup_steps) {
      warmup_ = *dgc_.warmup_steps;
    } else {
      const double samples = world.training.is_real()       ? static_cast<double>(world.training.train_samples())
                             : s.workload.has_dataset ? static_cast<double>(s.workload.dataset.train_samples)
                                                      : 0.0;
      const double per_step = static_cast<double>(workers_) * s.workload.batch_per_worker;
      warmup_ = kWarmupEpochs * static_cast<long>(std::ceil(samples / per_step));
    }
  }

  void run(WorkerContext& ctx) override {
    runtime::Trainer& trainer = ctx.trainer();
    const Workload& w = ctx.scenario().workload;
    const std::size_t n = trainer.params().numel();
    const bool real = trainer.is_real();
    // A returning worker copies a live replica; its velocity and momentum (local memory) restart at zero.
    Velocity v;
    v.residual.assign(real && error_feedback_ ? n : 0, 0.0f);
    v.momentum.assign(real && correcting_ ? n : 0, 0.0f);
    v.clip_B = dgc_.clip_norm / std::sqrt(static_cast<double>(workers_));
    runtime::OptimizerSpec plain = w.optimizer;  // the update once the momentum is in the velocity
    plain.name = "sgd";
    runtime::Optimizer plain_sgd(plain, real && correcting_ ? n : 0);
    // With overlap, DDP's buckets of the dense gradient (the cap counts its bytes), each sending
    // its own top-k as soon as the backward has produced it, as DGC's per-tensor hooks do.
    std::vector<GradientBucket> buckets;
    if (bucket_cap_B_) buckets = gradient_buckets(w.layers, n, trainer.grads().wire_bytes_per_value(), *bucket_cap_B_);
    if (buckets.size() <= 1) buckets = {GradientBucket{0, n, 0, 0, 0}};  // the atomic step: one top-k of the whole
    for (long step = ctx.start_round(); step < w.steps; ++step) {
      // One message per worker and bucket: k values then k indices (bit-copied into floats), 4 B each.
      std::vector<runtime::Tensor> packed, all;
      for (const GradientBucket& b : buckets) {
        const std::size_t k = kept(b.count, step);
        packed.push_back(real ? runtime::Tensor::zeros(2 * k) : runtime::Tensor::phantom(2 * k));
        all.push_back(runtime::Tensor::phantom(0));
      }
      const auto select_all = [&] {
        if (!real) return;
        prepare_velocity(trainer.grads().values(), v);
        for (std::size_t b = 0; b < buckets.size(); ++b)
          select(trainer.grads().values(), v, buckets[b].begin, buckets[b].count, packed[b]);
      };
      double loss = 0;
      const std::vector<int>* members = &ctx.all_ranks();
      if (buckets.size() > 1 && !ctx.faults_on()) {
        loss = overlapped_allgather_step(ctx, w.batch_per_worker, buckets, select_all, packed, all);
      } else if (buckets.size() > 1) {  // the buckets' all-gathers are the step's round, on the stream
        std::vector<int> in_round;
        loss = overlapped_group_allgather_step(ctx, w.batch_per_worker, buckets, select_all, packed, all, step, in_round);
        members = &ctx.keep_round_members(std::move(in_round));
      } else {
        loss = ctx.compute_gradient(w.batch_per_worker);
        select_all();
        // The all-gather leaves `packed` (and the velocity) as they were: a retry sends them again,
        // so there is nothing to restore.
        members = &ctx.sync_round(
            step, [&](const std::vector<int>& group) { all[0] = ctx.allgather(packed[0], group); }, [] {});
      }
      ctx.spend_optimizer_step();  // a dense optimizer step, in time as DDP's
      if (real) {
        auto g = trainer.grads().values();
        std::fill(g.begin(), g.end(), 0.0f);
        for (std::size_t b = 0; b < buckets.size(); ++b) {
          const std::size_t k = packed[b].numel() / 2;
          const auto a = all[b].values();
          for (std::size_t m = 0; m < members->size(); ++m)  // the members' rank order: a fixed order of additions
            kernels::scatter_add_pairs(g.data(), a.data() + m * 2 * k, k);
        }
        kernels::scale(g.data(), 1.0f / static_cast<float>(members->size()), n);
        if (correcting_) plain_sgd.step(trainer.params().values(), g);
        else trainer.optimizer_step(trainer.grads());
      }
      resilience::applied(ctx, step + 1, *members);
      ctx.end_step(w.batch_per_worker, loss, static_cast<int>(members->size()));
    }
  }

 private:
  // A worker's local memory: DGC's velocity (the error-feedback residual) and momentum.
  struct Velocity {
    std::vector<float> residual;
    std::vector<float> momentum;
    double clip_B = 0;  // each worker's clipping threshold (0: none)
  };

  // Entries sent of `n` at `step`: max(1, density x n), the density warming up (DGC) to `ratio`.
  std::size_t kept(std::size_t n, long step) const {
    double density = ratio_;
    if (step < warmup_) {
      const long stage = step * kWarmupStages / warmup_;
      density = std::max(ratio_, std::pow(kWarmupDensityFactor, static_cast<double>(stage + 1)));
    }
    return std::max<std::size_t>(1, static_cast<std::size_t>(density * static_cast<double>(n)));
  }

  // What comes before any selection, over the whole gradient: local clipping (of its norm) and
  // momentum correction (element-wise).
  void prepare_velocity(std::span<float> g, Velocity& v) const {
    if (dgc_.clip_norm > 0) kernels::clip_by_norm(g.data(), v.clip_B, g.size());
    if (correcting_) kernels::momentum_correction(v.momentum.data(), v.residual.data(), g.data(), momentum_, nesterov_, g.size());
  }

  // The (value, index) pairs this worker sends of entries [begin, begin+count), packed (their
  // number: packed's size / 2); moves them out of its velocity and masks their momentum.
  void select(std::span<float> g, Velocity& v, std::size_t begin, std::size_t count, runtime::Tensor& packed) const {
    const std::size_t k = packed.numel() / 2;
    std::vector<std::int32_t> idx(k);
    std::vector<float> val(k);
    if (correcting_) {
      kernels::select_and_mask(idx.data(), val.data(), v.residual.data() + begin,
                               dgc_.momentum_masking ? v.momentum.data() + begin : nullptr, count, k);
    } else if (error_feedback_) {
      kernels::error_feedback_topk(idx.data(), val.data(), v.residual.data() + begin, g.data() + begin, count, k);
    } else {
      kernels::topk_by_magnitude(idx.data(), val.data(), g.data() + begin, count, k);
    }
    for (auto& i : idx) i += static_cast<std::int32_t>(begin);
    kernels::pack_pairs(packed.values().data(), val.data(), idx.data(), k);
  }

  double ratio_;
  bool error_feedback_;
  DgcOptions dgc_;
  std::optional<double> bucket_cap_B_;  // overlap: the dense gradient's bucket cap in bytes
  bool correcting_ = false;
  int workers_ = 1;
  long warmup_ = 0;
  float momentum_ = 0;  // m of the workload's momentum/nesterov optimizer
  bool nesterov_ = false;
};

}  // namespace

StrategyInfo topk_strategy() {
  StrategyInfo info{"topk", "top-k sparsification: each worker sends its largest gradient entries", {}};
  info.knobs = {{"ratio", KnobType::number, 0.01, 0, 1, true, {}, "share of the gradient's entries sent"},
                {"error_feedback", KnobType::boolean, false, 0, 0, false, {}, "keep what was not sent and add it next step"}};
  for (auto& k : overlap_knobs(true, true)) info.knobs.push_back(std::move(k));
  info.on_failure = true;
  info.overlaps_under_faults = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& s) -> std::unique_ptr<Strategy> {
    const double ratio = read_number(reader, knob_of(knobs, "ratio"));
    const bool ef = read_boolean(reader, knob_of(knobs, "error_feedback"));
    DgcOptions plain;
    plain.warmup_steps = 0;
    return std::make_unique<TopK>(ratio, ef, plain, read_overlap(reader, knobs, s, {}, /*under_faults=*/true));
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) {
    if (knobs["error_feedback"].get<bool>()) b.add_worker("error-feedback residual", kFp32_B);
  };
  return info;
}

StrategyInfo dgc_strategy() {
  StrategyInfo info{"dgc", "deep gradient compression: top-k with error feedback, momentum correction and masking, "
                           "local clipping, sparsity warm-up", {}};
  info.knobs = {
      {"ratio", KnobType::number, 0.001, 0, 1, true, {}, "share of the gradient's entries sent after the warm-up"},
      {"momentum_correction", KnobType::boolean, true, 0, 0, false, {},
       "accumulate the momentum optimizer's velocity locally; the update applies no momentum again"},
      {"momentum_masking", KnobType::boolean, true, 0, 0, false, {}, "zero the local momentum of the entries sent"},
      {"clip_norm", KnobType::number, 0.0, 0, 1e30, false, {},
       "gradient-norm threshold; each of N workers clips its gradient at clip_norm / sqrt(N) (0: no clipping)"},
      {"warmup_steps", KnobType::integer, nullptr, 0, 100000000, false, {},
       "steps of the sparsity warm-up (75%, 93.75%, 98.4375%, 99.6% in four equal stages)",
       "4 epochs of the dataset (0 without one)", KnobRole::warmup}};
  for (auto& k : overlap_knobs(true, true)) info.knobs.push_back(std::move(k));
  info.on_failure = true;
  info.overlaps_under_faults = true;
  info.make = [knobs = info.knobs](JsonReader& reader, const Scenario& s) -> std::unique_ptr<Strategy> {
    const double ratio = read_number(reader, knob_of(knobs, "ratio"));
    DgcOptions dgc;
    dgc.momentum_correction = read_boolean(reader, knob_of(knobs, "momentum_correction"));
    dgc.momentum_masking = read_boolean(reader, knob_of(knobs, "momentum_masking"));
    dgc.clip_norm = read_number(reader, knob_of(knobs, "clip_norm"));
    if (reader.has("warmup_steps")) dgc.warmup_steps = read_integer(reader, knob_of(knobs, "warmup_steps"), 0);
    return std::make_unique<TopK>(ratio, true, dgc, read_overlap(reader, knobs, s, {}, /*under_faults=*/true));
  };
  info.add_state = [](const nlohmann::json& knobs, const std::string&, StateBytes& b) {
    b.add_worker("error-feedback residual", kFp32_B);
    if (knobs["momentum_correction"].get<bool>()) b.add_worker("local momentum", kFp32_B);
  };
  return info;
}

}  // namespace geotrain::sim
