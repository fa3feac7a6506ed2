#pragma once

#include <cstdint>
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

// A subword tokenizer. encode() never adds BOS/EOS; callers add bos_id() themselves.
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
  // sha256 of the loaded model file: part of every cache key that depends on tokens.
  virtual std::string fingerprint() const = 0;
  virtual std::string model_path() const = 0;
};

}  // namespace e2llm
