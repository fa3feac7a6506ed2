// The passkey prompt sized to a window (docs/protocols.md §Passkey): the probe's text
// (e2llm/taskkit/passkey_text.hpp) with filler around the key line so that the whole prompt
// fills a target token count, the key line at a chosen depth.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "e2llm/taskkit/passkey_text.hpp"
#include "e2llm/taskkit/prompt_framing.hpp"

namespace e2llm::passkey {

// The probe's wording (task description, filler, key line, question) is the task kit's, shared
// with the trainer's retrieval mix; these names keep the task's code as it reads.
using taskkit::passkey_text::filler_prefix;
using taskkit::passkey_text::key_line;
using taskkit::passkey_text::kFiller;
using taskkit::passkey_text::kKeyMax;
using taskkit::passkey_text::kKeyMin;
using taskkit::passkey_text::kQuestion;
using taskkit::passkey_text::kTaskDescription;
using taskkit::passkey_text::prompt_text;

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

// The most ids a prompt without filler takes over a few keys (1, 10000, 33333, 50000): below
// it no window's prompt fits (the sweep checks it before work; a drawn key may take a token
// more, which build_prompt still refuses).
std::int64_t shortest_prompt_tokens(const taskkit::PromptFraming& framing);

// The key of one trial: uniform in [1, 50000], seeded by (seed, window, depth, trial) only,
// so it does not depend on the order in which trials run or on the other depths.
std::int64_t draw_key(std::uint64_t seed, std::int64_t window, double depth, std::int64_t trial);

// The first run of ASCII digits in `text` ("" when there is none), e.g. " 12345." -> "12345".
std::optional<std::string> first_integer(const std::string& text);

// Whether the first integer in `output` equals `key` (leading zeros ignored).
bool is_correct(const std::string& output, std::int64_t key);

}  // namespace e2llm::passkey
