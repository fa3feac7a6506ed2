// The bounds of the LanguageModel contract as plain checks a test double calls first, so
// that it refuses what the LibTorch model refuses (language_model_conformance.hpp checks
// both). No GoogleTest here: test plugins include it too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "e2llm/error.hpp"
#include "e2llm/language_model.hpp"

namespace e2llm::testing {

// What a test double calls first to keep the contract's bounds (the same rules the suite checks).
inline void check_token_logprobs_args(std::int64_t window, std::int32_t vocab, const std::vector<std::int32_t>& ids,
                                      std::size_t score_from) {
  if (score_from < 1) throw Error("token_logprobs: score_from must be >= 1");
  if (std::int64_t(ids.size()) > window)
    throw Error("token_logprobs: " + std::to_string(ids.size()) + " tokens exceed the window of " +
                std::to_string(window));
  for (auto id : ids)
    if (id < 0 || id >= vocab) throw Error("token_logprobs: id " + std::to_string(id) + " outside the vocabulary");
}

inline void check_generate_args(std::int64_t window, std::int32_t vocab, const std::vector<std::int32_t>& prompt,
                                const GenerationOptions& options) {
  if (prompt.empty()) throw Error("generate: the prompt is empty");
  if (options.max_new_tokens < 0) throw Error("generate: max_new_tokens must be >= 0");
  if (std::int64_t(prompt.size()) + options.max_new_tokens > window)
    throw Error("generate: prompt + max_new_tokens exceed the window of " + std::to_string(window));
  for (auto id : prompt)
    if (id < 0 || id >= vocab) throw Error("generate: id " + std::to_string(id) + " outside the vocabulary");
}

}  // namespace e2llm::testing
