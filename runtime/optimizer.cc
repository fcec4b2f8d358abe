// Optimizer: dispatch to the update kernels, warm-up schedule.
#include "runtime/optimizer.h"

#include <algorithm>

#include "kernels/optim.h"
#include "kernels/check.h"

namespace geotrain::runtime {

Optimizer::Optimizer(OptimizerSpec spec, std::size_t n) : spec_(std::move(spec)) {
  if (spec_.name != "sgd") m_.assign(n, 0.0f);
  if (spec_.name == "adamw") v_.assign(n, 0.0f);
}

void Optimizer::reset() {
  std::fill(m_.begin(), m_.end(), 0.0f);
  std::fill(v_.begin(), v_.end(), 0.0f);
  steps_ = 0;
}

void Optimizer::step(std::span<float> w, std::span<const float> g, double lr_scale) {
  GEOTRAIN_CHECK(w.size() == g.size(), "gradient and parameters differ in size");
  ++steps_;
  double lr = spec_.lr * lr_scale;
  if (spec_.warmup_steps > 0) lr *= std::min(1.0, static_cast<double>(steps_) / spec_.warmup_steps);
  const auto n = w.size();
  const float f_lr = static_cast<float>(lr), wd = static_cast<float>(spec_.weight_decay);
  if (spec_.name == "sgd") kernels::sgd_step(w.data(), g.data(), f_lr, wd, n);
  else if (spec_.name == "momentum")
    kernels::momentum_step(w.data(), m_.data(), g.data(), f_lr, static_cast<float>(spec_.momentum), wd, n);
  else if (spec_.name == "nesterov")
    kernels::nesterov_step(w.data(), m_.data(), g.data(), f_lr, static_cast<float>(spec_.momentum), wd, n);
  else {
    GEOTRAIN_CHECK(spec_.name == "adamw", "unknown optimizer");
    kernels::adamw_step(w.data(), m_.data(), v_.data(), g.data(), f_lr, static_cast<float>(spec_.beta1),
                        static_cast<float>(spec_.beta2), static_cast<float>(spec_.eps), wd, steps_, n);
  }
}

}  // namespace geotrain::runtime
