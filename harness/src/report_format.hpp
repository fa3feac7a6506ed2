// Number formatting and view wording shared by the report printers (one rule for every
// output).
#pragma once

#include <fmt/core.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/harness/report.hpp"

namespace e2llm::harness {

// Perplexities and scores: two decimals; very large values in scientific notation.
inline std::string format_number(double v) {
  if (!std::isfinite(v)) return "inf";
  if (std::fabs(v) >= 1e5) return fmt::format("{:.3e}", v);
  return fmt::format("{:.2f}", v);
}

// Accuracies as percent with one decimal, whether stored as fractions or percents.
inline std::string format_accuracy(double v, bool percent) {
  return fmt::format("{:.1f}%", percent ? v : v * 100);
}

inline std::string format_bytes(double b) {
  if (b >= 1 << 30) return fmt::format("{:.2f} GiB", b / (1 << 30));
  return fmt::format("{:.1f} MiB", b / (1 << 20));
}

inline std::string format_count(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.1f}k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

// A value of a view as its format says.
inline std::string format_value(const ViewData& v, double value) {
  return v.spec.format == ValueFormat::percent ? format_accuracy(value, v.percent) : format_number(value);
}

// A task's headline metric as its own section shows it (accuracy in percent where the section
// uses percent), else as a plain number: one format per quantity across the report.
inline std::string format_headline(const ReportModel& m, const GenericView& gv, double value) {
  for (const auto& section : m.sections)
    if (section.task_label == gv.task_label)
      for (const auto& view : section.views)
        if (view.spec.metric == gv.metric) return format_value(view, value);
  return format_number(value);
}

// What a view's ranking over W > L is, in words ("geometric mean perplexity").
inline std::string summary_name(const ReportView& spec) {
  return (spec.summary == WindowSummary::geometric_mean ? "geometric mean " : "mean ") + spec.quantity;
}

// The sentence before the largest-window list: "Largest window with accuracy ≥ 90% (...)";
// `quantity` is the view's quantity escaped for the output.
inline std::string threshold_sentence(const ViewData& v, const std::string& quantity) {
  const bool higher = v.spec.higher_is_better;
  const std::string level = v.spec.format == ValueFormat::percent ? fmt::format("{:g}%", *v.threshold * 100)
                                                                  : fmt::format("{:g}", *v.threshold);
  return fmt::format("Largest window with {} {} {} (from the smallest window up, stopping at the first {}):", quantity,
                     higher ? "≥" : "≤", level, higher ? "below" : "above");
}

// An interval on the value's own scale: "[5.10, 5.62]" for numbers, "[62–96]" (percent
// points) for accuracies. No markup: the printers escape it.
inline std::string interval_text(const ViewData& v, const ValueInterval& i) {
  if (v.spec.format == ValueFormat::percent) {
    const double k = v.percent ? 1.0 : 100.0;
    return fmt::format("[{:.0f}–{:.0f}]", i.low * k, i.high * k);
  }
  return "[" + format_number(i.low) + ", " + format_number(i.high) + "]";
}

// The spread over training seeds: "±0.15" (numbers) or "±5.1" (percent points).
inline std::string seed_sd_text(const ViewData& v, double sd) {
  if (v.spec.format == ValueFormat::percent) return fmt::format("±{:.1f}", v.percent ? sd : sd * 100);
  return "±" + format_number(sd);
}

// What follows a value in a table: " ±sd [low, high]" or " [n/a]" (no interval recorded).
inline std::string value_suffix(const ViewData& v, const CellValue& cv) {
  std::string out;
  if (cv.seed_sd) out += " " + seed_sd_text(v, *cv.seed_sd);
  out += " " + (cv.interval ? interval_text(v, *cv.interval) : std::string("[n/a]"));
  return out;
}

// ▲ / ▼ after a value significantly better / worse than the reference; nothing otherwise.
inline std::string mark_text(const CellValue& cv) {
  if (!cv.vs_reference) return "";
  if (cv.vs_reference->verdict == Verdict::better) return " ▲";
  if (cv.vs_reference->verdict == Verdict::worse) return " ▼";
  return "";
}

// A difference on the view's scale: "+1.23" or "+20.0 pts".
inline std::string difference_text(const ViewData& v, double d) {
  if (v.spec.format == ValueFormat::percent) return fmt::format("{:+.1f} pts", v.percent ? d : d * 100);
  return fmt::format("{:+.2f}", d);
}

// One paired test in words: "×0.88 [0.84, 0.93]", "+20.0 pts, McNemar p = 0.003".
inline std::string pair_text(const ViewData& v, const PairedResult& p) {
  if (p.test == "mcnemar_exact")
    return difference_text(v, p.estimate) + fmt::format(", McNemar p = {:.2g}, n = {}", p.p_value.value_or(1), p.n);
  if (p.test == "bootstrap_ratio")
    return fmt::format("×{:.3f} [{:.3f}, {:.3f}]", p.estimate, p.low.value_or(0), p.high.value_or(0));
  return difference_text(v, p.estimate) + " [" + difference_text(v, p.low.value_or(0)) + ", " +
         difference_text(v, p.high.value_or(0)) + "]";
}

// A comparison in words: "better (×0.88 [0.84, 0.93])", "not separable (2 of 3 seed
// pairings significant)", "not comparable (why)".
inline std::string comparison_text(const ViewData& v, const Comparison& c) {
  if (c.verdict == Verdict::not_comparable) return "not comparable (" + c.why + ")";
  std::string word = c.verdict == Verdict::better ? "better" : c.verdict == Verdict::worse ? "worse" : "not separable";
  if (c.pairs.size() == 1) return word + " (" + pair_text(v, c.pairs.front()) + ")";
  std::size_t significant = 0;
  for (const auto& p : c.pairs) significant += p.significant ? 1 : 0;
  std::string detail;
  for (const auto& p : c.pairs) {
    if (!detail.empty()) detail += "; ";
    // The seeds paired: "seed 7", "seed 7/8", or the other side's seed alone when this
    // backend trains nothing ("vs seed 7").
    if (p.seed_a) detail += fmt::format("seed {}", *p.seed_a);
    if (p.seed_a && p.seed_b && p.seed_a != p.seed_b) detail += fmt::format("/{}", *p.seed_b);
    if (!p.seed_a && p.seed_b) detail += fmt::format("vs seed {}", *p.seed_b);
    detail += ": " + pair_text(v, p);
  }
  return word + fmt::format(" ({} of {} seed pairings significant: ", significant, c.pairs.size()) + detail + ")";
}

// The relative threshold's sentence: "Largest window with perplexity ≤ 1 × the base (none at
// W = L ...) ...:"; texts already escaped and marked up (`base` as code) for the output.
inline std::string relative_threshold_sentence(const ViewData& v, const std::string& quantity, const std::string& base,
                                               std::int64_t original_window) {
  const bool higher = v.spec.higher_is_better;
  return fmt::format(
      "Largest window with {} {} {:g} × the base ({} at W = L = {}: threshold {}) (from the smallest window up, "
      "stopping at the first {}):",
      quantity, higher ? "≥" : "≤", *v.spec.relative_threshold, base, original_window,
      format_value(v, *v.relative_threshold), higher ? "below" : "above");
}

using Escape = std::string (*)(const std::string&);

// Cell files named in a warning: the first few, then how many more.
inline std::string cells_list(const std::vector<std::string>& cells, Escape esc) {
  constexpr std::size_t kShown = 6;
  std::string out;
  for (std::size_t i = 0; i < cells.size() && i < kShown; ++i) out += (i ? ", " : "") + esc(cells[i]);
  if (cells.size() > kShown) out += fmt::format(" and {} more", cells.size() - kShown);
  return out;
}

// Whether a charted view has a value its chart can draw (a positive one on a log axis).
inline bool has_plot(const ViewData& v) {
  if (v.spec.kind != ViewKind::window_curve || v.spec.chart == ChartScale::none || v.all_zero) return false;
  for (const auto& [rc, cv] : v.table.values)
    if (std::isfinite(cv.value) && (v.spec.chart != ChartScale::log || cv.value > 0)) return true;
  return false;
}

// Rows of a table that hold a value.
inline std::size_t rows_with_values(const ValueTable& t) {
  std::vector<bool> seen(t.rows.size(), false);
  std::size_t n = 0;
  for (const auto& [rc, v] : t.values)
    if (rc.first < seen.size() && !seen[rc.first]) seen[rc.first] = true, ++n;
  return n;
}

// The SVG file a charted view is drawn into beside leaderboard.md.
inline std::string plot_file_name(const TaskSection& s, std::size_t view_index) {
  std::string name = "plot-";
  for (char c : s.task_label) name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  if (view_index > 0) name += "-" + std::to_string(view_index);
  return name + ".svg";
}

// How the cells were made: revisions, config hashes, seeds (docs/results-schema.md).
inline std::string provenance_sentence(const ReportModel& m, Escape esc) {
  auto list = [&](const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "`" : ", `") + esc(i) + "`";
    return out;
  };
  std::string out;
  if (m.git_revisions.empty())
    out += "git revision not recorded";
  else
    out += (m.git_revisions.size() == 1 ? "git revision " : fmt::format("{} git revisions: ", m.git_revisions.size())) +
           list(m.git_revisions);
  std::size_t no_hash = 0;
  for (const auto& c : m.cells) no_hash += c.config_sha256.empty() ? 1 : 0;
  if (!m.config_hashes.empty()) {
    std::vector<std::string> short_hashes;
    for (const auto& h : m.config_hashes) short_hashes.push_back(h.substr(0, 16));
    out += (m.config_hashes.size() == 1 ? "; config sha256 "
                                        : fmt::format("; {} config hashes: ", m.config_hashes.size())) +
           list(short_hashes);
  }
  if (no_hash) out += fmt::format("; {} cell(s) record no config hash (written before cells did)", no_hash);
  std::vector<std::string> seeds;
  for (auto s : m.eval_seeds) seeds.push_back(std::to_string(s));
  if (!seeds.empty()) out += (seeds.size() == 1 ? "; evaluation seed " : "; evaluation seeds ") + list(seeds);
  if (!m.seeds.empty()) {
    std::vector<std::string> training;
    for (auto s : m.seeds) training.push_back(std::to_string(s));
    out += "; training seeds " + list(training);
  }
  if (m.git_revisions.size() > 1 || m.config_hashes.size() > 1 || m.eval_seeds.size() > 1)
    out += ". Tables whose cells differ say so under them";
  return out + ".";
}

