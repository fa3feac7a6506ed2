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

// How sure a shown value is: the interval a cell recorded (or the report computed from the
// cell's items), docs/statistics.md.
struct ValueInterval {
  double low = 0, high = 0;
  std::string method;  // "wilson", "bootstrap_percentile", "bootstrap_percentile over seeds"
  double level = 0.95;
};

// A paired comparison of two backends scored on the same items (docs/statistics.md): one
// test per pairing of their training seeds; a verdict only when every pairing agrees.
enum class Verdict { better, worse, not_separable, not_comparable };
struct PairedResult {
  std::optional<std::uint64_t> seed_a, seed_b;  // training seeds paired (unset: no seed axis)
  std::string test;                             // "bootstrap_ratio" | "bootstrap_difference" | "mcnemar_exact"
  double estimate = 0;                          // A / B (ratio) or A − B (difference, McNemar)
  std::optional<double> low, high;              // bootstrap interval of the estimate
  std::optional<double> p_value;                // McNemar
  std::int64_t n = 0;                           // items (documents, prompts, rows) paired
  bool significant = false;
  bool a_better = false;  // the direction of the estimate, for the view's "better"
};
struct Comparison {
  std::string with;  // the other backend
  Verdict verdict = Verdict::not_comparable;
  std::vector<PairedResult> pairs;
  std::string why;  // not_comparable: why
};

// One training seed's value of a backend (a sweep with [sweep] seeds).
struct SeedValue {
  std::uint64_t seed = 0;
  double value = 0;
  std::string cell;
};

// A number and the cell file it comes from (relative to the run folder, e.g.
// "cells/0123abcd0123abcd.json"): every number in a report is traceable. With a seed axis
// the number is the mean over the seeds, `cell` the first seed's.
struct CellValue {
  double value = 0;
  std::string cell;
  std::optional<ValueInterval> interval;   // unset: the cell recorded none (older cells)
  std::vector<SeedValue> seeds;            // one per training seed (empty: no seed axis)
  std::optional<double> seed_sd;           // sample standard deviation over >= 2 seeds
  std::optional<Comparison> vs_reference;  // against the [report] reference at the same window
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
  // 1 + how many backends are significantly better (paired over the same items, every seed
  // pairing agreeing): backends not separable share a rank. Without items (older cells):
  // 1 + how many did strictly better.
  std::size_t rank = 0;
  std::optional<ValueInterval> interval;
  std::vector<std::string> significantly_better;  // the backends that outrank it
  std::vector<std::string> not_separable;         // ranked backends it cannot be told from
  std::optional<Comparison> vs_reference;
  bool paired = false;  // ranks from paired tests (else from values alone)
};

// A published table beside ours, both as ratios to their own base at W = L.
struct PaperComparison {
  std::string label, tag, source, base_row;
  std::vector<double> ratios;  // the columns: W / L
  struct Row {
    std::string name;
    bool ours = false;
    std::map<double, double> by_ratio;          // W / L -> value / base value
    std::map<double, ValueInterval> intervals;  // ours: paired bootstrap of value / base value
    std::map<double, std::string> cells;
  };
  std::vector<Row> rows;
  std::optional<double> our_base_value;  // the [report] base at W = L
  std::string our_base;
};

// A group of backends compared with its first (an ablation: the paper's grouping).
struct GroupSummary {
  std::string title;
  struct Row {
    std::string backend;
    std::optional<double> value;  // the view's summary over W > L
    std::optional<ValueInterval> interval;
    std::optional<Comparison> vs_first;
  };
  std::vector<Row> rows;
};

// Cells of one table that differ in how they were made (docs/results-schema.md,
// "Provenance"): what differs, and which cells hold each value.
struct ProvenanceWarning {
  std::string table;                                                     // e.g. "Perplexity vs window — proofpile"
  std::string field;                                                     // "git revision", "config sha256", "seed"
  std::vector<std::pair<std::string, std::vector<std::string>>> values;  // value -> cell files
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
  // The relative threshold: factor x the base's value at W = L, when the run names a base
  // (not when a higher-is-better base scores 0 there: nothing could fall below it).
  std::optional<double> relative_base;       // the base's value at W = L
  std::optional<double> relative_threshold;  // the absolute value it comes to
  std::vector<std::pair<std::string, std::optional<std::int64_t>>> max_window_passing_relative;
  std::string reference;  // the backend values are compared with ("" = none)
  bool all_zero = false;  // every value is 0 (the printers collapse the table to one line)
  std::vector<PaperComparison> paper;
  std::vector<GroupSummary> groups;
  std::vector<ProvenanceWarning> warnings;
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
  std::optional<std::uint64_t> training_seed;  // one seed's training ([sweep] seeds)
  bool trains = false;
  std::optional<double> trained_tokens, train_wall_s;
  double prepare_wall_s = 0;
};

