// The seam between a trainer and what runs its math: the model's forward/backward pass and the
// optimizer step.  The CPU backend (cpu_backend.h) is the first implementation; a CUDA backend
// is one more.  The element-wise ops of the strategies' update rules are in runtime/ops.h.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "runtime/model.h"
#include "runtime/optimizer.h"

namespace geotrain::runtime {

// A workload's "backend" setting: none (size-only: no values, no math) or cpu.
enum class BackendKind { none, cpu };
// "none" | "cpu" -> the kind; anything else -> nullopt.
std::optional<BackendKind> parse_backend(std::string_view name);
// The inverse of parse_backend.
std::string_view backend_name(BackendKind kind);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // Trainable values of the model.
  virtual std::size_t parameter_count() const = 0;
  // Mean loss of a batch of B samples and its gradient (overwrites `grads`).  x is (B, inputs);
  // labels (B) for cross-entropy, targets (B) for squared loss.  Uses the backend's own scratch
  // buffers: one pass at a time per backend.
  virtual double forward_backward(std::span<float> grads, std::span<const float> params, const float* x,
                                  const std::int32_t* labels, const float* targets, int B) = 0;
  // params = optimizer(params, g) with the optimizer's learning rate x lr_scale; the optimizer
  // holds its moments and step count.
  virtual void optimizer_step(Optimizer& optimizer, std::span<float> params, std::span<const float> g,
                              double lr_scale) = 0;
};

// A backend of `kind` running `model`.  REQUIRES: kind != none (size-only trainers have none).
std::unique_ptr<Backend> make_backend(BackendKind kind, const ModelSpec& model);

}  // namespace geotrain::runtime
