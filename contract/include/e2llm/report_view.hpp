// How a task's results appear in `e2llm report`. A task lists its views in TaskInfo::views;
// the sweep copies them into every cell it writes ("task.views"), and the report renders
// them from the cells without knowing the task. docs/adding-a-plugin.md shows examples.
//
// Every text here is plain text unless said otherwise; the report escapes it for HTML
// and Markdown.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace e2llm {

enum class ViewKind {
  // metrics[metric] is a number: one table backends x windows, optionally a line chart,
  // a ranking over the windows W > L and "the largest window that passes a threshold".
  window_curve,
  // metrics[metric] is an object {row name: number} (e.g. {"0.25": 0.8, "0.5": 1.0}): one
  // heatmap rows x windows per backend. Rows sort numerically when every name is a number.
  grid,
  // Every numeric entry of the cell's metrics is a row (e.g. one score per dataset): one
  // table rows x backends per window, with optional reference columns (published numbers).
  // `metric` is the summary row, shown last.
  dataset_table,
};

enum class ValueFormat {
  number,   // two decimals; scientific notation from 1e5
  percent,  // a fraction 0..1 shown as "12.5%" (values above 1 are taken as 0..100)
};

enum class WindowSummary { none, mean, geometric_mean };

enum class ChartScale { none, linear, log };

// A published number beside ours. `footnote` (optional) is printed under the Markdown table.
struct ReferenceValue {
  std::string row;
  double value = 0;
  int decimals = 1;
  std::string footnote;
  // window_curve: the published window as a multiple of the publication's own L (W / L;
  // e.g. 8k on a 4k model is 2). 0 for other views.
  double window_ratio = 0;
};

// dataset_table: one column of published numbers, one value per row. window_curve: a
// published table, rows = its models, each value at a window_ratio; the report shows it
// beside ours as ratios to each one's own base at W = L (`base_row` here, the sweep's
// [report] base for ours), so that numbers of different models and scales compare.
struct ReferenceColumn {
  std::string label;   // e.g. the model the numbers are for, or the table's name
  std::string tag;     // a short mark that these are not ours, e.g. "paper"
  std::string source;  // where the numbers come from
  std::vector<ReferenceValue> values;
  std::string base_row{};  // window_curve: the row whose window_ratio 1 value is the base
};

struct ReportView {
  ViewKind kind = ViewKind::window_curve;
  std::string title;             // section heading, e.g. "Perplexity vs window"
  std::string metric;            // the headline metric of the view (a key of the cell's metrics)
  bool higher_is_better = true;  // the direction of `metric` (rankings, thresholds, heat colours)
  std::string quantity;          // the value in words, e.g. "perplexity" (axis, ranking, threshold)
  std::string note;              // Markdown paragraph under the heading (`code`, *emphasis*); may be empty
  // The note for HTML: text with no markup but <code>, <em>, <strong>, <small> and <br>
  // (anything else is escaped). Unset: `note` converted. Empty: no note in HTML.
  std::optional<std::string> note_html;
  ValueFormat format = ValueFormat::number;

  // window_curve
  ChartScale chart = ChartScale::none;
  WindowSummary summary = WindowSummary::none;  // ranks the backends over the windows W > L
  // "Largest window whose value stays at or above (higher_is_better) / below the threshold";
  // `report --threshold X` overrides it, and so does the task config key `threshold_key`
  // when a cell's config sets it. A fraction for ValueFormat::percent.
  std::optional<double> pass_threshold;
  std::string threshold_key;
  // The same rule with a threshold relative to the base: factor x the value of the
  // sweep's [report] base backend at W = L (e.g. 1.0 for perplexity: "no worse than the
  // base at its own window"; 0.9 for accuracy). Shown when the sweep names a base.
  std::optional<double> relative_threshold;

  // grid and dataset_table: the heading of the row names, e.g. "depth", "dataset".
  std::string row_label;

  // dataset_table: rows first in this order; then the others.
  std::vector<std::string> row_order;
  // dataset_table: reference columns; window_curve: published tables (ReferenceColumn).
  std::vector<ReferenceColumn> references;
};

}  // namespace e2llm
