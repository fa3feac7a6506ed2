// The self-contained HTML printer: tables, inline SVG line charts, heatmaps. No script, no
// external resource: it renders offline. Every string from the data passes through
// html_escape (the tasks' HTML notes through an allowlist of inline tags).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "e2llm/harness/report.hpp"
#include "report_format.hpp"
#include "sweep_progress.hpp"

namespace e2llm::harness {

namespace {

// Okabe & Ito's colour-blind-safe palette (its yellow left out: unreadable on white). Backend r
// gets colour r mod 7 and marker r mod 5, so no two of the first 35 lines look alike, and lines
// from the eighth on are dashed as well.
const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
constexpr std::size_t kMarkers = 5;  // circle, square, triangle, diamond, inverted triangle

// Marker `kind` centred at (x, y), as SVG.
std::string marker_svg(std::size_t kind, double x, double y, const char* color) {
  switch (kind % kMarkers) {
    case 1:
      return fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"7\" height=\"7\" fill=\"{}\"/>", x - 3.5, y - 3.5,
                         color);
    case 2:
      return fmt::format("<polygon points=\"{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\" fill=\"{}\"/>", x, y - 4.5,
                         x - 4.5, y + 3.5, x + 4.5, y + 3.5, color);
    case 3:
      return fmt::format("<polygon points=\"{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\" fill=\"{}\"/>", x,
                         y - 5, x + 5, y, x, y + 5, x - 5, y, color);
    case 4:
      return fmt::format("<polygon points=\"{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\" fill=\"{}\"/>", x, y + 4.5,
                         x - 4.5, y - 3.5, x + 4.5, y - 3.5, color);
    default:
      return fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"/>", x, y, color);
  }
}

std::string esc(const std::string& s) {
  return html_escape(s);
}

std::string link(const std::string& text, const std::string& cell) {
  return "<a href=\"" + esc(cell) + "\" title=\"" + esc(cell) + "\">" + esc(text) + "</a>";
}

