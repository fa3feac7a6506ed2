#include "e2llm/taskkit/prompt_budget.hpp"

#include <fmt/format.h>

#include "e2llm/error.hpp"

namespace e2llm::taskkit {

std::int64_t retrieval_prompt_tokens(const std::string& task, std::int64_t window, std::int64_t target_tokens,
                                     std::int64_t max_new_tokens) {
  const std::int64_t target = target_tokens > 0 ? target_tokens : window - max_new_tokens;
  if (target < 1)
    throw ConfigError("target_tokens",
                      fmt::format("{}: window {} leaves no room for a prompt after max_new_tokens {}: use windows "
                                  "above {} (or lower max_new_tokens)",
                                  task, window, max_new_tokens, max_new_tokens));
  if (target + max_new_tokens > window)
    throw ConfigError("target_tokens", fmt::format("{}: target_tokens {} + max_new_tokens {} exceed the window {}",
                                                   task, target, max_new_tokens, window));
  return target;
}

void check_retrieval_windows(const std::string& task, const std::vector<std::int64_t>& windows,
                             std::int64_t target_tokens, std::int64_t max_new_tokens) {
  for (std::int64_t window : windows) retrieval_prompt_tokens(task, window, target_tokens, max_new_tokens);
}

}  // namespace e2llm::taskkit
