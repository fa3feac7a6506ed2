// Finds, loads and checks plugin libraries; creates plugin objects that keep their library
// loaded for as long as they live.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "e2llm/backend.hpp"
#include "e2llm/task.hpp"
#include "e2llm/tokenizer.hpp"

namespace e2llm::harness {

struct PluginRecord {
  std::string kind;
  std::string name;
  std::string version;
  std::filesystem::path path;
};

class PluginRegistry {
 public:
  // Loads every *.so in `folders` (in order; an entry may also name one library file). A
  // relative entry is made absolute first, against the working directory of this moment.
  // A file that is not an e2llm plugin, or one built for another ABI, is an e2llm::Error
  // naming the file; so is a library, or a folder holding or above it, that others can
  // write (docs/reliability.md). A later plugin with the same kind and name as an earlier
  // one is skipped.
  explicit PluginRegistry(const std::vector<std::filesystem::path>& folders);

  // The folders searched by default: $E2LLM_PLUGIN_PATH (':'-separated absolute folders;
  // empty entries mean nothing, a relative one is an e2llm::Error), then `extra` (e.g. from
  // the config), then the plugin folder beside the executable.
  static std::vector<std::filesystem::path> default_folders(const std::vector<std::filesystem::path>& extra = {});

  const std::vector<PluginRecord>& plugins() const { return records_; }
  const std::vector<std::filesystem::path>& folders() const { return folders_; }

  std::shared_ptr<Tokenizer> make_tokenizer(const std::string& name) const;
  std::shared_ptr<Backend> make_backend(const std::string& name) const;
  std::shared_ptr<Task> make_task(const std::string& name) const;

  // Names of the plugins of one kind, sorted.
  std::vector<std::string> names(const std::string& kind) const;

 private:
  struct Loaded;
  std::shared_ptr<Plugin> create(const std::string& kind, const std::string& name) const;

  std::vector<std::filesystem::path> folders_;
  std::vector<PluginRecord> records_;
  std::vector<std::shared_ptr<Loaded>> loaded_;
};

// The folder of the running executable (for finding plugins and configs beside it), or an
// empty path when the system cannot say (never the working directory).
std::filesystem::path executable_dir();

}  // namespace e2llm::harness
