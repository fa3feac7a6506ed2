// The pre-tokenizers that tokenizer.ggml.pre names, as llama.cpp defines them
// (src/llama-vocab.cpp: a list of regexes applied one after another, each match and each gap
// between matches a piece, then GPT-2's byte map), written as the tokenizer.json
// pre_tokenizer that cuts text the same way (docs/tokenizer-gguf.md §Pre-tokenizers).
#pragma once

#include <string>
#include <string_view>

namespace e2llm::gguftok {

struct PreTokenizerInfo {
  std::string_view family;  // the regexes it uses: "gpt-2", "starcoder", "llama3", "qwen2", "default"
  std::string_view spec;    // the equivalent tokenizer.json "pre_tokenizer" (JSON)
  bool ignore_merges;       // a word that is a token is that token (llama.cpp: Llama 3)
  bool adds_bos;            // llama.cpp's add_bos when tokenizer.ggml.add_bos_token is absent
};

// The row of `pre` ("" = absent: llama.cpp's "default"); nullptr when it is not supported.
const PreTokenizerInfo* find_pre_tokenizer(std::string_view pre);

// The supported names, comma-separated, for messages and docs.
std::string supported_pre_tokenizers();

}  // namespace e2llm::gguftok