std::string window_header(const ReportModel& m, const std::string& w) {
  if (!m.original_window) return esc(w);
  return fmt::format("{}<br><small>g={:g}</small>", esc(w), std::stod(w) / double(m.original_window));
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// A task's HTML note: everything escaped, then only bare <code>, <em>, <strong>, <small>
// and <br> restored.
std::string sanitize_note(const std::string& note) {
  std::string out = html_escape_text(note);
  for (const char* tag : {"code", "em", "strong", "small"}) {
    replace_all(out, std::string("&lt;") + tag + "&gt;", std::string("<") + tag + ">");
    replace_all(out, std::string("&lt;/") + tag + "&gt;", std::string("</") + tag + ">");
  }
  replace_all(out, "&lt;br&gt;", "<br>");
  return out;
}

// A Markdown note as HTML: `code` and *emphasis*, the rest escaped.
std::string markdown_note_to_html(const std::string& note) {
  std::string out;
  for (std::size_t i = 0; i < note.size(); ++i) {
    const char ch = note[i];
    std::size_t close = ch == '`' || ch == '*' ? note.find(ch, i + 1) : std::string::npos;
    if (close != std::string::npos && close > i + 1) {
      const char* tag = ch == '`' ? "code" : "em";
      out += fmt::format("<{0}>{1}</{0}>", tag, esc(note.substr(i + 1, close - i - 1)));
      i = close;
    } else {
      out += esc(std::string(1, ch));
    }
  }
  return out;
}

std::string note_html(const ReportView& spec) {
  std::string note = spec.note_html ? sanitize_note(*spec.note_html) : markdown_note_to_html(spec.note);
  return note.empty() ? "" : "<p class=\"note\">" + note + "</p>\n";
}

// A value with its interval (and ±sd over seeds) in small type and its mark; the mark's
// title says the comparison in words.
std::string html_value(const ViewData& v, const CellValue& cv) {
  std::string out = link(format_value(v, cv.value), cv.cell) + " <small class=\"ci\">" +
                    esc(value_suffix(v, cv).substr(1)) + "</small>";
  if (cv.vs_reference) {
    const std::string mark = mark_text(cv);
    if (!mark.empty())
      out += " <span class=\"mark\" title=\"" +
             esc(comparison_text(v, *cv.vs_reference) + " vs " + cv.vs_reference->with) + "\">" + mark.substr(1) +
             "</span>";
  }
  return out;
}

std::string row_header(const std::string& row, const std::string& reference) {
  return esc(row) + (!reference.empty() && row == reference ? " <small>(reference)</small>" : "");
}

std::string value_table(const ReportModel& m, const ViewData& v, const ValueTable& t, const std::string& corner) {
  std::string out = "<table><thead><tr><th>" + esc(corner) + "</th>";
  for (const auto& c : t.columns) out += "<th>" + window_header(m, c) + "</th>";
  out += "</tr></thead><tbody>\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    out += "<tr><th>" + row_header(t.rows[r], v.reference) + "</th>";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const CellValue* cv = t.at(r, c);
      out += "<td>" + (cv ? html_value(v, *cv) : std::string("—")) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

// The headline table: numbers with their intervals.
std::string plain_table(const ReportModel& m, const GenericView& gv) {
  const ValueTable& t = gv.table;
  auto format_number = [&](double x) { return format_headline(m, gv, x); };  // the section's format
  std::string out = "<table><thead><tr><th>backend</th>";
  for (const auto& c : t.columns) out += "<th>" + window_header(m, c) + "</th>";
  out += "</tr></thead><tbody>\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    out += "<tr><th>" + esc(t.rows[r]) + "</th>";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const CellValue* v = t.at(r, c);
      std::string text = "—";
      if (v) {
        std::string ci = v->interval
                             ? "[" + format_number(v->interval->low) + ", " + format_number(v->interval->high) + "]"
                             : "[n/a]";
        if (v->seed_sd) ci = "±" + format_number(*v->seed_sd) + " " + ci;
        text = link(format_number(v->value), v->cell) + " <small class=\"ci\">" + esc(ci) + "</small>";
      }
      out += "<td>" + text + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

std::string legend_html(const ReportModel& m, const ViewData& v) {
  std::string out = fmt::format(
      "<p class=\"note\"><small>[a, b]: {:g}% interval of the cell (bootstrap over its items; Wilson for proportions); "
      "[n/a]: the cell records none (older cells); ±: standard deviation over training seeds",
      m.settings.level * 100);
  if (!v.reference.empty())
    out += fmt::format(
        "; ▲ / ▼: significantly better / worse than <code>{}</code> at that window (paired, {:g}%); "
        "no mark: not separable (hover a mark for the test)",
        esc(v.reference), m.settings.level * 100);
  return out + ".</small></p>\n";
}

std::string comparisons_html(const ReportModel& m, const ViewData& v) {
  if (v.reference.empty()) return "";
  std::string rows;
  for (std::size_t r = 0; r < v.table.rows.size(); ++r) {
    if (v.table.rows[r] == v.reference) continue;
    std::string line = "<tr><th>" + esc(v.table.rows[r]) + "</th>";
    bool has = false;
    for (std::size_t c = 0; c < v.table.columns.size(); ++c) {
      const CellValue* cv = v.table.at(r, c);
      if (cv && cv->vs_reference) has = true;
      line += "<td class=\"cmp\">" +
              (cv && cv->vs_reference ? esc(comparison_text(v, *cv->vs_reference)) : std::string("—")) + "</td>";
    }
    if (has) rows += line + "</tr>\n";
  }
  if (rows.empty()) return "";
  std::string out =
      fmt::format("<p>Paired comparisons with <code>{}</code> ({:g}%):</p>\n<table><thead><tr><th>backend</th>",
                  esc(v.reference), m.settings.level * 100);
  for (const auto& c : v.table.columns) out += "<th>" + window_header(m, c) + "</th>";
  return out + "</tr></thead><tbody>\n" + rows + "</tbody></table>\n";
}

std::string passing_html(const std::string& sentence,
                         const std::vector<std::pair<std::string, std::optional<std::int64_t>>>& passing) {
  std::string h = "<p>" + sentence + "</p><ul>\n";
  for (const auto& [backend, window] : passing)
    h += "<li>" + esc(backend) + ": " + (window ? std::to_string(*window) : std::string("none")) + "</li>\n";
  return h + "</ul>\n";
}

std::string paper_html(const ViewData& v, const PaperComparison& p) {
  std::string h = "<h3>" + esc(p.label) + " beside ours — ratios to each one's base at W = L</h3>\n";
  if (!p.our_base_value)
    h += "<p class=\"note\">Ours are left out: name the backend serving the base model in the sweep's "
         "<code>[report] base</code>.</p>\n";
  h += "<table><thead><tr><th>model</th>";
  for (double g : p.ratios) h += fmt::format("<th>W = {:g}L</th>", g);
  h += "</tr></thead><tbody>\n";
  for (const auto& row : p.rows) {
    h += std::string("<tr") + (row.ours ? "" : " class=\"paper\"") + "><th>" + esc(row.name) +
         (row.ours ? "" : " <small>(" + esc(p.tag) + ")</small>") + "</th>";
    for (double g : p.ratios)
      h += "<td>" +
           paper_cell_text(row, g, link,
                           [](const ValueInterval& ci) {
                             return fmt::format(" <small class=\"ci\">[{:.3f}, {:.3f}]</small>", ci.low, ci.high);
                           }) +
           "</td>";
    h += "</tr>\n";
  }
  h += "</tbody></table>\n<p class=\"note\">The paper's rows are divided by its <code>" + esc(p.base_row) +
       "</code> at W = L";
  if (p.our_base_value)
    h += "; ours by <code>" + esc(p.our_base) + "</code> at W = L (" + esc(format_value(v, *p.our_base_value)) +
         "), with a paired bootstrap interval";
  return h + ". Below 1: " + (v.spec.higher_is_better ? "worse" : "better") +
         " than the base at its own window. Source: " + esc(p.source) + ".</p>\n";
}

std::string groups_html(const ReportModel& m, const ViewData& v, const std::string& task) {
  if (v.groups.empty()) return "";
  const std::string what = esc(summary_name(v.spec));
  std::string h = "<h3>Ablations — " + esc(task) + "</h3>\n" +
                  fmt::format(
                      "<p class=\"note\">Every backend compared with its group's first on the {} over W &gt; L "
                      "(paired, {:g}%).</p>\n",
                      what, m.settings.level * 100);
  for (const auto& g : v.groups) {
    h += "<h4>" + esc(g.title) + "</h4>\n<table><thead><tr><th>backend</th><th>" + what + "</th><th>vs " +
         esc(g.rows.front().backend) + "</th></tr></thead><tbody>\n";
    for (const auto& row : g.rows)
      h += "<tr><th>" + esc(row.backend) + "</th><td>" +
           (row.value
                ? esc(format_value(v, *row.value)) +
                      (row.interval ? " <small class=\"ci\">" + esc(interval_text(v, *row.interval)) + "</small>" : "")
                : std::string("—")) +
           "</td><td class=\"cmp\">" + (row.vs_first ? esc(comparison_text(v, *row.vs_first)) : std::string("—")) +
           "</td></tr>\n";
    h += "</tbody></table>\n";
  }
  return h;
}

std::string warnings_html(const ViewData& v) {
  std::string h;
  for (const auto& w : v.warnings) {
    h += "<p class=\"warning\"><strong>Provenance warning:</strong> the cells of this table differ in " + esc(w.field) +
         ":";
    for (const auto& [value, cells] : w.values)
      h += " <code>" + esc(value) + "</code> (" + cells_list(cells, html_escape) + ");";
    h += " compare them with care (summary.json lists every cell).</p>\n";
  }
  return h;
}

std::string all_zero_html(const ViewData& v, std::size_t rows, std::size_t columns) {
  return "<p class=\"note\"><em>" +
         esc(fmt::format("Every value is {} ({} rows × {} windows): nothing here tells the backends apart, so the "
                         "table is left out.",
                         format_value(v, 0.0), rows, columns)) +
         "</em></p>\n";
}

// The ranking over W > L, derived from the table above it.
std::string extended_table(const ReportModel& m, const ViewData& v) {
  if (v.extended.empty()) return "";
  const std::string what = esc(summary_name(v.spec));
  const bool paired = v.extended.front().paired;
  std::string out = paired
                        ? fmt::format(
                              "<p>Ranked by {} over the extended windows W &gt; L = {}. Rank = 1 + the backends "
                              "significantly better (paired over the same items, {:g}%; with seeds, in every seed "
                              "pairing): backends that cannot be told apart share a rank.</p>\n",
                              what, m.original_window, m.settings.level * 100)
                        : fmt::format(
                              "<p>Ranked by {} over the extended windows W &gt; L = {} (from the rows above; backends "
                              "with every such window; equal values share a rank; no items to pair).</p>\n",
                              what, m.original_window);
  out += "<table><thead><tr><th>rank</th><th>backend</th><th>" + what + "</th>";
  if (!v.reference.empty()) out += "<th>vs " + esc(v.reference) + "</th>";
  if (paired) out += "<th>not separable from</th>";
  out += "</tr></thead><tbody>\n";
  for (const auto& r : v.extended) {
    out += fmt::format("<tr><td>{}</td><th>{}</th><td>{}{}</td>", r.rank, row_header(r.backend, v.reference),
                       esc(format_value(v, r.value)),
                       r.interval ? " <small class=\"ci\">" + esc(interval_text(v, *r.interval)) + "</small>" : "");
    if (!v.reference.empty())
      out += "<td class=\"cmp\">" + (r.vs_reference ? esc(comparison_text(v, *r.vs_reference)) : std::string("—")) +
             "</td>";
    if (paired) {
      std::string names;
      for (const auto& n : r.not_separable) names += (names.empty() ? "" : ", ") + esc(n);
      out += "<td class=\"cmp\">" + (names.empty() ? std::string("—") : names) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

// The y axis of a chart: log10 fitted to the data (y0, y1 in log10 units, a little beyond the
// lowest and highest value), or linear over round steps.
struct YScale {
  bool log = true;
  double y0 = 0, y1 = 1;
  bool plottable(double v) const { return std::isfinite(v) && (!log || v > 0); }
  double fraction_from_top(double v) const { return log ? (y1 - std::log10(v)) / (y1 - y0) : (y1 - v) / (y1 - y0); }
  // (value, major) grid lines. Log: the 1-2-5 values inside the range (decades major); when
  // fewer than three fall inside, round linear steps of the range's span instead, so a
  // narrow range (21.9 .. 29.7) is labelled 22, 24, 26, 28.
  std::vector<std::pair<double, bool>> ticks() const {
    std::vector<std::pair<double, bool>> out;
    if (log) {
      for (double e = std::floor(y0); e <= std::ceil(y1); e += 1)
        for (double mult : {1.0, 2.0, 5.0}) {
          const double v = mult * std::pow(10.0, e), lv = std::log10(v);
          if (lv < y0 - 1e-9 || lv > y1 + 1e-9 || (mult != 1.0 && y1 - y0 > 2.5)) continue;
          out.emplace_back(v, mult == 1.0);
        }
      if (out.size() >= 3) return out;
      out.clear();
      const double lo = std::pow(10.0, y0), hi = std::pow(10.0, y1), step = nice_step(hi - lo);
      for (double v = std::ceil(lo / step) * step; v <= hi * (1 + 1e-12); v += step) out.emplace_back(v, true);
      return out;
    }
    double step = nice_step(y1 - y0);
    for (double v = y0; v <= y1 + step * 1e-6; v += step) out.emplace_back(std::fabs(v) < step * 1e-9 ? 0.0 : v, true);
    return out;
  }
  static double nice_step(double range) {
    double raw = range / 5, power = std::pow(10.0, std::floor(std::log10(raw)));
    for (double mult : {1.0, 2.0, 5.0})
      if (mult * power >= raw) return mult * power;
    return 10 * power;
  }
};

// The scale over the view's plottable values, or nothing when none is.
std::optional<YScale> y_scale(const ViewData& v) {
  YScale s;
  s.log = v.spec.chart == ChartScale::log;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& [rc, value] : v.table.values)
    if (s.plottable(value.value)) lo = std::min(lo, value.value), hi = std::max(hi, value.value);
  if (!std::isfinite(lo)) return std::nullopt;
  if (s.log) {
    // Fitted to the data with 5% of its span (at least 1% of a value) on either side.
    const double a = std::log10(lo), b = std::log10(hi), pad = std::max(0.05 * (b - a), 0.0043);
    s.y0 = a - pad, s.y1 = b + pad;
  } else {
    if (hi <= lo) hi = lo + 1;
    double step = YScale::nice_step(hi - lo);
    s.y0 = std::floor(lo / step) * step, s.y1 = std::ceil(hi / step) * step;
  }
  return s;
}

struct ChartFrame {
  // Tall enough for one legend entry per line (20 px each).
  explicit ChartFrame(std::size_t lines) : height(std::max(380.0, 20.0 + 20.0 * double(lines) + 50.0)) {}
  double width = 760, height = 380, left = 70, right = 180, top = 20, bottom = 50;
  double plot_w() const { return width - left - right; }
  double plot_h() const { return height - top - bottom; }
};

std::string chart_axes(const ReportModel& m, const ViewData& v, const YScale& y, const ChartFrame& f,
                       const std::function<double(std::size_t)>& px) {
  std::string s = fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#999\"/>\n",
                              f.left, f.top, f.plot_w(), f.plot_h());
  for (const auto& [value, major] : y.ticks()) {
    double py = f.top + y.fraction_from_top(value) * f.plot_h();
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"{}\"/>\n", f.left, py,
                     f.left + f.plot_w(), py, major ? "#ccc" : "#eee");
    // Percent views label a linear axis in percent, as their tables.
    const bool as_percent = !y.log && v.spec.format == ValueFormat::percent;
    const std::string label =
        as_percent ? fmt::format("{:g}%", v.percent ? value : value * 100) : fmt::format("{:g}", value);
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" class=\"tick\">{}</text>\n", f.left - 6, py + 4,
                     label);
  }
  for (std::size_t c = 0; c < m.windows.size(); ++c) {
    double x = px(c);
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#eee\"/>\n", x, f.top,
                     f.top + f.plot_h());
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" class=\"tick\">{}</text>\n", x,
                     f.top + f.plot_h() + 16, m.windows[c]);
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">window W (tokens, log scale)</text>\n",
                   f.left + f.plot_w() / 2, f.height - 8);
  s += fmt::format("<text x=\"14\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {0})\">{1}{2}</text>\n",
                   f.top + f.plot_h() / 2, esc(v.spec.quantity), y.log ? " (log scale)" : "");
  return s;
}

