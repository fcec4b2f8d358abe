// Input files: regular files only (common/files.h).
#include "common/files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace geotrain::common {

std::string regular_file_problem(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) return "no such file";
    return fmt::format("cannot look up this path: {}{}", std::strerror(error),
                       error == ENAMETOOLONG ? " (at most 255 bytes per name, 4095 per path)" : "");
  }
  if (S_ISDIR(st.st_mode)) return "is a folder; expected a JSON file";
  if (!S_ISREG(st.st_mode)) return "not a regular file (a FIFO, device or socket); expected a regular file";
  return "";
}

}  // namespace geotrain::common
