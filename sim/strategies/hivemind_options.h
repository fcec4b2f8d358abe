// hivemind.Optimizer's options (hivemind/optim/optimizer.py) and the costs of its software, as
// the `hivemind` strategy's knobs give them: delay_grad_averaging (default false) averages in the
// background and applies the result one round late, else training waits for the averaging;
// delay_optimizer_step runs the optimizer step in the background; offload_optimizer steps on the
// host (time from host memory bandwidth).  The averager's software throughput bounds each peer's
// averaging; each micro-step pays the accumulation of its gradients; each round a fixed
// matchmaking cost.
#pragma once
#include <vector>

#include "kernels/quantize.h"
#include "sim/catalog.h"

namespace geotrain::sim {

class JsonReader;

// hivemind.Optimizer's options and the costs of its software, as the knobs give them.
struct HivemindOptions {
  double target_batch = 0;
  double matchmaking_s = 0;       // per round, blocking: group formation (matchmaking, DHT)
  kernels::WireFormat compression = kernels::WireFormat::fp16;
  bool delay_grad_averaging = false;
  bool delay_optimizer_step = false;
  bool offload_optimizer = true;
  double host_memory_Bps = 0;     // offloaded optimizer step; 0: unknown (the step takes no time)
  double averager_Bps = 0;        // the averager's throughput per peer; 0: unbounded
  double accumulate_s = 0;        // per micro-step: accumulating the gradients
};

// The knobs, with hivemind's defaults.
std::vector<KnobSpec> hivemind_knobs();
// The options as the strategy's JSON gives them (`knobs`: hivemind_knobs()), with hivemind's own
// rules between them (delay_grad_averaging needs delay_optimizer_step, which needs
// offload_optimizer): exit 2 otherwise.
HivemindOptions read_hivemind_options(JsonReader& reader, const std::vector<KnobSpec>& knobs);

}  // namespace geotrain::sim
