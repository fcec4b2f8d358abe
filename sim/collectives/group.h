// The members of one all-reduce call, as the collective table's entries take them (table.h).
#pragma once
#include <algorithm>
#include <vector>

namespace geotrain::sim {

struct AllreduceGroup {
  std::vector<int> order;                 // the members in the platform's ring order
  std::vector<std::vector<int>> regions;  // the members of each region (leader first), regions in ring order
  // The whole fleet (Platform::all_group(), built once): `position` holds each rank's place in
  // `order`, so a member finds its place, and a collective its meeting, without a search over the
  // members (at 10,000 workers a search per worker per step is 10^8 steps per step).
  bool whole = false;
  std::vector<int> position;

  // Where `rank` is in `order`; -1 when it is not a member.
  int position_of(int rank) const {
    if (whole) return rank >= 0 && rank < static_cast<int>(position.size()) ? position[rank] : -1;
    const auto it = std::find(order.begin(), order.end(), rank);
    return it == order.end() ? -1 : static_cast<int>(it - order.begin());
  }
};

}  // namespace geotrain::sim
