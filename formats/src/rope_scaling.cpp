// RoPE frequency schedules. Formulas: docs/methods.md §Baselines, which follows Hugging Face
// transformers' modeling_rope_utils.py (linear = PI, Chen et al. 2023; NTK-aware, bloc97 2023;
// dynamic NTK; YaRN, Peng et al. 2023, arXiv 2309.00071; llama3, Meta's Llama 3.1 release,
// arXiv 2407.21783; longrope, Ding et al. 2024, arXiv 2402.13753, as Phi-3 ships it).
// Computed in double precision; consumers round to their own dtype.
#include "e2llm/formats/rope_scaling.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "e2llm/error.hpp"

namespace e2llm::formats {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::string fmt_num(double v) {
  return fmt::format("{}", v);
}

void check_config(const RopeConfig& c) {
  if (c.head_dim <= 0 || c.head_dim % 2 != 0)
    throw Error(fmt::format("RoPE head_dim must be a positive even number, got {}", c.head_dim));
  if (!(c.base > 1.0) || !std::isfinite(c.base))
    throw Error(fmt::format("RoPE base must be a finite number > 1, got {}", c.base));
  if (c.type == RopeType::Default) return;
  if (!(c.factor >= 1.0) || !std::isfinite(c.factor))
    throw Error(fmt::format("RoPE {} factor must be a finite number >= 1, got {}", rope_type_name(c.type), c.factor));
  if ((c.type == RopeType::Ntk || c.type == RopeType::DynamicNtk) && c.head_dim < 4)
    throw Error(
        fmt::format("RoPE {} needs head_dim >= 4 (exponent d/(d-2)), got {}", rope_type_name(c.type), c.head_dim));
  if ((c.type == RopeType::DynamicNtk || c.type == RopeType::Yarn) && c.original_max_position <= 0)
    throw Error(fmt::format("RoPE {} needs original_max_position > 0, got {}", rope_type_name(c.type),
                            c.original_max_position));
  if (c.type == RopeType::Yarn) {
    if (!(c.beta_fast > 0.0) || !(c.beta_slow > 0.0))
      throw Error(
          fmt::format("RoPE yarn beta_fast and beta_slow must be > 0, got {} and {}", c.beta_fast, c.beta_slow));
  }
  if ((c.type == RopeType::Yarn || c.type == RopeType::Longrope) && c.attention_factor &&
      !(*c.attention_factor > 0.0 && std::isfinite(*c.attention_factor)))
    throw Error(fmt::format("RoPE {} attention_factor must be a finite number > 0, got {}", rope_type_name(c.type),
                            *c.attention_factor));
  if (c.type == RopeType::Llama3) {
    if (c.original_max_position <= 0)
      throw Error(fmt::format("RoPE llama3 needs original_max_position > 0, got {}", c.original_max_position));
    if (!(c.low_freq_factor > 0.0) || !(c.high_freq_factor > c.low_freq_factor) || !std::isfinite(c.high_freq_factor))
      throw Error(fmt::format("RoPE llama3 needs 0 < low_freq_factor < high_freq_factor, got {} and {}",
                              c.low_freq_factor, c.high_freq_factor));
  }
  if (c.type == RopeType::Longrope) {
    if (c.original_max_position < 2)
      throw Error(fmt::format("RoPE longrope needs original_max_position >= 2, got {}", c.original_max_position));
    const auto pairs = static_cast<size_t>(c.head_dim / 2);
    for (const auto* list : {&c.long_factor, &c.short_factor}) {
      const char* name = list == &c.long_factor ? "long_factor" : "short_factor";
      if (list->size() != pairs)
        throw Error(
            fmt::format("RoPE longrope {} must have head_dim / 2 = {} entries, got {}", name, pairs, list->size()));
      for (double f : *list)
        if (!(f > 0.0) || !std::isfinite(f))
          throw Error(fmt::format("RoPE longrope {} entries must be finite numbers > 0, got {}", name, f));
    }
  }
}

// inv_freq_j = b^(-2j/d), j = 0..d/2-1 (RoFormer, Su et al. 2021).
std::vector<double> default_inv_freq(double base, int64_t d) {
  std::vector<double> inv(static_cast<size_t>(d / 2));
  for (int64_t j = 0; j < d / 2; ++j)
    inv[static_cast<size_t>(j)] = std::pow(base, -2.0 * static_cast<double>(j) / static_cast<double>(d));
  return inv;
}

// YaRN correction dimension: the pair index whose wavelength makes `rotations` full turns
// over the original window L.
double correction_dim(double rotations, int64_t d, double base, int64_t L) {
  return static_cast<double>(d) * std::log(static_cast<double>(L) / (rotations * 2.0 * kPi)) / (2.0 * std::log(base));
}

double number_field(const nlohmann::json& obj, const char* key, const std::string& where) {
  const auto& v = obj.at(key);
  if (!v.is_number()) throw Error(fmt::format("config field {}.{} must be a number, got {}", where, key, v.dump()));
  return v.get<double>();
}

// An integer field; nlohmann's get<int64_t>() would cast a float like 1e300 (undefined behavior).
int64_t integer_field(const nlohmann::json& obj, const char* key, const std::string& where) {
  const auto& v = obj.at(key);
  if (!v.is_number_integer())
    throw Error(fmt::format("config field {}.{} must be an integer, got {}", where, key, v.dump()));
  return v.get<int64_t>();
}
// A list of numbers (longrope's factors); missing or anything else is an error naming the field.
std::vector<double> number_list_field(const nlohmann::json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key) || obj.at(key).is_null())
    throw Error(fmt::format("config field {}.{} is missing (needed by rope type longrope)", where, key));
  const auto& v = obj.at(key);
  if (!v.is_array()) throw Error(fmt::format("config field {}.{} must be a list of numbers", where, key));
  std::vector<double> out;
  for (const auto& x : v) {
    if (!x.is_number())
      throw Error(fmt::format("config field {}.{} must be a list of numbers, got an entry {}", where, key, x.dump()));
    out.push_back(x.get<double>());
  }
  return out;
}
bool has_value(const nlohmann::json& obj, const char* key) {
  return obj.is_object() && obj.contains(key) && !obj.at(key).is_null();
}

}  // namespace

