// Small file helpers shared by the harness and every plugin (no LibTorch).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace e2llm::util {

// Whole file as bytes; throws e2llm::Error "cannot read PATH: reason".
std::string read_file(const std::filesystem::path& path);

// Writes PATH.tmp.<pid>, fsyncs, renames over PATH: readers see the old or the new file,
// never a partial one. Creates parent folders. Throws e2llm::Error naming the path.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// Several files as one step: each is written to PATH.tmp.<pid> and fsynced, and only when
// every one is complete are they renamed over their paths, in the order given. A failed
// write (disk full, a file-size limit) leaves every PATH as it was and no temp file behind.
// Throws e2llm::Error naming the file that failed.
void write_files_atomic(const std::vector<std::pair<std::filesystem::path, std::string>>& files);

// Removes the temp files of the writers above (NAME.tmp.<pid>) in `dir` (and its subfolders
// when `recursive`) whose writer is no longer running on this machine: a process killed
// mid-write. Files of live processes, this one's included, are kept. Returns the count.
std::size_t remove_stale_temp_files(const std::filesystem::path& dir, bool recursive);

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
