// Number formatting shared by the report printers (one rule for every output).
#pragma once

#include <fmt/core.h>

#include <cmath>
#include <string>

namespace e2llm::harness {

// Perplexities and scores: two decimals; very large values in scientific notation.
inline std::string format_number(double v) {
  if (!std::isfinite(v)) return "inf";
  if (std::fabs(v) >= 1e5) return fmt::format("{:.3e}", v);
  return fmt::format("{:.2f}", v);
}

// Accuracies as percent with one decimal, whether stored as fractions or percents.
inline std::string format_accuracy(double v, bool percent) { return fmt::format("{:.1f}%", percent ? v : v * 100); }

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

}  // namespace e2llm::harness
