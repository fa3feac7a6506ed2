// Where a sweep keeps its results: one self-describing JSON file per cell, named by the
// cell's content key, plus a per-cell sample journal (resume inside a cell) and a lock
// file (one process per cell). docs/results-schema.md describes the files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "e2llm/task.hpp"
#include "e2llm/util/files.hpp"

namespace e2llm::harness {

// The cell file format. Bump the version on any change a reader must know about.
inline constexpr const char* kCellSchema = "e2llm.cell";
// 2: task.views, peak_rss_bytes_cell. 3: uncertainty, training_seed, config_sha256.
// 4: window_ratio (W / L) and served_scale (the RoPE scale the model ran with) replace g.
inline constexpr int kCellSchemaVersion = 4;
// Bump when the key material changes shape: every cell is then recomputed.
inline constexpr int kCellKeyVersion = 1;

// Everything a cell's result depends on. Paths are left out on purpose (configs as written,
// not resolved; the base model without its path): the content hashes stand for the files,
// so a moved run folder or checkout keeps its cells.
struct CellKeyInputs {
  std::string backend_label, backend_plugin, backend_version;
  nlohmann::json backend_config;  // the section as written, without "plugin"
  std::string checkpoint_hash;    // from the backend's prepare record
  nlohmann::json base;            // {"format", "original_window", ...} (no path)
  std::string tokenizer_fingerprint;
  std::string task_label, task_plugin, task_version;
  nlohmann::json task_config;  // the section as written, without "plugin"
  std::string task_fingerprint;
  std::int64_t window = 0;
  std::uint64_t seed = 0;
  std::optional<std::uint64_t> training_seed;  // [sweep] seeds: the seed the backend trained with
};
nlohmann::json cell_key_material(const CellKeyInputs& in);

// sha256 (hex) of the canonical JSON of `material` (objects keep sorted keys, no spaces).
std::string cell_key(const nlohmann::json& material);
// The file-name stem of a key: its first 16 hex characters.
std::string cell_stem(const std::string& key);

class CellStore {
 public:
  explicit CellStore(std::filesystem::path cells_dir) : dir_(std::move(cells_dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  std::filesystem::path cell_path(const std::string& key) const { return dir_ / (cell_stem(key) + ".json"); }
  std::filesystem::path journal_path(const std::string& key) const { return dir_ / (cell_stem(key) + ".samples.jsonl"); }
  std::filesystem::path records_path(const std::string& key) const { return dir_ / (cell_stem(key) + ".records.jsonl"); }
  std::filesystem::path lock_path(const std::string& key) const { return dir_ / (cell_stem(key) + ".lock"); }

  // The finished cell for `key`, or nothing when absent or unreadable (an unreadable cell
  // is recomputed; `e2llm report` names it). A file holding another full key (a 64-bit
  // prefix collision) is an Error.
  std::optional<nlohmann::json> find_finished(const std::string& key) const;

  // Writes the per-sample records, then the cell (both atomically; the cell last, since its
  // presence means "done"), then drops the journal.
  void write_finished(const std::string& key, const nlohmann::json& cell, const std::vector<nlohmann::json>& records) const;

 private:
  std::filesystem::path dir_;
};

// An exclusive claim on one cell by one process. The lock file is created with
// O_CREAT|O_EXCL and holds the owner's pid; the owner also keeps a flock() on it, which the
// kernel drops when the owner dies (even by SIGKILL). A lock file nobody flocks is stale
// (its pid is dead, or was reused) and is taken over.
class CellLock {
 public:
  // The lock, or nothing when a live process holds it.
  static std::optional<CellLock> try_acquire(const std::filesystem::path& path);
  // Waits until the lock is free (for work every process needs once, e.g. prepare()).
  static CellLock acquire_blocking(const std::filesystem::path& path);
  // The pid written in a lock file, or 0.
  static pid_t holder(const std::filesystem::path& path);

  CellLock(CellLock&& other) noexcept;
  CellLock& operator=(CellLock&&) = delete;
  CellLock(const CellLock&) = delete;
  ~CellLock();
  bool took_over() const { return took_over_; }  // a stale lock was taken over

 private:
  CellLock(std::filesystem::path path, int fd, bool took_over) : path_(std::move(path)), fd_(fd), took_over_(took_over) {}
  std::filesystem::path path_;
  int fd_ = -1;
  bool took_over_ = false;
};

// SampleStore over an append-only JSONL journal ({"id": ..., "record": ...} per line).
// A torn last line (a crash mid-write) is cut off before appending, so it costs exactly
// the sample that was in flight.
class JournalSampleStore : public SampleStore {
 public:
  explicit JournalSampleStore(const std::filesystem::path& path);
  std::optional<nlohmann::json> find(const std::string& sample_id) override;
  void put(const std::string& sample_id, const nlohmann::json& record) override;

  std::size_t loaded() const { return loaded_; }    // records found in the journal at start
  std::size_t resumed() const { return resumed_; }                      // of those, asked for by the task

 private:
  std::map<std::string, nlohmann::json> records_;
  std::unique_ptr<util::JsonlAppender> appender_;
  std::filesystem::path path_;
  std::size_t loaded_ = 0;
  std::size_t resumed_ = 0;
};

}  // namespace e2llm::harness
