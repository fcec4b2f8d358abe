// Fuzz target: the report renderer (analysis::report_html) on a run folder.  The input holds the
// folder's three files, results.json, timeline.csv and trace.json, separated by lines "#---";
// a missing part leaves that file out of the folder.
#include <filesystem>
#include <string_view>

#include "analysis/report.h"
#include "tests/fuzz/fuzz_util.h"

namespace {
constexpr std::string_view kSeparator = "\n#---\n";
constexpr const char* kFiles[] = {"results.json", "timeline.csv", "trace.json"};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = geotrain::fuzz::scratch_dir() / "run";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (const char* name : kFiles) {
    if (rest.data() == nullptr) break;
    const auto cut = rest.find(kSeparator);
    geotrain::fuzz::write_file(std::string("run/") + name, rest.substr(0, cut));
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + kSeparator.size());
  }
  geotrain::fuzz::expect_result_or_bad_input([&] { (void)geotrain::analysis::report_html(dir.string()); });
  return 0;
}
