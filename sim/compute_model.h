// The compute-time model's figures for a scenario: the FLOP/s a worker achieves (its instance's
// peak x the achieved utilization, which the scenario may override), the time of one local
// optimizer step (the bytes it touches over GPU memory bandwidth), and the fleet's peak (for the
// MFU achieved).  Pure arithmetic on the Scenario: no SimGrid.
#pragma once
#include "sim/scenario.h"

namespace geotrain::sim {

// The achieved fraction of peak of fleet entry `fleet_entry`'s workers: the entry's mfu, else the
// workload's, else the instance type's catalog utilization.
double achieved_utilization(const Scenario& s, int fleet_entry);

// FLOP/s a worker of fleet entry `fleet_entry` achieves in training: gpus x peak x
// achieved_utilization (InstanceType::effective_flops() when nothing is overridden).
double worker_flops(const Scenario& s, int fleet_entry);

// Optimizer state tensors per parameter: adamw 2 (first and second moments), momentum and
// nesterov 1, sgd 0.
int optimizer_state_tensors(const runtime::OptimizerSpec& optimizer);

// Bytes one optimizer step touches per parameter, in the workload's precisions: the parameter read
// and written, the gradient read (both wire_bytes_per_param), each state tensor read and written.
double optimizer_step_bytes_per_param(const Workload& w);

// Seconds of one local optimizer step on an instance of `type`: parameters x bytes per parameter /
// (gpus x hbm_Bps); the step is taken as sharded over the instance's GPUs (ZeRO-1 / FSDP style).
// 0 when the type's memory bandwidth is unknown (hbm_Bps 0; the scenario then carries a warning).
double optimizer_step_s(const Scenario& s, const InstanceType& type);

// Seconds of one optimizer step offloaded to the host (hivemind's offload_optimizer): per parameter
// the fp32 master weights and each optimizer state tensor read and written and the fp32 gradient
// read (hivemind keeps fp32 copies of all of them in host memory), at host_memory_Bps; 0 when
// that is unknown (0).
double offloaded_optimizer_step_s(const Workload& w, double host_memory_Bps);

// Peak FLOP/s of the whole fleet: the sum over workers of gpus x peak (no utilization).
double fleet_peak_flops(const Scenario& s);

}  // namespace geotrain::sim
