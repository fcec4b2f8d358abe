// Layer schedules: a data-parallel step whose gradient all-reduce is split into buckets that are
// reduced while the backward pass goes on (PyTorch DDP's reducer over NCCL).  Not a strategy:
// strategies call it in place of compute_gradient() + one all-reduce (the atomic step).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/architecture.h"
#include "runtime/tensor.h"
#include "sim/collectives/algo.h"
#include "sim/collectives/collectives.h"

namespace geotrain::sim {

class WorkerContext;

// PyTorch's bucket_cap_mb counts mebibytes (it multiplies by 1024 x 1024), so does bucket_cap_MB.
inline constexpr double kBytesPerBucketMB = 1024.0 * 1024.0;
// PyTorch DDP's default bucket_cap_mb (torch.nn.parallel.DistributedDataParallel).
inline constexpr double kDefaultBucketCapMB = 25;

// The gradients of consecutive layers, reduced by one all-reduce.
struct GradientBucket {
  std::size_t begin = 0;       // its first value in the flat gradient
  std::size_t count = 0;       // values
  int first_layer = 0;         // its layers are first_layer..last_layer (input-to-output order)
  int last_layer = 0;
  double backward_flops = 0;   // per sample, the backward of its layers
};

// The buckets of a gradient of `numel` values laid out as `layers` (input to output; layer l
// holds the next round(parameters) values, the last layer ends at numel), in launch order: the
// backward produces gradients from the last layer to the first, so bucket 0 holds the last
// layers.  What is modelled of PyTorch DDP (docs of DistributedDataParallel, bucket_cap_mb):
// gradients are assigned to buckets in reverse order of the parameters, each bucket up to
// bucket_cap_mb, and a bucket's all-reduce is launched once every gradient in it is ready.  Here
// a layer is the unit (PyTorch assigns parameter tensors), a new bucket is started when adding
// the next layer would pass `cap_B` (a layer bigger than the cap is a bucket of its own; PyTorch
// closes a bucket once it reached the cap and makes its first bucket 1 MiB), layer bytes =
// values x `wire_bytes_per_value`.  REQUIRES: layers not empty, cap_B > 0.
std::vector<GradientBucket> gradient_buckets(const std::vector<runtime::Layer>& layers, std::size_t numel,
                                             double wire_bytes_per_value, double cap_B);

// The layers' ranges of the flat parameters (numel values, the layers' in order; a layer's end is
// its cumulative parameter count, truncated as the parameter vector's size is), leaving out the
// empty ones.
std::vector<ChunkRange> layer_ranges(const std::vector<runtime::Layer>& layers, std::size_t numel);

// Streaming DiLoCo's strided fragment f of P (sim/strategies/streaming_diloco.cc): the ranges of
// the flat parameters (numel values, the layers' in order; a layer ends at its cumulative count,
// truncated) of the non-empty layers whose index among them is f mod P; adjacent ranges joined.
// REQUIRES: at least P non-empty layers (checked at load).
std::vector<ChunkRange> strided_fragment(const std::vector<runtime::Layer>& layers, std::size_t numel, int fragments, int f);

// The forward FLOPs per sample of the layers before the one that holds value `value` of the
// flat parameters (numel values, the layers' in order, as layer_ranges()): what a forward can do
// before it needs that value.  All layers' for value >= numel.
double forward_flops_before(const std::vector<runtime::Layer>& layers, std::size_t numel, std::size_t value);

// PacTrain's buckets: the dense buckets' kept entries, in the compact gradient's positions.  A
// bucket of dense values [b, e) holds the kept entries among them (`mask`'s, 1 per kept entry of
// the n values, in real runs; else, mask empty, the share `kept` / n, spread evenly).  A bucket
// left with no kept entry gives its backward to the next bucket (nothing to reduce; the last
// one's stays with the previous bucket).
std::vector<GradientBucket> compact_buckets(const std::vector<GradientBucket>& dense, const std::vector<std::uint8_t>& mask,
                                            std::size_t n, std::size_t kept);

// What a step's buckets reduce, made once the backward's values are known (the real pass ends
// before the first bucket is reduced): the gradient itself (DDP), or a tensor of the same length
// derived from it element by element, e.g. DiLoCo's outer gradient after the inner step.
using ReducedTensor = std::function<runtime::Tensor&()>;

// One step of data-parallel averaging with overlap, on this worker: the forward of all layers,
// then the backward bucket by bucket; when a bucket's backward is done its all-reduce (mean over
// all workers, `algo`) of `reduced()`'s values in that bucket may start, and the buckets'
// all-reduces run one after another in launch order (one NCCL stream) in a helper actor, beside
// the rest of the backward.  Returns the loss once the last bucket is reduced (the tensor holds
// the mean).  Real values: one bucket reduces the tensor itself (the atomic step's values bit for
// bit); with several, each bucket is a ring of its own, so an element's additions start at
// another member than in the one-bucket ring and the mean may differ in the last bits (as in
// PyTorch, where the bucket size changes the order of additions too).  The tensor's wire bytes
// and sum format ride along.  REQUIRES: buckets from gradient_buckets() for the gradient's
// numel() and the workload's layers; reduced() of that numel; no faults; the compute-time model
// (not "measured").
// With optimizer_in_backward_s > 0 (the whole model's optimizer step, in seconds), the optimizer
// runs in the backward, as PyTorch's DDP with its optimizer-overlap hook (or
// _apply_optimizer_in_backward) runs it: bucket k's parameters are stepped as soon as its
// all-reduce ended, their share of optimizer_in_backward_s (values over the tensor's), one share
// after another beside the stream; the step returns once the last share is done.  The next
// forward then waits only for that last share: it holds the first layers, which the forward needs
// first, and every later layer was stepped before.  The caller applies the values (no time).
double overlapped_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets, AllreduceAlgo algo,
                       const ReducedTensor& reduced, double optimizer_in_backward_s = 0);