// One backend's line (broken where a value is missing), its points linked to their cells,
// and its legend entry.
std::string chart_line(const ReportModel& m, const ViewData& v, std::size_t r, const YScale& y, const ChartFrame& f,
                       const std::function<double(std::size_t)>& px) {
  constexpr std::size_t kColors = sizeof kPalette / sizeof *kPalette;
  const char* color = kPalette[r % kColors];
  // Past the palette, lines are dashed as well (colour and marker already differ).
  const std::string dash = (r / kColors) % 2 ? " stroke-dasharray=\"7 4\"" : "";
  const std::string& name = v.table.rows[r];
  auto py = [&](double value) { return f.top + y.fraction_from_top(value) * f.plot_h(); };
  std::string s, points, marks;
  for (std::size_t c = 0; c < m.windows.size(); ++c) {
    const CellValue* value = v.table.at(r, c);
    if (!value || !y.plottable(value->value)) {
      if (!points.empty())
        s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", color, dash,
                         points);
      points.clear();
      continue;
    }
    points += fmt::format("{:.1f},{:.1f} ", px(c), py(value->value));
    if (value->interval && y.plottable(value->interval->low) && y.plottable(value->interval->high)) {
      // The interval as a bar, cut at the chart's edges.
      const double lo = y.log ? std::pow(10.0, y.y0) : y.y0, hi = y.log ? std::pow(10.0, y.y1) : y.y1;
      marks += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"{4}/>\n",
                           px(c), py(std::clamp(value->interval->low, lo, hi)),
                           py(std::clamp(value->interval->high, lo, hi)), color, dash);
    }
    marks +=
        fmt::format("<a href=\"{0}\"><g class=\"point\" data-style=\"{1}\"><title>{2}</title>{3}</g></a>\n",
                    esc(value->cell), fmt::format("{} marker {}{}", color, r % kMarkers, dash.empty() ? "" : " dashed"),
                    esc(name + " W=" + std::to_string(m.windows[c]) + ": " + v.spec.metric + " " +
                        format_value(v, value->value) + " (" + value->cell + ")"),
                    marker_svg(r, px(c), py(value->value), color));
  }
  if (!points.empty())
    s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", color, dash,
                     points);
  s += marks;
  double ly = f.top + 12 + 20 * double(r);
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"3\"{}/>{}\n",
                   f.left + f.plot_w() + 12, ly - 2, f.left + f.plot_w() + 32, ly - 2, color, dash,
                   marker_svg(r, f.left + f.plot_w() + 22, ly - 2, color));
  // Long labels are cut in the legend (the full one is its tooltip and in the table).
  std::string shown = name.size() > 20 ? name.substr(0, 19) + "…" : name;
  s += fmt::format("<text x=\"{}\" y=\"{}\"><title>{}</title>{}</text>\n", f.left + f.plot_w() + 36, ly + 2, esc(name),
                   esc(shown));
  return s;
}

