// The CPU backend: the model's passes through kernels/ (BLAS GEMMs) and the optimizer's CPU
// update kernels.  The reference every other backend is checked against.
#pragma once
#include "runtime/backend.h"

namespace geotrain::runtime {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const ModelSpec& model) : model_(model) {}
  BackendKind kind() const override { return BackendKind::cpu; }
  std::size_t parameter_count() const override { return model_.parameter_count(); }
  double forward_backward(std::span<float> grads, std::span<const float> params, const float* x,
                          const std::int32_t* labels, const float* targets, int B) override;
  void optimizer_step(Optimizer& optimizer, std::span<float> params, std::span<const float> g,
                      double lr_scale) override;

 private:
  Mlp model_;
};

}  // namespace geotrain::runtime
