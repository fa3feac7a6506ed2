// A tokenizer.json (the Hugging Face `tokenizers` format) read into a pipeline that encodes
// and decodes as `tokenizers` does: added tokens split out first, then the normalizer, the
// pre-tokenizer and the BPE model; decoding through the file's decoder.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace e2llm::bpe {
class BpeModel;
class PreTokenizer;
}  // namespace e2llm::bpe

namespace e2llm::hfjson {

using bpe::BpeModel;
using bpe::PreTokenizer;

// One step of a normalizer or decoder chain.
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void apply(std::string& text) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
};

struct AddedToken {
  std::string content;
  std::string pattern;  // what is matched: content, normalized when `normalized`
  std::int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

// Finds added tokens in a text: leftmost, then longest (tokenizers' Aho-Corasick mode).
class AddedTokenMatcher {
 public:
  void build(const std::vector<AddedToken>& tokens, bool normalized);
  bool empty() const { return patterns_.empty(); }
  struct Segment {
    std::size_t start, end;
    std::int32_t id;  // -1: plain text
  };
  std::vector<Segment> split(std::string_view text, const std::vector<AddedToken>& tokens) const;

 private:
  std::vector<std::pair<std::string, std::size_t>> patterns_;  // pattern, token index
  std::vector<std::vector<std::size_t>> by_first_byte_;        // indices into patterns_, longest first
};

class TokenizerJson {
 public:
  // Parses tokenizer.json text. Throws e2llm::Error for malformed JSON and for any model,
  // normalizer, pre-tokenizer or decoder this implementation does not cover, naming the
  // component and what is supported.
  explicit TokenizerJson(std::string_view json_text);
  ~TokenizerJson();

  std::vector<std::int32_t> encode(std::string_view text) const;  // no special tokens added
  // tokenizers' decode(ids, skip_special_tokens); ids past the vocabulary throw.
  std::string decode(const std::vector<std::int32_t>& ids, bool skip_special_tokens) const;

  std::int32_t vocab_size() const { return vocab_size_; }
  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  const nlohmann::json& post_processor() const { return post_processor_; }

 private:
  void encode_plain(std::string_view text, bool at_origin, std::vector<std::int32_t>& out) const;
  void encode_normalized(std::string&& text, bool at_origin, std::vector<std::int32_t>& out) const;
  void read_added_tokens(const nlohmann::json& list);

  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Decoder> decoder_;
  std::vector<AddedToken> added_;
  std::unordered_map<std::int32_t, std::size_t> added_by_id_;      // into added_
  std::unordered_map<std::string, std::size_t> added_by_content_;  // into added_
  std::unordered_set<std::string> special_contents_;
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
  nlohmann::json post_processor_;
  std::int32_t vocab_size_ = 0;
};

}  // namespace e2llm::hfjson
