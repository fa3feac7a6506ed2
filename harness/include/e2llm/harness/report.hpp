// `e2llm report RUN_DIR`: one model of a run's results (read from its cell files) and
// printers for it (markdown, HTML, JSON), as llama-bench prints one result set many ways.
// The harness knows no task: each task's cells carry the views it declared
// (e2llm/report_view.hpp), and the printers render those.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/report_view.hpp"

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

// One view a task declared (e2llm/report_view.hpp), filled from the task's cells.
struct ViewData {
  ReportView spec;
  bool percent = false;  // ValueFormat::percent values are 0..100 (else fractions 0..1)
  // window_curve: backends x windows, the ranking over W > L (best first), and the largest
  // window each backend passes the threshold at (a fraction for percent views).
  ValueTable table;
  std::vector<ExtendedSummary> extended;
  std::optional<double> threshold;
  std::vector<std::pair<std::string, std::optional<std::int64_t>>> max_window_passing;
  // grid: rows x windows per backend (sweep order).
  std::vector<std::pair<std::string, ValueTable>> by_backend;
  // dataset_table: rows x backends per window (ascending).
  std::vector<std::pair<std::int64_t, ValueTable>> by_window;
};

// The views of one task label, in the task's order.
struct TaskSection {
  std::string task_label, task_plugin;
  std::vector<ViewData> views;
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
  std::int64_t peak_rss_bytes = 0;                  // the sweep process's lifetime peak when the cell ended
  std::optional<std::int64_t> peak_rss_bytes_cell;  // the process's peak while this cell ran
  bool peak_rss_cell_reset = false;                 // false: an upper bound (the mark was not reset)
  std::string git_revision;
};

struct ReportOptions {
  // Overrides the pass threshold of every view that has one (a fraction for percent views).
  std::optional<double> threshold;
  // The views of a task plugin, for cells written before cells recorded their task's views
  // (cell schema 1). Unset or empty: such a task shows only its headline metric.
  std::function<std::vector<ReportView>(const std::string& task_plugin)> views_of_plugin;
};

struct ReportModel {
  std::string run_name;
  std::filesystem::path run_dir;
  std::int64_t original_window = 0;
  std::vector<std::string> backends;  // labels, in the sweep's order
  std::vector<std::int64_t> windows;
  std::vector<CellSummary> cells;
  std::vector<TaskSection> sections;  // charted curves, curves, grids, dataset tables; ties in the sweep's task order
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

// Now, UTC, ISO 8601 with seconds ("2026-11-22T05:53:52Z"): cell and report timestamps.
std::string now_iso();

}  // namespace e2llm::harness
