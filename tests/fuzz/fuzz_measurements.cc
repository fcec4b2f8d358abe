// Fuzz target: measurement files of `geotrain calibrate` (calibrate::load_measurements).  Beside
// the input lie a fixed topology.json and run.json (a run's scenario), which the seeds name.
#include "calibrate/measurements.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

constexpr const char* kTopology = R"({"name": "two",
  "regions": [{"name": "r0", "cloud": "c", "continent": "k0", "lan_latency_ms": 0.05},
              {"name": "r1", "cloud": "c", "continent": "k1", "lan_latency_ms": 0.05}],
  "links": [{"a": "r0", "b": "r1", "latency_ms": 40, "capacity_Gbps": 10}],
  "instance_types": {"gpu": {"gpu_peak_tflops": 100, "utilization": 0.5, "nic_Gbps": 100,
                             "usd_per_hour": {"on_demand": 3.6, "spot": 1.8}}},
  "egress_usd_per_GB": {"c": {"cross_zone": 0.01, "same_continent": 0.02, "inter_continent": 0.05, "internet": 0.09}}})";

constexpr const char* kRun = R"({"name": "run", "seed": 1, "topology": "topology.json",
  "fleet": [{"region": "r0", "instance": "gpu", "count": 1, "pricing": "on_demand"},
            {"region": "r1", "instance": "gpu", "count": 1, "pricing": "on_demand"}],
  "workload": {"model": {"type": "profile", "parameters": 1e6, "flops_per_sample": 1e9},
               "batch_per_worker": 8, "steps": 2},
  "strategy": {"name": "ddp", "allreduce": "ring"}})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool fixtures = (geotrain::fuzz::write_file("topology.json", kTopology),
                                geotrain::fuzz::write_file("run.json", kRun), true);
  (void)fixtures;
  const std::string file = geotrain::fuzz::write_file("measurements.json", {reinterpret_cast<const char*>(data), size});
  geotrain::fuzz::expect_result_or_bad_input([&] { (void)geotrain::calibrate::load_measurements(file); });
  return 0;
}
