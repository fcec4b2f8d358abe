// Ring all-reduce: reduce-scatter then all-gather around the ring, 2(n-1) steps of S/n bytes.
// Time on an uncontended ring: 2(n-1) (alpha + S / (n beta)).
#include "sim/collectives/collectives.h"
#include "sim/collectives/ring_internal.h"

namespace geotrain::sim {

void ring_reduce_scatter_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) return;
  const int i = detail::index_in(group, ctx.rank());
  const int next = group[(i + 1) % n];
  const int prev = group[detail::mod(i - 1, n)];
  for (int s = 0; s < n - 1; ++s) {
    const ChunkRange out = chunk_range(t.numel(), n, detail::mod(i - s, n));
    const ChunkRange in = chunk_range(t.numel(), n, detail::mod(i - s - 1, n));
    auto msg = detail::exchange(ctx, t, next, out, prev);
    detail::accumulate(t, in, *msg);
  }
}

void ring_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group) {
  ring_reduce_scatter_sum(ctx, t, group);
  ring_allgather_chunks(ctx, t, group, 1);
}

}  // namespace geotrain::sim