const std::vector<RopeTypeInfo>& rope_types() {
  // Static NTK-aware scaling has no Hugging Face rope_type: transformers' "dynamic" is the
  // dynamic variant, so "ntk" is written under our own name (transformers refuses it rather
  // than silently running plain RoPE).
  static const std::vector<RopeTypeInfo> table = {
      {RopeType::Default, "default", {"none"}, "default", "none"},
      {RopeType::Linear, "linear", {"pi"}, "linear", "pi"},
      {RopeType::Ntk, "ntk", {}, nullptr, "ntk"},
      {RopeType::DynamicNtk, "dynamic", {"dynamic_ntk", "dynamic-ntk"}, "dynamic", "dynamic-ntk"},
      {RopeType::Yarn, "yarn", {}, "yarn", "yarn"},
      {RopeType::Llama3, "llama3", {}, "llama3", "llama3"},
      // "su" is the name Phi-3's first 128k configs gave longrope.
      {RopeType::Longrope, "longrope", {"su"}, "longrope", "longrope"},
  };
  return table;
}

const RopeTypeInfo& rope_type_info(RopeType type) {
  for (const auto& t : rope_types())
    if (t.type == type) return t;
  throw Error("unknown RoPE type enum value");
}

std::string rope_type_names() {
  std::string out;
  for (const auto& t : rope_types()) {
    if (!out.empty()) out += ", ";
    out += t.name;
    std::string aliases;
    for (const char* a : t.aliases) aliases += (aliases.empty() ? "" : ", ") + std::string(a);
    if (!aliases.empty()) out += " (" + aliases + ")";
  }
  return out;
}

const char* rope_type_name(RopeType type) { return rope_type_info(type).name; }

RopeType parse_rope_type(const std::string& name) {
  for (const auto& t : rope_types()) {
    if (name == t.name) return t.type;
    for (const char* a : t.aliases)
      if (name == a) return t.type;
  }
  throw Error(fmt::format("unknown RoPE type {:?}: valid names are {}", name, rope_type_names()));
}

std::string RopeConfig::to_string() const {
  std::string s = fmt::format("{}(d={}, base={}", rope_type_name(type), head_dim, fmt_num(base));
  if (type != RopeType::Default) s += fmt::format(", factor={}, L={}", fmt_num(factor), original_max_position);
  if (type == RopeType::Yarn) s += fmt::format(", beta_fast={}, beta_slow={}", fmt_num(beta_fast), fmt_num(beta_slow));
  if (type == RopeType::Llama3)
    s += fmt::format(", low_freq_factor={}, high_freq_factor={}", fmt_num(low_freq_factor), fmt_num(high_freq_factor));
  if (type == RopeType::Longrope) s += fmt::format(", {} long/short factors", long_factor.size());
  if (attention_factor && (type == RopeType::Yarn || type == RopeType::Longrope))
    s += fmt::format(", attention_factor={}", fmt_num(*attention_factor));
  return s + ")";
}

