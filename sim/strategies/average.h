// Helpers for strategies whose deployed model is the average of the workers' replicas
// (EASGD, gossip).
#pragma once
#include <vector>

#include "sim/context.h"

namespace geotrain::sim {

// The element-wise mean of every worker's parameters (empty for size-only runs).
inline std::vector<float> average_of_replicas(const World& world) {
  if (!world.trainers.front()->is_real()) return {};
  const auto first = world.trainers.front()->params().values();
  std::vector<double> sum(first.size(), 0.0);
  for (const auto& t : world.trainers) {
    const auto v = t->params().values();
    for (std::size_t i = 0; i < v.size(); ++i) sum[i] += v[i];
  }
  std::vector<float> out(sum.size());
  for (std::size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<float>(sum[i] / static_cast<double>(world.trainers.size()));
  return out;
}

}  // namespace geotrain::sim
