// The tokenizer a GGUF carries: its tokenizer.* keys read and checked, with llama.cpp's
// defaults where a key is absent (docs/tokenizer-gguf.md §What is read).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "e2llm/formats/gguf_reader.hpp"

namespace e2llm::gguftok {

// tokenizer.ggml.token_type, numbered as llama.cpp's llama_token_type.
enum class TokenType : std::int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

enum class VocabKind {
  byte_level_bpe,  // tokenizer.ggml.model = "gpt2": merges, a pre-tokenizer named by tokenizer.ggml.pre
  spm,             // tokenizer.ggml.model = "llama": scored pieces, byte fallback, space prefix
};

struct GgufVocab {
  VocabKind kind = VocabKind::byte_level_bpe;
  std::string pre;  // tokenizer.ggml.pre as written ("" when absent)
  std::vector<std::string> tokens;
  std::vector<float> scores;                                // one per token (0 when the file has none)
  std::vector<TokenType> types;                             // one per token (normal when the file has none)
  std::vector<std::pair<std::string, std::string>> merges;  // byte-level BPE, in rank order
  std::int32_t bos = -1, eos = -1, unk = -1;                // -1: none
  bool add_bos = false, add_eos = false, add_space_prefix = false;
  std::string chat_template;  // tokenizer.chat_template, "" when absent
  std::string fingerprint;    // sha256 over every tokenizer.* key (names, types and values)
};

// Reads the tokenizer of `file`. Throws e2llm::Error naming the key and what is wrong (the
// caller adds the file): no tokenizer.ggml.tokens, a model type other than gpt2 / llama, a
// gpt2 vocabulary without merges, an unknown pre-tokenizer, arrays of the wrong type or
// length, duplicate tokens, special-token ids outside the vocabulary.
GgufVocab read_gguf_vocab(const formats::gguf::File& file);

}  // namespace e2llm::gguftok
