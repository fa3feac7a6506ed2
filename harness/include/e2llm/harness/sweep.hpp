// `e2llm sweep`: a run config -> plan (backends x tasks x windows) -> cells.
// The spec is everything the config says, checked and with paths resolved; the runner
// turns it into cells (cell_store.hpp) and the report reads them back (report.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/harness/config.hpp"
#include "e2llm/harness/registry.hpp"
#include "e2llm/harness/report.hpp"

namespace e2llm::harness {

// A [backends.<label>] or [tasks.<label>] section.
struct PluginSection {
  std::string label;
  std::string plugin;
  std::string section;               // "backends.<label>", for located errors
  nlohmann::json config_as_written;  // without "plugin"; part of the cell key (portable). The
                                     // plugin's declared path keys are resolved when it is loaded.
};

struct SweepSpec {
  Config config;
  std::string name;
  std::filesystem::path out;
  std::uint64_t seed = 0;
  int threads = 0;  // 0 = leave the libraries' default
  // [run] device / dtype (or --device): handed to every backend's prepare(); empty = each
  // backend's own setting ("auto": CUDA when a GPU is visible, "float32").
  std::string device, dtype;
  std::vector<std::filesystem::path> plugin_paths;
  std::string tokenizer_plugin = "sentencepiece";
  std::filesystem::path tokenizer_model;
  // Where tokenizer_model comes from, for errors: "tokenizer.model", or "base.path" when
  // [tokenizer] model is left out and the base model's own tokenizer is used.
  std::string tokenizer_key = "tokenizer.model";
  std::string base_source;         // "gguf" | "hf" | "pretrain"
  std::filesystem::path base_path;  // empty for "pretrain"
  std::int64_t original_window = 0;  // L
  std::optional<PluginSection> pretrain;
  std::vector<PluginSection> backends;
  std::vector<PluginSection> tasks;
  std::vector<std::int64_t> windows;
  // [sweep] seeds: training seeds. Each backend that trains is prepared (trained) once per
  // seed and has cells per seed; the others once. Empty: one training with each backend's
  // own seed. Tasks keep [run] seed, so every cell of a window scores the same items.
  std::vector<std::uint64_t> seeds;
  ReportSettings report;  // [report], checked against the backends
};

// Checks the config (located errors) and resolves paths. `out_override` is --out.
SweepSpec parse_sweep_spec(const Config& config, const std::optional<std::filesystem::path>& out_override = {});

struct SweepOptions {
  bool dry_run = false;
};

// Runs (or with dry_run, prints) the sweep. Returns the process exit code.
int run_sweep(const SweepSpec& spec, PluginRegistry& registry, const SweepOptions& options);

}  // namespace e2llm::harness