// One round of the worker's group on the stream's context `comm` (resilience::group_round):
// `body(members)` runs the round's collectives among its members, again with the survivors when
// it aborts (a member died, a transfer failed), `t` put back first; returns the committed members.
using GroupRound = std::function<std::vector<int>(WorkerContext& comm, runtime::Tensor& t,
                                                  const std::function<void(const std::vector<int>&)>& body)>;

// overlapped_step() in a run with faults (message fidelity): the stream runs the buckets'
// all-reduces as one round of the group, `round`, bucket k among the round's members once its
// backward is done; a retried round reduces every bucket again, each at once when its backward is
// done, among the survivors.  The step returns when the round committed (`members`: its
// members) and, with optimizer_in_backward_s > 0, the last bucket's share of the optimizer step
// is done.  REQUIRES: as overlapped_step(), faults allowed; an actor per worker.
double overlapped_group_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets, AllreduceAlgo algo,
                             const ReducedTensor& reduced, const GroupRound& round, std::vector<int>& members,
                             double optimizer_in_backward_s = 0);

// What the overlapped stream does with bucket k once the backward has produced its gradients,
// in the stream's context `comm` (a helper actor of the worker, on a message channel of its
// own): e.g. an all-gather of the bucket's top-k entries.
using BucketExchange = std::function<void(WorkerContext& comm, std::size_t k)>;

// The schedule of overlapped_step() for any exchange per bucket: the forward of all layers, then
// `prepare()` (the real pass's values are known: e.g. select what each bucket sends), then the
// backward bucket by bucket, bucket k's exchange starting on the stream once its backward is done
// and the previous bucket's exchange has ended.  Returns the loss once the last exchange is done.
// A helper actor per worker in both fidelities (the exchange's collectives are timed as the
// fidelity times them); the step-level span of the exchanges is named `span_name`.  REQUIRES:
// as overlapped_step().
double overlapped_exchange_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets,
                                const std::function<void()>& prepare, const BucketExchange& exchange,
                                const std::string& span_name);

// Top-k's and DGC's step: overlapped_exchange_step() whose exchange of bucket k is the ring
// all-gather of `packed[k]` among all workers into `gathered[k]` (replaced; in rank order, as
// WorkerContext::allgather()).  In the collective fidelity there is no helper actor and no event
// per bucket: the buckets' all-gathers are timed in one meeting, as overlapped_step()'s
// all-reduces.  REQUIRES: as overlapped_step(); an actor per worker; a tensor per bucket in
// `packed` (the same sizes on every worker, values set by `prepare()` at the latest) and in `gathered`.
double overlapped_allgather_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets,
                                 const std::function<void()>& prepare, const std::vector<runtime::Tensor>& packed,
                                 std::vector<runtime::Tensor>& gathered);

// overlapped_allgather_step() in a run with faults (message fidelity): the stream runs the
// buckets' all-gathers as one round of the group, `round` (WorkerContext::sync_round(), the
// backward's work counting in it), bucket k's among the round's members once its backward is
// done; a retried round gathers every bucket again among the survivors, each at once when its
// backward is done (`packed` is left as it was, so it is sent again).  Returns the loss once the
// round committed; `members`: its members, in whose order `gathered` holds the parts.
// REQUIRES: as overlapped_allgather_step(), faults allowed.
double overlapped_group_allgather_step(WorkerContext& ctx, int batch, const std::vector<GradientBucket>& buckets,
                                       const std::function<void()>& prepare, const std::vector<runtime::Tensor>& packed,
                                       std::vector<runtime::Tensor>& gathered, long round, std::vector<int>& members);

// A worker whose step has no backward (PALSGD's pull step) joining the others' overlapped step:
// the same buckets' all-reduces of `tensor` (mean over all workers, `algo`), every bucket ready
// now, one after another on the worker's stream; returns when the last is reduced.  REQUIRES:
// the other workers run overlapped_step() with the same buckets and algo; no faults; an actor
// per worker.
void overlapped_allreduce_now(WorkerContext& ctx, runtime::Tensor& tensor, const std::vector<GradientBucket>& buckets,
                              AllreduceAlgo algo);

}  // namespace geotrain::sim
