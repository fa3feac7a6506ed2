#include "pre_tokenizers.hpp"

#include <array>

namespace e2llm::gguftok {
namespace {

// Each family as the tokenizer.json pre_tokenizer that cuts text the same way; ByteLevel
// without its regex is only GPT-2's byte map.
//
// GPT-2's regex. llama.cpp's copy lacks the final "|\s+"; its pieces are the same, since the
// only text the rest leaves unmatched is a lone whitespace character before a non-space,
// which "\s+" takes as one piece and llama.cpp keeps as a gap.
constexpr std::string_view kGpt2 = R"json({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})json";
// "\p{N}" first (each number character its own piece), then GPT-2's regex: tokenizers'
// Digits with individual_digits isolates every char::is_numeric (\p{N}) character.
constexpr std::string_view kStarcoder = R"json({"type": "Sequence", "pretokenizers": [
  {"type": "Digits", "individual_digits": true},
  {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}]})json";
constexpr std::string_view kLlama3 = R"json({"type": "Sequence", "pretokenizers": [
  {"type": "Split", "behavior": "Isolated", "pattern": {"Regex":
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
  {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})json";
constexpr std::string_view kQwen2 = R"json({"type": "Sequence", "pretokenizers": [
  {"type": "Split", "behavior": "Isolated", "pattern": {"Regex":
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
  {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})json";
// llama.cpp's fallback: runs of punctuation (and $+<=>^~|), GPT-2's regex, runs of numbers,
// then three ASCII digits at a time.
constexpr std::string_view kDefault = R"json({"type": "Sequence", "pretokenizers": [
  {"type": "Split", "behavior": "Isolated", "pattern": {"Regex": "[\\p{P}\\$\\+<=>\\^~\\|]+"}},
  {"type": "Split", "behavior": "Isolated", "pattern": {"Regex":
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"}},
  {"type": "Split", "behavior": "Isolated", "pattern": {"Regex": "\\p{N}+"}},
  {"type": "Split", "behavior": "Isolated", "pattern": {"Regex": "[0-9][0-9][0-9]"}},
  {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})json";

struct Row {
  std::string_view name;
  PreTokenizerInfo info;
};

// The names llama.cpp maps to these regex lists, with the flags it sets for them.
constexpr std::array kRows = {
    Row{"default", {"default", kDefault, false, false}},
    Row{"gpt-2", {"gpt-2", kGpt2, false, false}},
    Row{"phi-2", {"gpt-2", kGpt2, false, false}},
    Row{"mpt", {"gpt-2", kGpt2, false, false}},
    Row{"olmo", {"gpt-2", kGpt2, false, false}},
    Row{"jais", {"gpt-2", kGpt2, false, false}},
    Row{"exaone4", {"gpt-2", kGpt2, false, false}},
    Row{"smollm", {"starcoder", kStarcoder, false, false}},
    Row{"starcoder", {"starcoder", kStarcoder, false, false}},
    Row{"refact", {"starcoder", kStarcoder, false, false}},
    Row{"codeshell", {"starcoder", kStarcoder, false, false}},
    Row{"command-r", {"starcoder", kStarcoder, false, false}},
    Row{"exaone", {"starcoder", kStarcoder, false, false}},
    Row{"minerva-7b", {"starcoder", kStarcoder, false, false}},
    Row{"llama3", {"llama3", kLlama3, true, true}},
    Row{"llama-v3", {"llama3", kLlama3, true, true}},
    Row{"llama-bpe", {"llama3", kLlama3, true, true}},
    Row{"falcon3", {"llama3", kLlama3, true, true}},
    Row{"falcon-h1", {"llama3", kLlama3, true, true}},
    Row{"pixtral", {"llama3", kLlama3, true, true}},
    Row{"dbrx", {"llama3", kLlama3, false, false}},
    Row{"smaug-bpe", {"llama3", kLlama3, false, false}},
    Row{"qwen2", {"qwen2", kQwen2, false, false}},
    Row{"deepseek-r1-qwen", {"qwen2", kQwen2, false, false}},
    Row{"stablelm2", {"qwen2", kQwen2, false, false}},
    Row{"megrez", {"qwen2", kQwen2, false, false}},
};

}  // namespace

const PreTokenizerInfo* find_pre_tokenizer(std::string_view pre) {
  if (pre.empty()) pre = "default";  // llama.cpp warns and uses its default
  for (const auto& row : kRows)
    if (row.name == pre) return &row.info;
  return nullptr;
}

std::string supported_pre_tokenizers() {
  std::string out;
  for (const auto& row : kRows) out += (out.empty() ? "" : ", ") + std::string(row.name);
  return out;
}

}  // namespace e2llm::gguftok
