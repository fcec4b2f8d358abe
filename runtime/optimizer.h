// An optimizer with its state for one parameter vector: sgd, momentum, nesterov, adamw, with an
// optional linear learning-rate warm-up.
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
};

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
  long steps_ = 0;
};

}  // namespace geotrain::runtime
