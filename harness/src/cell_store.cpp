#include "e2llm/harness/cell_store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "e2llm/error.hpp"
#include "e2llm/util/sha256.hpp"

namespace e2llm::harness {
namespace fs = std::filesystem;

nlohmann::json cell_key_material(const CellKeyInputs& in) {
  nlohmann::json base = in.base;
  // Neither the path (where the base sits) nor its content hash (the backend's checkpoint
  // hash already names the weights it serves; adding it would move every existing key).
  if (base.is_object()) {
    base.erase("path");
    base.erase("content_sha256");
  }
  nlohmann::json material = {{"key_version", kCellKeyVersion},
                             {"backend",
                              {{"label", in.backend_label},
                               {"plugin", in.backend_plugin},
                               {"version", in.backend_version},
                               {"config", in.backend_config},
                               {"checkpoint_hash", in.checkpoint_hash}}},
                             {"base", base},
                             {"tokenizer", in.tokenizer_fingerprint},
                             {"task",
                              {{"label", in.task_label},
                               {"plugin", in.task_plugin},
                               {"version", in.task_version},
                               {"config", in.task_config},
                               {"fingerprint", in.task_fingerprint}}},
                             {"window", in.window},
                             {"seed", in.seed}};
  // Only with a seed axis: keys of sweeps without one stay what they were.
  if (in.training_seed) material["training_seed"] = *in.training_seed;
  return material;
}

std::string cell_key(const nlohmann::json& material) {
  // nlohmann::json objects are std::map-backed: dump() is canonical (sorted keys, no spaces).
  return util::sha256_hex(material.dump());
}

std::string cell_stem(const std::string& key) { return key.substr(0, 16); }

std::optional<nlohmann::json> CellStore::find_finished(const std::string& key) const {
  fs::path path = cell_path(key);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  nlohmann::json cell;
  try {
    cell = nlohmann::json::parse(util::read_file(path));
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable: recompute (and overwrite)
  }
  if (!cell.is_object() || !cell.contains("key")) return std::nullopt;
  if (cell["key"] != key)
    throw Error(path.string() + " holds cell " + cell["key"].dump() + ", not " + key +
                " (a key-prefix collision); move it away and rerun");
  return cell;
}

void CellStore::write_finished(const std::string& key, const nlohmann::json& cell,
                               const std::vector<nlohmann::json>& records) const {
  std::string lines;
  for (const auto& r : records) lines += r.dump() + "\n";
  // Both files or neither (the cell file last: its presence marks the cell finished).
  util::write_files_atomic({{records_path(key), std::move(lines)}, {cell_path(key), cell.dump(2) + "\n"}});
  std::error_code ec;
  fs::remove(journal_path(key), ec);  // the records file now holds the samples
}

// ---- CellLock ------------------------------------------------------------------------------

static void write_pid(int fd) {
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The pid is informational (flock decides liveness); a failed write is not fatal.
  }
}

std::optional<CellLock> CellLock::try_acquire(const fs::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      // Between our create and this flock another process may have judged the file stale
      // and taken it; then it is theirs.
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return std::nullopt;
      }
      write_pid(fd);
      return CellLock(path, fd, false);
    }
    if (errno != EEXIST) throw Error("cannot create lock " + path.string() + ": " + std::strerror(errno));
    fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue;  // released meanwhile: try to create it again
      throw Error("cannot open lock " + path.string() + ": " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return std::nullopt;  // a live holder
    }
    // We hold a flock, but on the file that is at `path` now? The owner unlinks before it
    // closes, so we may have locked a file already released.
    struct stat mine {}, current {};
    if (::fstat(fd, &mine) != 0 || ::stat(path.c_str(), &current) != 0 || mine.st_ino != current.st_ino ||
        mine.st_dev != current.st_dev) {
      ::close(fd);
      continue;
    }
    write_pid(fd);  // stale: its owner died without releasing
    return CellLock(path, fd, true);
  }
  return std::nullopt;
}

CellLock CellLock::acquire_blocking(const fs::path& path) {
  for (;;) {
    if (auto lock = try_acquire(path)) return std::move(*lock);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

pid_t CellLock::holder(const fs::path& path) {
  try {
    return static_cast<pid_t>(std::stol(util::read_file(path)));
  } catch (...) {
    return 0;
  }
}

CellLock::CellLock(CellLock&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), took_over_(other.took_over_) {
  other.fd_ = -1;
}

CellLock::~CellLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // unlink first, then drop the flock (see try_acquire)
  ::close(fd_);
}

// ---- JournalSampleStore ------------------------------------------------------------------

JournalSampleStore::JournalSampleStore(const fs::path& path) : path_(path) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    // Cut a torn last line, so the next append starts on a line of its own.
    std::string content = util::read_file(path);
    if (!content.empty() && content.back() != '\n') {
      auto keep = content.rfind('\n');
      fs::resize_file(path, keep == std::string::npos ? 0 : keep + 1, ec);
      if (ec) throw Error("cannot repair sample journal " + path.string() + ": " + ec.message());
    }
    for (auto& row : util::read_jsonl_tolerant(path)) {
      if (!row.is_object() || !row.contains("id") || !row["id"].is_string() || !row.contains("record")) continue;
      records_[row["id"].get<std::string>()] = std::move(row["record"]);
    }
  }
  loaded_ = records_.size();
  appender_ = std::make_unique<util::JsonlAppender>(path);
}

std::optional<nlohmann::json> JournalSampleStore::find(const std::string& sample_id) {
  auto it = records_.find(sample_id);
  if (it == records_.end()) return std::nullopt;
  ++resumed_;
  return it->second;
}

void JournalSampleStore::put(const std::string& sample_id, const nlohmann::json& record) {
  appender_->append({{"id", sample_id}, {"record", record}});
  records_[sample_id] = record;
}

}  // namespace e2llm::harness