nlohmann::json RopeConfig::to_json() const {
  nlohmann::json j = {{"type", rope_type_name(type)},
                      {"factor", factor},
                      {"head_dim", head_dim},
                      {"base", base},
                      {"original_max_position", original_max_position},
                      {"beta_fast", beta_fast},
                      {"beta_slow", beta_slow}};
  j["attention_factor"] = attention_factor ? nlohmann::json(*attention_factor) : nlohmann::json(nullptr);
  // The fields of the newer types only where they mean something (older records stay as they were).
  if (type == RopeType::Llama3) {
    j["low_freq_factor"] = low_freq_factor;
    j["high_freq_factor"] = high_freq_factor;
  }
  if (type == RopeType::Longrope) {
    j["long_factor"] = long_factor;
    j["short_factor"] = short_factor;
  }
  return j;
}

RopeConfig RopeConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("RoPE config must be a JSON object, got " + j.dump());
  RopeConfig c;
  try {
    if (j.contains("type")) c.type = parse_rope_type(j.at("type").get<std::string>());
    if (j.contains("factor")) c.factor = j.at("factor").get<double>();
    if (j.contains("head_dim")) c.head_dim = j.at("head_dim").get<int64_t>();
    if (j.contains("base")) c.base = j.at("base").get<double>();
    if (j.contains("original_max_position")) c.original_max_position = j.at("original_max_position").get<int64_t>();
    if (j.contains("beta_fast")) c.beta_fast = j.at("beta_fast").get<double>();
    if (j.contains("beta_slow")) c.beta_slow = j.at("beta_slow").get<double>();
    if (has_value(j, "attention_factor")) c.attention_factor = j.at("attention_factor").get<double>();
    if (j.contains("low_freq_factor")) c.low_freq_factor = j.at("low_freq_factor").get<double>();
    if (j.contains("high_freq_factor")) c.high_freq_factor = j.at("high_freq_factor").get<double>();
    if (j.contains("long_factor")) c.long_factor = j.at("long_factor").get<std::vector<double>>();
    if (j.contains("short_factor")) c.short_factor = j.at("short_factor").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("bad RoPE config {}: {}", j.dump(), e.what()));
  }
  return c;
}

bool RopeConfig::operator==(const RopeConfig& o) const {
  return type == o.type && factor == o.factor && head_dim == o.head_dim && base == o.base &&
         original_max_position == o.original_max_position && beta_fast == o.beta_fast && beta_slow == o.beta_slow &&
         attention_factor == o.attention_factor && low_freq_factor == o.low_freq_factor &&
         high_freq_factor == o.high_freq_factor && long_factor == o.long_factor && short_factor == o.short_factor;
}

double yarn_mscale(double factor) {
  return factor <= 1.0 ? 1.0 : 0.1 * std::log(factor) + 1.0;
}

double ntk_base(double base, double factor, int64_t d) {
  const double dd = static_cast<double>(d);
  return base * std::pow(factor, dd / (dd - 2.0));
}

double dynamic_ntk_base(double base, double factor, int64_t d, int64_t n, int64_t L) {
  if (n <= L) return base;
  const double dd = static_cast<double>(d);
  const double ratio = factor * static_cast<double>(n) / static_cast<double>(L) - (factor - 1.0);
  return base * std::pow(ratio, dd / (dd - 2.0));
}

double longrope_attention_factor(double factor, int64_t L) {
  return factor <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(factor) / std::log(static_cast<double>(L)));
}

YarnRange yarn_correction_range(const RopeConfig& c) {
  const double low = std::floor(correction_dim(c.beta_fast, c.head_dim, c.base, c.original_max_position));
  const double high = std::ceil(correction_dim(c.beta_slow, c.head_dim, c.base, c.original_max_position));
  return {std::max(low, 0.0), std::min(high, static_cast<double>(c.head_dim - 1))};
}

