// Fuzz target: availability trace files (sim::load_availability_trace, all three formats), then
// the outages of the first instances, as a fleet entry reads them.
#include "sim/faults.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
constexpr int kInstancesRead = 3;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string file = geotrain::fuzz::write_file("trace.csv", {reinterpret_cast<const char*>(data), size});
  geotrain::fuzz::expect_result_or_bad_input([&] {
    const auto trace = geotrain::sim::load_availability_trace(file);
    for (int i = 0; i < kInstancesRead; ++i) (void)geotrain::sim::trace_outages(trace, i, 0);
  });
  return 0;
}
