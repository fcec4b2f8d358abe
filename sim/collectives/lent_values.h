// Zero-copy sends for the collectives: a member lends a region of its tensor to one receiver,
// which reads it in place (sums it in, or copies it) instead of the sender first copying it into
// a message.  Internal to the collectives; WorkerContext only carries the lease (Message::lent).
#pragma once
#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "kernels/check.h"
#include "runtime/tensor.h"
#include "sim/collectives/collectives.h"
#include "sim/context.h"

namespace geotrain::sim {

// The values one message lends: the sender's region until the sender takes it back, from then a
// copy.  Shared by the sender's Lender and the message; SimGrid runs one actor at a time, so no
// locking.
struct LentValues {
  const float* data = nullptr;  // the sender's region, or copy.data() once taken back
  std::size_t count = 0;
  bool read = false;            // the receiver has read the values (set by mark_read)
  bool taken_back = false;
  std::vector<float> copy;      // the values, when the sender took the region back before the read
};

namespace detail {

// The regions one member lent during one collective call.  What makes lending safe:
// - the sender writes a lent region only once its receiver has read it: before_write() checks
//   this (the collective's protocol must guarantee it, see ring_allreduce.cc);
// - when the call ends (normally, or through an exception of a failed transfer) every region not
//   read yet is taken back: its values are copied into the message, while they are still the
//   values sent.  So a receiver always reads exactly what was sent, whatever the order in which
//   SimGrid resumes the two actors, and no message points into a tensor after the call returned.
class Lender {
 public:
  Lender() = default;
  Lender(const Lender&) = delete;
  Lender& operator=(const Lender&) = delete;
  ~Lender() {
    for (auto& lease : leases_) take_back(*lease.values);
  }

  // A message lending t[c]; phantom tensors get an empty message (bytes only).
  // REQUIRES: t outlives this Lender and t[c] is not written until taken back.
  Message lend(const runtime::Tensor& t, ChunkRange c) {
    Message m;
    if (!t.is_real()) return m;
    auto values = std::make_shared<LentValues>();
    values->data = t.slice(c.begin, c.count).data();
    values->count = c.count;
    leases_.push_back({c, values});
    m.lent = std::move(values);
    return m;
  }

  // Call before writing t[c]: checks that every region lent over t[c] has been read.
  void before_write(ChunkRange c) {
    std::erase_if(leases_, [](const Lease& l) { return l.values->read; });
    for (const auto& lease : leases_)
      GEOTRAIN_CHECK(!overlap(lease.range, c),
                     "a collective is about to write a region it lent before the receiver read it");
  }

 private:
  struct Lease {
    ChunkRange range;
    std::shared_ptr<LentValues> values;
  };

  static bool overlap(ChunkRange a, ChunkRange b) {
    return a.begin < b.begin + b.count && b.begin < a.begin + a.count;
  }

  static void take_back(LentValues& v) {
    if (v.read || v.taken_back) return;
    v.copy.assign(v.data, v.data + v.count);
    v.data = v.copy.data();
    v.taken_back = true;
  }

  std::vector<Lease> leases_;
};

// The values a message carries: lent (read in place) or its own.
inline std::span<const float> received_values(const Message& m) {
  if (m.lent) return {m.lent->data, m.lent->count};
  return m.values;
}

// The receiver is done with the values of `m` (the sender may write a lent region again).
inline void mark_read(Message& m) {
  if (m.lent) m.lent->read = true;
}

}  // namespace detail
}  // namespace geotrain::sim
