// Position policies for training: which (scaled) RoPE position every token of a training
// sequence is rotated by. Pure and counter-based: the draw for a sample depends only on
// (seed, step, global sample index), so a resumed run and a data-parallel run see exactly
// the positions an uninterrupted single-process run sees. No LibTorch.
//
// E²-LLM (arXiv 2401.06951, docs/methods.md §E²-LLM): position of token m = (m' + t) / g, where
// m' = m for the first `sink` tokens (offset 0, attention sink) and m' = m + t afterwards;
// g ~ U{1..Gmax} (per sample or per iteration) or from an explicit list;
// t ~ U{0..max(0, g·L − R)}. Every scaled position stays < L.
//
// PoSE (Zhu et al. 2023, arXiv 2309.10400, docs/methods.md §PoSE): the R tokens are cut into
// N chunks of lengths l_0..l_{N-1}; chunk i keeps consecutive positions from st_i + u_i
// (st_i = l_0 + … + l_{i-1}) with skip biases u_0 = 0 ≤ u_1 ≤ … ≤ L_t − R, each
// u_i ~ U{u_{i-1}..L_t − R}; the positions are divided by s = L_t / L (PI, the paper's code's
// default), so every scaled position stays < L.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include "e2llm/util/mix64.hpp"

namespace e2llm::llama::train {

enum class PolicyKind { Plain, Pi, E2, Pose };

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
  int64_t target_window = 0;         // PoSE: L_t, the window the skips reach
  int64_t chunks = 2;                // PoSE: N (the paper's default 2)
  uint64_t seed = 0;

  // Parses the policy keys of a config object; throws e2llm::ConfigError naming the field.
  nlohmann::json to_json() const;
};

// g and t of one sample; for PoSE the chunk lengths and skip biases (g is then L_t / L).
struct PositionDraw {
  double g = 1.0;
  int64_t t = 0;
  std::vector<int64_t> chunk_lengths{};  // l_0..l_{N-1}, summing to R
  std::vector<int64_t> skips{};          // u_0 = 0 ≤ u_1 ≤ … ≤ L_t − R
};

class PositionPolicy {
 public:
  explicit PositionPolicy(PolicyOptions options);  // validates; throws e2llm::Error
  const PolicyOptions& options() const { return options_; }

  // The draw of global sample `sample` in optimizer step `step` (deterministic).
  PositionDraw draw(int64_t step, int64_t sample) const;
  // Scaled positions of the R tokens of a sequence with this draw: (m' + t) / g, or for
  // PoSE (st_i + u_i + k) / g for token k of chunk i. A PoSE draw given by hand (lengths and
  // skips) is checked: lengths >= 1 summing to R, u_0 = 0, non-decreasing, <= L_t − R.
  std::vector<double> positions(const PositionDraw& d) const;
  // The scale the trained model is served with: PI's g, PoSE's L_t / L, else 1.
  double serving_scale() const;
  // Largest offset allowed for a scale: max(0, floor(g·L) − R).
  int64_t max_offset(double g) const;
  // Writes `count` consecutive samples' positions, row-major [count, R], and their draws.
  void fill(int64_t step, int64_t first_sample, int64_t count, double* out, std::vector<PositionDraw>* draws = nullptr) const;

 private:
  std::vector<double> pose_positions(const PositionDraw& d) const;
  PolicyOptions options_;
  std::vector<double> g_set_;
};

const char* policy_name(PolicyKind kind);          // "plain" | "pi" | "e2llm" | "pose"
PolicyKind parse_policy(const std::string& name);  // throws e2llm::Error listing the names

// The project's one 64-bit mixer (e2llm/util/mix64.hpp), for per-sample seeds.
using util::mix64;

}  // namespace e2llm::llama::train
