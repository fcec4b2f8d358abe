// An optimizer with its state for one parameter vector: sgd, momentum, nesterov, adamw, with an
// optional linear learning-rate warm-up, an optional cosine decay after it, and optional
// gradient clipping by global norm.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace geotrain::runtime {

enum class OptimizerKind { sgd, momentum, nesterov, adamw };
// "sgd" | "momentum" | "nesterov" | "adamw" -> the kind; anything else -> nullopt.
std::optional<OptimizerKind> parse_optimizer_kind(std::string_view name);

struct OptimizerSpec {
  std::string name = "sgd";  // "sgd" | "momentum" | "nesterov" | "adamw"
  double lr = 0.1;
  double momentum = 0.9;     // momentum, nesterov
  double weight_decay = 0;   // L2 for the SGD family, decoupled for AdamW
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adamw
  long warmup_steps = 0;     // lr ramps linearly over the first warmup_steps steps
  bool cosine = false;       // after the warm-up, lr decays as a half cosine ...
  long decay_steps = 0;      // ... reaching lr x min_lr_ratio at step decay_steps (and staying)
  double min_lr_ratio = 0.1;
  double clip_norm = 0;      // > 0: a gradient of larger global L2 norm is scaled down to it
};

// The learning-rate factor of step `step` (counted from 1) of `spec`: the warm-up's
// min(1, step / warmup_steps), times, with cosine, min_lr_ratio + (1 - min_lr_ratio) x
// (1 + cos(pi x progress)) / 2 with progress = (step - warmup_steps) / (decay_steps -
// warmup_steps) clamped to [0, 1].
double lr_factor(const OptimizerSpec& spec, long step);

class Optimizer {
 public:
  Optimizer(OptimizerSpec spec, std::size_t n);
  // w = update(w, g) with learning rate spec.lr x warm-up x lr_scale.
  void step(std::span<float> w, std::span<const float> g, double lr_scale = 1.0);
  // Forgets moments and step count (fresh state, same spec).
  void reset();
  long steps() const { return steps_; }
  const OptimizerSpec& spec() const { return spec_; }

 private:
  OptimizerSpec spec_;
  OptimizerKind kind_;  // spec_.name, parsed once
  std::vector<float> m_, v_;
  std::vector<float> clipped_;  // the gradient, clipped, when clip_norm > 0
  long steps_ = 0;
};

}  // namespace geotrain::runtime
