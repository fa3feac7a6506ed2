// An evaluation: given a LanguageModel opened at a window, produce metrics.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/error.hpp"
#include "e2llm/language_model.hpp"
#include "e2llm/progress.hpp"
#include "e2llm/report_view.hpp"

namespace e2llm {

struct MetricInfo {
  std::string name;
  bool higher_is_better = true;
};

// What a task is, independent of its config: info() may be called before configure().
struct TaskInfo {
  std::string name;
  std::string version;
  std::string description;
  std::vector<MetricInfo> metrics;  // the first is the headline metric
  // How the report shows the task's cells (report_view.hpp), in this order. A task with
  // none still appears in the report's table of every task's headline metric.
  std::vector<ReportView> views{};
  // Config keys that hold paths (dotted for nested keys, e.g. "data" or "files.train"): a
  // relative path (a string, or each string of a list) is resolved against the config
  // file's folder before configure() sees it. Other values are handed over as written.
  std::vector<std::string> path_keys{};
};

// Per-sample results of a cell persisted as they are made, so a killed cell resumes.
class SampleStore {
 public:
  virtual ~SampleStore() = default;
  virtual std::optional<nlohmann::json> find(const std::string& sample_id) = 0;
  virtual void put(const std::string& sample_id, const nlohmann::json& record) = 0;
};

struct EvalContext {
  std::int64_t window = 0;
  std::uint64_t seed = 0;
  ProgressSink* progress = nullptr;  // may be null
  SampleStore* samples = nullptr;    // may be null: then nothing is resumed
};

struct CellResult {
  nlohmann::json metrics = nlohmann::json::object();  // name -> number (or object)
  std::vector<nlohmann::json> samples;                // per-sample records
  std::uint64_t tokens_processed = 0;
  nlohmann::json details = nlohmann::json::object();  // protocol facts (truncation, ...)
  // How sure the metrics are (docs/statistics.md): the per-item values and, per metric,
  // how it is computed from them and its intervals — what the task kit's
  // taskkit::UncertaintyBuilder::to_json() returns. The report shows the intervals and
  // compares cells scored on the same items from it. Empty: the report says "no interval".
  nlohmann::json uncertainty = nlohmann::json::object();
};

// The sweep a task runs in, for protocols that depend on more than the evaluated window.
struct SweepInfo {
  std::vector<std::int64_t> windows;  // every window of the sweep, ascending
  std::int64_t original_window = 0;   // L of the base model
  // The sweep's tokenizer (every backend's model carries it), valid during set_sweep(); null
  // outside a sweep. Lets a task check what only tokenizing shows (a prompt's least size).
  const Tokenizer* tokenizer = nullptr;
};

class Task : public Plugin {
 public:
  virtual TaskInfo info() const = 0;
  // The task's config section (TOML converted to JSON); throws ConfigError(field, ...).
  virtual void configure(const nlohmann::json& config) = 0;
  // Called by a sweep after configure() and before fingerprint(), with the sweep's windows
  // (e.g. perplexity over text as long as the largest window, the same text at every W: the
  // fingerprint must then include what the windows decided). Throws ConfigError(field, ...)
  // when the config does not fit the sweep. Outside a sweep it is not called.
  virtual void set_sweep(const SweepInfo& /*sweep*/) {}
  // Hash of the resolved config and the data it reads: part of every cell key.
  virtual std::string fingerprint() const = 0;
  virtual CellResult evaluate(LanguageModel& model, EvalContext& context) = 0;
  // The number of items (documents, trials, rows) evaluate() will go through at `window`,
  // as its progress reports count them; for the sweep's plan and progress. Unknown (the
  // default) when it depends on data not read yet. Called after configure().
  virtual std::optional<std::int64_t> planned_items(std::int64_t /*window*/) const { return std::nullopt; }

  // Optional tools a task can offer on the command line:
  //   e2llm score <task> ...  -> score_predictions({"dataset", "file", "per_sample"})
  //   e2llm data <task> ...   -> prepare_data({"out", ...})
  virtual nlohmann::json score_predictions(const nlohmann::json& /*request*/) {
    throw Error("task '" + info().name + "' cannot score prediction files");
  }
  virtual nlohmann::json prepare_data(const nlohmann::json& /*request*/) {
    throw Error("task '" + info().name + "' has no data preparation");
  }
};

}  // namespace e2llm
