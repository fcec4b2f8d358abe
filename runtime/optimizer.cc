// Optimizer: dispatch to the update kernels, warm-up schedule.
#include "runtime/optimizer.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/optim.h"
#include "kernels/sparse.h"
#include "kernels/check.h"

namespace geotrain::runtime {

std::optional<OptimizerKind> parse_optimizer_kind(std::string_view name) {
  if (name == "sgd") return OptimizerKind::sgd;
  if (name == "momentum") return OptimizerKind::momentum;
  if (name == "nesterov") return OptimizerKind::nesterov;
  if (name == "adamw") return OptimizerKind::adamw;
  return std::nullopt;
}

namespace {
OptimizerKind kind_of(const OptimizerSpec& spec) {
  const auto kind = parse_optimizer_kind(spec.name);
  GEOTRAIN_CHECK(kind.has_value(), "unknown optimizer (validated at load)");
  return *kind;
}
}  // namespace

double lr_factor(const OptimizerSpec& spec, long step) {
  double factor = 1;
  if (spec.warmup_steps > 0) factor = std::min(1.0, static_cast<double>(step) / spec.warmup_steps);
  if (spec.cosine && step > spec.warmup_steps) {
    const double span = static_cast<double>(spec.decay_steps - spec.warmup_steps);
    const double progress = span > 0 ? std::clamp((step - spec.warmup_steps) / span, 0.0, 1.0) : 1.0;
    factor *= spec.min_lr_ratio + (1 - spec.min_lr_ratio) * 0.5 * (1 + std::cos(std::numbers::pi * progress));
  }
  return factor;
}

Optimizer::Optimizer(OptimizerSpec spec, std::size_t n) : spec_(std::move(spec)), kind_(kind_of(spec_)) {
  if (kind_ != OptimizerKind::sgd) m_.assign(n, 0.0f);
  if (kind_ == OptimizerKind::adamw) v_.assign(n, 0.0f);
}

void Optimizer::reset() {
  std::fill(m_.begin(), m_.end(), 0.0f);
  std::fill(v_.begin(), v_.end(), 0.0f);
  steps_ = 0;
}

void Optimizer::step(std::span<float> w, std::span<const float> g, double lr_scale) {
  GEOTRAIN_CHECK(w.size() == g.size(), "gradient and parameters differ in size");
  ++steps_;
  const double lr = spec_.lr * lr_scale * lr_factor(spec_, steps_);
  const auto n = w.size();
  if (spec_.clip_norm > 0) {  // on a copy: the caller's gradient stays as it is
    clipped_.assign(g.begin(), g.end());
    kernels::clip_by_norm(clipped_.data(), spec_.clip_norm, n);
    g = clipped_;
  }
  const float f_lr = static_cast<float>(lr), wd = static_cast<float>(spec_.weight_decay);
  switch (kind_) {
    case OptimizerKind::sgd: kernels::sgd_step(w.data(), g.data(), f_lr, wd, n); break;
    case OptimizerKind::momentum:
      kernels::momentum_step(w.data(), m_.data(), g.data(), f_lr, static_cast<float>(spec_.momentum), wd, n);
      break;
    case OptimizerKind::nesterov:
      kernels::nesterov_step(w.data(), m_.data(), g.data(), f_lr, static_cast<float>(spec_.momentum), wd, n);
      break;
    case OptimizerKind::adamw:
      kernels::adamw_step(w.data(), m_.data(), v_.data(), g.data(), f_lr, static_cast<float>(spec_.beta1),
                          static_cast<float>(spec_.beta2), static_cast<float>(spec_.eps), wd, steps_, n);
      break;
  }
}

}  // namespace geotrain::runtime
