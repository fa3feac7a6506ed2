#include "e2llm/taskkit/lists.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <limits>

#include "e2llm/error.hpp"

namespace e2llm::taskkit {

std::int64_t parse_token_count(const std::string& text) {
  std::string t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  std::size_t start = t.find_first_not_of(" \t");
  t = start == std::string::npos ? "" : t.substr(start);
  std::int64_t multiplier = 1;
  if (!t.empty() && (t.back() == 'k' || t.back() == 'K'))
    multiplier = 1024, t.pop_back();
  else if (!t.empty() && (t.back() == 'm' || t.back() == 'M'))
    multiplier = 1024 * 1024, t.pop_back();
  if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos)
    throw Error("'" + text + "' is not a token count (write e.g. 4096 or 4k)");
  if (t.size() > 12) throw Error("'" + text + "' is too large for a token count");
  std::int64_t value = std::stoll(t) * multiplier;
  if (value <= 0) throw Error("'" + text + "' is not a positive token count");
  return value;
}

std::vector<double> number_list(const nlohmann::json& value, const std::string& what) {
  std::vector<double> out;
  if (value.is_number()) return {value.get<double>()};
  if (!value.is_array()) throw ConfigError(what, "expected a list of numbers");
  for (const auto& v : value) {
    if (!v.is_number()) throw ConfigError(what, "expected a list of numbers, found " + v.dump());
    out.push_back(v.get<double>());
  }
  if (out.empty()) throw ConfigError(what, "the list is empty");
  return out;
}

std::string format_fraction(double value) {
  // Try increasing precision until the text parses back to the same double.
  for (int precision = 1; precision <= 17; ++precision) {
    std::string s = fmt::format("{:.{}g}", value, precision);
    if (std::strtod(s.c_str(), nullptr) == value) return s;
  }
  return fmt::format("{}", value);
}

}  // namespace e2llm::taskkit
