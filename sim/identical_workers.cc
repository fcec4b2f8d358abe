#include "sim/identical_workers.h"

#include "sim/compute_model.h"

namespace geotrain::sim {
namespace {
bool rule_on = true;
}  // namespace

void set_identical_workers_rule(bool on) { rule_on = on; }
bool identical_workers_rule() { return rule_on; }

bool one_actor_for_all_workers(const Scenario& s, bool same_program, std::size_t servers) {
  if (!rule_on || !same_program || s.network.fidelity != Fidelity::collective || s.has_faults() ||
      s.faults.checkpoint || s.workload.backend != runtime::BackendKind::none || s.workload.measured_compute ||
      servers > 0)
    return false;
  // Every worker's host computes at its fleet entry's rate (platform.cc), on one core.
  const auto rate = [&](std::size_t e) { return worker_flops(s, static_cast<int>(e)); };
  const auto optimizer_s = [&](std::size_t e) {
    return optimizer_step_s(s, s.topology.instance_types.at(s.fleet[e].instance));
  };
  std::size_t first = 0;
  while (first < s.fleet.size() && s.fleet[first].count == 0) ++first;
  for (std::size_t e = first; e < s.fleet.size(); ++e)
    if (s.fleet[e].count > 0 && (rate(e) != rate(first) || optimizer_s(e) != optimizer_s(first))) return false;
  return true;
}

}  // namespace geotrain::sim
