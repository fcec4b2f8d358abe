// Ring all-reduce: reduce-scatter then all-gather around the ring, 2(n-1) steps of S/n bytes.
// Time on an uncontended ring: 2(n-1) (alpha + S / (n beta)).
//
// Real values travel zero-copy (lent_values.h): a member lends its chunk and the receiver reads
// it in place.  Why member j never writes a chunk its successor j+1 has not read yet:
//  - j+1 reads what j lent in a step before posting its next receive from j (exchange_lent), and
//    a send completes only once its receive was posted: so when a send of j to j+1 completed,
//    j+1 has read everything j lent it in earlier steps;
//  - reduce-scatter step s lends chunk j-s and writes chunk j-s-1, never lent before in the call;
//  - all-gather step s (offset 1) writes chunk j-s, lent in reduce-scatter step s: j's completed
//    send of reduce-scatter step s+1 (s < n-2), or of all-gather step n-3 (s = n-2 >= 1), proves
//    the read; with n = 2, j+1 = j-1 sent the all-gather chunk only after its reduce-scatter;
//  - all-gather step s lends chunk j+1-s, written by no later step.
// Lender::before_write() checks this at every write; what is still unread when the call ends
// (the last all-gather send) is copied then (taken back).
#include "sim/collectives/collectives.h"
#include "sim/collectives/ring_internal.h"

namespace geotrain::sim {

namespace detail {

void ring_reduce_scatter(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                         Lender& lender, float factor) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) return;
  const int i = index_in(group, ctx.rank());
  const int next = group[(i + 1) % n];
  const int prev = group[mod(i - 1, n)];
  for (int s = 0; s < n - 1; ++s) {
    const ChunkRange out = chunk_range(t.numel(), n, mod(i - s, n));
    const ChunkRange in = chunk_range(t.numel(), n, mod(i - s - 1, n));
    lender.before_write(out);
    round_to_sum_format(t, out);  // the partial sum goes out in the sum format
    if (s == n - 2 && factor != 1.0f) {
      exchange_lent(ctx, t, lender, next, out, prev, in,
                    [factor](float* dst, const float* src, std::size_t count) {
                      kernels::add_then_scale(dst, src, factor, count);
                    });
    } else {
      exchange_lent(ctx, t, lender, next, out, prev, in, kernels::add_into);
    }
  }
}

}  // namespace detail

void ring_reduce_scatter_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group) {
  detail::Lender lender;
  detail::ring_reduce_scatter(ctx, t, group, lender, 1.0f);
}

namespace {

// After the reduce-scatter member i holds the complete chunk i+1: rounded once through the sum
// format, before the all-gather sends it around unchanged.
void round_completed_chunk(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                           detail::Lender& lender) {
  const int n = static_cast<int>(group.size());
  if (n <= 1) return;
  const ChunkRange mine = chunk_range(t.numel(), n, (detail::index_in(group, ctx.rank()) + 1) % n);
  lender.before_write(mine);
  detail::round_to_sum_format(t, mine);
}

}  // namespace

void ring_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group) {
  detail::Lender lender;
  detail::ring_reduce_scatter(ctx, t, group, lender, 1.0f);
  round_completed_chunk(ctx, t, group, lender);
  detail::ring_allgather(ctx, t, group, 1, lender);
}

void ring_allreduce_mean(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group) {
  const float factor = 1.0f / static_cast<float>(group.size());
  detail::Lender lender;
  detail::ring_reduce_scatter(ctx, t, group, lender, factor);
  round_completed_chunk(ctx, t, group, lender);
  detail::ring_allgather(ctx, t, group, 1, lender);
}

Schedule detail::ring_step_schedule(const runtime::Tensor& t, const std::vector<int>& group, int first) {
  const int n = static_cast<int>(group.size());
  Schedule out;
  if (n <= 1) return out;
  RingStep step;
  step.ring = std::make_shared<const std::vector<int>>(group);
  step.first = first;
  const ChunkRange small = chunk_range(t.numel(), n, n - 1);  // chunk_range: the last chunk is the shortest
  step.large_chunks = static_cast<int>(t.numel() % static_cast<std::size_t>(n));
  step.small_B = t.wire_bytes(small.count);
  step.large_B = t.wire_bytes(small.count + 1);
  for (int s = 0; s + 1 < n; ++s) {
    step.step = s;
    out.emplace_back().add_ring_step(step);
  }
  return out;
}

Schedule ring_reduce_scatter_schedule(const runtime::Tensor& t, const std::vector<int>& group) {
  return detail::ring_step_schedule(t, group, 0);
}

Schedule ring_allreduce_schedule(const runtime::Tensor& t, const std::vector<int>& group) {
  Schedule out = ring_reduce_scatter_schedule(t, group);
  run_after(out, ring_allgather_schedule(t, group, 1));
  return out;
}

}  // namespace geotrain::sim
