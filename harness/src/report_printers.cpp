// The markdown and JSON printers of the report, and writing all outputs.
#include <fmt/core.h>

#include "e2llm/harness/report.hpp"
#include "e2llm/harness/view_json.hpp"
#include "e2llm/util/files.hpp"
#include "report_format.hpp"
#include "report_internal.hpp"
#include "sweep_progress.hpp"

namespace e2llm::harness {
using nlohmann::json;

std::string html_escape(const std::string& text) {
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
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

namespace {

// Text from data inside a markdown table cell or heading: no pipes, no line breaks, no raw HTML.
std::string md(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|')
      out += "\\|";
    else if (ch == '\n' || ch == '\r')
      out += ' ';
    else if (ch == '<')
      out += "&lt;";
    else if (ch == '>')
      out += "&gt;";
    else
      out += ch;
  }
  return out;
}

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

// A number that links to its cell file.
std::string md_link(const std::string& number, const std::string& file) {
  return "[" + number + "](" + file + ")";
}

std::string window_header(const ReportModel& m, const std::string& w) {
  if (!m.original_window) return w;
  double g = std::stod(w) / double(m.original_window);
  return fmt::format("{} (g={:g})", w, g);
}

void table_header(std::string& out, const std::string& first, const std::vector<std::string>& columns) {
  out += "| " + first + " |";
  for (const auto& c : columns) out += " " + c + " |";
  out += "\n|---|";
  for (std::size_t i = 0; i < columns.size(); ++i) out += "---:|";
  out += "\n";
}

template <class Format>
void value_rows(std::string& out, const ValueTable& t, Format format) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    out += "| " + md(t.rows[r]) + " |";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const CellValue* v = t.at(r, c);
      out += " " + (v ? md_link(format(v->value), v->cell) : std::string("—")) + " |";
    }
    out += "\n";
  }
}

std::vector<std::string> window_headers(const ReportModel& m, const std::vector<std::string>& columns) {
  std::vector<std::string> out;
  for (const auto& c : columns) out.push_back(window_header(m, md(c)));
  return out;
}

// The ranking over W > L, derived from the table above it (so its rows carry no own link).
void extended_md(std::string& out, const ReportModel& m, const ViewData& v) {
  if (v.extended.empty()) return;
  const std::string what = md(summary_name(v.spec));
  out += fmt::format(
      "Ranked by {} over the extended windows W > L = {} (from the rows above; backends with every "
      "such window; equal values share a rank):\n\n",
      what, m.original_window);
  out += "| rank | backend | " + what + " |\n|---:|---|---:|\n";
  for (const auto& r : v.extended)
    out += fmt::format("| {} | {} | {} |\n", r.rank, md(r.backend), format_value(v, r.value));
  out += "\n";
}

void note_md(std::string& out, const ReportView& spec) {
  if (!spec.note.empty()) out += md_note(spec.note) + "\n\n";
}

void window_curve_md(std::string& out, const ReportModel& m, const TaskSection& s, const ViewData& v) {
  out += "## " + md(v.spec.title) + " — " + md(s.task_label) + "\n\n";
  note_md(out, v.spec);
  auto format = [&](double x) { return format_value(v, x); };
  table_header(out, "backend", window_headers(m, v.table.columns));
  value_rows(out, v.table, format);
  out += "\n";
  extended_md(out, m, v);
  if (!v.threshold) return;
  out += "\n" + threshold_sentence(v, md(v.spec.quantity)) + "\n\n";
  for (const auto& [backend, window] : v.max_window_passing)
    out += "- " + md(backend) + ": " + (window ? std::to_string(*window) : std::string("none")) + "\n";
  out += "\n";
}

void grid_md(std::string& out, const ReportModel& m, const TaskSection& s, const ViewData& v, bool first) {
  if (first) out += "## " + md(v.spec.title) + " — " + md(s.task_label) + "\n\n";
  note_md(out, v.spec);
  for (const auto& [backend, t] : v.by_backend) {
    out += "### " + md(v.spec.title) + " — " + md(backend) + "\n\n";
    table_header(out, md(v.spec.row_label), window_headers(m, t.columns));
    value_rows(out, t, [&](double x) { return format_value(v, x); });
    out += "\n";
  }
}

