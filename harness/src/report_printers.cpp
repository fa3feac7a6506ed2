// The markdown and JSON printers of the report, and writing all outputs.
#include <fmt/core.h>

#include "e2llm/harness/report.hpp"
#include "e2llm/util/files.hpp"
#include "report_format.hpp"
#include "sweep_progress.hpp"

namespace e2llm::harness {
using nlohmann::json;

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

namespace {

// Text from data inside a markdown table cell: no pipes, no line breaks, no raw HTML.
std::string md(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|') out += "\\|";
    else if (ch == '\n' || ch == '\r') out += ' ';
    else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else out += ch;
  }
  return out;
}

// A number that links to its cell file.
std::string md_link(const std::string& number, const std::string& file) { return "[" + number + "](" + file + ")"; }

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
  for (const auto& c : columns) out.push_back(window_header(m, c));
  return out;
}

// The ranking over W > L, derived from the table above it (so its rows carry no own link).
template <class Format>
void extended_md(std::string& out, const ReportModel& m, const std::vector<ExtendedSummary>& rows, const std::string& what,
                 Format format) {
  if (rows.empty()) return;
  out += fmt::format("Ranked by {} over the extended windows W > L = {} (from the rows above; backends with every "
                     "such window; equal values share a rank):\n\n",
                     what, m.original_window);
  out += "| rank | backend | " + what + " |\n|---:|---|---:|\n";
  for (const auto& r : rows) out += fmt::format("| {} | {} | {} |\n", r.rank, md(r.backend), format(r.value));
  out += "\n";
}

json extended_json(const std::vector<ExtendedSummary>& rows) {
  json out = json::array();
  for (const auto& r : rows) out.push_back({{"backend", r.backend}, {"value", r.value}, {"rank", r.rank}});
  return out;
}

}  // namespace

