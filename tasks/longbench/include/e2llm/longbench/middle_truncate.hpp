// LongBench's middle truncation (THUDM/LongBench pred.py): when the tokenized prompt is
// longer than the budget, keep its first and last budget/2 tokens, decode both halves to
// text, join them, and encode the result again for the model (with the chat template, for a
// chat model: LongBench builds the chat prompt after truncating).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "e2llm/taskkit/prompt_framing.hpp"

namespace e2llm::longbench {

// ids[:budget/2] + ids[-(budget/2):] when ids.size() > budget, else ids unchanged.
// (An odd budget keeps budget - 1 tokens, as int(max_length/2) * 2 does.)
std::vector<std::int32_t> keep_head_and_tail(const std::vector<std::int32_t>& ids, std::size_t budget);

struct TruncatedPrompt {
  std::vector<std::int32_t> ids;    // what the model is given: framed.ids(text)
  std::size_t original_tokens = 0;  // plain.ids(prompt).size(), before truncation
  bool truncated = false;           // the text was cut in the middle
};

// Frames the prompt without a chat template (`plain`: BOS by the add_bos rule); when that is
// longer than `budget`, cuts it with keep_head_and_tail, decodes the two halves without BOS
// and EOS (skip_special_tokens) and joins them as text. The text, cut or not, is framed
// again by `framed` (the chat template when the dataset takes one, else `plain`): LongBench
// truncates the prompt before it builds the chat prompt. Like pred.py, the result may differ
// from `budget` by a few tokens, and by the template's tokens.
TruncatedPrompt truncate_prompt(const taskkit::PromptFraming& plain, const taskkit::PromptFraming& framed,
                                std::string_view prompt, std::size_t budget);

}  // namespace e2llm::longbench
