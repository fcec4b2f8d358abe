// The deployed model of strategies whose workers each hold a replica of their own (EASGD,
// gossip): the mean of the replicas, and under faults of the live ones only (a preempted
// worker's replica is gone with its instance).
#pragma once
#include <vector>

#include "sim/context.h"

namespace geotrain::sim::resilience {

// The element-wise mean of the parameters of the workers `include` marks (every worker when it
// is empty or marks none); empty for size-only runs.
std::vector<float> average_of_replicas(const World& world, const std::vector<bool>& include = {});

// The mean of the replicas of the workers that are up; `if_none` when none is.
std::vector<float> average_of_live_replicas(const World& world, const std::vector<float>& if_none);

}  // namespace geotrain::sim::resilience
