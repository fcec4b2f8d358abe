// Helpers for strategies whose deployed model is the average of the workers' replicas
// (EASGD, gossip).
#pragma once
#include <algorithm>
#include <vector>

#include "sim/context.h"

namespace geotrain::sim {

// The element-wise mean of the parameters of the workers `include` marks (every worker when it
// is empty or marks none); empty for size-only runs.
inline std::vector<float> average_of_replicas(const World& world, const std::vector<bool>& include = {}) {
  if (!world.trainers.front()->is_real()) return {};
  const bool all = std::find(include.begin(), include.end(), true) == include.end();
  const auto first = world.trainers.front()->params().values();
  std::vector<double> sum(first.size(), 0.0);
  std::size_t count = 0;
  for (std::size_t r = 0; r < world.trainers.size(); ++r) {
    if (!all && !include[r]) continue;
    const auto v = world.trainers[r]->params().values();
    for (std::size_t i = 0; i < v.size(); ++i) sum[i] += v[i];
    ++count;
  }
  std::vector<float> out(sum.size());
  for (std::size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<float>(sum[i] / static_cast<double>(count));
  return out;
}

}  // namespace geotrain::sim
