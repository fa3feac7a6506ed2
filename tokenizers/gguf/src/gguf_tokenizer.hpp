// The tokenizer inside a GGUF, encoding and decoding as llama.cpp does with
// parse_special = false: user-defined tokens are cut out of the text first (longest first),
// control tokens never are; the rest goes through byte-level BPE (gpt2 vocabularies) or the
// SPM merge (llama vocabularies). docs/tokenizer-gguf.md says what is covered.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf_vocab.hpp"

namespace e2llm::bpe {
class BpeModel;
class PreTokenizer;
}  // namespace e2llm::bpe

namespace e2llm::gguftok {

class SpmModel;

class GgufTokenizer {
 public:
  // Throws e2llm::Error naming the key when the vocabulary cannot be built (a merge naming
  // a token that is not in the vocabulary).
  explicit GgufTokenizer(GgufVocab vocab);
  ~GgufTokenizer();

  // No BOS/EOS; control tokens in the text are plain text. Invalid UTF-8 reads as U+FFFD.
  std::vector<std::int32_t> encode(std::string_view text) const;
  // Control and unknown tokens are left out; throws for an id outside the vocabulary.
  std::string decode(const std::vector<std::int32_t>& ids) const;

  const GgufVocab& vocab() const { return vocab_; }
  std::int32_t size() const { return static_cast<std::int32_t>(vocab_.tokens.size()); }
  std::optional<std::int32_t> token_id(std::string_view token) const;

 private:
  struct Fragment {
    std::size_t start, length;
    std::int32_t token;  // -1: text to tokenize
  };
  std::vector<Fragment> split_user_defined(std::string_view text) const;
  void encode_fragment(std::string_view text, bool after_token, std::vector<std::int32_t>& out) const;
  const std::string& piece_of(std::int32_t id) const;
  std::string decode_bpe(const std::vector<std::int32_t>& ids) const;
  std::string decode_spm(const std::vector<std::int32_t>& ids) const;

  GgufVocab vocab_;
  std::unordered_map<std::string_view, std::int32_t> by_text_;  // views into vocab_.tokens
  std::vector<std::int32_t> user_defined_;                      // longest text first
  std::vector<std::string> pieces_;                             // the bytes each id decodes to
  std::unique_ptr<bpe::BpeModel> bpe_;
  std::unique_ptr<bpe::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<SpmModel> spm_;
};

// The tokenizer `file` carries. Throws e2llm::Error naming the file and the key.
std::unique_ptr<GgufTokenizer> tokenizer_from_gguf(const formats::gguf::File& file);

}  // namespace e2llm::gguftok
