#include "e2llm/taskkit/passkey_text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace e2llm::taskkit::passkey_text {

std::string filler_prefix(std::size_t chars) {
  const std::string unit = std::string(kFiller) + " ";
  std::string out;
  out.reserve(chars);
  while (out.size() < chars) out.append(unit, 0, std::min(unit.size(), chars - out.size()));
  return out;
}

std::string key_line(std::int64_t key) {
  return fmt::format("The pass key is {0}. Remember it. {0} is the pass key.", key);
}

std::string prompt_text(std::int64_t key, std::size_t prefix_chars, std::size_t suffix_chars) {
  return std::string(kTaskDescription) + "\n" + filler_prefix(prefix_chars) + "\n" + key_line(key) + "\n" +
         filler_prefix(suffix_chars) + "\n" + kQuestion;
}

}  // namespace e2llm::taskkit::passkey_text
