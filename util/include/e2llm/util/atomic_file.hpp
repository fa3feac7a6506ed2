// A file too big to build in memory (model weights), written piece by piece to
// PATH.tmp.<pid> and renamed over PATH only by commit(): readers see the old file or the
// complete new one. Destroyed without commit() (an exception on the way), it removes the
// temp file. Errors are e2llm::Error naming PATH.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace e2llm::util {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path path);  // creates parent folders
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, std::size_t n);
  void write_zeros(std::size_t n);
  std::uint64_t size() const { return written_; }  // bytes written so far
  void commit();                                   // fsync, close, rename over PATH

 private:
  [[noreturn]] void fail(const char* what, int err);
  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
};

}  // namespace e2llm::util
