// Binary-tree all-reduce: members form a binary heap over the group order (parent of i is
// (i-1)/2); full tensors flow up to group[0], which then broadcasts them down the same tree.
// Unpipelined: a complete tree of depth d takes 2d (alpha + 2S/beta) when a parent's NIC is the
// shared bottleneck for its two children.
#include "sim/collectives/collectives.h"
#include "sim/collectives/ring_internal.h"

namespace geotrain::sim {

void tree_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) return;
  const int i = detail::index_in(group, ctx.rank());
  const ChunkRange all{0, t.numel()};
  // Children first (left, then right: a fixed order of additions).
  std::vector<Transfer> from_children;
  for (int c : {2 * i + 1, 2 * i + 2})
    if (c < n) from_children.push_back(ctx.recv_async(group[c]));
  for (auto& rx : from_children) detail::accumulate(t, all, *ctx.wait(rx));
  detail::round_to_sum_format(t, all);  // a partial sum going up, or (the root) the complete sum
  if (i > 0) {
    Transfer tx = ctx.send_async(group[(i - 1) / 2], detail::values_of(t, all), t.wire_bytes(t.numel()));
    ctx.wait(tx);
  }
  tree_broadcast(ctx, t, group);
}

Schedule tree_allreduce_schedule(const runtime::Tensor& t, const std::vector<int>& group) {
  const int n = static_cast<int>(group.size());
  // Height of member i: 0 for a leaf, else one more than its highest child.
  std::vector<int> height(n, 0);
  for (int i = n - 1; i > 0; --i) height[(i - 1) / 2] = std::max(height[(i - 1) / 2], height[i] + 1);
  Schedule out(n > 1 ? height[0] : 0);
  for (int i = 1; i < n; ++i)  // a parent posts the receives from its children first thing
    out[height[i]].push_back({group[i], group[(i - 1) / 2], t.wire_bytes(t.numel()), true});
  run_after(out, tree_broadcast_schedule(t, group));
  return out;
}

}  // namespace geotrain::sim
