// The markdown and JSON printers of the report, and writing all outputs.
#include <fmt/core.h>

#include <algorithm>
#include <functional>

#include "e2llm/harness/report.hpp"
#include "e2llm/harness/view_json.hpp"
#include "e2llm/util/files.hpp"
#include "report_format.hpp"
#include "report_internal.hpp"
#include "sweep_progress.hpp"

namespace e2llm::harness {
using nlohmann::json;

namespace {
std::string escape_html(const std::string& text, bool apostrophe) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        if (apostrophe)
          out += "&#39;";
        else
          out += ch;
        break;
      default:
        out += ch;
    }
  }
  return out;
}

}  // namespace

std::string html_escape(const std::string& text) {
  return escape_html(text, true);
}
std::string html_escape_text(const std::string& text) {
  return escape_html(text, false);
}

std::string paper_cell_text(const PaperComparison::Row& row, double g,
                            const std::function<std::string(const std::string&, const std::string&)>& link,
                            const std::function<std::string(const ValueInterval&)>& interval) {
  auto it = row.by_ratio.find(g);
  if (it == row.by_ratio.end()) return "—";
  std::string text = fmt::format("{:.3f}", it->second);
  if (!row.ours) return text;
  text = link(text, row.cells.at(g));
  if (auto ci = row.intervals.find(g); ci != row.intervals.end()) text += interval(ci->second);
  return text;
}

std::string served_scale_text(const CellSummary& c) {
  return c.served_scale ? fmt::format("{:g}", *c.served_scale) : std::string("—");
}

namespace {

// Text from data inside a markdown table cell or heading: no pipes, no line breaks, no raw HTML.
// A task's Markdown note: its markup stays, raw HTML does not.
std::string md_note(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '<')
      out += "&lt;";
    else if (ch == '>')
      out += "&gt;";
    else
      out += ch;
  }
  return out;
}

// Text from data in a Markdown table cell: as a note, and no '|' or line break either.
std::string md(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|')
      out += "\\|";
    else if (ch == '\n' || ch == '\r')
      out += ' ';
    else
      out += ch;
  }
  return md_note(out);
}

// A number that links to its cell file.
std::string md_link(const std::string& number, const std::string& file) {
  return "[" + number + "](" + file + ")";
}

std::string window_header(const ReportModel& m, const std::string& w) {
  if (!m.original_window) return w;
  // The window as a multiple of L (W / L, a ratio: the scale each model served is in the cells table).
  return fmt::format("{} ({:g}L)", w, std::stod(w) / double(m.original_window));
}

// Number columns are right-aligned; the columns named in `text` (words, names, revisions)
// left-aligned, as in the HTML.
void table_header(std::string& out, const std::string& first, const std::vector<std::string>& columns,
                  const std::vector<std::string>& text = {}) {
  out += "| " + first + " |";
  for (const auto& c : columns) out += " " + c + " |";
  out += "\n|---|";
  for (const auto& c : columns) out += std::find(text.begin(), text.end(), c) == text.end() ? "---:|" : "---|";
  out += "\n";
}

// A value in a view's table: the number (linked to its cell), ±sd over seeds, its interval
// and a mark against the reference.
std::string md_value(const ViewData& v, const CellValue& cv) {
  return md_link(format_value(v, cv.value), cv.cell) + md(value_suffix(v, cv)) + mark_text(cv);
}

std::string row_name(const std::string& row, const std::string& reference) {
  return md(row) + (!reference.empty() && row == reference ? " (reference)" : "");
}

void value_rows(std::string& out, const ValueTable& t, const ViewData& v) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    out += "| " + row_name(t.rows[r], v.reference) + " |";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const CellValue* cv = t.at(r, c);
      out += " " + (cv ? md_value(v, *cv) : std::string("—")) + " |";
    }
    out += "\n";
  }
}

// The headline table: value and interval, formatted as the task's own section formats them.
void plain_rows(std::string& out, const ReportModel& m, const GenericView& gv) {
  const ValueTable& t = gv.table;
  auto f = [&](double x) { return format_headline(m, gv, x); };
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    out += "| " + md(t.rows[r]) + " |";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const CellValue* v = t.at(r, c);
      std::string text = "—";
      if (v) {
        text = md_link(f(v->value), v->cell);
        if (v->seed_sd) text += " ±" + f(*v->seed_sd);
        text += v->interval ? " [" + f(v->interval->low) + ", " + f(v->interval->high) + "]" : " [n/a]";
      }
      out += " " + text + " |";
    }
    out += "\n";
  }
}

