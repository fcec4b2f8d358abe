// TempFile: an unnamed file, written with write(2) and read back with pread(2).
#include "common/spill_list.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

namespace geotrain::common {

namespace {
std::runtime_error file_error(const std::string& folder, const char* what, int error) {
  return std::runtime_error("a temporary file in " + folder + ": " + what + " failed: " + std::strerror(error));
}
}  // namespace

TempFile::TempFile() {
  const char* tmpdir = std::getenv("TMPDIR");
  folder_ = tmpdir && *tmpdir ? tmpdir : "/tmp";
  std::string name = folder_ + "/geotrain-spill-XXXXXX";
  fd_ = ::mkstemp(name.data());
  if (fd_ < 0) throw file_error(folder_, "creating it", errno);
  ::unlink(name.c_str());
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
}

void TempFile::append(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd_, p, bytes, static_cast<off_t>(size_));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw file_error(folder_, "writing", n < 0 ? errno : ENOSPC);
    p += n;
    bytes -= static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
}

void TempFile::read(std::uint64_t offset, void* data, std::size_t bytes) const {
  auto* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw file_error(folder_, "reading", n < 0 ? errno : EIO);
    p += n;
    bytes -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

}  // namespace geotrain::common