// The view's value vs window, one line per backend; x = log2(W).
std::string svg_chart(const ReportModel& m, const ViewData& v, const std::string& task_label) {
  auto y = y_scale(v);
  if (!y)
    return "<p class=\"note\">No " + std::string(v.spec.chart == ChartScale::log ? "positive " : "") +
           esc(v.spec.quantity) + " values to plot.</p>\n";
  const ChartFrame f(v.table.rows.size());
  const auto& ws = m.windows;
  double x0 = std::log2(double(ws.front())), x1 = std::log2(double(ws.back()));
  auto px = [&](std::size_t c) {
    if (x1 <= x0) return f.left + f.plot_w() / 2;
    return f.left + (std::log2(double(ws[c])) - x0) / (x1 - x0) * f.plot_w();
  };
  std::string s = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "role=\"img\" aria-label=\"{2}\">\n",
      f.width, f.height, esc(v.spec.quantity + " vs window, " + task_label));
  s += chart_axes(m, v, *y, f, px);
  for (std::size_t r = 0; r < v.table.rows.size(); ++r) s += chart_line(m, v, r, *y, f, px);
  return s + "</svg>\n";
}

// 0 -> red, 1 -> green.
std::string heat_color(double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  return fmt::format("hsl({:.0f},70%,{:.0f}%)", 120 * fraction, 82 - 10 * fraction);
}

