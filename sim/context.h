// The worker context: everything a strategy's per-worker program may do. Compute advances
// simulated time by the compute-time model; messages travel through SimGrid mailboxes with real
// values when the tensor is real and only bytes when it is phantom; every byte is metered.
// Strategies and collectives are written against this class only.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <simgrid/s4u/Comm.hpp>

#include "runtime/rng.h"
#include "runtime/tensor.h"
#include "sim/collectives/collectives.h"
#include "sim/ledger.h"
#include "sim/platform.h"
#include "sim/recorder.h"
#include "sim/scenario.h"

namespace geotrain::sim {

// What rides in a message: the values of a real tensor slice (empty for phantom tensors).
struct Message {
  std::vector<float> values;
};

// A send or receive in flight.  Movable; wait on it with WorkerContext::wait*.
struct Transfer {
  simgrid::s4u::CommPtr comm;
  std::unique_ptr<Message*> slot;  // receives only: where SimGrid puts the payload
};

// The shared state of one simulation.  SimGrid runs one actor at a time, so no locking.
struct World {
  const Scenario& scenario;
  const Platform& platform;
  Ledger& ledger;
  Recorder& recorder;
};

class WorkerContext {
 public:
  WorkerContext(World& world, int rank);

  int rank() const { return rank_; }
  int world_size() const { return static_cast<int>(world_.platform.workers().size()); }
  const WorkerInfo& info() const { return world_.platform.workers()[rank_]; }
  const Scenario& scenario() const { return world_.scenario; }
  const Platform& platform() const { return world_.platform; }
  double now() const;
  runtime::Rng& rng() { return rng_; }

  // Forward and backward over `samples` samples: advances simulated time by
  // samples x flops_per_sample / (instance FLOP/s x utilization).
  void compute(double samples);

  // Averages `t` over all workers with `algo`; real tensors end with the exact mean (the same
  // order of additions on every run), phantom tensors only cost time and bytes.
  void allreduce_mean(runtime::Tensor& t, AllreduceAlgo algo);
  // Copies `t` of worker `root` to every worker.
  void broadcast(runtime::Tensor& t, int root);
  // Every worker contributes `mine` (same numel everywhere); all receive the concatenation in
  // rank order.
  runtime::Tensor allgather(const runtime::Tensor& mine);

  // Worker finished step `step` after training on `samples` samples.
  void end_step(int step, double samples);

  // Point-to-point, for collectives.  `bytes` is what goes on the wire; `values` is carried
  // along (empty for phantom tensors).  Messages between one pair arrive in send order.
  Transfer send_async(int dst, std::vector<float> values, std::uint64_t bytes);
  Transfer recv_async(int src);
  // Waits for the transfer; for a receive returns the message (caller owns it).
  std::unique_ptr<Message> wait(Transfer& t);

  // Times a collective for the trace and the collective statistics.
  class CollectiveTimer {
   public:
    CollectiveTimer(WorkerContext& ctx, CollectiveKey key);
    ~CollectiveTimer();
    CollectiveTimer(const CollectiveTimer&) = delete;
    CollectiveTimer& operator=(const CollectiveTimer&) = delete;

   private:
    WorkerContext& ctx_;
    CollectiveKey key_;
    double start_s_;
  };

 private:
  World& world_;
  int rank_;
  runtime::Rng rng_;
};

}  // namespace geotrain::sim
