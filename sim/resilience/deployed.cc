// The average of the workers' replicas, as the deployed model.
#include "sim/resilience/deployed.h"

#include <algorithm>
#include <span>

#include "runtime/ops.h"
#include "sim/resilience/replica.h"

namespace geotrain::sim::resilience {

std::vector<float> average_of_replicas(const World& world, const std::vector<bool>& include) {
  if (!world.trainers.front()->is_real()) return {};
  const bool all = std::find(include.begin(), include.end(), true) == include.end();
  std::vector<std::span<const float>> replicas;
  for (std::size_t r = 0; r < world.trainers.size(); ++r)
    if (all || include[r]) replicas.push_back(world.trainers[r]->params().values());
  std::vector<float> out(world.trainers.front()->params().numel());
  runtime::ops::mean(out, replicas);
  return out;
}

std::vector<float> average_of_live_replicas(const World& world, const std::vector<float>& if_none) {
  std::vector<bool> live(world.trainers.size());
  for (std::size_t r = 0; r < live.size(); ++r) live[r] = alive(world, static_cast<int>(r));
  if (std::find(live.begin(), live.end(), true) == live.end()) return if_none;
  return average_of_replicas(world, live);
}

}  // namespace geotrain::sim::resilience
