// The depth x trial protocol the retrieval tasks share (passkey, kv-retrieval; docs/protocols.md
// §Passkey, §Key-value retrieval): their common config keys, the trials of one window, what the
// records add up to (accuracy overall and per depth), the uncertainty block and the common part
// of the cell's details and report views. Each task keeps its own prompt, its own per-trial draw
// (passkey's key, kv-retrieval's trial seed), its record and its scoring.
#pragma once

#include <climits>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "e2llm/config_reader.hpp"
#include "e2llm/language_model.hpp"
#include "e2llm/report_view.hpp"
#include "e2llm/task.hpp"
#include "e2llm/taskkit/prompt_framing.hpp"
#include "e2llm/tokenizer.hpp"

namespace e2llm::taskkit {

// The config keys of a retrieval task (all optional):
//   depths          [0, 0.25, 0.5, 0.75, 1.0]: where the asked item sits in the prompt
//   trials          per (window, depth); the task's default
//   threshold       0.9: the report's "largest window with accuracy >= threshold"
//   max_new_tokens  greedy tokens the answer may take; the task's default
//   target_tokens   0 = window - max_new_tokens (the framed prompt, BOS and chat template
//                   included, never exceeds it; prompt_budget.hpp)
//   chat_template, add_bos  the prompt framing (prompt_framing.hpp)
inline constexpr double kRetrievalThreshold = 0.9;  // the default threshold, and the views'

struct RetrievalConfig {
  RetrievalConfig(std::int64_t default_trials, std::int32_t default_max_new_tokens)
      : trials(default_trials), max_new_tokens(default_max_new_tokens) {}

  std::vector<double> depths{0.0, 0.25, 0.5, 0.75, 1.0};
  std::int64_t trials;
  double threshold = kRetrievalThreshold;
  std::int32_t max_new_tokens;
  std::int64_t target_tokens = 0;
  FramingConfig framing;
};

// Reads the keys above into `config` (its values are the defaults) from a task's section;
// the task reads its own keys and calls cfg.finish(), then check_retrieval_config().
void read_retrieval_config(ConfigReader& cfg, RetrievalConfig& config);
// Throws ConfigError naming the key: depths empty, outside [0, 1] or listed twice (as numbers:
// 0 and -0 are one depth), trials < 1, threshold outside [0, 1], max_new_tokens < 1,
// target_tokens < 0.
void check_retrieval_config(const RetrievalConfig& config);

// The shared keys' part of a task's fingerprint fields: depths, trials, threshold,
// max_new_tokens, target_tokens and the framing (add_framing_fingerprint). The task adds
// "task", "version", "template" and its own keys (a JSON object's keys are sorted, so the
// hash is that of one object written out at once).
nlohmann::json retrieval_fingerprint_fields(const RetrievalConfig& config);

// depths x trials: the items of every cell.
std::int64_t retrieval_items(const RetrievalConfig& config);

// Greedy generation of at most max_new_tokens, stopping at the framing's stop tokens.
GenerationOptions retrieval_generation(const RetrievalConfig& config, const PromptFraming& framing);

// One trial of a window: id "window=W/depth=D/trial=T" (D = format_fraction(depth)).
struct RetrievalTrial {
  std::string id;
  double depth;
  std::string depth_name;  // format_fraction(depth): the depth's row in the metrics
  std::int64_t trial;
};

// Every (depth, trial) of one window, depth-major in the config's depth order: the order of
// the cell's samples.
std::vector<RetrievalTrial> plan_retrieval_trials(const RetrievalConfig& config, std::int64_t window);

// What a cell's records add up to; each record has "correct" (bool), "prompt_tokens" and
// "generated_tokens". Records are in trial order.
struct RetrievalTally {
  std::int64_t trials = 0, correct = 0;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> by_depth;  // depth -> (correct, trials)
  std::int64_t prompt_min = INT64_MAX, prompt_max = 0;
  std::uint64_t tokens = 0;  // prompt and generated tokens: the cell's tokens_processed

  double accuracy() const { return double(correct) / double(trials); }
  // {depth: accuracy}.
  nlohmann::json accuracy_by_depth() const;
  // The cell's metrics: accuracy, accuracy_by_depth, trials.
  nlohmann::json metrics() const;
};
RetrievalTally tally_retrieval(const std::vector<RetrievalTrial>& trials, const std::vector<nlohmann::json>& records);

// Prompts are the items (0/1 each): Wilson and bootstrap intervals of the accuracy, overall
// and per depth; cells on the same prompts compare by exact McNemar (docs/statistics.md).
nlohmann::json retrieval_uncertainty(const std::vector<RetrievalTrial>& trials,
                                     const std::vector<nlohmann::json>& records, std::uint64_t seed);

// The details every retrieval cell records (window, target_tokens and its rule, prompt sizes,
// depths, trials_per_depth, max_new_tokens, decoding, seed, threshold, passes_threshold,
// add_bos, prompt_framing, tokenizer); the task adds its template, scoring and draw rules.
struct RetrievalCell {
  std::int64_t window, target_tokens;
  std::uint64_t seed;
};
nlohmann::json retrieval_details(const RetrievalConfig& config, const PromptFraming& framing, const RetrievalCell& cell,
                                 const RetrievalTally& tally);

// What a cell's records add up to, into `result` (its samples, in trial order): metrics,
// uncertainty, tokens_processed and the common details (retrieval_details), to which the task
// adds its own. Returns the tally.
RetrievalTally score_retrieval_cell(CellResult& result, const RetrievalConfig& config, const PromptFraming& framing,
                                    const std::vector<RetrievalTrial>& trials, const RetrievalCell& cell);

// The two report views: accuracy per backend and window (the largest window at the threshold,
// and 90% of the base at its own window), then depth x window per backend.
struct RetrievalViewTexts {
  std::string title, note;               // the accuracy view
  std::string depth_title, depth_note;   // the depth x window view
  std::optional<std::string> note_html;  // both views' note_html (unset: the note converted)
};
std::vector<ReportView> retrieval_views(const RetrievalViewTexts& texts);
// A retrieval task's info(): metrics accuracy (the headline) and trials, and those two views.
TaskInfo retrieval_task_info(const std::string& name, const std::string& version, const std::string& description,
                             const RetrievalViewTexts& texts);

}  // namespace e2llm::taskkit
