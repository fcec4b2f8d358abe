// Helpers for strategies whose deployed model is the average of the workers' replicas
// (EASGD, gossip), and for checking that replicas which must agree do.
#pragma once
#include <algorithm>
#include <cmath>
#include <span>
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

// The largest element-wise |a - b| (same sizes): how far two replicas that must agree are apart.
inline double max_abs_diff(std::span<const float> a, std::span<const float> b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double{a[i]} - b[i]));
  return worst;
}

}  // namespace geotrain::sim
