// Internal helpers shared by the collective files (not part of the public collective API).
#pragma once
#include <algorithm>
#include <memory>
#include <span>
#include <vector>

#include "kernels/reduce.h"
#include "kernels/check.h"
#include "sim/collectives/lent_values.h"
#include "sim/context.h"

namespace geotrain::sim::detail {

// Position of `rank` in `group`.
inline int index_in(const std::vector<int>& group, int rank) {
  const auto it = std::find(group.begin(), group.end(), rank);
  GEOTRAIN_CHECK(it != group.end(), "worker is not a member of the collective's group");
  return static_cast<int>(it - group.begin());
}

// Values of t[c] for a message (empty for phantom tensors).
inline std::vector<float> values_of(const runtime::Tensor& t, ChunkRange c) {
  if (!t.is_real()) return {};
  const auto s = t.slice(c.begin, c.count);
  return {s.begin(), s.end()};
}

// t[c] += message values (real tensors only).
inline void accumulate(runtime::Tensor& t, ChunkRange c, const Message& m) {
  if (!t.is_real()) return;
  GEOTRAIN_CHECK(m.values.size() == c.count, "message does not match the chunk it reduces into");
  kernels::add_into(t.slice(c.begin, c.count).data(), m.values.data(), c.count);
}

// t[c] = message values (real tensors only).
inline void overwrite(runtime::Tensor& t, ChunkRange c, const Message& m) {
  if (!t.is_real()) return;
  GEOTRAIN_CHECK(m.values.size() == c.count, "message does not match the chunk it fills");
  kernels::copy(t.slice(c.begin, c.count).data(), m.values.data(), c.count);
}

inline int mod(int a, int n) { return ((a % n) + n) % n; }

// Rounds t[c] in place through t's sum format (runtime/tensor.h), as one message of c.count
// values (its blocks start at c.begin); nothing for phantom tensors or fp32.
inline void round_to_sum_format(runtime::Tensor& t, ChunkRange c) {
  if (!t.is_real() || t.sum_format() == kernels::WireFormat::fp32 || c.count == 0) return;
  float* v = t.slice(c.begin, c.count).data();
  kernels::roundtrip(t.sum_format(), v, v, c.count, kernels::kDefaultBlockValues);
}

// One zero-copy ring step: lends t[out] to `dst` while receiving from `src` the values for
// t[in], which `fold(t[in] data, received data, count)` applies to real tensors.  The received
// values are read as soon as they arrive, before this member waits for its own send: so a member
// has read what a neighbour lent it before it posts its next receive from that neighbour, and
// any later send of that neighbour to it that completed proves the read (ring_allreduce.cc).
// A phantom tensor has nothing to lend or read: its steps are flows of bytes only
// (WorkerContext::exchange).
template <class Fold>
void exchange_lent(WorkerContext& ctx, runtime::Tensor& t, Lender& lender, int dst, ChunkRange out,
                   int src, ChunkRange in, Fold fold) {
  Transfer tx;
  if (!t.is_real()) {
    ctx.exchange(dst, nullptr, t.wire_bytes(out.count), src, tx);
    ctx.wait(tx);
    return;
  }
  const std::unique_ptr<Message> msg =
      ctx.exchange(dst, std::make_unique<Message>(lender.lend(t, out)), t.wire_bytes(out.count), src, tx);
  const std::span<const float> got = received_values(*msg);
  GEOTRAIN_CHECK(got.size() == in.count, "message does not match the chunk it folds into");
  lender.before_write(in);
  fold(t.slice(in.begin, in.count).data(), got.data(), in.count);
  mark_read(*msg);
  ctx.wait(tx);
}

// The ring phases over the caller's Lender (ring_allreduce_mean runs both over one, so the
// regions lent in the reduce-scatter are proven read during the all-gather, not taken back in
// between).
// The reduce-scatter multiplies the chunk it completes by `factor` in its last step (1: the sum).
void ring_reduce_scatter(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group,
                         Lender& lender, float factor);
void ring_allgather(WorkerContext& ctx, runtime::Tensor& t, const std::vector<int>& group, int offset,
                    Lender& lender);

// The schedule of n-1 ring steps: in step s member i sends chunk (i + first - s) mod n to its
// successor (reduce-scatter: first 0; all-gather: its offset).
Schedule ring_step_schedule(const runtime::Tensor& t, const std::vector<int>& group, int first);

}  // namespace geotrain::sim::detail
