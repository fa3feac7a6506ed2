// RoPE frequency schedules: plain RoPE and the context-extension baselines (PI, NTK,
// dynamic NTK, YaRN, Llama 3's llama3, Phi-3's longrope). This header and rope_scaling.cpp are the one place the
// formulas live; every other part of e2llm asks compute_rope() for inv_freq and the attention factor. Formulas:
// docs/methods.md §Baselines (Hugging Face `rope_scaling` semantics).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace e2llm::formats {

// Names and aliases: rope_types() below.
enum class RopeType { Default, Linear, Ntk, DynamicNtk, Yarn, Llama3, Longrope };

struct RopeConfig {
  RopeType type = RopeType::Default;
  double factor = 1.0;                       // s
  int64_t head_dim = 128;                    // d (the rotated dimensions per head)
  double base = 10000.0;                     // b
  int64_t original_max_position = 4096;      // L, the ORIGINAL window
  double beta_fast = 32.0, beta_slow = 1.0;  // YaRN
  std::optional<double> attention_factor;    // YaRN, longrope: overrides the default when set
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3 (Llama 3.1's values)
  // longrope: the per-pair divisors of inv_freq (d/2 each); long_factor serves sequences
  // longer than L, short_factor the others.
  std::vector<double> long_factor, short_factor;

  std::string to_string() const;
  nlohmann::json to_json() const;
  static RopeConfig from_json(const nlohmann::json& j);  // inverse of to_json()
  bool operator==(const RopeConfig& other) const;
};

struct RopeFrequencies {
  std::vector<double> inv_freq;   // d/2 entries; angle of pair j at position p = p * inv_freq[j]
  double attention_factor = 1.0;  // multiplies both cos and sin (YaRN mscale, longrope's factor)
};

// seq_len matters for dynamic NTK (the current length n; n <= L gives plain RoPE) and
// longrope (n > L takes long_factor, else short_factor; 0 = short).
// Throws e2llm::Error on an invalid config (odd/non-positive head_dim, factor < 1 where
// scaling is asked, base <= 1, ...).
RopeFrequencies compute_rope(const RopeConfig& config, int64_t seq_len = 0);

// The one table of RoPE types: every parser, printer, help text and the CLI's choice of
// backend plugin reads it.
struct RopeTypeInfo {
  RopeType type;
  const char* name;                  // ours, written in results and configs
  std::vector<const char*> aliases;  // also accepted when parsing
  const char* hf_name;               // Hugging Face rope_type (nullptr: transformers has none)
  const char* backend;               // the training-free backend plugin serving this type
};
const std::vector<RopeTypeInfo>& rope_types();
const RopeTypeInfo& rope_type_info(RopeType type);
// "default (none), linear (pi), ..." for help texts and errors.
std::string rope_type_names();

const char* rope_type_name(RopeType type);
// Throws e2llm::Error listing the valid names.
RopeType parse_rope_type(const std::string& name);

// YaRN correction range [low, high] over the pair index (docs/methods.md §Baselines):
// cd(r) = d * ln(L / (r * 2π)) / (2 ln b); low = max(floor(cd(beta_fast)), 0),
// high = min(ceil(cd(beta_slow)), d - 1). Exposed for golden tests.
struct YarnRange {
  double low = 0.0, high = 0.0;
};
YarnRange yarn_correction_range(const RopeConfig& config);
// mscale = 0.1 * ln(s) + 1 for s > 1, else 1 (YaRN paper eq. 22 / HF get_mscale).
double yarn_mscale(double factor);
// The NTK-aware base b * s^(d/(d-2)) (static) — exposed for golden tests.
double ntk_base(double base, double factor, int64_t head_dim);
// The dynamic NTK base for current length n: b * ((s*n/L) - (s-1))^(d/(d-2)) when n > L, else b.
double dynamic_ntk_base(double base, double factor, int64_t head_dim, int64_t seq_len, int64_t original_max_position);
// longrope's default attention factor sqrt(1 + ln s / ln L) for s > 1, else 1 (Phi-3; HF).
double longrope_attention_factor(double factor, int64_t original_max_position);
// Per pair j, the divisor of the plain frequency: b^(-2j/d) / inv_freq'_j for `config` at
// `seq_len` (1 for plain RoPE, s for PI). llama.cpp carries llama3 and longrope as such
// tensors (rope_freqs, rope_factors_long / _short).
std::vector<double> frequency_divisors(const RopeConfig& config, int64_t seq_len = 0);

// From a Hugging Face config.json object: rope_theta, head_dim (or hidden_size /
// num_attention_heads), max_position_embeddings, and rope_scaling {"type"|"rope_type",
// "factor", "original_max_position_embeddings", "beta_fast", "beta_slow",
// "attention_factor", "low_freq_factor", "high_freq_factor", "long_factor",
// "short_factor"} or the newer rope_parameters {"rope_type", "rope_theta", ...}.
// Throws e2llm::Error naming the field on an unknown rope type or a bad value.
RopeConfig rope_config_from_hf(const nlohmann::json& hf_config);
// The rope_scaling dict for config.json (null for Default).
nlohmann::json rope_config_to_hf(const RopeConfig& config);

// For `e2llm rope`: {"inv_freq": [...], "attention_factor": x, "config": {...}}.
nlohmann::json rope_cli(const RopeConfig& config, int64_t seq_len);

}  // namespace e2llm::formats
