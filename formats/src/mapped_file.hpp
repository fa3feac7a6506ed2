// Private helpers shared by the checkpoint readers: a read-only mmap and a bounds-checked
// little-endian cursor over it.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "e2llm/error.hpp"

namespace e2llm::formats::detail {

struct MappedFile {
  std::shared_ptr<const void> owner;  // munmaps when the last view is gone
  const unsigned char* data = nullptr;
  size_t size = 0;
};

// Throws e2llm::Error "cannot open PATH: reason".
MappedFile map_file(const std::filesystem::path& path);

// Reads little-endian values; any read past the end throws
// "FILE: truncated or corrupted: <what> at byte N needs M bytes, file has K".
class Cursor {
 public:
  Cursor(const unsigned char* data, size_t size, std::string file) : data_(data), size_(size), file_(std::move(file)) {}
  size_t pos() const { return pos_; }
  size_t size() const { return size_; }
  const std::string& file() const { return file_; }

  void need(size_t n, const char* what) const {
    if (n > size_ - pos_) fail(what, n);
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // hosts are little-endian (x86-64, aarch64)
    pos_ += sizeof(T);
    return v;
  }
  std::string_view bytes(size_t n, const char* what) {
    need(n, what);
    std::string_view v(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return v;
  }
  void skip(size_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }
  [[noreturn]] void fail(const char* what, size_t n) const;
  [[noreturn]] void corrupt(const std::string& message) const;

 private:
  const unsigned char* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string file_;
};

// A name from a file made safe for a one-line message: control and non-ASCII bytes become
// \xNN, long names are cut.
std::string printable(std::string_view s, size_t max_len = 96);

// a * b with overflow detection; returns false on overflow.
inline bool mul_overflow(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}
inline bool add_overflow(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_add_overflow(a, b, out);
}

}  // namespace e2llm::formats::detail