std::vector<std::string> window_headers(const ReportModel& m, const std::vector<std::string>& columns) {
  std::vector<std::string> out;
  for (const auto& c : columns) out.push_back(window_header(m, md(c)));
  return out;
}

bool any_seeds(const ValueTable& t) {
  for (const auto& [rc, v] : t.values)
    if (v.seed_sd) return true;
  return false;
}

bool any_missing_interval(const ValueTable& t) {
  for (const auto& [rc, v] : t.values)
    if (!v.interval) return true;
  return false;
}

// What the brackets, ± and marks of a table mean.
void legend_md(std::string& out, const ReportModel& m, const ViewData& v, const ValueTable& t) {
  out += fmt::format("*[a, b]*: {:g}% interval of the cell (bootstrap over its items; Wilson for proportions)",
                     m.settings.level * 100);
  if (any_missing_interval(t))
    out += "; *[n/a]*: the cell records no interval (written before cells had them: rerun `e2llm sweep` to add them)";
  if (any_seeds(t))
    out += fmt::format(
        "; *±*: standard deviation over the training seeds (value = their mean, interval = bootstrap of the mean)");
  if (!v.reference.empty())
    out += fmt::format(
        "; *▲ / ▼*: significantly better / worse than `{}` at that window (paired over the same items, {:g}%; with "
        "seeds, in every seed pairing); no mark: not separable",
        md(v.reference), m.settings.level * 100);
  out += ".\n\n";
}

// Each backend against the reference, window by window, in words.
void comparisons_md(std::string& out, const ReportModel& m, const ViewData& v) {
  if (v.reference.empty()) return;
  bool any = false;
  for (const auto& [rc, cv] : v.table.values) any = any || cv.vs_reference.has_value();
  if (!any) return;
  out += fmt::format(
      "Paired comparisons with `{}` (ratio or difference of this backend's value to the reference's on the same items, "
      "{:g}% interval):\n\n",
      md(v.reference), m.settings.level * 100);
  table_header(out, "backend", window_headers(m, v.table.columns));
  for (std::size_t r = 0; r < v.table.rows.size(); ++r) {
    if (v.table.rows[r] == v.reference) continue;
    std::string line = "| " + md(v.table.rows[r]) + " |";
    bool has = false;
    for (std::size_t c = 0; c < v.table.columns.size(); ++c) {
      const CellValue* cv = v.table.at(r, c);
      if (cv && cv->vs_reference) has = true;
      line += " " + (cv && cv->vs_reference ? md(comparison_text(v, *cv->vs_reference)) : std::string("—")) + " |";
    }
    if (has) out += line + "\n";
  }
  out += "\n";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + md(s);
  return out;
}

// The ranking over W > L, derived from the table above it (so its rows carry no own link).
void extended_md(std::string& out, const ReportModel& m, const ViewData& v) {
  if (v.extended.empty()) return;
  const std::string what = md(summary_name(v.spec));
  const bool paired = v.extended.front().paired;
  if (paired)
    out += fmt::format(
        "Ranked by {} over the extended windows W > L = {} (backends with every such window). Rank = 1 + the "
        "backends significantly better (paired bootstrap over the same items of the {} of every window, {:g}%; with "
        "seeds, in every seed pairing): backends that cannot be told apart share a rank.\n\n",
        what, m.original_window, what, m.settings.level * 100);
  else
    out += fmt::format(
        "Ranked by {} over the extended windows W > L = {} (from the rows above; backends with every such window; "
        "equal values share a rank; the cells record no items, so no paired test separates them).\n\n",
        what, m.original_window);
  std::vector<std::string> columns = {what};
  if (!v.reference.empty()) columns.push_back("vs " + md(v.reference));
  if (paired) columns.push_back("not separable from");
  out += "| rank | backend |";
  for (const auto& c : columns) out += " " + c + " |";
  out += "\n|---:|---|";
  for (std::size_t i = 0; i < columns.size(); ++i) out += i == 0 ? "---:|" : "---|";
  out += "\n";
  for (const auto& r : v.extended) {
    out += fmt::format("| {} | {} | {}{} |", r.rank, row_name(r.backend, v.reference), format_value(v, r.value),
                       r.interval ? " " + md(interval_text(v, *r.interval)) : "");
    if (!v.reference.empty())
      out += " " + (r.vs_reference ? md(comparison_text(v, *r.vs_reference)) : std::string("—")) + " |";
    if (paired) out += " " + (r.not_separable.empty() ? std::string("—") : join(r.not_separable)) + " |";
    out += "\n";
  }
  out += "\n";
}

