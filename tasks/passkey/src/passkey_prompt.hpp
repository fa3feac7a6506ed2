// The passkey prompt of Landmark attention (Mohtashami & Jaggi 2023,
// epfml/landmark-attention), as used by PI, YaRN, LongLoRA and PoSE (docs/protocols.md §Passkey):
//
//   <task description>\n<prefix>\nThe pass key is K. Remember it. K is the pass key.\n<suffix>\n<question>
//
// prefix and suffix are both cut from the start of the filler repeated (joined by spaces),
// sized so the whole prompt fills a target token count, with the key line at a chosen depth.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/taskkit/prompt_framing.hpp"

namespace e2llm::passkey {

inline constexpr const char* kTaskDescription =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you "
    "about the important information there.";
inline constexpr const char* kFiller =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
inline constexpr const char* kQuestion = "What is the pass key? The pass key is";
inline constexpr std::int64_t kKeyMin = 1, kKeyMax = 50000;

// The first `chars` characters of the filler repeated, copies joined by a space.
std::string filler_prefix(std::size_t chars);

// The information line for `key`.
std::string key_line(std::int64_t key);

// The prompt text for given filler lengths (characters).
std::string prompt_text(std::int64_t key, std::size_t prefix_chars, std::size_t suffix_chars);

struct PasskeyPrompt {
  std::string text;
  std::vector<std::int32_t> ids;  // framing.ids(text): BOS and the chat template as configured
  std::int64_t key = 0;
  std::size_t prefix_chars = 0, suffix_chars = 0;
  std::int64_t key_token = 0;  // index in ids of the first token of the key line
  double depth = 0.0;          // requested; prefix_chars = floor(depth * (prefix_chars + suffix_chars))
};

// The longest filler whose framed prompt has at most `target_tokens` ids (BOS and the chat
// template's tokens included), split prefix = floor(depth * filler chars) (the reference
// code's int()), suffix = the rest. Throws e2llm::Error if even an empty filler does not
// fit. Token count is monotone in length up to tokenizer merges at the cut, so the result
// lands within a few tokens of the target and never above it.
PasskeyPrompt build_prompt(const taskkit::PromptFraming& framing, std::int64_t key, double depth,
                           std::int64_t target_tokens);

// The key of one trial: uniform in [1, 50000], seeded by (seed, window, depth, trial) only,
// so it does not depend on the order in which trials run or on the other depths.
std::int64_t draw_key(std::uint64_t seed, std::int64_t window, double depth, std::int64_t trial);

// The first run of ASCII digits in `text` ("" when there is none), e.g. " 12345." -> "12345".
std::optional<std::string> first_integer(const std::string& text);

// Whether the first integer in `output` equals `key` (leading zeros ignored).
bool is_correct(const std::string& output, std::int64_t key);

}  // namespace e2llm::passkey
