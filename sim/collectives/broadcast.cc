// Binary-tree broadcast from group[0]: each member receives the full tensor from its parent and
// forwards it to its two children at once. Depth d takes d (alpha + 2S/beta) on shared NICs.
#include "sim/collectives/collectives.h"
#include "sim/collectives/ring_internal.h"

namespace geotrain::sim {

void tree_broadcast(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) return;
  const int i = detail::index_in(group, ctx.rank());
  const ChunkRange all{0, t.numel()};
  if (i > 0) {
    Transfer rx = ctx.recv_async(group[(i - 1) / 2]);
    detail::overwrite(t, all, *ctx.wait(rx));
  }
  std::vector<Transfer> to_children;
  for (int c : {2 * i + 1, 2 * i + 2})
    if (c < n) to_children.push_back(ctx.send_async(group[c], detail::values_of(t, all), t.wire_bytes(t.numel())));
  for (auto& tx : to_children) ctx.wait(tx);
}

Schedule tree_broadcast_schedule(const runtime::Tensor& t, const std::vector<int>& group) {
  Schedule out;
  const int n = static_cast<int>(group.size());
  for (int first = 1; first < n; first = 2 * first + 1) {  // one level of the heap: [first, 2 first]
    Phase& phase = out.emplace_back();
    for (int i = first; i < std::min(n, 2 * first + 1); ++i)
      phase.push_back({group[(i - 1) / 2], group[i], t.wire_bytes(t.numel())});
  }
  return out;
}

}  // namespace geotrain::sim
