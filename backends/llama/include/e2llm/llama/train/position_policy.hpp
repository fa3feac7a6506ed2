// Position policies for training: which (scaled) RoPE position every token of a training
// sequence is rotated by. Pure and counter-based: the draw for a sample depends only on
// (seed, step, global sample index), so a resumed run and a data-parallel run see exactly
// the positions an uninterrupted single-process run sees. No LibTorch.
//
// E²-LLM (arXiv 2401.06951, docs/methods.md §E²-LLM): position of token m = (m' + t) / g, where
// m' = m for the first `sink` tokens (offset 0, attention sink) and m' = m + t afterwards;
// g ~ U{1..Gmax} (per sample or per iteration) or from an explicit list;
// t ~ U{0..max(0, g·L − R)}. Every scaled position stays < L.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include "e2llm/util/mix64.hpp"

namespace e2llm::llama::train {

enum class PolicyKind { Plain, Pi, E2 };

struct PolicyOptions {
  PolicyKind kind = PolicyKind::E2;
  int64_t original_window = 0;  // L
  int64_t seq_len = 0;          // R (training sequence length)
  // PI: g fixed (W / L). E²-LLM with scale_augmentation off: g = g_fixed (paper ablation: 2).
  double g_fixed = 2.0;
  int64_t gmax = 20;                 // G = {1..gmax} (paper default 20)
  std::vector<double> g_values;      // explicit G (overrides gmax when non-empty)
  bool per_iteration = false;        // g_sampling = "iteration": one g for the whole step
  bool scale_augmentation = true;
  bool offset_augmentation = true;
  int64_t sink = 4;                  // first tokens kept at offset 0
  uint64_t seed = 0;

  // Parses the policy keys of a config object; throws e2llm::ConfigError naming the field.
  nlohmann::json to_json() const;
};

// g and t of one sample.
struct PositionDraw {
  double g = 1.0;
  int64_t t = 0;
};

class PositionPolicy {
 public:
  explicit PositionPolicy(PolicyOptions options);  // validates; throws e2llm::Error
  const PolicyOptions& options() const { return options_; }

  // The draw of global sample `sample` in optimizer step `step` (deterministic).
  PositionDraw draw(int64_t step, int64_t sample) const;
  // Scaled positions (m' + t) / g of the R tokens of a sequence with this draw.
  std::vector<double> positions(const PositionDraw& d) const;
  // Largest offset allowed for a scale: max(0, floor(g·L) − R).
  int64_t max_offset(double g) const;
  // Writes `count` consecutive samples' positions, row-major [count, R], and their draws.
  void fill(int64_t step, int64_t first_sample, int64_t count, double* out, std::vector<PositionDraw>* draws = nullptr) const;

 private:
  PolicyOptions options_;
  std::vector<double> g_set_;
};

const char* policy_name(PolicyKind kind);     // "plain" | "pi" | "e2llm"
PolicyKind parse_policy(const std::string& name);  // throws e2llm::Error listing the names

// The project's one 64-bit mixer (e2llm/util/mix64.hpp), for per-sample seeds.
using util::mix64;

}  // namespace e2llm::llama::train