std::string render_markdown(const ReportModel& m) {
  std::string out;
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
  if (m.original_window) out += fmt::format("Base window L = {}; a window W is served with g = W / L. ", m.original_window);
  out += "Every number links to the cell file it comes from.\n\n";
  if (m.cells.empty()) out += "_No finished cells yet: run `e2llm sweep` first._\n\n";

  for (const auto& pv : m.perplexity) {
    out += "## Perplexity vs window — " + md(pv.task_label) + "\n\n";
    out += "Proof-Pile-style long-document perplexity (`ppl`, lower is better), rows = backends, columns = window W.\n\n";
    table_header(out, "backend", window_headers(m, pv.table.columns));
    value_rows(out, pv.table, format_number);
    out += "\n";
    extended_md(out, m, pv.extended, "geometric mean perplexity", format_number);
  }

  for (const auto& pv : m.passkey) {
    out += "## Passkey retrieval — " + md(pv.task_label) + "\n\n";
    out += "Accuracy (higher is better), rows = backends, columns = window W.\n\n";
    table_header(out, "backend", window_headers(m, pv.accuracy.columns));
    value_rows(out, pv.accuracy, [&](double v) { return format_accuracy(v, pv.percent); });
    out += "\n";
    extended_md(out, m, pv.extended, "mean accuracy", [&](double v) { return format_accuracy(v, pv.percent); });
    out += fmt::format("\nLargest window with accuracy ≥ {:g}% (from the smallest window up, stopping at the first below):\n\n",
                       pv.threshold * 100);
    for (const auto& b : m.backends) {
      auto it = pv.max_window_passing.find(b);
      if (it == pv.max_window_passing.end()) continue;
      out += "- " + md(b) + ": " + (it->second ? std::to_string(*it->second) : std::string("none")) + "\n";
    }
    out += "\n";
    for (const auto& backend : m.backends) {  // the sweep's order
      auto found = pv.by_depth.find(backend);
      if (found == pv.by_depth.end()) continue;
      const ValueTable& t = found->second;
      out += "### Accuracy by depth — " + md(backend) + "\n\n";
      table_header(out, "depth", window_headers(m, t.columns));
      value_rows(out, t, [&](double v) { return format_accuracy(v, pv.percent); });
      out += "\n";
    }
  }

  for (const auto& lv : m.longbench) {
    out += fmt::format("## LongBench — {} at W = {}\n\n", md(lv.task_label), lv.window);
    out += "Scores 0–100 (higher is better); `avg_en` = plain mean of the English datasets run (the paper's EN average, "
           "not LongBench's category mean). The *paper* columns are the paper's 7B-model numbers (docs/methods.md), "
           "at a different scale from this run: context, not a target.\n\n";
    std::vector<std::string> columns;
    for (const auto& c : lv.table.columns) columns.push_back(md(c));
    for (const auto& ref : paper_reference()) columns.push_back(md(ref.model) + " (paper)");
    table_header(out, "dataset", columns);
    for (std::size_t r = 0; r < lv.table.rows.size(); ++r) {
      const std::string& dataset = lv.table.rows[r];
      out += "| " + md(dataset) + " |";
      for (std::size_t c = 0; c < lv.table.columns.size(); ++c) {
        const CellValue* v = lv.table.at(r, c);
        out += " " + (v ? md_link(format_number(v->value), v->cell) : std::string("—")) + " |";
      }
      for (const auto& ref : paper_reference())
        out += " " + paper_longbench_cell(ref, dataset) + (dataset == "avg_en" ? "¹" : "") + " |";
      out += "\n";
    }
    out += "\n¹ mean of the paper's nine dataset scores, computed here.\n\n";
  }

  out += "## Headline metric of every task\n\n";
  for (const auto& gv : m.headline) {
    out += fmt::format("**{}** ({}, `{}`, {} is better)\n\n", md(gv.task_label), md(gv.task_plugin), md(gv.metric),
                       gv.higher_is_better ? "higher" : "lower");
    table_header(out, "backend", window_headers(m, gv.table.columns));
    value_rows(out, gv.table, format_number);
    out += "\n";
  }

  out += "## Training cost\n\n";
  if (m.cost.empty()) {
    out += "_No prepare records in `backends/`._\n\n";
  } else {
    out += "From each backend's prepare record (`backends/<label>.json`). *Trained tokens* and *train wall* are the "
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

  out += "## Cells\n\n";
  table_header(out, "cell", {"backend", "task", "W", "g", "tokens/s", "wall", "peak RSS (process)", "git"});
  for (const auto& c : m.cells) {
    out += fmt::format("| [{}]({}) | {} | {} | {} | {:g} | {:.0f} | {} | {} | {} |\n", c.key.substr(0, 16), c.file,
                       md(c.backend), md(c.task), c.window, c.g, c.tokens_per_s, human_duration(c.wall_s),
                       format_bytes(double(c.peak_rss_bytes)), md(c.git_revision));
  }
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
}  // namespace

json render_summary_json(const ReportModel& m) {
  json out = {{"schema", "e2llm.summary"},
              {"schema_version", 1},
              {"run", m.run_name},
              {"generated_at", m.generated_at},
              {"original_window", m.original_window},
              {"backends", m.backends},
              {"windows", m.windows},
              {"git_revisions", m.git_revisions},
              {"cells_not_in_plan", m.cells_not_in_plan}};
  json cells = json::array();
  for (const auto& c : m.cells)
    cells.push_back({{"cell", c.file},        {"key", c.key},     {"backend", c.backend},
                     {"task", c.task},        {"task_plugin", c.task_plugin}, {"window", c.window},
                     {"g", c.g},              {"tokens_per_s", c.tokens_per_s}, {"wall_s", c.wall_s},
                     {"peak_rss_bytes", c.peak_rss_bytes}, {"git_revision", c.git_revision}});
  out["cells"] = cells;
  json ppl = json::array();
  for (const auto& pv : m.perplexity)
    ppl.push_back({{"task", pv.task_label},
                   {"metric", pv.metric},
                   {"by_backend_and_window", table_json(pv.table)},
                   {"extended_geometric_mean", extended_json(pv.extended)}});
  out["perplexity"] = ppl;
  json passkey = json::array();
  for (const auto& pv : m.passkey) {
    json depth = json::object();
    for (const auto& [b, t] : pv.by_depth) depth[b] = table_json(t);
    json passing = json::object();
    for (const auto& [b, w] : pv.max_window_passing) passing[b] = w ? json(*w) : json(nullptr);
    passkey.push_back({{"task", pv.task_label},
                       {"accuracy_unit", pv.percent ? "percent" : "fraction"},
                       {"accuracy", table_json(pv.accuracy)},
                       {"accuracy_by_depth", depth},
                       {"threshold", pv.threshold},
                       {"max_window_passing", passing},
                       {"extended_mean_accuracy", extended_json(pv.extended)}});
  }
  out["passkey"] = passkey;
  json lb = json::array();
  for (const auto& lv : m.longbench)
    lb.push_back({{"task", lv.task_label}, {"window", lv.window}, {"by_dataset_and_backend", table_json(lv.table)}});
  out["longbench"] = lb;
  json headline = json::array();
  for (const auto& gv : m.headline)
    headline.push_back({{"task", gv.task_label},
                        {"task_plugin", gv.task_plugin},
                        {"metric", gv.metric},
                        {"higher_is_better", gv.higher_is_better},
                        {"by_backend_and_window", table_json(gv.table)}});
  out["headline"] = headline;
  json cost = json::array();
  for (const auto& r : m.cost)
    cost.push_back({{"backend", r.label},
                    {"plugin", r.plugin},
                    {"record", r.file},
                    {"trains", r.trains},
                    {"trained_tokens", r.trained_tokens ? json(*r.trained_tokens) : json(nullptr)},
                    {"train_wall_s", r.train_wall_s ? json(*r.train_wall_s) : json(nullptr)},
                    {"prepare_wall_s", r.prepare_wall_s}});
  out["training_cost"] = cost;
  json refs = json::array();
  for (const auto& ref : paper_reference()) {
    json scores = json::object();
    for (const auto& [d, s] : ref.longbench) scores[d] = s;
    refs.push_back({{"model", ref.model}, {"source", ref.source}, {"longbench", scores},
                    {"note", "paper numbers for 7B models; a different scale from this run"}});
  }
  out["paper_reference"] = refs;
  return out;
}

std::vector<std::filesystem::path> write_report(const ReportModel& m) {
  // Render everything first: a failure leaves the previous report untouched.
  std::string markdown = render_markdown(m), html = render_html(m), summary = render_summary_json(m).dump(2) + "\n";
  std::vector<std::filesystem::path> paths = {m.run_dir / "leaderboard.md", m.run_dir / "leaderboard.html",
                                              m.run_dir / "summary.json"};
  util::write_file_atomic(paths[0], markdown);
  util::write_file_atomic(paths[1], html);
  util::write_file_atomic(paths[2], summary);
  return paths;
}

}  // namespace e2llm::harness
