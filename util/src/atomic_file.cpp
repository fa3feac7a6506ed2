#include "e2llm/util/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "e2llm/error.hpp"

namespace e2llm::util {
namespace fs = std::filesystem;

AtomicFileWriter::AtomicFileWriter(fs::path path) : path_(std::move(path)) {
  tmp_ = path_;
  tmp_ += ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  if (path_.has_parent_path()) fs::create_directories(path_.parent_path(), ec);
  if (ec) throw Error("cannot create folder " + path_.parent_path().string() + ": " + ec.message());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot write " + path_.string() + ": " + std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFileWriter::fail(const char* what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  throw Error(std::string("cannot ") + what + " " + path_.string() + ": " + std::strerror(err));
}

void AtomicFileWriter::write(const void* data, std::size_t n) {
  if (fd_ < 0) throw Error("cannot write " + path_.string() + ": the writer is closed");
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, std::min<std::size_t>(n, std::size_t{1} << 30));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("write", w < 0 ? errno : EIO);
    p += w;
    n -= static_cast<std::size_t>(w);
    written_ += static_cast<std::uint64_t>(w);
  }
}

void AtomicFileWriter::write_zeros(std::size_t n) {
  static const char zeros[64] = {};
  while (n > 0) {
    const std::size_t k = std::min(n, sizeof zeros);
    write(zeros, k);
    n -= k;
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) throw Error("cannot write " + path_.string() + ": the writer is closed");
  if (::fsync(fd_) != 0) fail("write", errno);
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    throw Error("cannot write " + path_.string() + ": " + std::strerror(err));
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    throw Error("cannot write " + path_.string() + ": " + std::strerror(err));
  }
}

}  // namespace e2llm::util
