// The self-contained HTML printer: tables, an inline SVG perplexity chart (log y), passkey
// heatmaps. No script, no external resource: it renders offline. Every string from the
// data passes through html_escape.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "e2llm/harness/report.hpp"
#include "report_format.hpp"
#include "sweep_progress.hpp"

namespace e2llm::harness {

namespace {

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

std::string esc(const std::string& s) { return html_escape(s); }

std::string link(const std::string& text, const std::string& cell) {
  return "<a href=\"" + esc(cell) + "\" title=\"" + esc(cell) + "\">" + esc(text) + "</a>";
}

std::string window_header(const ReportModel& m, const std::string& w) {
  if (!m.original_window) return esc(w);
  return fmt::format("{}<br><small>g={:g}</small>", esc(w), std::stod(w) / double(m.original_window));
}

template <class Format>
std::string value_table(const ReportModel& m, const ValueTable& t, const std::string& corner, Format format,
                        bool window_columns = true) {
  std::string out = "<table><thead><tr><th>" + esc(corner) + "</th>";
  for (const auto& c : t.columns) out += "<th>" + (window_columns ? window_header(m, c) : esc(c)) + "</th>";
  out += "</tr></thead><tbody>\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    out += "<tr><th>" + esc(t.rows[r]) + "</th>";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const CellValue* v = t.at(r, c);
      out += "<td>" + (v ? link(format(v->value), v->cell) : std::string("—")) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

// The ranking over W > L, derived from the table above it.
template <class Format>
std::string extended_table(const ReportModel& m, const std::vector<ExtendedSummary>& rows, const std::string& what,
                           Format format) {
  if (rows.empty()) return "";
  std::string out = fmt::format("<p>Ranked by {} over the extended windows W &gt; L = {} (from the rows above; backends "
                                "with every such window; equal values share a rank):</p>\n<table><thead><tr><th>rank</th>"
                                "<th>backend</th><th>{}</th></tr></thead><tbody>\n",
                                esc(what), m.original_window, esc(what));
  for (const auto& r : rows)
    out += fmt::format("<tr><td>{}</td><th>{}</th><td>{}</td></tr>\n", r.rank, esc(r.backend), esc(format(r.value)));
  return out + "</tbody></table>\n";
}

// Perplexity vs window, one line per backend; x = log2(W), y = log10(ppl).
std::string svg_chart(const ReportModel& m, const PerplexityView& pv) {
  const double width = 760, height = 380, left = 70, right = 180, top = 20, bottom = 50;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& [rc, v] : pv.table.values)
    if (v.value > 0) lo = std::min(lo, v.value), hi = std::max(hi, v.value);
  if (!std::isfinite(lo)) return "<p class=\"note\">No positive perplexity values to plot.</p>\n";
  double y0 = std::floor(std::log10(lo)), y1 = std::ceil(std::log10(hi));
  if (y1 <= y0) y1 = y0 + 1;
  const auto& ws = m.windows;
  double x0 = std::log2(double(ws.front())), x1 = std::log2(double(ws.back()));
  auto px = [&](std::size_t c) {
    if (x1 <= x0) return left + plot_w / 2;
    return left + (std::log2(double(ws[c])) - x0) / (x1 - x0) * plot_w;
  };
  auto py = [&](double v) { return top + (y1 - std::log10(v)) / (y1 - y0) * plot_h; };

  std::string s = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "role=\"img\" aria-label=\"{2}\">\n",
      width, height, esc("perplexity vs window, " + pv.task_label));
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#999\"/>\n", left, top, plot_w, plot_h);
  // y grid: decades, plus 2x and 5x when the range is narrow.
  for (double e = y0; e <= y1 + 1e-9; e += 1) {
    for (double mult : {1.0, 2.0, 5.0}) {
      double v = mult * std::pow(10.0, e);
      if (std::log10(v) > y1 + 1e-9 || (mult != 1.0 && y1 - y0 > 2)) continue;
      double y = py(v);
      s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"{}\"/>\n", left, y, left + plot_w, y,
                       mult == 1.0 ? "#ccc" : "#eee");
      s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"tick\">{:g}</text>\n", left - 6, y + 4, v);
    }
  }
  for (std::size_t c = 0; c < ws.size(); ++c) {
    double x = px(c);
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#eee\"/>\n", x, top, top + plot_h);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" class=\"tick\">{}</text>\n", x, top + plot_h + 16, ws[c]);
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">window W (tokens, log scale)</text>\n", left + plot_w / 2,
                   height - 8);
  s += fmt::format("<text x=\"14\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {0})\">perplexity (log scale)</text>\n",
                   top + plot_h / 2);
  for (std::size_t r = 0; r < pv.table.rows.size(); ++r) {
    constexpr std::size_t kColors = sizeof kPalette / sizeof *kPalette;
    const char* color = kPalette[r % kColors];
    // Past the palette, lines are dashed so that no two backends look the same.
    const std::string dash = (r / kColors) % 2 ? " stroke-dasharray=\"7 4\"" : "";
    std::string points, marks;
    for (std::size_t c = 0; c < ws.size(); ++c) {
      const CellValue* v = pv.table.at(r, c);
      if (!v || v->value <= 0) {
        if (!points.empty())
          s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", color, dash, points);
        points.clear();
        continue;
      }
      points += fmt::format("{:.1f},{:.1f} ", px(c), py(v->value));
      marks += fmt::format("<a href=\"{0}\"><circle cx=\"{1:.1f}\" cy=\"{2:.1f}\" r=\"4\" fill=\"{3}\"><title>{4}</title></circle></a>\n",
                           esc(v->cell), px(c), py(v->value), color,
                           esc(pv.table.rows[r] + " W=" + std::to_string(ws[c]) + ": ppl " + format_number(v->value) +
                               " (" + v->cell + ")"));
    }
    if (!points.empty())
      s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", color, dash, points);
    s += marks;
    double ly = top + 12 + 20 * double(r);
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"3\"{}/>\n", left + plot_w + 12,
                     ly - 2, left + plot_w + 32, ly - 2, color, dash);
    // Long labels are cut in the legend (the full one is its tooltip and in the table).
    const std::string& name = pv.table.rows[r];
    std::string shown = name.size() > 20 ? name.substr(0, 19) + "…" : name;
    s += fmt::format("<text x=\"{}\" y=\"{}\"><title>{}</title>{}</text>\n", left + plot_w + 36, ly + 2, esc(name),
                     esc(shown));
  }
  return s + "</svg>\n";
}