// "¹", "²", ... for footnote n (from 1).
std::string superscript(std::size_t n) {
  static const char* const digits[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string out;
  for (char c : std::to_string(n)) out += digits[c - '0'];
  return out;
}

void dataset_table_md(std::string& out, const TaskSection& s, const ViewData& v) {
  const auto& refs = v.spec.references;
  for (const auto& [window, t] : v.by_window) {
    out += fmt::format("## {} — {} at W = {}\n\n", md(v.spec.title), md(s.task_label), window);
    note_md(out, v.spec);
    std::vector<std::string> columns;
    for (const auto& c : t.columns) columns.push_back(md(c));
    for (const auto& ref : refs) columns.push_back(md(ref.label) + " (" + md(ref.tag) + ")");
    table_header(out, md(v.spec.row_label), columns);
    std::vector<std::string> footnotes;
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      out += "| " + md(t.rows[r]) + " |";
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        const CellValue* value = t.at(r, c);
        out += " " + (value ? md_link(format_value(v, value->value), value->cell) : std::string("—")) + " |";
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
  }
}

void section_md(std::string& out, const ReportModel& m, const TaskSection& s) {
  for (std::size_t i = 0; i < s.views.size(); ++i) {
    const ViewData& v = s.views[i];
    switch (v.spec.kind) {
      case ViewKind::window_curve:
        window_curve_md(out, m, s, v);
        break;
      case ViewKind::grid:
        grid_md(out, m, s, v, i == 0);
        break;
      case ViewKind::dataset_table:
        dataset_table_md(out, s, v);
        break;
    }
  }
}

void header_md(std::string& out, const ReportModel& m) {
  out += "# e2llm leaderboard — " + md(m.run_name) + "\n\n";
  out += fmt::format("Generated {} from {} cell files in `cells/`", m.generated_at, m.cells.size());
  if (!m.git_revisions.empty()) {
    std::string revs;
    for (const auto& r : m.git_revisions) revs += (revs.empty() ? "" : ", ") + md(r);
    out += " (git " + revs + ")";
  }
  out += ". ";
  if (m.cells_not_in_plan)
    out += fmt::format("{} older cell files not in the latest sweep's plan were left out. ", m.cells_not_in_plan);
  if (m.original_window)
    out += fmt::format("Base window L = {}; a window W is served with g = W / L. ", m.original_window);
  out += "Every number links to the cell file it comes from.\n\n";
  if (m.cells.empty()) out += "_No finished cells yet: run `e2llm sweep` first._\n\n";
}

void headline_md(std::string& out, const ReportModel& m) {
  out += "## Headline metric of every task\n\n";
  for (const auto& gv : m.headline) {
    out += fmt::format("**{}** ({}, `{}`, {} is better)\n\n", md(gv.task_label), md(gv.task_plugin), md(gv.metric),
                       gv.higher_is_better ? "higher" : "lower");
    table_header(out, "backend", window_headers(m, gv.table.columns));
    value_rows(out, gv.table, format_number);
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
  table_header(out, "backend", {"plugin", "trains", "trained tokens", "train wall", "prepare wall (last run)"});
  for (const auto& row : m.cost) {
    out += fmt::format("| [{}]({}) | {} | {} | {} | {} | {} |\n", md(row.label), row.file, md(row.plugin),
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

void cells_md(std::string& out, const ReportModel& m) {
  out += "## Cells\n\n";
  const bool per_cell = any_cell_peak(m);
  std::vector<std::string> columns = {"backend", "task", "W", "g", "tokens/s", "wall", "peak RSS (process)"};
  if (per_cell) columns.push_back("peak RSS (cell)");
  columns.push_back("git");
  table_header(out, "cell", columns);
  for (const auto& c : m.cells) {
    out += fmt::format("| [{}]({}) | {} | {} | {} | {:g} | {:.0f} | {} | {} |", c.key.substr(0, 16), c.file,
                       md(c.backend), md(c.task), c.window, c.g, c.tokens_per_s, human_duration(c.wall_s),
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

json table_json(const ValueTable& t) {
  json rows = json::object();
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    json row = json::object();
    for (std::size_t c = 0; c < t.columns.size(); ++c)
      if (const CellValue* v = t.at(r, c)) row[t.columns[c]] = {{"value", v->value}, {"cell", v->cell}};
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
                 {"g", c.g},
                 {"tokens_per_s", c.tokens_per_s},
                 {"wall_s", c.wall_s},
                 {"peak_rss_bytes", c.peak_rss_bytes},
                 {"git_revision", c.git_revision}};
    if (c.peak_rss_bytes_cell) {
      cell["peak_rss_bytes_cell"] = *c.peak_rss_bytes_cell;
      cell["peak_rss_cell_reset"] = c.peak_rss_cell_reset;
    }
    cells.push_back(cell);
  }
  return cells;
}

// A view as data: its declaration and what the cells filled in.
json view_json(const TaskSection& s, const ViewData& v) {
  json out = {{"task", s.task_label},
              {"task_plugin", s.task_plugin},
              {"view", views_to_json({v.spec})[0]},
              {"values_unit", v.spec.format == ValueFormat::percent ? (v.percent ? "percent" : "fraction") : "number"}};
  switch (v.spec.kind) {
    case ViewKind::window_curve: {
      out["by_backend_and_window"] = table_json(v.table);
      json ranking = json::array();
      for (const auto& r : v.extended)
        ranking.push_back({{"backend", r.backend}, {"value", r.value}, {"rank", r.rank}});
      out["extended_ranking"] = ranking;
      if (v.threshold) {
        out["threshold"] = *v.threshold;
        json passing = json::object();
        for (const auto& [b, w] : v.max_window_passing) passing[b] = w ? json(*w) : json(nullptr);
        out["max_window_passing"] = passing;
      }
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
  json out = {{"schema", "e2llm.summary"},
              {"schema_version", 2},
              {"run", m.run_name},
              {"generated_at", m.generated_at},
              {"original_window", m.original_window},
              {"backends", m.backends},
              {"windows", m.windows},
              {"git_revisions", m.git_revisions},
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
  util::remove_stale_temp_files(m.run_dir, /*recursive=*/false);  // left by a report or sweep killed mid-write
  util::write_files_atomic(
      {{paths[0], std::move(markdown)}, {paths[1], std::move(html)}, {paths[2], std::move(summary)}});
  return paths;
}

}  // namespace e2llm::harness
