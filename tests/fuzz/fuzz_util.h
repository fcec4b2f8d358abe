// Shared by the fuzz targets: the fuzzer's bytes as a file (every reader takes a path), and the
// rule every target checks: a reader either returns or throws its documented bad-input error.
// Anything else escaping (std::bad_alloc, std::out_of_range, nlohmann's own exceptions) is a
// finding: the target aborts, and libFuzzer saves the input.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "analysis/json_file.h"
#include "runtime/dataset.h"
#include "sim/json_reader.h"

namespace geotrain::fuzz {

// A folder of this process's own under the system's temporary folder, created once.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("geotrain-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes `bytes` to scratch_dir()/name and returns the path.
inline std::string write_file(const std::string& name, std::string_view bytes) {
  const auto path = scratch_dir() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

// Runs `read`; bad input (BadInput, InputError, DataError) is an expected outcome, anything
// else aborts with its message.
template <class Fn>
void expect_result_or_bad_input(Fn&& read) {
  try {
    read();
  } catch (const sim::BadInput&) {
  } catch (const analysis::InputError&) {
  } catch (const runtime::DataError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: a reader let through an exception that is not bad input: %s\n", e.what());
    std::abort();
  }
}

}  // namespace geotrain::fuzz
