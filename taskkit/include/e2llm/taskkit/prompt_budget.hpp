// How long a retrieval prompt (passkey, key-value) is at a window, and whether it fits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace e2llm::taskkit {

// The prompt's token target at `window`: `target_tokens` when it is set (> 0), else
// window - max_new_tokens, so the prompt and the answer fill the window. Throws
// ConfigError("target_tokens", ...) naming the task and the window when they do not fit
// (the target is below one token, or the target plus the answer exceed the window).
std::int64_t retrieval_prompt_tokens(const std::string& task, std::int64_t window, std::int64_t target_tokens,
                                     std::int64_t max_new_tokens);

// The same check for every window of a sweep (a task's set_sweep(): before anything runs).
void check_retrieval_windows(const std::string& task, const std::vector<std::int64_t>& windows,
                             std::int64_t target_tokens, std::int64_t max_new_tokens);

}  // namespace e2llm::taskkit
