#include "e2llm/formats/window_rule.hpp"

#include <cmath>

#include "e2llm/error.hpp"

namespace e2llm::formats {

WindowRule window_rule(const std::string& name, std::optional<double> factor) {
  WindowRule rule;
  if (name == "ceil") {
    rule.kind = WindowRule::Kind::ceil;
  } else if (name == "exact") {
    rule.kind = WindowRule::Kind::exact;
  } else if (name == "fixed") {
    rule.kind = WindowRule::Kind::fixed;
  } else {
    throw ConfigError("factor_rule",
                      "must be \"ceil\" (g = ceil(W/L)), \"exact\" (g = W/L) or \"fixed\" (g = factor at every "
                      "window), got \"" +
                          name + "\"");
  }
  if (factor && *factor < 1.0) throw ConfigError("factor", "must be >= 1");
  if (rule.kind == WindowRule::Kind::fixed && !factor)
    throw ConfigError("factor_rule", "\"fixed\" serves one g at every window: set factor = g (e.g. factor = 16)");
  rule.factor = factor;
  return rule;
}

double scale_for_window(const WindowRule& rule, std::int64_t window, std::int64_t original_window) {
  if (original_window < 1) throw Error("scale_for_window: the original window L must be >= 1");
  if (rule.kind == WindowRule::Kind::fixed) return *rule.factor;
  if (window <= original_window) return 1.0;
  if (rule.factor) return *rule.factor;
  const double ratio = static_cast<double>(window) / static_cast<double>(original_window);
  return rule.kind == WindowRule::Kind::exact ? ratio : std::ceil(ratio);
}

double served_scale(const RopeConfig& rope) {
  return rope.type == RopeType::Default ? 1.0 : rope.factor;
}

}  // namespace e2llm::formats
