// Ring all-gather: every member forwards the chunk it received last; n-1 steps of S/n bytes.
// Time on an uncontended ring: (n-1) (alpha + S / (n beta)).
// Real values travel zero-copy (lent_values.h): step s lends chunk i+offset-s and writes chunk
// i+offset-s-1, which no earlier all-gather step lent (for what a reduce-scatter lent before it,
// see ring_allreduce.cc).
#include "sim/collectives/collectives.h"
#include "sim/collectives/ring_internal.h"

namespace geotrain::sim {

void detail::ring_allgather(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                            int offset, Lender& lender) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) return;
  const int i = index_in(group, ctx.rank());
  const int next = group[(i + 1) % n];
  const int prev = group[mod(i - 1, n)];
  for (int s = 0; s < n - 1; ++s) {
    const ChunkRange out = chunk_range(t.numel(), n, mod(i + offset - s, n));
    const ChunkRange in = chunk_range(t.numel(), n, mod(i + offset - s - 1, n));
    exchange_lent(ctx, t, lender, next, out, prev, in, kernels::copy);
  }
}

void ring_allgather_chunks(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                           int offset) {
  detail::Lender lender;
  detail::ring_allgather(ctx, t, group, offset, lender);
}

Schedule ring_allgather_schedule(const runtime::Tensor& t, const std::vector<int>& group, int offset) {
  return detail::ring_step_schedule(t, group, offset);
}

}  // namespace geotrain::sim
