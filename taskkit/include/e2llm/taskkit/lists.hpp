// Parsing of the small lists task configs and command lines carry.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace e2llm::taskkit {

// A token count: "4096", "4k" (= 4096), "32K", "1m" (= 1048576). Throws e2llm::Error
// naming the text.
std::int64_t parse_token_count(const std::string& text);

// A config value that is a list of numbers (or one number), e.g. depths = [0, 0.5, 1].
// Throws e2llm::ConfigError(field, ...).
std::vector<double> number_list(const nlohmann::json& value, const std::string& field);

// Shortest text that round-trips a depth or fraction: 0.25 -> "0.25", 1 -> "1".
std::string format_fraction(double value);

}  // namespace e2llm::taskkit
