// LongBench's middle truncation (THUDM/LongBench pred.py): when the tokenized prompt is
// longer than the budget, keep its first and last budget/2 tokens, decode both halves to
// text, join them, and encode the result again for the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "e2llm/tokenizer.hpp"

namespace e2llm::longbench {

// ids[:budget/2] + ids[-(budget/2):] when ids.size() > budget, else ids unchanged.
// (An odd budget keeps budget - 1 tokens, as int(max_length/2) * 2 does.)
std::vector<std::int32_t> keep_head_and_tail(const std::vector<std::int32_t>& ids, std::size_t budget);

struct TruncatedPrompt {
  std::vector<std::int32_t> ids;    // BOS + tokens, what the model is given
  std::size_t original_tokens = 0;  // BOS + tokens before truncation
  bool truncated = false;           // the text was cut in the middle
};

// Encodes BOS + prompt; when that is longer than `budget`, cuts it with keep_head_and_tail,
// decodes the two halves without BOS (skip_special_tokens) and encodes their concatenation
// again with BOS. Like pred.py, the result may differ from `budget` by a few tokens.
TruncatedPrompt truncate_prompt(const Tokenizer& tokenizer, std::string_view prompt, std::size_t budget);

}  // namespace e2llm::longbench
