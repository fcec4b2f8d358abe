// Fuzz target: the scenario loader (sim::load_scenario), the reader of `geotrain run`'s input.
#include "sim/scenario.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string file = geotrain::fuzz::write_file("scenario.json", {reinterpret_cast<const char*>(data), size});
  geotrain::fuzz::expect_result_or_bad_input([&] { (void)geotrain::sim::load_scenario(file); });
  return 0;
}
