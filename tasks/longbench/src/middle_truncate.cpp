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

std::vector<std::int32_t> with_bos(const Tokenizer& tokenizer, std::string_view text) {
  std::vector<std::int32_t> ids{tokenizer.bos_id()};
  std::vector<std::int32_t> body = tokenizer.encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

// decode(..., skip_special_tokens=True): BOS and EOS never reach the text.
std::string decode_plain(const Tokenizer& tokenizer, std::vector<std::int32_t> ids) {
  const std::int32_t bos = tokenizer.bos_id(), eos = tokenizer.eos_id();
  ids.erase(std::remove_if(ids.begin(), ids.end(), [&](std::int32_t t) { return t == bos || t == eos; }), ids.end());
  return tokenizer.decode(ids);
}

}  // namespace

TruncatedPrompt truncate_prompt(const Tokenizer& tokenizer, std::string_view prompt, std::size_t budget) {
  TruncatedPrompt out;
  out.ids = with_bos(tokenizer, prompt);
  out.original_tokens = out.ids.size();
  if (out.ids.size() <= budget) return out;
  const std::size_t half = budget / 2;
  std::vector<std::int32_t> head(out.ids.begin(), out.ids.begin() + static_cast<std::ptrdiff_t>(half));
  std::vector<std::int32_t> tail(out.ids.end() - static_cast<std::ptrdiff_t>(half), out.ids.end());
  // Two separate decodes joined as text, as pred.py does (not one decode of the joined ids).
  std::string text = decode_plain(tokenizer, std::move(head)) + decode_plain(tokenizer, std::move(tail));
  out.ids = with_bos(tokenizer, text);
  out.truncated = true;
  return out;
}

}  // namespace e2llm::longbench