// How good a value is on 0..1: percent views on their own scale, others between the
// grid's extremes; flipped when lower is better.
std::function<double(double)> goodness(const ViewData& v) {
  double lo = 0, hi = v.percent ? 100 : 1;
  if (v.spec.format != ValueFormat::percent) {
    lo = INFINITY, hi = -INFINITY;
    for (const auto& [backend, t] : v.by_backend)
      for (const auto& [rc, value] : t.values) lo = std::min(lo, value.value), hi = std::max(hi, value.value);
  }
  const bool higher = v.spec.higher_is_better;
  return [lo, hi, higher](double x) {
    double f = hi > lo ? (x - lo) / (hi - lo) : 1.0;
    return higher ? f : 1 - f;
  };
}

std::string heatmap(const ReportModel& m, const ViewData& v, const ValueTable& t) {
  auto good = goodness(v);
  std::string out = "<table class=\"heat\"><thead><tr><th>" + esc(v.spec.row_label) + " \\ W</th>";
  for (const auto& c : t.columns) out += "<th>" + window_header(m, c) + "</th>";
  out += "</tr></thead><tbody>\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    out += "<tr><th>" + esc(t.rows[r]) + "</th>";
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const CellValue* value = t.at(r, c);
      if (!value) {
        out += "<td class=\"empty\">—</td>";
        continue;
      }
      out += "<td style=\"background:" + heat_color(good(value->value)) + "\">" +
             link(format_value(v, value->value), value->cell) + "<br><small class=\"ci\">" +
             esc(value_suffix(v, *value).substr(1)) + "</small></td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

std::string window_curve_html(const ReportModel& m, const TaskSection& s, const ViewData& v) {
  std::string h = "<h2>" + esc(v.spec.title) + " — " + esc(s.task_label) + "</h2>\n" + note_html(v.spec);
  if (v.all_zero) return h + all_zero_html(v, rows_with_values(v.table), v.table.columns.size()) + warnings_html(v);
  if (v.spec.chart != ChartScale::none) h += svg_chart(m, v, s.task_label);
  h += value_table(m, v, v.table, "backend") + legend_html(m, v) + comparisons_html(m, v);
  h += extended_table(m, v);
  if (v.threshold) h += passing_html(threshold_sentence(v, esc(v.spec.quantity)), v.max_window_passing);
  if (v.relative_threshold)
    h += passing_html(relative_threshold_sentence(v, esc(v.spec.quantity), "<code>" + esc(m.settings.base) + "</code>",
                                                  m.original_window),
                      v.max_window_passing_relative);
  else if (v.relative_base)
    h += "<p>No threshold relative to the base: <code>" + esc(m.settings.base) + "</code> scores " +
         esc(format_value(v, *v.relative_base)) + " at W = L, so no window can fall below it.</p>\n";
  for (const auto& p : v.paper) h += paper_html(v, p);
  return h + groups_html(m, v, s.task_label) + warnings_html(v);
}

std::string grid_html(const ReportModel& m, const TaskSection& s, const ViewData& v, bool first) {
  std::string h = first ? "<h2>" + esc(v.spec.title) + " — " + esc(s.task_label) + "</h2>\n" : "";
  h += note_html(v.spec);
  if (v.all_zero) {
    const std::size_t rows = v.by_backend.empty() ? 0 : v.by_backend.front().second.rows.size();
    return h + all_zero_html(v, rows * v.by_backend.size(), m.windows.size()) + warnings_html(v);
  }
  std::string zero;
  for (const auto& [backend, t] : v.by_backend) {
    bool all0 = !t.values.empty();
    for (const auto& [rc, cv] : t.values) all0 = all0 && cv.value == 0;
    if (all0) {
      zero += (zero.empty() ? "" : ", ") + esc(backend);
      continue;
    }
    h += "<h3>" + esc(v.spec.title) + " — " + esc(backend) + "</h3>\n" + heatmap(m, v, t);
  }
  if (!zero.empty())
    h += "<p class=\"note\">" + zero + ": every " + esc(v.spec.row_label) + " at every window is " +
         esc(format_value(v, 0.0)) + ".</p>\n";
  return h + warnings_html(v);
}

std::string dataset_table_html(const ReportModel& m, const TaskSection& s, const ViewData& v) {
  const auto& refs = v.spec.references;
  std::string h;
  for (const auto& [window, t] : v.by_window) {
    h += fmt::format("<h2>{} — {} at W = {}</h2>\n", esc(v.spec.title), esc(s.task_label), window) + note_html(v.spec);
    h += "<table><thead><tr><th>" + esc(v.spec.row_label) + "</th>";
    for (const auto& c : t.columns) h += "<th>" + row_header(c, v.reference) + "</th>";
    for (const auto& ref : refs)
      h += "<th class=\"paper\" title=\"" + esc(ref.source) + "\">" + esc(ref.label) + "<br><small>" + esc(ref.tag) +
           "</small></th>";
    h += "</tr></thead><tbody>\n";
    std::vector<std::string> footnotes;  // the references' footnotes, numbered as in the Markdown
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      h += "<tr><th>" + esc(t.rows[r]) + "</th>";
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        const CellValue* value = t.at(r, c);
        h += "<td>" + (value ? html_value(v, *value) : std::string("—")) + "</td>";
      }
      for (const auto& ref : refs) {
        const ReferenceValue* value = reference_value(ref, t.rows[r]);
        std::string mark;
        if (value && !value->footnote.empty()) {
          auto at = std::find(footnotes.begin(), footnotes.end(), value->footnote);
          if (at == footnotes.end()) at = footnotes.insert(footnotes.end(), value->footnote);
          mark = fmt::format("<sup>{}</sup>", 1 + (at - footnotes.begin()));
        }
        h += "<td class=\"paper\">" + reference_text(value) + mark + "</td>";
      }
      h += "</tr>\n";
    }
    h += "</tbody></table>\n";
    for (std::size_t i = 0; i < footnotes.size(); ++i)
      h += fmt::format("<p class=\"note footnote\"><sup>{}</sup> {}</p>\n", i + 1, esc(footnotes[i]));
    h += legend_html(m, v);
  }
  return h + warnings_html(v);
}

