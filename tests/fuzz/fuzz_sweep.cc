// Fuzz target: sweep files (analysis::load_sweep), and the first points built from them.
#include <algorithm>

#include "analysis/sweep_plan.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
constexpr std::size_t kPointsBuilt = 3;  // each point copies the base: a few show the axis code
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string file = geotrain::fuzz::write_file("sweep.json", {reinterpret_cast<const char*>(data), size});
  geotrain::fuzz::expect_result_or_bad_input([&] {
    const auto plan = geotrain::analysis::load_sweep(file);
    for (std::size_t i = 0; i < std::min(kPointsBuilt, plan.points.size()); ++i) (void)plan.points[i];
  });
  return 0;
}