struct CellSummary {
  std::string file, key, backend, task, task_plugin;
  std::int64_t window = 0;
  double window_ratio = 0;             // W / L
  std::optional<double> served_scale;  // the RoPE scale the model ran with (none: not described)
  double tokens_per_s = 0, wall_s = 0;
  std::int64_t peak_rss_bytes = 0;                  // the sweep process's lifetime peak when the cell ended
  std::optional<std::int64_t> peak_rss_bytes_cell;  // the process's peak while this cell ran
  bool peak_rss_cell_reset = false;                 // false: an upper bound (the mark was not reset)
  std::string git_revision;
  std::string config_sha256;  // empty: not recorded (older cells)
  std::uint64_t seed = 0;     // the evaluation seed ([run] seed)
  std::optional<std::uint64_t> training_seed;
  bool has_uncertainty = false;
  std::int64_t items = 0;  // items its uncertainty records (0: none)
};

// The [report] section of a sweep config (docs/results-schema.md, "The report").
struct ReportGroup {
  std::string title;
  std::vector<std::string> backends;  // the first is the one the others are compared with
};
struct ReportSettings {
  std::string base;       // the backend serving the base model: its W = L value anchors ratios and relative thresholds
  std::string reference;  // the backend the others are compared with (marks); empty: `base`
  double level = 0.95;    // confidence level of every interval and test the report computes
  std::int64_t resamples = 2000;
  std::vector<ReportGroup> groups;  // ablations, compared within each group
  const std::string& compared_with() const { return reference.empty() ? base : reference; }
};
// Reads a [report] table. `fail(field, message)` must throw (a located error for a config,
// a plain one for sweep.json); labels are checked by the caller.
ReportSettings report_settings_from_json(const nlohmann::json& section,
                                         const std::function<void(const std::string&, const std::string&)>& fail);

struct ReportOptions {
  // Overrides the pass threshold of every view that has one (a fraction for percent views).
  std::optional<double> threshold;
  // The views of a task plugin, for cells written before cells recorded their task's views
  // (cell schema 1). Unset or empty: such a task shows only its headline metric.
  std::function<std::vector<ReportView>(const std::string& task_plugin)> views_of_plugin;
  // Override the run's [report] settings (`e2llm report --reference / --base / --level`).
  std::optional<std::string> reference, base;
  std::optional<double> level;
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
  ReportSettings settings;           // [report] of the sweep's config, with the options' overrides
  std::vector<std::uint64_t> seeds;  // [sweep] seeds of the run (empty: none)
  std::string generated_at;
  std::vector<std::string> git_revisions;
  std::vector<std::string> config_hashes;  // distinct config sha256 of the cells (recorded ones)
  std::vector<std::uint64_t> eval_seeds;   // distinct evaluation seeds of the cells
  std::size_t cells_without_intervals = 0;
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

// The line charts leaderboard.md shows, as standalone SVG files: (file name, SVG).
std::vector<std::pair<std::string, std::string>> render_plots(const ReportModel& model);

// Writes leaderboard.md, leaderboard.html, summary.json and the charts' SVG files into the
// run folder (atomically, all or none).
std::vector<std::filesystem::path> write_report(const ReportModel& model);

// & < > " ' -> entities: for every string from data placed in HTML (text or attribute).
std::string html_escape(const std::string& text);
// The same but ' kept: for text placed in an element only (a task's note).
std::string html_escape_text(const std::string& text);

// One cell of the paper-comparison table at W = g L: "—" without a value; the value to three
// decimals, and for our rows linked to its cell and followed by its interval, in the markup
// `link` and `interval` write (Markdown or HTML).
std::string paper_cell_text(const PaperComparison::Row& row, double g,
                            const std::function<std::string(const std::string&, const std::string&)>& link,
                            const std::function<std::string(const ValueInterval&)>& interval);

// The RoPE scale a model ran with, from the "rope" its describe() gives (formats::served_scale:
// the factor, 1 for plain RoPE); nothing when it describes none. The sweep records it as a
// cell's served_scale; the report reads older cells' from their model.
std::optional<double> model_served_scale(const nlohmann::json& model);

// A cell's served RoPE scale as the cells tables print it ("—" when the model described none).
std::string served_scale_text(const CellSummary& c);

// Now, UTC, ISO 8601 with seconds ("2026-11-22T05:53:52Z"): cell and report timestamps.
std::string now_iso();

}  // namespace e2llm::harness