RopeFrequencies compute_rope(const RopeConfig& c, int64_t seq_len) {
  check_config(c);
  RopeFrequencies out;
  switch (c.type) {
    case RopeType::Default:
      out.inv_freq = default_inv_freq(c.base, c.head_dim);
      break;
    case RopeType::Linear:  // PI: positions / s, i.e. inv_freq / s
      out.inv_freq = default_inv_freq(c.base, c.head_dim);
      for (double& f : out.inv_freq) f /= c.factor;
      break;
    case RopeType::Ntk:
      out.inv_freq = default_inv_freq(ntk_base(c.base, c.factor, c.head_dim), c.head_dim);
      break;
    case RopeType::DynamicNtk:
      out.inv_freq = default_inv_freq(dynamic_ntk_base(c.base, c.factor, c.head_dim, seq_len, c.original_max_position),
                                      c.head_dim);
      break;
    case RopeType::Yarn: {
      // Pairs below `low` rotate many times within L: keep them (extrapolate). Pairs above
      // `high` rotate less than once: interpolate (inv/s). Linear ramp in between.
      const auto base_inv = default_inv_freq(c.base, c.head_dim);
      YarnRange r = yarn_correction_range(c);
      if (r.low == r.high) r.high += 0.001;  // avoid a zero-width ramp
      out.inv_freq.resize(base_inv.size());
      for (size_t i = 0; i < base_inv.size(); ++i) {
        const double ramp = std::clamp((static_cast<double>(i) - r.low) / (r.high - r.low), 0.0, 1.0);
        out.inv_freq[i] = (base_inv[i] / c.factor) * ramp + base_inv[i] * (1.0 - ramp);
      }
      out.attention_factor = c.attention_factor ? *c.attention_factor : yarn_mscale(c.factor);
      break;
    }
    case RopeType::Llama3: {
      // By wavelength λ_j = 2π / inv_j against L: short waves (λ < L/high) keep their
      // frequency, long waves (λ > L/low) are divided by s, and between them the blend
      // smooth = (L/λ − low) / (high − low) of the two.
      out.inv_freq = default_inv_freq(c.base, c.head_dim);
      const double L = static_cast<double>(c.original_max_position);
      const double low_wavelen = L / c.low_freq_factor, high_wavelen = L / c.high_freq_factor;
      for (double& inv : out.inv_freq) {
        const double wavelen = 2.0 * kPi / inv;
        if (wavelen < high_wavelen) continue;
        if (wavelen > low_wavelen) {
          inv /= c.factor;
        } else {
          const double smooth = (L / wavelen - c.low_freq_factor) / (c.high_freq_factor - c.low_freq_factor);
          inv = (1.0 - smooth) * inv / c.factor + smooth * inv;
        }
      }
      break;
    }
    case RopeType::Longrope: {
      // inv_j = 1 / (ext_j · b^(2j/d)); ext = long_factor for sequences longer than L.
      out.inv_freq = default_inv_freq(c.base, c.head_dim);
      const auto& ext = seq_len > c.original_max_position ? c.long_factor : c.short_factor;
      for (size_t j = 0; j < out.inv_freq.size(); ++j) out.inv_freq[j] /= ext[j];
      out.attention_factor =
          c.attention_factor ? *c.attention_factor : longrope_attention_factor(c.factor, c.original_max_position);
      break;
    }
  }
  return out;
}

std::vector<double> frequency_divisors(const RopeConfig& c, int64_t seq_len) {
  const auto f = compute_rope(c, seq_len);
  const auto plain = default_inv_freq(c.base, c.head_dim);
  std::vector<double> out(plain.size());
  for (size_t j = 0; j < plain.size(); ++j) out[j] = plain[j] / f.inv_freq[j];
  return out;
}