void note_md(std::string& out, const ReportView& spec) {
  if (!spec.note.empty()) out += md_note(spec.note) + "\n\n";
}

void passing_md(std::string& out, const std::string& sentence,
                const std::vector<std::pair<std::string, std::optional<std::int64_t>>>& passing) {
  out += sentence + "\n\n";
  for (const auto& [backend, window] : passing)
    out += "- " + md(backend) + ": " + (window ? std::to_string(*window) : std::string("none")) + "\n";
  out += "\n";
}

void thresholds_md(std::string& out, const ReportModel& m, const ViewData& v) {
  if (v.threshold) passing_md(out, threshold_sentence(v, md(v.spec.quantity)), v.max_window_passing);
  if (v.relative_threshold)
    passing_md(out,
               relative_threshold_sentence(v, md(v.spec.quantity), "`" + md(m.settings.base) + "`", m.original_window),
               v.max_window_passing_relative);
  else if (v.relative_base)
    out += "No threshold relative to the base: `" + md(m.settings.base) + "` scores " +
           format_value(v, *v.relative_base) + " at W = L, so no window can fall below it.\n\n";
}

std::string ratio_header(double g) {
  return fmt::format("W = {:g}L", g);
}

void paper_md(std::string& out, const ViewData& v, const PaperComparison& p) {
  out += "### " + md(p.label) + " beside ours — ratios to each one's base at W = L\n\n";
  if (!p.our_base_value)
    out +=
        "_Ours are left out: name the backend serving the base model in the sweep's `[report] base` (its value at "
        "W = L is our base)._\n\n";
  std::vector<std::string> columns;
  for (double g : p.ratios) columns.push_back(ratio_header(g));
  table_header(out, "model", columns);
  for (const auto& row : p.rows) {
    out += "| " + md(row.name) + (row.ours ? "" : " (" + md(p.tag) + ")") + " |";
    for (double g : p.ratios)
      out +=
          " " +
          paper_cell_text(row, g, md_link,
                          [](const ValueInterval& ci) { return fmt::format(" [{:.3f}, {:.3f}]", ci.low, ci.high); }) +
          " |";
    out += "\n";
  }
  out += "\n" + fmt::format("The paper's rows are divided by its `{}` at W = L; ", md(p.base_row));
  if (p.our_base_value)
    out += fmt::format("ours by `{}` at W = L ({}), with a paired bootstrap interval over the same items. ",
                       md(p.our_base), format_value(v, *p.our_base_value));
  out += fmt::format("Below 1: {} than the base at its own window. Source: {}.\n\n",
                     v.spec.higher_is_better ? "worse" : "better", md(p.source));
}

void groups_md(std::string& out, const ReportModel& m, const ViewData& v, const std::string& task) {
  if (v.groups.empty()) return;
  const std::string what = md(summary_name(v.spec));
  out += "### Ablations — " + md(task) + "\n\n";
  out += fmt::format(
      "Each group as the sweep's `[report] groups` names it; every backend compared with the group's "
      "first on the {} over W > L (paired, {:g}%).\n\n",
      what, m.settings.level * 100);
  for (const auto& g : v.groups) {
    out += "**" + md(g.title) + "**\n\n| backend | " + what + " | vs " + md(g.rows.front().backend) +
           " |\n|---|---:|---|\n";
    for (const auto& row : g.rows) {
      out += "| " + md(row.backend) + " | " +
             (row.value ? format_value(v, *row.value) + (row.interval ? " " + md(interval_text(v, *row.interval)) : "")
                        : std::string("—")) +
             " | " + (row.vs_first ? md(comparison_text(v, *row.vs_first)) : std::string("—")) + " |\n";
    }
    out += "\n";
  }
}

