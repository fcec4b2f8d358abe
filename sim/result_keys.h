// The keys of results.json that more than one of sim/run.cc (which writes them), cli/ and
// analysis/ (which read them) use, named once. Header only, no SimGrid: analysis/ includes it
// without linking sim. Nested objects get a namespace of their own (cost::kCompute is
// results["cost_usd"]["compute"]); pointer() builds the RFC 6901 pointer of a nested key.
#pragma once
#include <string>
#include <string_view>

namespace geotrain::result_keys {

inline constexpr const char* kScenario = "scenario";
inline constexpr const char* kSeed = "seed";
inline constexpr const char* kStrategy = "strategy";
inline constexpr const char* kWorkers = "workers";
inline constexpr const char* kSimulatedS = "simulated_s";
inline constexpr const char* kSteps = "steps";
inline constexpr const char* kSamples = "samples";
inline constexpr const char* kThroughput = "throughput_samples_per_s";  // useful samples per second (goodput)
inline constexpr const char* kTokens = "tokens";  // useful tokens (transformer workloads)
inline constexpr const char* kWork = "work";      // the work done, including what was lost
inline constexpr const char* kTimeBreakdown = "time_breakdown_s";
inline constexpr const char* kGranularity = "granularity";
inline constexpr const char* kCostUsd = "cost_usd";
inline constexpr const char* kUsdPerMillionSamples = "usd_per_million_samples";
inline constexpr const char* kTrafficBytes = "traffic_bytes";
inline constexpr const char* kLinks = "links";
inline constexpr const char* kCollectives = "collectives";
inline constexpr const char* kConvergence = "convergence";
inline constexpr const char* kDiverged = "diverged";
inline constexpr const char* kStopReason = "stop_reason";
inline constexpr const char* kFaults = "faults";
inline constexpr const char* kStaleness = "staleness";  // written by the asynchronous parameter server
inline constexpr const char* kPerf = "perf";            // wall-clock figures: never deterministic

namespace time {  // time_breakdown_s
inline constexpr const char* kCompute = "compute";
inline constexpr const char* kCommunicationExposed = "communication_exposed";
inline constexpr const char* kIdle = "idle";
}  // namespace time

namespace work {  // work
inline constexpr const char* kSteps = "steps";
inline constexpr const char* kSamples = "samples";
inline constexpr const char* kTokens = "tokens";
inline constexpr const char* kThroughput = "throughput_samples_per_s";
}  // namespace work

namespace cost {  // cost_usd
inline constexpr const char* kCompute = "compute";
inline constexpr const char* kEgress = "egress";
inline constexpr const char* kTotal = "total";
}  // namespace cost

namespace traffic {  // traffic_bytes
inline constexpr const char* kTotal = "total";
inline constexpr const char* kWan = "wan";
}  // namespace traffic

namespace link {  // one entry of links
inline constexpr const char* kSrcRegion = "src_region";
inline constexpr const char* kDstRegion = "dst_region";
inline constexpr const char* kBytes = "bytes";
inline constexpr const char* kUsdPerGB = "usd_per_GB";
inline constexpr const char* kEgressUsd = "egress_usd";
}  // namespace link

namespace collective {  // one entry of collectives
inline constexpr const char* kOp = "op";
inline constexpr const char* kAlgorithm = "algorithm";
inline constexpr const char* kRanks = "ranks";
inline constexpr const char* kSizeB = "size_B";
inline constexpr const char* kCount = "count";
inline constexpr const char* kMeanTimeS = "mean_time_s";
inline constexpr const char* kAlgbwGBps = "algbw_GBps";
inline constexpr const char* kBusbwGBps = "busbw_GBps";
}  // namespace collective

namespace convergence {
inline constexpr const char* kFinalTrainLoss = "final_train_loss";
inline constexpr const char* kFinalTestLoss = "final_test_loss";
inline constexpr const char* kFinalTestAccuracy = "final_test_accuracy";
inline constexpr const char* kTarget = "target";
inline constexpr const char* kTimeToTargetS = "time_to_target_s";
inline constexpr const char* kCostToTargetUsd = "cost_to_target_usd";
}  // namespace convergence

namespace staleness {
inline constexpr const char* kMean = "mean";
}  // namespace staleness

// "/key" or "/key/member" (the keys above need no escaping).
inline std::string pointer(std::string_view key, std::string_view member = {}) {
  std::string p = "/" + std::string(key);
  if (!member.empty()) p += "/" + std::string(member);
  return p;
}

}  // namespace geotrain::result_keys
