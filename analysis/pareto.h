// Pareto fronts over sweep points: which points no other point beats on both speed and dollars.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "analysis/sweep_table.h"

namespace geotrain::analysis {

// Indices of the points not dominated when both coordinates are minimized, in input order.  A
// point dominates another when it is no worse in both and better in at least one; equal points
// do not dominate each other (both stay).
std::vector<std::size_t> pareto_front(const std::vector<std::pair<double, double>>& points_min_min);

struct SweepPareto {
  std::string speed_column;   // "time_to_target_s" (minimized) or "throughput_samples_per_s" (maximized)
  bool maximize_speed = false;
  std::vector<std::size_t> rows;  // indices into the rows given, sorted by total_usd ascending
};

// The front of sweep rows on speed vs total_usd (minimized).  Speed is time_to_target_s when every
// row has one, else throughput_samples_per_s; rows lacking the speed or total_usd are left out.
SweepPareto sweep_pareto(const std::vector<PointRow>& rows);

}  // namespace geotrain::analysis
