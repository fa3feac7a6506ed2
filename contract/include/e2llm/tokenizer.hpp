#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "e2llm/plugin.hpp"

namespace e2llm {

struct TokenizerTrainOptions {
  std::vector<std::string> inputs;  // text files, one sentence/paragraph per line
  int vocab_size = 4096;
  std::string model_type = "bpe";   // "bpe" | "unigram"
  std::string out_path;             // PATH.model; written atomically
  bool byte_fallback = true;
  std::uint64_t max_input_bytes = 64ull << 20;
};

// A subword tokenizer. encode() never adds BOS/EOS and never reads special-token strings in
// the text as special tokens; whether a text the model reads starts with BOS is the
// tokenizer file's decision (adds_bos()), applied by encode_text() below.
class Tokenizer : public Plugin {
 public:
  // Throws e2llm::Error naming the path if it is missing or not a valid model.
  virtual void load(const std::string& model_path) = 0;
  virtual void train(const TokenizerTrainOptions& options) = 0;

  virtual std::vector<std::int32_t> encode(std::string_view text) const = 0;
  virtual std::string decode(const std::vector<std::int32_t>& ids) const = 0;
  virtual std::int32_t bos_id() const = 0;
  virtual std::int32_t eos_id() const = 0;
  virtual std::int32_t vocab_size() const = 0;
  // Whether the model reads a text as [BOS] + tokens (+ [EOS]), as the tokenizer file says:
  // SentencePiece / Llama 1-3 vocabularies add BOS; GPT-2, SmolLM2 and Qwen2 add neither
  // (tokenizer.json's post-processor, tokenizer_config.json's add_bos_token, GGUF's
  // tokenizer.ggml.add_bos_token).
  virtual bool adds_bos() const = 0;
  virtual bool adds_eos() const = 0;
  // The id of a vocabulary entry by its exact string ("<|im_start|>", "<s>"), if present.
  virtual std::optional<std::int32_t> token_id(std::string_view token) const = 0;
  // The chat template the tokenizer file carries (its Jinja source), "" when it has none.
  virtual std::string chat_template() const = 0;
  // sha256 of the loaded model file: part of every cache key that depends on tokens.
  virtual std::string fingerprint() const = 0;
  virtual std::string model_path() const = 0;
};

// A text as the model reads it: BOS and EOS as the tokenizer file says.
inline std::vector<std::int32_t> encode_text(const Tokenizer& tokenizer, std::string_view text) {
  std::vector<std::int32_t> ids;
  if (tokenizer.adds_bos()) ids.push_back(tokenizer.bos_id());
  const std::vector<std::int32_t> body = tokenizer.encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  if (tokenizer.adds_eos()) ids.push_back(tokenizer.eos_id());
  return ids;
}

// The start of a prompt the model continues: BOS when the file asks for it, never EOS.
inline std::vector<std::int32_t> prompt_start(const Tokenizer& tokenizer) {
  return tokenizer.adds_bos() ? std::vector<std::int32_t>{tokenizer.bos_id()} : std::vector<std::int32_t>{};
}

}  // namespace e2llm
