// Hierarchical all-reduce: inside each region a ring reduce-scatter and a gather of the chunks
// to the region's leader; a ring all-reduce among the leaders (the only WAN traffic: each WAN
// hop of the leader ring carries 2(R-1)/R x S); then the leader scatters the chunks back and a
// ring all-gather completes every member.
#include "sim/collectives/collectives.h"
#include "sim/collectives/ring_internal.h"

namespace geotrain::sim {
namespace {

// After ring_reduce_scatter_sum member i holds chunk (i+1) mod k: gather them to member 0.
void gather_to_leader(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& region, int i) {
  const int k = static_cast<int>(region.size());
  if (i == 0) {
    std::vector<Transfer> rx;
    for (int m = 1; m < k; ++m) rx.push_back(ctx.recv_async(region[m]));
    for (int m = 1; m < k; ++m)
      detail::overwrite(t, chunk_range(t.numel(), k, (m + 1) % k), *ctx.wait(rx[m - 1]));
  } else {
    const ChunkRange mine = chunk_range(t.numel(), k, (i + 1) % k);
    detail::round_to_sum_format(t, mine);  // the region's partial sum goes out in the sum format
    Transfer tx = ctx.send_async(region[0], detail::values_of(t, mine), t.wire_bytes(mine.count));
    ctx.wait(tx);
  }
}

// The leader sends member m chunk (m+1) mod k, the layout ring_allgather_chunks(offset 1) expects.
void scatter_from_leader(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& region, int i) {
  const int k = static_cast<int>(region.size());
  if (i == 0) {
    std::vector<Transfer> tx;
    for (int m = 1; m < k; ++m) {
      const ChunkRange c = chunk_range(t.numel(), k, (m + 1) % k);
      tx.push_back(ctx.send_async(region[m], detail::values_of(t, c), t.wire_bytes(c.count)));
    }
    for (auto& x : tx) ctx.wait(x);
  } else {
    Transfer rx = ctx.recv_async(region[0]);
    detail::overwrite(t, chunk_range(t.numel(), k, (i + 1) % k), *ctx.wait(rx));
  }
}

}  // namespace

void hierarchical_allreduce_sum(WorkerContext& ctx, runtime::Tensor& t,
                                const std::vector<std::vector<int>>& regions) {
  const std::vector<int>* mine = nullptr;
  std::vector<int> leaders;
  for (const auto& r : regions) {
    leaders.push_back(r.front());
    if (std::find(r.begin(), r.end(), ctx.rank()) != r.end()) mine = &r;
  }
  GEOTRAIN_CHECK(mine != nullptr, "worker belongs to no region group");
  const int i = detail::index_in(*mine, ctx.rank());
  const bool local = mine->size() > 1;

  if (local) {
    ring_reduce_scatter_sum(ctx, t, *mine);
    gather_to_leader(ctx, t, *mine, i);
  }
  if (i == 0) ring_allreduce_sum(ctx, t, leaders);
  // One region: the leader's own chunk is complete here (the leaders' ring rounds the others').
  if (i == 0 && local && leaders.size() == 1)
    detail::round_to_sum_format(t, chunk_range(t.numel(), static_cast<int>(mine->size()), 1 % static_cast<int>(mine->size())));
  if (local) {
    scatter_from_leader(ctx, t, *mine, i);
    ring_allgather_chunks(ctx, t, *mine, 1);
  }
}

Schedule hierarchical_allreduce_schedule(const runtime::Tensor& t, const std::vector<std::vector<int>>& regions) {
  Schedule reduce, gather, scatter, allgather;
  std::vector<int> leaders;
  for (const auto& r : regions) {
    leaders.push_back(r.front());
    const int k = static_cast<int>(r.size());
    if (k <= 1) continue;
    run_alongside(reduce, ring_reduce_scatter_schedule(t, r));
    Phase in, out;
    for (int m = 1; m < k; ++m) {
      const std::uint64_t bytes = t.wire_bytes(chunk_range(t.numel(), k, (m + 1) % k).count);
      in.push_back({r[m], r[0], bytes});
      out.push_back({r[0], r[m], bytes});
    }
    run_alongside(gather, {in});
    run_alongside(scatter, {out});
    run_alongside(allgather, ring_allgather_schedule(t, r, 1));
  }
  Schedule all = std::move(reduce);
  run_after(all, gather);
  run_after(all, ring_allreduce_schedule(t, leaders));
  run_after(all, scatter);
  run_after(all, allgather);
  return all;
}

}  // namespace geotrain::sim
