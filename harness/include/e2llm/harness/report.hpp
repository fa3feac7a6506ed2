// `e2llm report RUN_DIR`: one model of a run's results (read from its cell files) and
// printers for it (markdown, HTML, JSON), as llama-bench prints one result set many ways.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace e2llm::harness {

// A number and the cell file it comes from (relative to the run folder, e.g.
// "cells/0123abcd0123abcd.json"): every number in a report is traceable.
struct CellValue {
  double value = 0;
  std::string cell;
};

// rows x columns of optional values.
struct ValueTable {
  std::vector<std::string> rows, columns;
  std::map<std::pair<std::size_t, std::size_t>, CellValue> values;
  const CellValue* at(std::size_t r, std::size_t c) const {
    auto it = values.find({r, c});
    return it == values.end() ? nullptr : &it->second;
  }
};

// One number per backend over the windows beyond L (W > L), for ranking methods (and the
// paper's ablations) at a glance; only backends with a value at every such window.
struct ExtendedSummary {
  std::string backend;
  double value = 0;
  std::size_t rank = 0;  // 1 + how many backends did strictly better (ties share a rank)
};

struct PerplexityView {  // one per proofpile task label
  std::string task_label, metric = "ppl";
  ValueTable table;  // backends x windows
  std::vector<ExtendedSummary> extended;  // geometric mean ppl over W > L, best (lowest) first
};

struct PasskeyView {  // one per passkey task label
  std::string task_label;
  bool percent = false;  // values are 0..100 rather than 0..1
  double threshold = 0.9;  // a fraction: --passkey-threshold, else the task's own "threshold"
  ValueTable accuracy;   // backends x windows
  std::map<std::string, ValueTable> by_depth;  // backend -> depths x windows
  std::map<std::string, std::optional<std::int64_t>> max_window_passing;  // at threshold
  std::vector<ExtendedSummary> extended;  // mean accuracy over W > L, best (highest) first
};

struct LongBenchView {  // one per (longbench task label, window)
  std::string task_label;
  std::int64_t window = 0;
  ValueTable table;  // datasets (+ avg_en) x backends
};

struct GenericView {  // every task: its headline metric, backends x windows
  std::string task_label, task_plugin, metric;
  bool higher_is_better = true;
  ValueTable table;
};

struct CostRow {
  std::string label, plugin, file;
  bool trains = false;
  std::optional<double> trained_tokens, train_wall_s;
  double prepare_wall_s = 0;
};

struct CellSummary {
  std::string file, key, backend, task, task_plugin;
  std::int64_t window = 0;
  double g = 0, tokens_per_s = 0, wall_s = 0;
  std::int64_t peak_rss_bytes = 0;
  std::string git_revision;
};

struct ReportOptions {
  // A fraction; compared with percent values x100. Unset: the passkey task's own
  // "threshold" config key, else 0.9.
  std::optional<double> passkey_threshold;
};

struct ReportModel {
  std::string run_name;
  std::filesystem::path run_dir;
  std::int64_t original_window = 0;
  std::vector<std::string> backends;  // labels, in the sweep's order
  std::vector<std::int64_t> windows;
  std::vector<CellSummary> cells;
  std::vector<PerplexityView> perplexity;
  std::vector<PasskeyView> passkey;
  std::vector<LongBenchView> longbench;
  std::vector<GenericView> headline;
  std::vector<CostRow> cost;
  ReportOptions options;
  std::string generated_at;
  std::vector<std::string> git_revisions;
  // Cell files left out because the latest sweep's plan (sweep.json "cells") does not list
  // them: results of an earlier config in the same folder.
  std::size_t cells_not_in_plan = 0;
};

// Reads <run>/cells/*.json (a corrupt one is an Error naming it), <run>/backends/*.json
// and <run>/sweep.json (for ordering, when present; when it lists the latest plan's cell
// keys, only those cells are reported).
ReportModel build_report_model(const std::filesystem::path& run_dir, const ReportOptions& options = {});

std::string render_markdown(const ReportModel& model);
std::string render_html(const ReportModel& model);
nlohmann::json render_summary_json(const ReportModel& model);

// Writes leaderboard.md, leaderboard.html, summary.json into the run folder (atomically).
std::vector<std::filesystem::path> write_report(const ReportModel& model);

// & < > " ' -> entities: for every string from data placed in HTML (text or attribute).
std::string html_escape(const std::string& text);

// The paper's reference numbers (docs/methods.md §Reference numbers), in one place.
struct PaperReference {
  std::string model;  // e.g. "Llama2-7B-chat-4k"
  std::string source;
  std::vector<std::pair<std::string, double>> longbench;  // dataset -> score (0..100)
};
const std::vector<PaperReference>& paper_reference();
// The paper's score for `dataset` as the report prints it ("—" when it has none); for
// "avg_en" the plain mean of its dataset scores (computed here, not printed in the paper).
std::string paper_longbench_cell(const PaperReference& reference, const std::string& dataset);

// Now, UTC, ISO 8601 with seconds ("2026-11-22T05:53:52Z"): cell and report timestamps.
std::string now_iso();
// The English LongBench datasets in the paper's column order (the names the task uses).
const std::vector<std::string>& longbench_dataset_order();

}  // namespace e2llm::harness
