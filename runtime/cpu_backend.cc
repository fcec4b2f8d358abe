// CPU backend, and the backend names and factory.
#include "runtime/cpu_backend.h"

#include "kernels/check.h"

namespace geotrain::runtime {

std::optional<BackendKind> parse_backend(std::string_view name) {
  if (name == "none") return BackendKind::none;
  if (name == "cpu") return BackendKind::cpu;
  return std::nullopt;
}

std::string_view backend_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::none: return "none";
    case BackendKind::cpu: return "cpu";
  }
  return "?";
}

std::unique_ptr<Backend> make_backend(BackendKind kind, const ModelSpec& model) {
  GEOTRAIN_CHECK(kind == BackendKind::cpu, "no backend of this kind (size-only trainers have none)");
  return std::make_unique<CpuBackend>(model);
}

double CpuBackend::forward_backward(std::span<float> grads, std::span<const float> params, const float* x,
                                    const std::int32_t* labels, const float* targets, int B) {
  return model_.loss_and_grad(grads, params, x, labels, targets, B);
}

void CpuBackend::optimizer_step(Optimizer& optimizer, std::span<float> params, std::span<const float> g,
                                double lr_scale) {
  optimizer.step(params, g, lr_scale);
}

}  // namespace geotrain::runtime
