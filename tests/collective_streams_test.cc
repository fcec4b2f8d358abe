// network.collective_streams: a transfer inside a region opens several TCP streams, as NCCL's
// socket transport does, each capped at window / RTT and all together at the NICs; WAN transfers
// keep parallel_streams. Against closed forms, NCCL's per-cloud defaults, and the same A100 DDP
// run in an AWS and a GCP region.
#include <algorithm>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "sim/platform.h"
#include "test_util.h"

namespace geotrain {
namespace {

using testing::one_transfer_s;

using testing::UniformNet;
constexpr double kBytesPerGbit = 1e9 / 8;
constexpr double kRel = 1e-9;  // closed forms: SimGrid's arithmetic, nothing looser


// Two workers in one region of `cloud`: NIC 100 Gbit/s, LAN latency 0.5 ms (RTT 1 ms), one
// stream measured at 5 Gbit/s (window 5 Gbit/s x 1 ms = 625,000 B), window cap on.
nlohmann::json lan_pair(const std::string& cloud = "c") {
  UniformNet net;
  net.regions = 1;
  net.workers_per_region = 2;
  net.lan_latency_ms = 0.5;
  net.nic_Gbps = 100;
  net.window_cap = true;
  auto topology = testing::uniform_topology(net);
  topology["regions"][0]["cloud"] = cloud;
  topology["regions"][0]["lan_single_stream_Gbps"] = 5.0;
  topology["egress_usd_per_GB"] = {{cloud, topology["egress_usd_per_GB"]["c"]}};
  return testing::scenario_json(topology, {2}, 1000, "ring", true);
}

constexpr double kLanLatency_s = 0.5e-3;
constexpr double kStream_Bps = 5 * kBytesPerGbit;   // 625,000 B / 1 ms
constexpr double kNic_Bps = 100 * kBytesPerGbit;

// bytes / min(NIC, S x window / RTT) + one-way latency.
double lan_closed_form_s(double bytes, int streams) {
  return kLanLatency_s + bytes / std::min(kNic_Bps, streams * kStream_Bps);
}

TEST(CollectiveStreams, InRegionTransferIsBytesOverStreamsTimesWindowOverRttOrTheNic) {
  const std::uint64_t bytes = 100'000'000;
  for (int streams : {1, 4, 16, 20, 32}) {  // 20 x 5 = 100 Gbit/s: the NIC exactly
    auto scenario = lan_pair();
    scenario["network"]["collective_streams"] = streams;
    const double expect = lan_closed_form_s(bytes, streams);
    EXPECT_NEAR(one_transfer_s(scenario, bytes), expect, kRel * expect) << streams << " streams";
  }
  // 16 streams: 80 Gbit/s, 0.5 ms + 10 ms; 32 streams: the NIC, 0.5 ms + 8 ms.
  EXPECT_NEAR(lan_closed_form_s(bytes, 16), 0.0105, 1e-12);
  EXPECT_NEAR(lan_closed_form_s(bytes, 32), 0.0085, 1e-12);
}

TEST(CollectiveStreams, ParallelStreamsDoNotApplyInsideARegion) {
  const std::uint64_t bytes = 100'000'000;
  auto scenario = lan_pair();
  scenario["network"]["collective_streams"] = 2;
  scenario["network"]["parallel_streams"] = 8;
  const double expect = lan_closed_form_s(bytes, 2);  // 10 Gbit/s, not 8 x 2
  EXPECT_NEAR(one_transfer_s(scenario, bytes), expect, kRel * expect);
}

// Without the key, a region gets the socket count NCCL picks for its cloud's NIC: AWS (ENA)
// 2 threads x 8 sockets = 16, GCP (gVNIC) 4 x 1 = 4, any other 1.
TEST(CollectiveStreams, DefaultIsNcclsSocketCountForTheRegionsCloud) {
  EXPECT_EQ(sim::nccl_default_sockets("aws"), 16);
  EXPECT_EQ(sim::nccl_default_sockets("gcp"), 4);
  EXPECT_EQ(sim::nccl_default_sockets("azure"), 1);
  EXPECT_EQ(sim::nccl_default_sockets("c"), 1);
  const std::uint64_t bytes = 100'000'000;
  for (const auto& [cloud, streams] : {std::pair<std::string, int>{"aws", 16}, {"gcp", 4}, {"c", 1}}) {
    const double expect = lan_closed_form_s(bytes, streams);
    EXPECT_NEAR(one_transfer_s(lan_pair(cloud), bytes), expect, kRel * expect) << cloud;
  }
}

TEST(CollectiveStreams, WanTransfersKeepParallelStreams) {
  UniformNet net;
  net.regions = 2;
  net.workers_per_region = 1;
  net.lan_latency_ms = 0.5;
  net.wan_latency_ms = 51.0;  // host RTT = 2 x (51 + 0.5) = 103 ms
  net.wan_Gbps = 100;
  net.window_cap = true;
  auto scenario = testing::uniform_scenario(net, 1000, "ring");
  scenario["network"]["tcp_window_B"] = 2.7e6;
  scenario["network"]["parallel_streams"] = 3;
  const std::uint64_t bytes = 100'000'000;
  const double expect = 0.0515 + bytes / (3 * 2.7e6 / 0.103);
  for (int streams : {1, 64}) {
    scenario["network"]["collective_streams"] = streams;
    EXPECT_NEAR(one_transfer_s(scenario, bytes), expect, kRel * expect) << streams;
  }
}

// The user's report: two 8 x A100 nodes doing DDP inside one region ran 3.9x slower on AWS
// (p4d.24xlarge, aws-us-east-1) than on GCP (a2-highgpu-8g, gcp-us-east4), because an AWS region
// capped the one TCP flow at 5 Gbit/s while the GCP region's default window allowed ~168 Gbit/s.
// With NCCL's sockets, both are what the closed form of their NICs, sockets and latencies says.
struct A100Run {
  std::string region, instance;
  double nic_Bps;          // instances.json nic_Gbps
  double stream_Bps;       // one stream: lan_single_stream_Gbps, else 4 MiB / 0.2 ms RTT
  int streams;             // NCCL's default for the cloud
};

double ddp_samples_per_s(const A100Run& run, const std::string& fidelity = "message") {
  nlohmann::json s = {{"name", "a100"}, {"seed", 1},
                      {"topology", std::string(GEOTRAIN_SOURCE_DIR) + "/topologies/multicloud.json"}};
  s["fleet"] = {{{"region", run.region}, {"instance", run.instance}, {"count", 2}}};
  s["workload"] = {{"model", {{"type", "profile"}, {"parameters", 1e9}, {"flops_per_sample", 6e12}}},
                   {"batch_per_worker", 64}, {"steps", 3}};
  s["strategy"] = {{"name", "ddp"}, {"allreduce", "ring"}};
  s["network"] = {{"fidelity", fidelity}};
  const auto r = nlohmann::json::parse(sim::run_isolated([&] {
    return sim::run_scenario(sim::parse_scenario(s, "a100.json")).results.dump();
  }));
  return r["throughput_samples_per_s"].get<double>();
}

double ddp_closed_form(const A100Run& run) {
  // Both: 8 x A100 at 312 TFLOPS x 0.4 (instances.json); 64 samples x 6 TFLOP per worker per step.
  const double compute_s = 64 * 6e12 / (8 * 312e12 * 0.4);
  // Ring of M = 2 over fp32 gradients (4 GB): 2 (M - 1) steps of latency + B / M / rate, with the
  // LAN latency 0.1 ms (geotrain's default: neither region measures it).
  const double rate = std::min(run.nic_Bps, run.streams * run.stream_Bps);
  const double allreduce_s = 2 * (0.1e-3 + 4e9 / 2 / rate);
  // The SGD step reads the fp32 weights and gradients and writes the weights (12 B per parameter)
  // at 8 x 1555 GB/s (A100 40GB HBM2, instances.json hbm_GBps).
  const double optimizer_s = 12 * 1e9 / (8 * 1555e9);
  return 2 * 64 / (compute_s + allreduce_s + optimizer_s);
}

TEST(CollectiveStreams, A100DdpInAnAwsAndAGcpRegionDiffersOnlyByNicsAndSockets) {
  const A100Run aws{"aws-us-east-1", "p4d.24xlarge", 400 * kBytesPerGbit, 5 * kBytesPerGbit, 16};
  const A100Run gcp{"gcp-us-east4", "a2-highgpu-8g", 100 * kBytesPerGbit, 4194304 / 0.2e-3, 4};
  const double aws_sps = ddp_samples_per_s(aws), gcp_sps = ddp_samples_per_s(gcp);
  EXPECT_NEAR(aws_sps, ddp_closed_form(aws), 1e-9 * aws_sps);
  EXPECT_NEAR(gcp_sps, ddp_closed_form(gcp), 1e-9 * gcp_sps);
  // AWS: 16 sockets x 5 Gbit/s = 80 Gbit/s (below its 400 Gbit/s NIC); GCP: its 100 Gbit/s NIC.
  // 0.3846 s compute + 0.4002 s vs 0.3202 s all-reduce + 0.96 ms optimizer step: 162.9 vs 181.4
  // samples/s (was 18.9 vs 181.6 with one 5 Gbit/s flow and no optimizer time).
  EXPECT_NEAR(aws_sps, 162.9, 0.1);
  EXPECT_NEAR(gcp_sps, 181.4, 0.1);
  EXPECT_NEAR(gcp_sps / aws_sps, ddp_closed_form(gcp) / ddp_closed_form(aws), 1e-9);
  // Collective fidelity times the all-reduce in closed form from the same caps.
  EXPECT_NEAR(ddp_samples_per_s(aws, "collective"), ddp_closed_form(aws), 1e-9 * aws_sps);
  EXPECT_NEAR(ddp_samples_per_s(gcp, "collective"), ddp_closed_form(gcp), 1e-9 * gcp_sps);
}

}  // namespace
}  // namespace geotrain