void warnings_md(std::string& out, const ViewData& v) {
  for (const auto& w : v.warnings) {
    out += "> **Provenance warning:** the cells of this table differ in " + md(w.field) + ":";
    for (const auto& [value, cells] : w.values) out += " `" + md(value) + "` (" + cells_list(cells, md) + ");";
    out += " compare them with care (summary.json lists every cell).\n\n";
  }
}

// One line for a table whose every value is 0.
std::string all_zero_line(const ViewData& v, std::size_t rows, std::size_t columns, const ValueTable* t) {
  double worst_high = 0;
  std::size_t with_interval = 0;
  auto scan = [&](const ValueTable& table) {
    for (const auto& [rc, cv] : table.values)
      if (cv.interval) worst_high = std::max(worst_high, cv.interval->high), ++with_interval;
  };
  if (t) scan(*t);
  for (const auto& [b, table] : v.by_backend) scan(table);
  std::string line = fmt::format("_Every value is {} ({} rows × {} windows)", format_value(v, 0.0), rows, columns);
  if (with_interval)
    line += fmt::format("; the largest upper bound of their intervals is {}", format_value(v, worst_high));
  return line + ": nothing here tells the backends apart, so the table is left out._\n\n";
}

void window_curve_md(std::string& out, const ReportModel& m, const TaskSection& s, const ViewData& v,
                     std::size_t view_index) {
  out += "## " + md(v.spec.title) + " — " + md(s.task_label) + "\n\n";
  note_md(out, v.spec);
  if (v.all_zero) {
    out += all_zero_line(v, rows_with_values(v.table), v.table.columns.size(), &v.table);
    warnings_md(out, v);
    return;
  }
  if (has_plot(v))
    out += "![" + md(v.spec.quantity) + " vs window — " + md(s.task_label) + "](" + plot_file_name(s, view_index) +
           ")\n\n";
  table_header(out, "backend", window_headers(m, v.table.columns));
  value_rows(out, v.table, v);
  out += "\n";
  legend_md(out, m, v, v.table);
  comparisons_md(out, m, v);
  extended_md(out, m, v);
  thresholds_md(out, m, v);
  for (const auto& p : v.paper) paper_md(out, v, p);
  groups_md(out, m, v, s.task_label);
  warnings_md(out, v);
}

void grid_md(std::string& out, const ReportModel& m, const TaskSection& s, const ViewData& v, bool first) {
  if (first) out += "## " + md(v.spec.title) + " — " + md(s.task_label) + "\n\n";
  note_md(out, v.spec);
  if (v.all_zero) {
    out += "### " + md(v.spec.title) + "\n\n";
    std::size_t rows = v.by_backend.empty() ? 0 : v.by_backend.front().second.rows.size();
    out += all_zero_line(v, rows * v.by_backend.size(), m.windows.size(), nullptr);
    warnings_md(out, v);
    return;
  }
  std::vector<std::string> zero;
  for (const auto& [backend, t] : v.by_backend) {
    bool all0 = !t.values.empty();
    for (const auto& [rc, cv] : t.values) all0 = all0 && cv.value == 0;
    if (all0) {
      zero.push_back(backend);
      continue;
    }
    out += "### " + md(v.spec.title) + " — " + md(backend) + "\n\n";
    table_header(out, md(v.spec.row_label), window_headers(m, t.columns));
    ViewData plain = v;  // grids carry no reference marks
    plain.reference.clear();
    value_rows(out, t, plain);
    out += "\n";
  }
  if (!zero.empty())
    out += "### " + md(v.spec.title) + " — all " + format_value(v, 0.0) + "\n\n" + join(zero) + ": every " +
           md(v.spec.row_label) + " at every window is " + format_value(v, 0.0) + ".\n\n";
  warnings_md(out, v);
}