namespace {

// The scaling dict of a Hugging Face config and the name errors call it by.
struct HfRopeParams {
  nlohmann::json params = nullptr;  // null: no scaling
  std::string where;
};

HfRopeParams hf_rope_params(const nlohmann::json& hf) {
  HfRopeParams p;
  // rope_parameters (transformers >= 5) may also be keyed by layer type.
  if (has_value(hf, "rope_parameters")) {
    p.params = hf.at("rope_parameters");
    p.where = "rope_parameters";
    if (p.params.is_object() && !p.params.contains("rope_type") && p.params.contains("full_attention")) {
      p.params = p.params.at("full_attention");
      p.where = "rope_parameters.full_attention";
    }
  } else if (has_value(hf, "rope_scaling")) {
    p.params = hf.at("rope_scaling");
    p.where = "rope_scaling";
  }
  if (!p.params.is_null() && !p.params.is_object())
    throw Error(fmt::format("config field {} must be an object or null, got {}", p.where, p.params.dump()));
  return p;
}

// The rotated dimensions of a head: head_dim (or hidden_size / heads) times partial_rotary_factor.
int64_t hf_rotary_dim(const nlohmann::json& hf, const nlohmann::json& params) {
  int64_t head_dim = 0;
  if (has_value(hf, "head_dim")) {
    head_dim = integer_field(hf, "head_dim", "config");
  } else {
    if (!has_value(hf, "hidden_size") || !has_value(hf, "num_attention_heads"))
      throw Error("config needs head_dim or hidden_size and num_attention_heads");
    const auto hidden = integer_field(hf, "hidden_size", "config");
    const auto heads = integer_field(hf, "num_attention_heads", "config");
    if (heads <= 0 || hidden % heads != 0)
      throw Error(
          fmt::format("config field hidden_size ({}) is not a multiple of num_attention_heads ({})", hidden, heads));
    head_dim = hidden / heads;
  }
  const nlohmann::json& prf_src = has_value(params, "partial_rotary_factor") ? params : hf;
  if (has_value(prf_src, "partial_rotary_factor")) {
    const double prf = number_field(prf_src, "partial_rotary_factor", "config");
    if (!(prf > 0.0 && prf <= 1.0))
      throw Error(fmt::format("config field partial_rotary_factor must be in (0, 1], got {}", prf));
    head_dim = static_cast<int64_t>(static_cast<double>(head_dim) * prf);
  }
  return head_dim;
}

// L and the factor of a scaled type (c.type set, c.original_max_position = max_position_embeddings).
void read_hf_window_and_factor(const nlohmann::json& hf, const HfRopeParams& p, const std::string& type_name,
                               RopeConfig& c) {
  const nlohmann::json& params = p.params;
  // L as transformers reads it (docs/interop.md): dynamic NTK always grows from
  // max_position_embeddings and ignores original_max_position_embeddings; YaRN, llama3 and
  // longrope take a top-level original_max_position_embeddings (Phi-3 style) before the one
  // in the dict.
  const bool top_level_l = c.type == RopeType::Yarn || c.type == RopeType::Llama3 || c.type == RopeType::Longrope;
  if (c.type != RopeType::DynamicNtk) {
    if (top_level_l && has_value(hf, "original_max_position_embeddings"))
      c.original_max_position = integer_field(hf, "original_max_position_embeddings", "config");
    else if (has_value(params, "original_max_position_embeddings"))
      c.original_max_position = integer_field(params, "original_max_position_embeddings", p.where);
  }
  const bool has_original =
      has_value(params, "original_max_position_embeddings") || has_value(hf, "original_max_position_embeddings");
  if (has_value(params, "factor")) {
    // An explicit factor wins even when it differs from max_position / original (as in
    // current transformers; some older releases recomputed it for YaRN).
    c.factor = number_field(params, "factor", p.where);
  } else if (((c.type == RopeType::Yarn && has_original) || c.type == RopeType::Longrope) &&
             c.original_max_position > 0) {
    // transformers: YaRN (with an original window) and longrope without a factor take the
    // post-/pre-extension window ratio.
    c.factor = static_cast<double>(integer_field(hf, "max_position_embeddings", "config")) /
               static_cast<double>(c.original_max_position);
  } else {
    throw Error(fmt::format("config field {}.factor is missing (needed by rope type {})", p.where, type_name));
  }
}

// The fields only YaRN, llama3 or longrope read (c.type, factor and head_dim set).
void read_hf_type_fields(const nlohmann::json& params, const std::string& where, RopeConfig& c) {
  if (has_value(params, "truncate") && params.at("truncate") == false)
    throw Error(fmt::format("config field {}.truncate = false (un-rounded YaRN ramp bounds) is not supported", where));
  if (c.type == RopeType::Yarn) {
    if (has_value(params, "beta_fast")) c.beta_fast = number_field(params, "beta_fast", where);
    if (has_value(params, "beta_slow")) c.beta_slow = number_field(params, "beta_slow", where);
    if (has_value(params, "attention_factor")) {
      c.attention_factor = number_field(params, "attention_factor", where);
    } else if (has_value(params, "mscale") && has_value(params, "mscale_all_dim")) {
      // DeepSeek-style YaRN: ratio of two mscales (as HF computes it).
      const double m = number_field(params, "mscale", where);
      const double m_all = number_field(params, "mscale_all_dim", where);
      auto ms = [&](double k) { return c.factor <= 1.0 ? 1.0 : 0.1 * k * std::log(c.factor) + 1.0; };
      c.attention_factor = ms(m) / ms(m_all);
    }
  }
  if (c.type == RopeType::Llama3) {
    // transformers requires both (KeyError without them): no silent default here either.
    for (const char* key : {"low_freq_factor", "high_freq_factor"})
      if (!has_value(params, key))
        throw Error(fmt::format("config field {}.{} is missing (needed by rope type llama3)", where, key));
    c.low_freq_factor = number_field(params, "low_freq_factor", where);
    c.high_freq_factor = number_field(params, "high_freq_factor", where);
  }
  if (c.type == RopeType::Longrope) {
    c.long_factor = number_list_field(params, "long_factor", where);
    c.short_factor = number_list_field(params, "short_factor", where);
    const auto pairs = static_cast<size_t>(c.head_dim / 2);
    for (const auto* key : {"long_factor", "short_factor"}) {
      const auto& list = std::string(key) == "long_factor" ? c.long_factor : c.short_factor;
      if (list.size() != pairs)
        throw Error(fmt::format("config field {}.{} has {} entries; head_dim {} needs {}", where, key, list.size(),
                                c.head_dim, pairs));
    }
    if (has_value(params, "attention_factor")) c.attention_factor = number_field(params, "attention_factor", where);
  }
}

}  // namespace

