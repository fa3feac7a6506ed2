// Reads a plugin's config section (JSON converted from TOML) field by field, with typed
// errors that name the field, and rejects keys nobody read ("did you mean ...?").
//
//   ConfigReader cfg(json);
//   int gmax = cfg.get<int>("gmax", 20);
//   auto path = cfg.require<std::string>("path");
//   cfg.finish();  // throws ConfigError for any unknown key
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "e2llm/error.hpp"

namespace e2llm {

// Levenshtein distance, for "did you mean" hints.
inline std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The closest candidate within a small distance, or "" when none is close.
inline std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) best_distance = d, best = c;
  }
  return best;
}

inline std::string json_type_name(const nlohmann::json& v) {
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number_float()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "a table";
  return "null";
}

class ConfigReader {
 public:
  explicit ConfigReader(const nlohmann::json& section, std::string prefix = "")
      : section_(section.is_null() ? nlohmann::json::object() : section), prefix_(std::move(prefix)) {
    if (!section_.is_object()) throw ConfigError(prefix_, "expected a table, got " + json_type_name(section_));
  }

  bool has(const std::string& key) {
    known_.insert(key);
    return section_.contains(key);
  }

  template <class T>
  T get(const std::string& key, const T& fallback) {
    known_.insert(key);
    if (!section_.contains(key)) return fallback;
    return convert<T>(key, section_.at(key));
  }

  template <class T>
  T require(const std::string& key) {
    known_.insert(key);
    if (!section_.contains(key)) throw ConfigError(field(key), "is required but missing");
    return convert<T>(key, section_.at(key));
  }

  // A sub-table, read with its own reader (its unknown keys are checked by its finish()).
  ConfigReader table(const std::string& key) {
    known_.insert(key);
    return ConfigReader(section_.contains(key) ? section_.at(key) : nlohmann::json::object(), field(key));
  }

  const nlohmann::json& raw() const { return section_; }

  // Marks a key as understood without reading it (e.g. read elsewhere).
  void allow(const std::string& key) { known_.insert(key); }

  void finish() const {
    std::vector<std::string> known(known_.begin(), known_.end());
    for (const auto& item : section_.items()) {
      if (known_.count(item.key())) continue;
      std::string hint = closest_match(item.key(), known);
      throw ConfigError(field(item.key()), "unknown key" + (hint.empty() ? std::string(" (known: ") + join(known) + ")"
                                                                         : "; did you mean '" + hint + "'?"));
    }
  }

  std::string field(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

 private:
  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }

  template <class T>
  T convert(const std::string& key, const nlohmann::json& v) const {
    try {
      if constexpr (std::is_same_v<T, bool>) {
        if (!v.is_boolean()) throw 0;
      } else if constexpr (std::is_integral_v<T>) {
        if (!v.is_number_integer() && !v.is_number_unsigned()) throw 0;
      } else if constexpr (std::is_floating_point_v<T>) {
        if (!v.is_number()) throw 0;
      } else if constexpr (std::is_same_v<T, std::string>) {
        if (!v.is_string()) throw 0;
      }
      return v.get<T>();
    } catch (const ConfigError&) {
      throw;
    } catch (...) {
      throw ConfigError(field(key), "has the wrong type (" + json_type_name(v) + ")");
    }
  }

  nlohmann::json section_;
  std::string prefix_;
  std::set<std::string> known_;
};

}  // namespace e2llm