// "¹", "²", ... for footnote n (from 1).
std::string superscript(std::size_t n) {
  static const char* const digits[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string out;
  for (char c : std::to_string(n)) out += digits[c - '0'];
  return out;
}

void dataset_table_md(std::string& out, const ReportModel& m, const TaskSection& s, const ViewData& v) {
  const auto& refs = v.spec.references;
  for (const auto& [window, t] : v.by_window) {
    out += fmt::format("## {} — {} at W = {}\n\n", md(v.spec.title), md(s.task_label), window);
    note_md(out, v.spec);
    std::vector<std::string> columns;
    for (const auto& c : t.columns) columns.push_back(row_name(c, v.reference));
    for (const auto& ref : refs) columns.push_back(md(ref.label) + " (" + md(ref.tag) + ")");
    table_header(out, md(v.spec.row_label), columns);
    std::vector<std::string> footnotes;
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      out += "| " + md(t.rows[r]) + " |";
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        const CellValue* value = t.at(r, c);
        out += " " + (value ? md_value(v, *value) : std::string("—")) + " |";
      }
      for (const auto& ref : refs) {
        const ReferenceValue* value = reference_value(ref, t.rows[r]);
        std::string mark;
        if (value && !value->footnote.empty()) mark = superscript(1 + index_of(footnotes, value->footnote));
        out += " " + reference_text(value) + mark + " |";
      }
      out += "\n";
    }
    out += "\n";
    for (std::size_t i = 0; i < footnotes.size(); ++i) out += superscript(i + 1) + " " + md(footnotes[i]) + "\n";
    if (!footnotes.empty()) out += "\n";
    legend_md(out, m, v, t);
  }
  warnings_md(out, v);
}

void section_md(std::string& out, const ReportModel& m, const TaskSection& s) {
  for (std::size_t i = 0; i < s.views.size(); ++i) {
    const ViewData& v = s.views[i];
    switch (v.spec.kind) {
      case ViewKind::window_curve:
        window_curve_md(out, m, s, v, i);
        break;
      case ViewKind::grid:
        grid_md(out, m, s, v, i == 0);
        break;
      case ViewKind::dataset_table:
        dataset_table_md(out, m, s, v);
        break;
    }
  }
}

void header_md(std::string& out, const ReportModel& m) {
  out += "# e2llm leaderboard — " + md(m.run_name) + "\n\n";
  out += fmt::format("Generated {} from {} cell files in `cells/`. ", m.generated_at, m.cells.size());
  if (m.cells_not_in_plan)
    out += fmt::format("{} older cell files not in the latest sweep's plan were left out. ", m.cells_not_in_plan);
  if (m.original_window)
    out += fmt::format(
        "Base window L = {0}; a window reads W (W/L), e.g. {1} (2L); s in the cells table is the RoPE "
        "scale the model ran with (1: plain RoPE). ",
        m.original_window, 2 * m.original_window);
  out += "Every number links to the cell file it comes from.\n\n";
  out += "**Provenance:** " + provenance_sentence(m, md) + "\n\n";
  out += "**Statistics:** " + statistics_sentence(m, md) + "\n\n";
  if (m.cells.empty()) out += "_No finished cells yet: run `e2llm sweep` first._\n\n";
}

void headline_md(std::string& out, const ReportModel& m) {
  out += "## Headline metric of every task\n\n";
  for (const auto& gv : m.headline) {
    out += fmt::format("**{}** ({}, `{}`, {} is better)\n\n", md(gv.task_label), md(gv.task_plugin), md(gv.metric),
                       gv.higher_is_better ? "higher" : "lower");
    table_header(out, "backend", window_headers(m, gv.table.columns));
    plain_rows(out, m, gv);
    out += "\n";
  }
}

void cost_md(std::string& out, const ReportModel& m) {
  out += "## Training cost\n\n";
  if (m.cost.empty()) {
    out += "_No prepare records in `backends/`._\n\n";
    return;
  }
  out +=
      "From each backend's prepare record (`backends/<label>.json`). *Trained tokens* and *train wall* are the "
      "backend's own account of its training (cached training keeps its original cost); *prepare wall* is what "
      "prepare() took in the latest sweep process.\n\n";
  table_header(out, "backend", {"plugin", "trains", "trained tokens", "train wall", "prepare wall (last run)"},
               {"plugin", "trains"});
  for (const auto& row : m.cost) {
    const std::string label = row.label + (row.training_seed ? fmt::format(" (seed {})", *row.training_seed) : "");
    out += fmt::format("| [{}]({}) | {} | {} | {} | {} | {} |\n", md(label), row.file, md(row.plugin),
                       row.trains ? "yes" : "no", row.trained_tokens ? format_count(*row.trained_tokens) : "—",
                       row.train_wall_s ? human_duration(*row.train_wall_s) : "—", human_duration(row.prepare_wall_s));
  }
  out += "\n";
}

bool any_cell_peak(const ReportModel& m) {
  for (const auto& c : m.cells)
    if (c.peak_rss_bytes_cell) return true;
  return false;
}

