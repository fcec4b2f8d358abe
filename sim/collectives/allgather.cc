// Ring all-gather: every member forwards the chunk it received last; n-1 steps of S/n bytes.
// Time on an uncontended ring: (n-1) (alpha + S / (n beta)).
#include "sim/collectives/collectives.h"
#include "sim/collectives/ring_internal.h"

namespace geotrain::sim {

void ring_allgather_chunks(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                           int offset) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) return;
  const int i = detail::index_in(group, ctx.rank());
  const int next = group[(i + 1) % n];
  const int prev = group[detail::mod(i - 1, n)];
  for (int s = 0; s < n - 1; ++s) {
    const ChunkRange out = chunk_range(t.numel(), n, detail::mod(i + offset - s, n));
    const ChunkRange in = chunk_range(t.numel(), n, detail::mod(i + offset - s - 1, n));
    auto msg = detail::exchange(ctx, t, next, out, prev);
    detail::overwrite(t, in, *msg);
  }
}

}  // namespace geotrain::sim
