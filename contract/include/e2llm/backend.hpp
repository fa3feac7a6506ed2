// A context-extension method: how a base model is (optionally) trained and then opened
// for a given evaluation window.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/language_model.hpp"
#include "e2llm/progress.hpp"

namespace e2llm {

// info() is called before configure() (for path_keys) and again after it (`trains` may
// depend on the config).
struct BackendInfo {
  std::string name;
  std::string version;
  std::string description;
  bool trains = false;  // whether prepare() fine-tunes (and so costs training time)
  // Config keys that hold paths, resolved against the config file's folder before
  // configure() (see TaskInfo::path_keys). Must not depend on the config.
  std::vector<std::string> path_keys{};
};

struct PrepareContext {
  // The base model: {"path": ..., "format": "gguf" | "hf", "original_window": L}.
  nlohmann::json base_model;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::filesystem::path cache_dir;  // content-addressed outputs (trained checkpoints)
  std::uint64_t seed = 0;
  // The windows open() will be called with (a method that trains per window, like PI
  // fine-tuning, prepares each one here).
  std::vector<std::int64_t> windows;
  ProgressSink* progress = nullptr;  // may be null
  // The run's device ("auto" | "cpu" | "cuda" | "cuda:N") and evaluation dtype ("float32" |
  // "bfloat16"), from a sweep's [run] section or a command's --device; empty = the backend's
  // own setting. When set they override the backend's config.
  std::string device;
  std::string dtype;
  // One training seed of the sweep's seed axis ([sweep] seeds): a backend that trains uses
  // it in place of its own seed (every random draw of the training: data order, positions,
  // synthetic rows) and caches one training per seed. Unset: the backend's configured seed.
  // Training-free backends ignore it (the sweep prepares them once).
  std::optional<std::uint64_t> training_seed;
};

class Backend : public Plugin {
 public:
  virtual BackendInfo info() const = 0;
  // The backend's config section (TOML converted to JSON). Throws ConfigError(field, ...)
  // for an unknown key or a bad value.
  virtual void configure(const nlohmann::json& config) = 0;
  // Loads the base model and trains if the method trains; cached by content hash.
  // Returns a record with at least {"checkpoint_hash", "trained_tokens", "train_wall_s"};
  // a backend that produced a model on disk adds "checkpoint_path" (the harness uses it as
  // the base of the other backends when it ran a pretraining).
  virtual nlohmann::json prepare(const PrepareContext& context) = 0;
  // A model serving `window` tokens (for E2-LLM: g = W / L, t = 0).
  virtual std::unique_ptr<LanguageModel> open(std::int64_t window) = 0;
};

}  // namespace e2llm
