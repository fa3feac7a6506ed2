// The LongBench v1 task: prompts each row, middle-truncates it to the budget, generates
// greedily, scores with the official metrics, and writes LongBench prediction files.
//
// Config (all optional but data_dir):
//   data_dir     folder with <dataset>.jsonl (LongBench v1 rows)
//   datasets     list, default the nine English QA/summarization sets
//   limit        rows per dataset, 0 = all (default)
//   budget_rule  "window_minus_reserve" (default; LongBench's max_length = W - reserve),
//                "window_minus_max_new" (W - the dataset's max new tokens),
//                "fixed" (the `budget` key; implied when `budget` is set)
//   reserve      tokens kept free for the answer, default 500
//   budget       a fixed prompt budget in tokens
//   out_dir      where <dataset>.jsonl prediction files go (none when unset)
//   chat_template "none" (default) | "auto" | a family: the chat prompt, built after truncation
//                for the datasets that take one (DatasetSpec::chat_template)
//   add_bos      "auto" (default) | true | false (taskkit/prompt_framing.hpp)
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/longbench/datasets.hpp"
#include "e2llm/longbench/loader.hpp"
#include "e2llm/task.hpp"
#include "e2llm/taskkit/prompt_framing.hpp"

namespace e2llm::longbench {

enum class BudgetRule { window_minus_reserve, window_minus_max_new, fixed };

struct TaskConfig {
  std::filesystem::path data_dir;
  std::vector<std::string> datasets;
  std::size_t limit = 0;
  BudgetRule budget_rule = BudgetRule::window_minus_reserve;
  std::int64_t reserve = 500;
  std::int64_t budget = 0;  // for BudgetRule::fixed
  std::filesystem::path out_dir;
  taskkit::FramingConfig framing;
};

// The prompt budget (BOS included, before the chat template) for a window and dataset under the config's rule.
// Throws e2llm::Error when it leaves fewer than 2 prompt tokens or exceeds the window.
std::int64_t prompt_budget(const TaskConfig& config, std::int64_t window, const DatasetSpec& spec);

std::string budget_rule_name(BudgetRule rule);

class LongBenchTask : public Task {
 public:
  TaskInfo info() const override;
  void configure(const nlohmann::json& config) override;
  std::string fingerprint() const override;
  CellResult evaluate(LanguageModel& model, EvalContext& context) override;
  // Rows: min(limit, rows) of every dataset file, counted at configure().
  std::optional<std::int64_t> planned_items(std::int64_t window) const override;
  void set_sweep(const SweepInfo& sweep) override;
  // {"dataset", "file", "per_sample"?} -> {"dataset", "metric", "n", "score", "per_sample"?}
  nlohmann::json score_predictions(const nlohmann::json& request) override;

  const TaskConfig& config() const { return config_; }

 private:
  // The metrics (per dataset, avg_en), the prediction files and the protocol facts.
  void summarize(CellResult& result, const std::vector<std::vector<Row>>& all_rows,
                 const std::vector<std::int64_t>& budgets, const std::vector<std::size_t>& resumed, std::int64_t window,
                 const taskkit::PromptFraming& framing) const;

  bool configured_ = false;
  TaskConfig config_;
  nlohmann::json resolved_;  // the resolved config, as recorded and hashed
  std::string fingerprint_;
  std::int64_t planned_rows_ = 0;
};

}  // namespace e2llm::longbench
