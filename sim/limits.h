// The physically plausible ranges of scenario and topology numbers, in the units of the JSON keys
// (docs/SCENARIO_FORMAT.md and docs/TOPOLOGIES.md list them). They keep every accepted value far
// from the doubles where SimGrid's own arithmetic overflows or underflows and aborts (a bandwidth of
// 1e303 Gbit/s, a latency of 1e-308 ms): geotrain refuses such input at load with exit 2 instead.
// Not a model of any real device: each bound is orders of magnitude beyond today's hardware.
#pragma once
#include <cstddef>

namespace geotrain::sim::limits {

// Latencies in ms: 0.1 us (two hosts on one board) to 10 s (a geostationary satellite hop is 0.25 s).
inline constexpr double kMinLatency_ms = 1e-4;
inline constexpr double kMaxLatency_ms = 1e4;
// Bandwidths in Gbit/s: 1 kbit/s to 100 Tbit/s (a 2024 NIC is 0.4 Tbit/s).
inline constexpr double kMinBandwidth_Gbps = 1e-6;
inline constexpr double kMaxBandwidth_Gbps = 1e5;
// TCP windows in bytes: 1 B to 1 TB.
inline constexpr double kMinWindow_B = 1;
inline constexpr double kMaxWindow_B = 1e12;
// GPU peak in TFLOP/s: 1 FLOP/s (tests slow compute down this far) to 1 EFLOP/s per GPU (an H200 is about 1 PFLOP/s dense bf16).
inline constexpr double kMinTflops = 1e-12;
inline constexpr double kMaxTflops = 1e6;
// GPU memory in GB per GPU: up to 1 PB.
inline constexpr double kMaxGpuMemory_GB = 1e6;
// GPU memory bandwidth in GB/s per GPU: up to 1 PB/s (an H200 has 4.8 TB/s).
inline constexpr double kMaxHbm_GBps = 1e6;
// Prices: $/GB of egress or storage-month, $/hour of an instance.
inline constexpr double kMaxUsdPerGB = 1e3;
inline constexpr double kMaxUsdPerHour = 1e6;
// FLOPs per sample, forward and backward: up to 1e21 (a 1e15-parameter model at 6 FLOPs each, with room).
inline constexpr double kMaxFlopsPerSample = 1e21;
// Simulated times in seconds (fault windows, delays, time limits): up to 1e9 s, about 31.7 years.
inline constexpr double kMaxTime_s = 1e9;
// Rates per hour (preemptions, outages): up to 1e6 per hour.
inline constexpr double kMaxRatePerHour = 1e6;
// Optimizer numbers (lr, weight decay) and dataset noise: up to 1e6.
inline constexpr double kMaxHyperparameter = 1e6;

// Training lengths in steps: workload steps and eval_every.
inline constexpr long kMaxSteps = 100000000;
// Samples per worker per step.
inline constexpr long kMaxBatchPerWorker = 1L << 24;
// Optimizer schedules (warmup_steps, decay_steps) and checkpoint periods, in steps.
inline constexpr long kMaxScheduleSteps = 1000000000;
// Trainable values of one model: a profile's parameters, a layer's, a transformer's in all.
inline constexpr double kMaxParameters = 1e15;
// A transformer description: far beyond any published model (GPT-3 has 96 layers, d_model
// 12288, vocab 50257, seq_len 2048), low enough that no product of two overflows anything.
inline constexpr long kMaxTransformerLayers = 100000;
inline constexpr long kMaxTransformerWidth = 10000000;  // d_model, d_ff
inline constexpr long kMaxSeqLen = 100000000;
inline constexpr long kMaxVocab = 100000000;
inline constexpr double kMaxBackwardFlopsFactor = 100;
// Width of one hidden layer of a real MLP.
inline constexpr long kMaxMlpWidth = 1000000;
// Datasets: Fashion-MNIST's own sizes; synthetic_linear's inputs and samples; the text datasets'
// sequences, books and bytes per synthetic book.
inline constexpr long kFashionMnistTrainSamples = 60000;
inline constexpr long kFashionMnistTestSamples = 10000;
inline constexpr long kMaxFeatures = 100000;
inline constexpr long kMaxSyntheticSamples = 10000000;
inline constexpr long kMaxTextSequences = 10000000;
inline constexpr long kMaxSyntheticBooks = 1000;
inline constexpr long kMaxSyntheticBookBytes = 100000000;
// Bytes per value on the wire (wire_bytes_per_param): half a bit (1/16 B) to fp64.
inline constexpr double kMinWireBytesPerParam = 0.0625;
inline constexpr double kMaxWireBytesPerParam = 8;
// TCP streams of one transfer (parallel_streams, collective_streams).
inline constexpr long kMaxStreams = 1024;
// Link fault profiles: the smallest fraction of a link's capacity, the largest factor on its latency.
inline constexpr double kMinLinkBandwidthFraction = 1e-6;
inline constexpr double kMaxLatencyFactor = 1e6;
// Server shards a server fault may name.
inline constexpr long kMaxServerShard = 1L << 20;
// GPUs of one instance type.
inline constexpr long kMaxGpusPerInstance = 1024;
// An RTT model (a topology's rtt_estimate): a path at most 100 times the great circle, signals at
// most light speed in vacuum (299.8 km/ms) with room; its fit's pairs.
inline constexpr double kMaxRoutingFactor = 100;
inline constexpr double kMaxFiberKmPerMs = 1000;
inline constexpr long kMaxRttPairs = 1000000;

// Workers in one scenario, all fleet entries together (one SimGrid host and actor each).
inline constexpr long kMaxWorkers = 100000;
// Each worker runs as a SimGrid actor with its own stack, which takes two memory mappings (the
// stack and its guard page); Linux caps a process's mappings at vm.max_map_count (65,530 by
// default).  This many are kept for everything else (libraries, heap, the math pool); a fleet
// needing more than the rest is refused at load (measured with the default: 32,000 workers run,
// 33,000 die in SimGrid's "Failed to protect stack").
inline constexpr long kReservedMappings = 2048;
inline constexpr long kMappingsPerWorker = 2;
// Real training (backend "cpu") holds about kRealCopiesPerParameter float copies of the model per
// worker (weights, gradients, optimizer state, strategy copies): parameters x workers x 4 B x copies
// must stay under this many bytes, or the run is refused at load rather than dying of bad_alloc.
inline constexpr double kRealCopiesPerParameter = 4;
inline constexpr double kMaxRealModelBytes = 64e9;

}  // namespace geotrain::sim::limits
