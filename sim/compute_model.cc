// Achieved FLOP/s, optimizer step time and fleet peak.
#include "sim/compute_model.h"

namespace geotrain::sim {

double achieved_utilization(const Scenario& s, int fleet_entry) {
  const FleetEntry& f = s.fleet.at(static_cast<std::size_t>(fleet_entry));
  if (f.mfu > 0) return f.mfu;
  if (s.workload.mfu > 0) return s.workload.mfu;
  return s.topology.instance_types.at(f.instance).utilization;
}

double worker_flops(const Scenario& s, int fleet_entry) {
  const InstanceType& t = s.topology.instance_types.at(s.fleet.at(static_cast<std::size_t>(fleet_entry)).instance);
  // The same product as InstanceType::effective_flops(), so that runs without overrides keep their bits.
  return t.gpus * t.gpu_peak_flops * achieved_utilization(s, fleet_entry);
}

int optimizer_state_tensors(const runtime::OptimizerSpec& optimizer) {
  if (optimizer.name == "adamw") return 2;
  if (optimizer.name == "momentum" || optimizer.name == "nesterov") return 1;
  return 0;
}

double optimizer_step_bytes_per_param(const Workload& w) {
  constexpr double kReadAndWrite = 2;
  return kReadAndWrite * w.wire_bytes_per_param + w.wire_bytes_per_param +
         kReadAndWrite * optimizer_state_tensors(w.optimizer) * w.optimizer_state_bytes_per_value;
}

double optimizer_step_s(const Scenario& s, const InstanceType& type) {
  if (type.hbm_Bps <= 0) return 0;
  return s.workload.parameters * optimizer_step_bytes_per_param(s.workload) / (type.gpus * type.hbm_Bps);
}

double offloaded_optimizer_step_s(const Workload& w, double host_memory_Bps) {
  constexpr double kFp32Bytes = 4, kReadAndWrite = 2;
  if (host_memory_Bps <= 0) return 0;
  return w.parameters * (kFp32Bytes * (kReadAndWrite * (1 + optimizer_state_tensors(w.optimizer)) + 1)) / host_memory_Bps;
}

double fleet_peak_flops(const Scenario& s) {
  double peak = 0;
  for (const auto& f : s.fleet) {
    const InstanceType& t = s.topology.instance_types.at(f.instance);
    peak += f.count * t.gpus * t.gpu_peak_flops;
  }
  return peak;
}

}  // namespace geotrain::sim