RopeConfig rope_config_from_hf(const nlohmann::json& hf) {
  if (!hf.is_object()) throw Error("Hugging Face config must be a JSON object");
  RopeConfig c;
  try {
    const HfRopeParams p = hf_rope_params(hf);
    const nlohmann::json& params = p.params;
    if (has_value(params, "rope_theta"))
      c.base = number_field(params, "rope_theta", p.where);
    else if (has_value(hf, "rope_theta"))
      c.base = number_field(hf, "rope_theta", "config");
    c.head_dim = hf_rotary_dim(hf, params);
    if (!has_value(hf, "max_position_embeddings")) throw Error("config field max_position_embeddings is missing");
    c.original_max_position = integer_field(hf, "max_position_embeddings", "config");

    if (params.is_null()) return c;
    std::string type_field = "rope_type";
    if (!params.contains("rope_type") && params.contains("type")) type_field = "type";
    if (!has_value(params, type_field.c_str()))
      throw Error(fmt::format("config field {}.rope_type is missing", p.where));
    const auto type_name = params.at(type_field).get<std::string>();
    try {
      c.type = parse_rope_type(type_name);
    } catch (const Error& e) {
      throw Error(fmt::format("config field {}.{}: {}", p.where, type_field, e.what()));
    }
    if (c.type == RopeType::Default) return c;
    read_hf_window_and_factor(hf, p, type_name, c);
    read_hf_type_fields(params, p.where, c);
    check_config(c);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("bad RoPE fields in Hugging Face config: {}", e.what()));
  }
  return c;
}

nlohmann::json rope_config_to_hf(const RopeConfig& c) {
  if (c.type == RopeType::Default) return nullptr;
  const auto& info = rope_type_info(c.type);
  const char* name = info.hf_name ? info.hf_name : info.name;  // see rope_types()
  nlohmann::json j = {{"rope_type", name}, {"type", name}, {"factor", c.factor}};
  // transformers' dynamic NTK takes L from max_position_embeddings (save_hf_dir writes L
  // there); the others carry it here (linear only for e2llm, which reads L from it).
  if (c.type != RopeType::DynamicNtk) j["original_max_position_embeddings"] = c.original_max_position;
  if (c.type == RopeType::Yarn) {
    j["beta_fast"] = c.beta_fast;
    j["beta_slow"] = c.beta_slow;
  }
  if (c.type == RopeType::Llama3) {
    j["low_freq_factor"] = c.low_freq_factor;
    j["high_freq_factor"] = c.high_freq_factor;
  }
  if (c.type == RopeType::Longrope) {
    j["long_factor"] = c.long_factor;
    j["short_factor"] = c.short_factor;
  }
  if (c.attention_factor && (c.type == RopeType::Yarn || c.type == RopeType::Longrope))
    j["attention_factor"] = *c.attention_factor;
  return j;
}

nlohmann::json rope_cli(const RopeConfig& config, int64_t seq_len) {
  const auto f = compute_rope(config, seq_len);
  return {{"config", config.to_json()},
          {"seq_len", seq_len},
          {"inv_freq", f.inv_freq},
          {"attention_factor", f.attention_factor}};
}

}  // namespace e2llm::formats