std::string section_html(const ReportModel& m, const TaskSection& s) {
  std::string h;
  for (std::size_t i = 0; i < s.views.size(); ++i) {
    const ViewData& v = s.views[i];
    switch (v.spec.kind) {
      case ViewKind::window_curve:
        h += window_curve_html(m, s, v);
        break;
      case ViewKind::grid:
        h += grid_html(m, s, v, i == 0);
        break;
      case ViewKind::dataset_table:
        h += dataset_table_html(m, s, v);
        break;
    }
  }
  return h;
}

const char* kStyle =
    R"(body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
thead th{background:#f4f4f4}tbody th{text-align:left;background:#fafafa}td a{color:inherit;text-decoration:none}
td a:hover{text-decoration:underline}.paper{background:#f3f0ff;font-style:italic}.note{color:#555}
.tick{font-size:11px;fill:#555}svg text{font-size:12px}.heat td{min-width:56px;text-align:center}.empty{color:#aaa}
.ci{color:#666}.mark{font-weight:bold}.cmp{text-align:left;font-size:12px}td.text{text-align:left}.warning{background:#fff4e5;padding:6px 10px})";

// For texts the HTML printer escapes afterwards.
std::string same(const std::string& text) {
  return text;
}

std::string header_html(const ReportModel& m) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>e2llm leaderboard — " +
                  esc(m.run_name) + "</title>\n<style>" + kStyle + "</style></head>\n<body>\n";
  h += "<h1>e2llm leaderboard — " + esc(m.run_name) + "</h1>\n";
  h += fmt::format("<p class=\"note\">Generated {} from {} cell files in <code>cells/</code>. ", esc(m.generated_at),
                   m.cells.size());
  if (m.cells_not_in_plan)
    h += fmt::format("{} older cell files not in the latest sweep's plan were left out. ", m.cells_not_in_plan);
  if (m.original_window)
    h += fmt::format(
        "Base window L = {0}; a window reads W (W/L), e.g. {1} (2L); s in the cells table is the RoPE "
        "scale the model ran with (1: plain RoPE). ",
        m.original_window, 2 * m.original_window);
  h += "Every number links to the cell file it comes from (hover for its name).</p>\n";
  h += "<p class=\"note\"><strong>Provenance:</strong> " + markdown_note_to_html(provenance_sentence(m, same)) +
       "</p>\n";
  h += "<p class=\"note\"><strong>Statistics:</strong> " + markdown_note_to_html(statistics_sentence(m, same)) +
       "</p>\n";
  if (m.cells.empty()) h += "<p><em>No finished cells yet: run <code>e2llm sweep</code> first.</em></p>\n";
  return h;
}

std::string headline_html(const ReportModel& m) {
  std::string h = "<h2>Headline metric of every task</h2>\n";
  for (const auto& gv : m.headline) {
    h += fmt::format("<h3>{} <small>({}, <code>{}</code>, {} is better)</small></h3>\n", esc(gv.task_label),
                     esc(gv.task_plugin), esc(gv.metric), gv.higher_is_better ? "higher" : "lower");
    h += plain_table(m, gv);
  }
  return h;
}

std::string cost_html(const ReportModel& m) {
  std::string h = "<h2>Training cost</h2>\n";
  if (m.cost.empty()) return h + "<p><em>No prepare records in <code>backends/</code>.</em></p>\n";
  h += "<p class=\"note\">From each backend's prepare record. Trained tokens and train wall are the backend's own "
       "account of its training; prepare wall is what prepare() took in the latest sweep process.</p>\n";
  h += "<table><thead><tr><th>backend</th><th>plugin</th><th>trains</th><th>trained tokens</th><th>train wall</th>"
       "<th>prepare wall (last run)</th></tr></thead><tbody>\n";
  for (const auto& row : m.cost)
    h += fmt::format(
        "<tr><th>{}</th><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        link(row.label + (row.training_seed ? fmt::format(" (seed {})", *row.training_seed) : ""), row.file),
        esc(row.plugin), row.trains ? "yes" : "no", row.trained_tokens ? esc(format_count(*row.trained_tokens)) : "—",
        row.train_wall_s ? esc(human_duration(*row.train_wall_s)) : "—", esc(human_duration(row.prepare_wall_s)));
  return h + "</tbody></table>\n";
}

std::string cells_html(const ReportModel& m) {
  bool per_cell = std::any_of(m.cells.begin(), m.cells.end(),
                              [](const CellSummary& c) { return c.peak_rss_bytes_cell.has_value(); });
  bool seeded =
      std::any_of(m.cells.begin(), m.cells.end(), [](const CellSummary& c) { return c.training_seed.has_value(); });
  std::string h =
      "<h2>Cells</h2>\n<table><thead><tr><th>cell</th><th>backend</th><th>task</th><th>W</th><th title=\"the RoPE "
      "scale the model ran with\">s</th>";
  if (seeded) h += "<th>training seed</th>";
  h += "<th>tokens/s</th><th>wall</th><th>peak RSS (process)</th>";
  h += std::string(per_cell ? "<th title=\"the sweep process's peak while this cell ran\">peak RSS (cell)</th>" : "") +
       "<th>git</th></tr></thead><tbody>\n";
  for (const auto& c : m.cells) {
    h += fmt::format("<tr><th>{}</th><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td>",
                     link(c.key.substr(0, 16), c.file), esc(c.backend), esc(c.task), c.window, served_scale_text(c));
    if (seeded) h += "<td>" + (c.training_seed ? std::to_string(*c.training_seed) : std::string("—")) + "</td>";
    h += fmt::format("<td>{:.0f}</td><td>{}</td><td>{}</td>", c.tokens_per_s, esc(human_duration(c.wall_s)),
                     esc(format_bytes(double(c.peak_rss_bytes))));
    if (per_cell) h += "<td>" + esc(cell_peak_text(c)) + "</td>";
    h += "<td class=\"text\">" + esc(c.git_revision) + "</td></tr>\n";
  }
  return h + "</tbody></table>\n";
}

}  // namespace

std::string render_html(const ReportModel& m) {
  std::string h = header_html(m);
  for (const auto& s : m.sections) h += section_html(m, s);
  h += headline_html(m) + cost_html(m) + cells_html(m);
  return h + "</body></html>\n";
}

std::vector<std::pair<std::string, std::string>> render_plots(const ReportModel& m) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& s : m.sections)
    for (std::size_t i = 0; i < s.views.size(); ++i) {
      const ViewData& v = s.views[i];
      if (!has_plot(v)) continue;
      std::string svg = svg_chart(m, v, s.task_label);
      // Standalone: the page's chart styles inside the file, and a title.
      const std::string head = "<style>text{font:12px sans-serif}.tick{font-size:11px;fill:#555}</style>\n<title>" +
                               esc(v.spec.title + " — " + s.task_label) + "</title>\n";
      svg.insert(svg.find('>') + 2, head);
      out.emplace_back(plot_file_name(s, i), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg);
    }
  return out;
}

}  // namespace e2llm::harness