inline std::string statistics_sentence(const ReportModel& m, Escape esc) {
  std::string out = fmt::format(
      "intervals at {:g}% (each cell's own, computed by its task from its items: a bootstrap over documents, prompts "
      "or rows, Wilson for proportions); paired comparisons and ranks from the same items ({} resamples",
      m.settings.level * 100, m.settings.resamples);
  const std::string& ref = m.settings.compared_with();
  out += ref.empty() ? "; no reference backend: name one in the config's `[report] reference` to mark differences)"
                     : "; reference backend `" + esc(ref) + "`)";
  if (!m.settings.base.empty())
    out += "; base `" + esc(m.settings.base) + "` at W = L anchors ratios and relative thresholds";
  if (m.cells_without_intervals)
    out += fmt::format("; {} of {} cells record no interval (written before cells had them)", m.cells_without_intervals,
                       m.cells.size());
  // A bootstrap over a handful of items cannot show their spread: say so where it happens.
  constexpr std::int64_t kFewItems = 10;
  std::int64_t fewest = 0;
  for (const auto& c : m.cells)
    if (c.items > 0 && (fewest == 0 || c.items < fewest)) fewest = c.items;
  if (fewest > 0 && fewest < kFewItems)
    out += fmt::format(
        "; some cells hold as few as {} items: a bootstrap over so few cannot show their spread, so read their "
        "intervals and marks as indicative",
        fewest);
  return out + ". docs/statistics.md has the methods.";
}

// A reference column's value for a row: "—" when it has none.
inline const ReferenceValue* reference_value(const ReferenceColumn& ref, const std::string& row) {
  for (const auto& value : ref.values)
    if (value.row == row) return &value;
  return nullptr;
}

inline std::string reference_text(const ReferenceValue* value) {
  return value ? fmt::format("{:.{}f}", value->value, value->decimals) : "—";
}

// A cell's own peak RSS: "—" when not measured, "≤ ..." when the mark was not reset.
inline std::string cell_peak_text(const CellSummary& c) {
  if (!c.peak_rss_bytes_cell) return "—";
  return (c.peak_rss_cell_reset ? "" : "≤ ") + format_bytes(double(*c.peak_rss_bytes_cell));
}

}  // namespace e2llm::harness
