// Helpers for tests that run the geotrain binary or need scratch files: a fresh folder per test,
// file writing/reading, and one run of the binary with its exit code, stdout and stderr.
#pragma once
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace geotrain::testing {

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

// A fresh, empty folder under the test temp dir, named after `prefix`.
inline std::filesystem::path fresh_dir(const std::string& prefix = "geotrain_test") {
  std::string tmpl = (std::filesystem::path(::testing::TempDir()) / (prefix + "_XXXXXX")).string();
  const char* dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr) << "mkdtemp failed for " << tmpl;
  return dir ? std::filesystem::path(dir) : std::filesystem::path();
}

// Writes `text` to `file`, creating its folder.
inline void write_file(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

inline std::string read_file(const std::filesystem::path& file) {
  std::ostringstream s;
  s << std::ifstream(file, std::ios::binary).rdbuf();
  return s.str();
}

// Runs `geotrain ARGS` (ARGS is shell text: quote paths yourself) in `cwd` (default: the current
// folder), capturing stdout and stderr separately.
inline CliRun run_geotrain(const std::string& args, const std::filesystem::path& cwd = {}) {
  const auto scratch = fresh_dir("geotrain_cli");
  const auto out = scratch / "stdout", err = scratch / "stderr";
  std::string cmd = std::string("'") + GEOTRAIN_BINARY + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
  if (!cwd.empty()) cmd = "cd '" + cwd.string() + "' && " + cmd;
  const int status = std::system(cmd.c_str());
  return CliRun{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
}

}  // namespace geotrain::testing