bool any_training_seed(const ReportModel& m) {
  for (const auto& c : m.cells)
    if (c.training_seed) return true;
  return false;
}

void cells_md(std::string& out, const ReportModel& m) {
  out += "## Cells\n\n";
  const bool per_cell = any_cell_peak(m), seeded = any_training_seed(m);
  std::vector<std::string> columns = {"backend", "task", "W", "s"};
  if (seeded) columns.push_back("training seed");
  for (const char* c : {"tokens/s", "wall", "peak RSS (process)"}) columns.push_back(c);
  if (per_cell) columns.push_back("peak RSS (cell)");
  columns.push_back("git");
  table_header(out, "cell", columns, {"backend", "task", "git"});
  for (const auto& c : m.cells) {
    out += fmt::format("| [{}]({}) | {} | {} | {} | {} |", c.key.substr(0, 16), c.file, md(c.backend), md(c.task),
                       c.window, served_scale_text(c));
    if (seeded) out += " " + (c.training_seed ? std::to_string(*c.training_seed) : std::string("—")) + " |";
    out += fmt::format(" {:.0f} | {} | {} |", c.tokens_per_s, human_duration(c.wall_s),
                       format_bytes(double(c.peak_rss_bytes)));
    if (per_cell) out += " " + cell_peak_text(c) + " |";
    out += " " + md(c.git_revision) + " |\n";
  }
  if (per_cell)
    out +=
        "\n*peak RSS (process)*: the sweep process's peak over its life when the cell ended; *peak RSS (cell)*: "
        "its peak while the cell ran (≤: the mark could not be reset, so an upper bound).\n";
}

}  // namespace

std::string render_markdown(const ReportModel& m) {
  std::string out;
  header_md(out, m);
  for (const auto& s : m.sections) section_md(out, m, s);
  headline_md(out, m);
  cost_md(out, m);
  cells_md(out, m);
  return out;
}

namespace {

json interval_json(const ValueInterval& i) {
  return {{"low", i.low}, {"high", i.high}, {"method", i.method}, {"level", i.level}};
}

json comparison_json(const Comparison& c) {
  json pairs = json::array();
  for (const auto& p : c.pairs) {
    json item = {{"test", p.test},
                 {"estimate", p.estimate},
                 {"n", p.n},
                 {"significant", p.significant},
                 {"a_better", p.a_better}};
    if (p.low) item["low"] = *p.low, item["high"] = *p.high;
    if (p.p_value) item["p_value"] = *p.p_value;
    if (p.seed_a) item["seed"] = *p.seed_a;
    if (p.seed_b) item["seed_other"] = *p.seed_b;
    pairs.push_back(item);
  }
  json out = {{"with", c.with}, {"verdict", verdict_word(c.verdict)}, {"pairs", pairs}};
  if (!c.why.empty()) out["why"] = c.why;
  return out;
}

// {value, cell} plus, when known, the interval ("interval": null when the cell records
// none), the seeds and their sd, and the comparison with the reference.
json value_json(const CellValue& v) {
  json out = {
      {"value", v.value}, {"cell", v.cell}, {"interval", v.interval ? interval_json(*v.interval) : json(nullptr)}};
  if (!v.seeds.empty()) {
    json seeds = json::array();
    for (const auto& s : v.seeds) seeds.push_back({{"seed", s.seed}, {"value", s.value}, {"cell", s.cell}});
    out["seeds"] = seeds;
  }
  if (v.seed_sd) out["seed_sd"] = *v.seed_sd;
  if (v.vs_reference) out["vs_reference"] = comparison_json(*v.vs_reference);
  return out;
}

json table_json(const ValueTable& t) {
  json rows = json::object();
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    json row = json::object();
    for (std::size_t c = 0; c < t.columns.size(); ++c)
      if (const CellValue* v = t.at(r, c)) row[t.columns[c]] = value_json(*v);
    rows[t.rows[r]] = row;
  }
  return rows;
}

