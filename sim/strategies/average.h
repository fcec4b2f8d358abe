// Helpers for strategies whose deployed model is the average of the workers' replicas
// (EASGD, gossip), and for checking that replicas which must agree do.
#pragma once
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "runtime/ops.h"
#include "sim/context.h"

namespace geotrain::sim {

// The element-wise mean of the parameters of the workers `include` marks (every worker when it
// is empty or marks none); empty for size-only runs.
inline std::vector<float> average_of_replicas(const World& world, const std::vector<bool>& include = {}) {
  if (!world.trainers.front()->is_real()) return {};
  const bool all = std::find(include.begin(), include.end(), true) == include.end();
  std::vector<std::span<const float>> replicas;
  for (std::size_t r = 0; r < world.trainers.size(); ++r)
    if (all || include[r]) replicas.push_back(world.trainers[r]->params().values());
  std::vector<float> out(world.trainers.front()->params().numel());
  runtime::ops::mean(out, replicas);
  return out;
}

// The largest element-wise |a - b| (same sizes): how far two replicas that must agree are apart.
inline double max_abs_diff(std::span<const float> a, std::span<const float> b) {
  return runtime::ops::max_abs_diff(a, b);
}

}  // namespace geotrain::sim
