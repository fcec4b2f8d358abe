// Internal helpers shared by the collective files (not part of the public collective API).
#pragma once
#include <algorithm>
#include <vector>

#include "kernels/reduce.h"
#include "kernels/check.h"
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

// Sends chunk `out` to `dst` while receiving a message from `src`; returns the received one.
inline std::unique_ptr<Message> exchange(WorkerContext& ctx, const runtime::Tensor& t, int dst,
                                         ChunkRange out, int src) {
  Transfer rx = ctx.recv_async(src);
  Transfer tx = ctx.send_async(dst, values_of(t, out), t.wire_bytes(out.count));
  auto msg = ctx.wait(rx);
  ctx.wait(tx);
  return msg;
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

}  // namespace geotrain::sim::detail