json cells_json(const ReportModel& m) {
  json cells = json::array();
  for (const auto& c : m.cells) {
    json cell = {{"cell", c.file},
                 {"key", c.key},
                 {"backend", c.backend},
                 {"task", c.task},
                 {"task_plugin", c.task_plugin},
                 {"window", c.window},
                 {"window_ratio", c.window_ratio},
                 {"served_scale", c.served_scale ? json(*c.served_scale) : json(nullptr)},
                 {"tokens_per_s", c.tokens_per_s},
                 {"wall_s", c.wall_s},
                 {"peak_rss_bytes", c.peak_rss_bytes},
                 {"git_revision", c.git_revision},
                 {"config_sha256", c.config_sha256.empty() ? json(nullptr) : json(c.config_sha256)},
                 {"seed", c.seed},
                 {"has_interval", c.has_uncertainty},
                 {"items", c.items}};
    if (c.training_seed) cell["training_seed"] = *c.training_seed;
    if (c.peak_rss_bytes_cell) {
      cell["peak_rss_bytes_cell"] = *c.peak_rss_bytes_cell;
      cell["peak_rss_cell_reset"] = c.peak_rss_cell_reset;
    }
    cells.push_back(cell);
  }
  return cells;
}

json passing_json(const std::vector<std::pair<std::string, std::optional<std::int64_t>>>& passing) {
  json out = json::object();
  for (const auto& [b, w] : passing) out[b] = w ? json(*w) : json(nullptr);
  return out;
}

json paper_json(const PaperComparison& p) {
  json rows = json::array();
  for (const auto& r : p.rows) {
    json ratios = json::object();
    for (const auto& [g, value] : r.by_ratio) {
      json item = {{"ratio_to_base", value}};
      if (auto i = r.intervals.find(g); i != r.intervals.end()) item["interval"] = interval_json(i->second);
      if (auto c = r.cells.find(g); c != r.cells.end()) item["cell"] = c->second;
      ratios[fmt::format("{:g}", g)] = item;
    }
    rows.push_back({{"name", r.name}, {"ours", r.ours}, {"by_window_ratio", ratios}});
  }
  return {{"label", p.label},
          {"tag", p.tag},
          {"source", p.source},
          {"base_row", p.base_row},
          {"our_base", p.our_base},
          {"our_base_value", p.our_base_value ? json(*p.our_base_value) : json(nullptr)},
          {"rows", rows}};
}

json warnings_json(const ViewData& v) {
  json out = json::array();
  for (const auto& w : v.warnings) {
    json values = json::array();
    for (const auto& [value, cells] : w.values) values.push_back({{"value", value}, {"cells", cells}});
    out.push_back({{"table", w.table}, {"field", w.field}, {"values", values}});
  }
  return out;
}

// A view as data: its declaration and what the cells filled in.
json view_json(const TaskSection& s, const ViewData& v) {
  json out = {{"task", s.task_label},
              {"task_plugin", s.task_plugin},
              {"view", views_to_json({v.spec})[0]},
              {"values_unit", v.spec.format == ValueFormat::percent ? (v.percent ? "percent" : "fraction") : "number"},
              {"reference", v.reference.empty() ? json(nullptr) : json(v.reference)},
              {"all_zero", v.all_zero},
              {"provenance_warnings", warnings_json(v)}};
  switch (v.spec.kind) {
    case ViewKind::window_curve: {
      out["by_backend_and_window"] = table_json(v.table);
      json ranking = json::array();
      for (const auto& r : v.extended) {
        json item = {{"backend", r.backend}, {"value", r.value}, {"rank", r.rank}, {"paired", r.paired}};
        item["interval"] = r.interval ? interval_json(*r.interval) : json(nullptr);
        if (r.paired) item["significantly_better"] = r.significantly_better, item["not_separable"] = r.not_separable;
        if (r.vs_reference) item["vs_reference"] = comparison_json(*r.vs_reference);
        ranking.push_back(item);
      }
      out["extended_ranking"] = ranking;
      if (v.threshold) {
        out["threshold"] = *v.threshold;
        out["max_window_passing"] = passing_json(v.max_window_passing);
      }
      if (v.relative_base) out["relative_base"] = *v.relative_base;
      if (v.relative_threshold) {
        out["relative_threshold"] = {{"factor", *v.spec.relative_threshold}, {"value", *v.relative_threshold}};
        out["max_window_passing_relative"] = passing_json(v.max_window_passing_relative);
      }
      json paper = json::array();
      for (const auto& p : v.paper) paper.push_back(paper_json(p));
      if (!paper.empty()) out["paper_comparisons"] = paper;
      json groups = json::array();
      for (const auto& g : v.groups) {
        json rows = json::array();
        for (const auto& r : g.rows) {
          json item = {{"backend", r.backend}, {"value", r.value ? json(*r.value) : json(nullptr)}};
          item["interval"] = r.interval ? interval_json(*r.interval) : json(nullptr);
          if (r.vs_first) item["vs_first"] = comparison_json(*r.vs_first);
          rows.push_back(item);
        }
        groups.push_back({{"title", g.title}, {"rows", rows}});
      }
      if (!groups.empty()) out["groups"] = groups;
      break;
    }
    case ViewKind::grid: {
      json tables = json::object();
      for (const auto& [backend, t] : v.by_backend) tables[backend] = table_json(t);
      out["by_backend"] = tables;
      break;
    }
    case ViewKind::dataset_table: {
      json tables = json::object();
      for (const auto& [window, t] : v.by_window) tables[std::to_string(window)] = table_json(t);
      out["by_window"] = tables;
      break;
    }
  }
  return out;
}

