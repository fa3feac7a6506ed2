// Number formatting and view wording shared by the report printers (one rule for every
// output).
#pragma once

#include <fmt/core.h>

#include <cmath>
#include <optional>
#include <string>

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
