// Small file helpers shared by the harness and every plugin (no LibTorch).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace e2llm::util {

// Whole file as bytes; throws e2llm::Error "cannot read PATH: reason".
std::string read_file(const std::filesystem::path& path);

// Writes PATH.tmp.<pid>, fsyncs, renames over PATH: readers see the old or the new file,
// never a partial one. Creates parent folders. Throws e2llm::Error naming the path.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// Calls fn(row, line_number) for every non-blank line. A line that is not a JSON object
// throws e2llm::Error "PATH:LINE: invalid JSON (...)". A file without rows throws
// "PATH: empty file (no JSON rows)".
void for_each_jsonl(const std::filesystem::path& path,
                    const std::function<void(const nlohmann::json& row, std::size_t line)>& fn);

// Appends one JSON line and flushes it to disk (fsync) before returning, so that a
// SIGKILL loses at most the record being written. A torn last line (no newline) left by
// a crash is ignored by read_jsonl_tolerant().
class JsonlAppender {
 public:
  explicit JsonlAppender(const std::filesystem::path& path);
  ~JsonlAppender();
  JsonlAppender(const JsonlAppender&) = delete;
  JsonlAppender& operator=(const JsonlAppender&) = delete;
  void append(const nlohmann::json& row);

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

// Reads an append-only JSONL journal, skipping a final line without its newline.
std::vector<nlohmann::json> read_jsonl_tolerant(const std::filesystem::path& path);

}  // namespace e2llm::util
