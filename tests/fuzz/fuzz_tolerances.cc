// Fuzz target: tolerance files of `geotrain check` (analysis::Tolerances::load), then a lookup.
#include "analysis/compare.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string file = geotrain::fuzz::write_file("tolerances.json", {reinterpret_cast<const char*>(data), size});
  geotrain::fuzz::expect_result_or_bad_input([&] {
    const auto tolerances = geotrain::analysis::Tolerances::load(file);
    (void)tolerances.for_pointer("/cost_usd/total");
  });
  return 0;
}