// Accuracy 0 -> red, 1 -> green.
std::string heat_color(double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  return fmt::format("hsl({:.0f},70%,{:.0f}%)", 120 * fraction, 82 - 10 * fraction);
}

std::string heatmap(const ReportModel& m, const ValueTable& t, bool percent) {
  std::string out = "<table class=\"heat\"><thead><tr><th>depth \\ W</th>";
  for (const auto& c : t.columns) out += "<th>" + window_header(m, c) + "</th>";
  out += "</tr></thead><tbody>\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    out += "<tr><th>" + esc(t.rows[r]) + "</th>";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const CellValue* v = t.at(r, c);
      if (!v) {
        out += "<td class=\"empty\">—</td>";
        continue;
      }
      double f = percent ? v->value / 100 : v->value;
      out += "<td style=\"background:" + heat_color(f) + "\">" + link(format_accuracy(v->value, percent), v->cell) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

const char* kStyle = R"(body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
thead th{background:#f4f4f4}tbody th{text-align:left;background:#fafafa}td a{color:inherit;text-decoration:none}
td a:hover{text-decoration:underline}.paper{background:#f3f0ff;font-style:italic}.note{color:#555}
.tick{font-size:11px;fill:#555}svg text{font-size:12px}.heat td{min-width:56px;text-align:center}.empty{color:#aaa})";

}  // namespace

std::string render_html(const ReportModel& m) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>e2llm leaderboard — " +
                  esc(m.run_name) + "</title>\n<style>" + kStyle + "</style></head>\n<body>\n";
  h += "<h1>e2llm leaderboard — " + esc(m.run_name) + "</h1>\n";
  std::string revs;
  for (const auto& r : m.git_revisions) revs += (revs.empty() ? "" : ", ") + esc(r);
  h += fmt::format("<p class=\"note\">Generated {} from {} cell files in <code>cells/</code>{}. ", esc(m.generated_at),
                   m.cells.size(), revs.empty() ? "" : " (git " + revs + ")");
  if (m.cells_not_in_plan)
    h += fmt::format("{} older cell files not in the latest sweep's plan were left out. ", m.cells_not_in_plan);
  if (m.original_window) h += fmt::format("Base window L = {}; a window W is served with g = W / L. ", m.original_window);
  h += "Every number links to the cell file it comes from (hover for its name).</p>\n";
  if (m.cells.empty()) h += "<p><em>No finished cells yet: run <code>e2llm sweep</code> first.</em></p>\n";

  for (const auto& pv : m.perplexity) {
    h += "<h2>Perplexity vs window — " + esc(pv.task_label) + "</h2>\n";
    h += "<p class=\"note\">Long-document perplexity (<code>ppl</code>, lower is better).</p>\n";
    h += svg_chart(m, pv);
    h += value_table(m, pv.table, "backend", format_number);
    h += extended_table(m, pv.extended, "geometric mean perplexity", format_number);
  }

  for (const auto& pv : m.passkey) {
    h += "<h2>Passkey retrieval — " + esc(pv.task_label) + "</h2>\n";
    auto fmt_acc = [&](double v) { return format_accuracy(v, pv.percent); };
    h += value_table(m, pv.accuracy, "backend", fmt_acc);
    h += extended_table(m, pv.extended, "mean accuracy", fmt_acc);
    h += fmt::format("<p>Largest window with accuracy ≥ {:g}% (from the smallest window up, stopping at the first below):</p><ul>\n",
                     pv.threshold * 100);
    for (const auto& b : m.backends) {
      auto it = pv.max_window_passing.find(b);
      if (it == pv.max_window_passing.end()) continue;
      h += "<li>" + esc(b) + ": " + (it->second ? std::to_string(*it->second) : std::string("none")) + "</li>\n";
    }
    h += "</ul>\n";
    for (const auto& backend : m.backends) {  // the sweep's order
      auto found = pv.by_depth.find(backend);
      if (found == pv.by_depth.end()) continue;
      h += "<h3>Accuracy by depth — " + esc(backend) + "</h3>\n";
      h += heatmap(m, found->second, pv.percent);
    }
  }

  for (const auto& lv : m.longbench) {
    h += fmt::format("<h2>LongBench — {} at W = {}</h2>\n", esc(lv.task_label), lv.window);
    h += "<p class=\"note\">Scores 0–100 (higher is better); <code>avg_en</code> = plain mean of the English datasets run "
         "(the paper's EN average). Shaded columns are the <em>paper's</em> 7B-model numbers (docs/methods.md), at a "
         "different scale from this run: context, not a target.</p>\n";
    h += "<table><thead><tr><th>dataset</th>";
    for (const auto& c : lv.table.columns) h += "<th>" + esc(c) + "</th>";
    for (const auto& ref : paper_reference())
      h += "<th class=\"paper\" title=\"" + esc(ref.source) + "\">" + esc(ref.model) + "<br><small>paper</small></th>";
    h += "</tr></thead><tbody>\n";
    for (std::size_t r = 0; r < lv.table.rows.size(); ++r) {
      const std::string& dataset = lv.table.rows[r];
      h += "<tr><th>" + esc(dataset) + "</th>";
      for (std::size_t c = 0; c < lv.table.columns.size(); ++c) {
        const CellValue* v = lv.table.at(r, c);
        h += "<td>" + (v ? link(format_number(v->value), v->cell) : std::string("—")) + "</td>";
      }
      for (const auto& ref : paper_reference())
        h += "<td class=\"paper\">" + paper_longbench_cell(ref, dataset) + "</td>";
      h += "</tr>\n";
    }
    h += "</tbody></table>\n";
  }

  h += "<h2>Headline metric of every task</h2>\n";
  for (const auto& gv : m.headline) {
    h += fmt::format("<h3>{} <small>({}, <code>{}</code>, {} is better)</small></h3>\n", esc(gv.task_label),
                     esc(gv.task_plugin), esc(gv.metric), gv.higher_is_better ? "higher" : "lower");
    h += value_table(m, gv.table, "backend", format_number);
  }

  h += "<h2>Training cost</h2>\n";
  if (m.cost.empty()) {
    h += "<p><em>No prepare records in <code>backends/</code>.</em></p>\n";
  } else {
    h += "<p class=\"note\">From each backend's prepare record. Trained tokens and train wall are the backend's own "
         "account of its training; prepare wall is what prepare() took in the latest sweep process.</p>\n";
    h += "<table><thead><tr><th>backend</th><th>plugin</th><th>trains</th><th>trained tokens</th><th>train wall</th>"
         "<th>prepare wall (last run)</th></tr></thead><tbody>\n";
    for (const auto& row : m.cost)
      h += fmt::format("<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", link(row.label, row.file),
                       esc(row.plugin), row.trains ? "yes" : "no",
                       row.trained_tokens ? esc(format_count(*row.trained_tokens)) : "—",
                       row.train_wall_s ? esc(human_duration(*row.train_wall_s)) : "—", esc(human_duration(row.prepare_wall_s)));
    h += "</tbody></table>\n";
  }

  h += "<h2>Cells</h2>\n<table><thead><tr><th>cell</th><th>backend</th><th>task</th><th>W</th><th>g</th><th>tokens/s</th>"
       "<th>wall</th><th>peak RSS (process)</th><th>git</th></tr></thead><tbody>\n";
  for (const auto& c : m.cells)
    h += fmt::format("<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{:g}</td><td>{:.0f}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                     link(c.key.substr(0, 16), c.file), esc(c.backend), esc(c.task), c.window, c.g, c.tokens_per_s,
                     esc(human_duration(c.wall_s)), esc(format_bytes(double(c.peak_rss_bytes))), esc(c.git_revision));
  h += "</tbody></table>\n</body></html>\n";
  return h;
}

}  // namespace e2llm::harness
