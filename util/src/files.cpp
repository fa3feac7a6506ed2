#include "e2llm/util/files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "e2llm/error.hpp"

namespace e2llm::util {
namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error("cannot read " + path.string() + ": it is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path.string() + ": " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

static void write_all(int fd, std::string_view content, const fs::path& shown) {
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot write " + shown.string() + ": " + std::strerror(errno));
    }
    p += n, left -= std::size_t(n);
  }
}

namespace {

fs::path temp_path_of(const fs::path& path) {
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  return tmp;
}

// Writes and fsyncs `tmp`; on failure removes it and throws naming `path`.
void write_temp(const fs::path& path, const fs::path& tmp, std::string_view content) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  if (ec) throw Error("cannot create folder " + path.parent_path().string() + ": " + ec.message());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write " + path.string() + ": " + std::strerror(errno));
  try {
    write_all(fd, content, path);
    if (::fsync(fd) != 0) throw Error("cannot write " + path.string() + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path.string() + ": " + std::strerror(err));
  }
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view content) {
  const fs::path tmp = temp_path_of(path);
  write_temp(path, tmp, content);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path.string() + ": " + std::strerror(err));
  }
}

void write_files_atomic(const std::vector<std::pair<fs::path, std::string>>& files) {
  std::vector<fs::path> written;
  auto discard = [&written](std::size_t from) {
    for (std::size_t i = from; i < written.size(); ++i) ::unlink(written[i].c_str());
  };
  try {
    for (const auto& [path, content] : files) {
      write_temp(path, temp_path_of(path), content);
      written.push_back(temp_path_of(path));
    }
  } catch (...) {
    discard(0);
    throw;
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (::rename(written[i].c_str(), files[i].first.c_str()) != 0) {
      const int err = errno;
      discard(i);
      throw Error("cannot write " + files[i].first.string() + ": " + std::strerror(err));
    }
  }
}

std::size_t remove_stale_temp_files(const fs::path& dir, bool recursive) {
  std::size_t removed = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!recursive) it.disable_recursion_pending();
    const std::string name = it->path().filename().string();
    const auto dot = name.rfind(".tmp.");
    if (dot == std::string::npos || dot + 5 >= name.size()) continue;
    const std::string digits = name.substr(dot + 5);
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(digits);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code rm;
    if (it->is_regular_file(rm) && fs::remove(it->path(), rm)) ++removed;
  }
  return removed;
}

void for_each_jsonl(const fs::path& path, const std::function<void(const nlohmann::json&, std::size_t)>& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path.string() + ": " + std::strerror(errno));
  std::string line;
  std::size_t number = 0, rows = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
      std::string what = e.what();
      auto cut = what.find("parse error");
      throw Error(path.string() + ":" + std::to_string(number) + ": invalid JSON (" +
                  (cut == std::string::npos ? what : what.substr(cut)) + ")");
    }
    if (!row.is_object())
      throw Error(path.string() + ":" + std::to_string(number) + ": expected a JSON object per line");
    ++rows;
    fn(row, number);
  }
  if (rows == 0) throw Error(path.string() + ": empty file (no JSON rows)");
}

JsonlAppender::JsonlAppender(const fs::path& path) : path_(path) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open " + path.string() + " for appending: " + std::strerror(errno));
  // A record torn by a crash has no newline: end it, so the next record starts a line of its
  // own (the torn one is dropped by read_jsonl_tolerant).
  const off_t size = ::lseek(fd_, 0, SEEK_END);
  char last = '\n';
  if (size > 0 && ::pread(fd_, &last, 1, size - 1) == 1 && last != '\n') write_all(fd_, "\n", path_);
}

JsonlAppender::~JsonlAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlAppender::append(const nlohmann::json& row) {
  // One write() per record with O_APPEND: concurrent writers never interleave inside a line.
  std::string line = row.dump() + "\n";
  write_all(fd_, line, path_);
  if (::fdatasync(fd_) != 0) throw Error("cannot sync " + path_.string() + ": " + std::strerror(errno));
}

std::vector<nlohmann::json> read_jsonl_tolerant(const fs::path& path) {
  std::vector<nlohmann::json> rows;
  std::error_code ec;
  if (!fs::exists(path, ec)) return rows;
  std::string content = read_file(path);
  std::size_t start = 0;
  while (start < content.size()) {
    std::size_t end = content.find('\n', start);
    if (end == std::string::npos) break;  // torn last record from a crash: ignore
    std::string_view line(content.data() + start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    try {
      rows.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception&) {
      // A corrupt line can only be a torn write; the record is recomputed.
    }
  }
  return rows;
}

}  // namespace e2llm::util
