// Wire formats of strategy messages, and the outer loop shared by DiLoCo, Streaming DiLoCo and
// PALSGD: a global copy theta_g of (a
// range of) the parameters, the outer gradient delta = theta_g - theta_m, and the outer optimizer
// step theta_g = OuterOpt(theta_g, mean delta).  Size-only runs keep sizes, skip the math.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/optimizer.h"
#include "runtime/tensor.h"
#include "runtime/trainer.h"
#include "sim/collectives/collectives.h"
#include "sim/context.h"
#include "sim/json_reader.h"
#include "sim/resilience/replica.h"
#include "sim/scenario.h"

namespace geotrain::sim {

struct OuterConfig {
  runtime::OptimizerSpec optimizer;    // Nesterov by default (DiLoCo); SGD lr 1 = averaging
  AllreduceAlgo allreduce = AllreduceAlgo::ring;
  std::string wire_format = "fp32";    // how outer gradients travel: fp32 | bf16 | fp16 | fp4
};

// Reads "outer" (an optimizer object), "allreduce" and "wire_format" with the given defaults.
OuterConfig parse_outer(JsonReader& reader, runtime::OptimizerSpec default_outer);

// The global copy of parameters [begin, begin+count) and its outer optimizer.
class GlobalCopy {
 public:
  GlobalCopy(const runtime::Trainer& trainer, ChunkRange range, const runtime::OptimizerSpec& outer);
  ChunkRange range() const { return range_; }
  const runtime::Tensor& params() const { return theta_g_; }
  // delta = theta_g - theta_m over the range, in `wire_format` (real values pass through the
  // format's quantization once, at the sender; the sum is kept in fp32).
  runtime::Tensor outer_gradient(const runtime::Trainer& trainer, const std::string& wire_format) const;
  // theta_g = OuterOpt(theta_g, delta).
  void step(const runtime::Tensor& mean_delta);
  // theta_g = theta_m over the range (a fresh start, e.g. after a warm-up).
  void reset_from(const runtime::Trainer& trainer);
  // theta_m[range] = alpha * theta_m[range] + (1 - alpha) * theta_g   (alpha = 0: overwrite).
  void merge_into(runtime::Trainer& trainer, double alpha) const;
  // The outer optimizer (its moments are part of the state a returning worker reloads).
  const runtime::Optimizer& optimizer() const { return outer_; }
  // The replica state it holds (sim/resilience/replica.h): theta_g, which starts as the initial
  // parameters' range, and the outer optimizer; sized as the range's values and moments.
  ReplicaState state(const World& world);
  // A returning worker's restart from it: theta_m[range] = theta_g, a fresh inner optimizer.
  void restart_inner(runtime::Trainer& trainer) const;
  // The outer optimizer starts afresh (its moments at zero).
  void reset_outer() { outer_.reset(); }

 private:
  ChunkRange range_;
  runtime::Tensor theta_g_;
  runtime::Optimizer outer_;
};

// One global copy of parameters [0, N) per worker, created from each worker's trainer.
std::vector<std::unique_ptr<GlobalCopy>> make_global_copies(const World& world, const runtime::OptimizerSpec& outer);
// Makes worker 0's global copy the deployed model (all workers hold the same one).
void deploy_global_copy(World& world, const GlobalCopy& worker0);
// A Nesterov outer optimizer spec.
runtime::OptimizerSpec nesterov_spec(double lr, double momentum);

// Bytes one value takes on the wire in `format` (per-block scale overhead included).
double wire_bytes_per_value(const std::string& format);
// Quantizes and dequantizes a real tensor in `format` (no-op for fp32 and phantom tensors).
void apply_wire_format(runtime::Tensor& t, const std::string& format);

// A message body of `count` values in `format`: the values after one quantization round trip
// (empty for size-only runs, where `values` is empty) and its bytes on the wire.  "native" is
// the workload's wire_bytes_per_param with no quantization (gradient compression off).
struct WireBody {
  std::vector<float> values;
  std::uint64_t bytes = 0;
};
WireBody to_wire(std::span<const float> values, std::size_t count, const std::string& format,
                 double native_bytes_per_value);
// The wire formats a strategy's "wire_format" knob accepts ("native" first, the default).
const std::vector<std::string>& wire_format_names();

}  // namespace geotrain::sim
