#include "e2llm/longbench/middle_truncate.hpp"

#include <algorithm>
#include <string>

namespace e2llm::longbench {

std::vector<std::int32_t> keep_head_and_tail(const std::vector<std::int32_t>& ids, std::size_t budget) {
  if (ids.size() <= budget) return ids;
  const std::size_t half = budget / 2;
  std::vector<std::int32_t> out(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(half));
  out.insert(out.end(), ids.end() - static_cast<std::ptrdiff_t>(half), ids.end());
  return out;
}

namespace {

// decode(..., skip_special_tokens=True): BOS and EOS never reach the text.
std::string decode_plain(const Tokenizer& tokenizer, std::vector<std::int32_t> ids) {
  const std::int32_t bos = tokenizer.bos_id(), eos = tokenizer.eos_id();
  ids.erase(std::remove_if(ids.begin(), ids.end(), [&](std::int32_t t) { return t == bos || t == eos; }), ids.end());
  return tokenizer.decode(ids);
}

}  // namespace

TruncatedPrompt truncate_prompt(const taskkit::PromptFraming& plain, const taskkit::PromptFraming& framed,
                                std::string_view prompt, std::size_t budget) {
  TruncatedPrompt out;
  std::vector<std::int32_t> ids = plain.ids(prompt);
  out.original_tokens = ids.size();
  if (ids.size() <= budget) {
    out.ids = framed.chat() ? framed.ids(prompt) : std::move(ids);
    return out;
  }
  const std::size_t half = budget / 2;
  std::vector<std::int32_t> head(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(half));
  std::vector<std::int32_t> tail(ids.end() - static_cast<std::ptrdiff_t>(half), ids.end());
  // Two separate decodes joined as text, as pred.py does (not one decode of the joined ids).
  const Tokenizer& tokenizer = plain.tokenizer();
  const std::string text = decode_plain(tokenizer, std::move(head)) + decode_plain(tokenizer, std::move(tail));
  out.ids = framed.ids(text);
  out.truncated = true;
  return out;
}

}  // namespace e2llm::longbench