json cost_json(const ReportModel& m) {
  json cost = json::array();
  for (const auto& r : m.cost)
    cost.push_back({{"backend", r.label},
                    {"training_seed", r.training_seed ? json(*r.training_seed) : json(nullptr)},
                    {"plugin", r.plugin},
                    {"record", r.file},
                    {"trains", r.trains},
                    {"trained_tokens", r.trained_tokens ? json(*r.trained_tokens) : json(nullptr)},
                    {"train_wall_s", r.train_wall_s ? json(*r.train_wall_s) : json(nullptr)},
                    {"prepare_wall_s", r.prepare_wall_s}});
  return cost;
}

}  // namespace

json render_summary_json(const ReportModel& m) {
  json groups = json::array();
  for (const auto& g : m.settings.groups) groups.push_back({{"title", g.title}, {"backends", g.backends}});
  json out = {{"schema", "e2llm.summary"},
              {"schema_version", 4},  // 4: window_ratio and served_scale replace g
              {"run", m.run_name},
              {"generated_at", m.generated_at},
              {"original_window", m.original_window},
              {"backends", m.backends},
              {"windows", m.windows},
              {"seeds", m.seeds},
              {"git_revisions", m.git_revisions},
              {"config_hashes", m.config_hashes},
              {"evaluation_seeds", m.eval_seeds},
              {"cells_without_intervals", m.cells_without_intervals},
              {"report",
               {{"base", m.settings.base},
                {"reference", m.settings.compared_with()},
                {"level", m.settings.level},
                {"resamples", m.settings.resamples},
                {"groups", groups}}},
              {"cells_not_in_plan", m.cells_not_in_plan}};
  out["cells"] = cells_json(m);
  json views = json::array();
  for (const auto& s : m.sections)
    for (const auto& v : s.views) views.push_back(view_json(s, v));
  out["views"] = views;
  json headline = json::array();
  for (const auto& gv : m.headline)
    headline.push_back({{"task", gv.task_label},
                        {"task_plugin", gv.task_plugin},
                        {"metric", gv.metric},
                        {"higher_is_better", gv.higher_is_better},
                        {"by_backend_and_window", table_json(gv.table)}});
  out["headline"] = headline;
  out["training_cost"] = cost_json(m);
  return out;
}

std::vector<std::filesystem::path> write_report(const ReportModel& m) {
  // Render everything first, then write the three files as one step: a failure (a render
  // error, a full disk, a file-size limit) leaves the previous report whole, never a new
  // leaderboard.md beside an old leaderboard.html.
  std::string markdown = render_markdown(m), html = render_html(m), summary = render_summary_json(m).dump(2) + "\n";
  std::vector<std::filesystem::path> paths = {m.run_dir / "leaderboard.md", m.run_dir / "leaderboard.html",
                                              m.run_dir / "summary.json"};
  std::vector<std::pair<std::filesystem::path, std::string>> files = {
      {paths[0], std::move(markdown)}, {paths[1], std::move(html)}, {paths[2], std::move(summary)}};
  for (auto& [name, svg] : render_plots(m)) {  // the charts leaderboard.md shows
    paths.push_back(m.run_dir / name);
    files.emplace_back(paths.back(), std::move(svg));
  }
  util::remove_stale_temp_files(m.run_dir, /*recursive=*/false);  // left by a report or sweep killed mid-write
  util::write_files_atomic(files);
  return paths;
}

}  // namespace e2llm::harness
