#include "mapped_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>

namespace e2llm::formats::detail {

MappedFile map_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    throw Error(fmt::format("cannot read {}: {}", path.string(),
                            S_ISREG(st.st_mode) ? std::strerror(err) : "not a regular file"));
  }
  MappedFile m;
  m.size = static_cast<size_t>(st.st_size);
  if (m.size == 0) {  // mmap refuses length 0; an empty file is simply truncated
    ::close(fd);
    m.owner = std::make_shared<int>(0);
    return m;
  }
  void* p = ::mmap(nullptr, m.size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping stays valid after close
  if (p == MAP_FAILED) throw Error(fmt::format("cannot mmap {}: {}", path.string(), std::strerror(err)));
  const size_t size = m.size;
  m.owner = std::shared_ptr<const void>(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  m.data = static_cast<const unsigned char*>(p);
  return m;
}

std::string printable(std::string_view s, size_t max_len) {
  std::string out;
  for (unsigned char ch : s.substr(0, max_len)) {
    if (ch >= 0x20 && ch < 0x7f)
      out += static_cast<char>(ch);
    else
      out += fmt::format("\\x{:02x}", ch);
  }
  if (s.size() > max_len) out += fmt::format("...({} bytes)", s.size());
  return out;
}

void Cursor::fail(const char* what, size_t n) const {
  throw Error(
      fmt::format("{}: truncated or corrupted file: {} at byte {} needs {} bytes but the file has {}; "
                  "re-download or re-convert it",
                  file_, what, pos_, n, size_));
}

void Cursor::corrupt(const std::string& message) const {
  throw Error(fmt::format("{}: corrupted file: {} (at byte {}); re-download or re-convert it", file_, message, pos_));
}

}  // namespace e2llm::formats::detail
