// Pareto fronts: an O(n log n) sweep over points sorted by the first coordinate.
#include "analysis/pareto.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace geotrain::analysis {

std::vector<std::size_t> pareto_front(const std::vector<std::pair<double, double>>& points_min_min) {
  const auto& p = points_min_min;
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&p](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  // Walk groups of equal x in ascending x.  A point is dominated iff an earlier group (smaller x)
  // reached y <= its y, or its own group holds a smaller y.
  std::vector<std::size_t> front;
  double best_y = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && p[order[j]].first == p[order[i]].first) ++j;
    const double group_min_y = p[order[i]].second;  // sorted by (x, y): the group's first is its smallest y
    if (group_min_y < best_y)
      for (std::size_t k = i; k < j && p[order[k]].second == group_min_y; ++k) front.push_back(order[k]);
    best_y = std::min(best_y, group_min_y);
    i = j;
  }
  std::sort(front.begin(), front.end());
  return front;
}

SweepPareto sweep_pareto(const std::vector<PointRow>& rows) {
  SweepPareto result;
  const bool all_reach_target =
      !rows.empty() && std::all_of(rows.begin(), rows.end(), [](const PointRow& r) { return metric(r, "time_to_target_s").has_value(); });
  result.speed_column = all_reach_target ? "time_to_target_s" : "throughput_samples_per_s";
  result.maximize_speed = !all_reach_target;
  std::vector<std::pair<double, double>> points;
  std::vector<std::size_t> row_of;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto speed = metric(rows[i], result.speed_column);
    const auto usd = metric(rows[i], "total_usd");
    if (!speed || !usd) continue;
    points.emplace_back(result.maximize_speed ? -*speed : *speed, *usd);
    row_of.push_back(i);
  }
  for (const std::size_t k : pareto_front(points)) result.rows.push_back(row_of[k]);
  std::stable_sort(result.rows.begin(), result.rows.end(), [&rows](std::size_t a, std::size_t b) {
    return *metric(rows[a], "total_usd") < *metric(rows[b], "total_usd");
  });
  return result;
}

}  // namespace geotrain::analysis
