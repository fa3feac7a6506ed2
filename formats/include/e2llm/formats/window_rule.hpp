// Which RoPE scale a method serves at a window: the one rule, torch-free, that the training-free
// backends, the trainers (PI per window, E²-LLM's g) and the report all use.
//
//   "ceil"  (default) s = 1 for W <= L, else the configured factor, else ceil(W / L)
//   "exact"           s = 1 for W <= L, else the configured factor, else W / L
//   "fixed"           s = factor at every window, W <= L included (one trained g, e.g. g = 16)
//
// W / L itself is the window's ratio, not a scale: a cell records both (window_ratio and
// served_scale), and the served one comes from the RoPE the model ran with (served_scale below).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "e2llm/formats/rope_scaling.hpp"

namespace e2llm::formats {

struct WindowRule {
  enum class Kind { ceil, exact, fixed };
  Kind kind = Kind::ceil;
  std::optional<double> factor;  // configured: served at every W > L ("fixed": at every W)
};

// "ceil" | "exact" | "fixed" with an optional factor; throws ConfigError("factor_rule" or
// "factor", ...) for an unknown name, a factor below 1, or "fixed" without a factor.
WindowRule window_rule(const std::string& name, std::optional<double> factor);

// The scale s served at `window` for a model trained at `original_window` (L >= 1).
double scale_for_window(const WindowRule& rule, std::int64_t window, std::int64_t original_window);

// The scale a RoPE configuration serves: its factor, 1 for plain RoPE (type default). What a
// cell records as served_scale, from the RoPE the model describes.
double served_scale(const RopeConfig& rope);

}  // namespace e2llm::formats
