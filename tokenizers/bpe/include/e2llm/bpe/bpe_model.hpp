// A BPE model: a vocabulary, merges ranked by their order, optional byte fallback (<0xNN>
// tokens) and an unknown token, merged the way the Hugging Face `tokenizers` library merges
// (docs/tokenizer-json.md §Details that are easy to get wrong). Built from plain data, so
// that tokenizer.json (hf-json) and GGUF (gguf) vocabularies share it.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace e2llm::bpe {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix, end_of_word_suffix;
  bool fuse_unk = false, byte_fallback = false;
  bool ignore_merges = false;  // a word that is a token is that token, whatever the merges say
};

class BpeModel {
 public:
  // `vocab`: (token, id) pairs, ids >= 0 (holes allowed); `merges`: pairs in rank order, a
  // repeated pair keeps its last rank. Throws e2llm::Error for a negative id, or a merge whose
  // parts or result are not in the vocabulary (callers add where in their file it was).
  BpeModel(const std::vector<std::pair<std::string, std::int32_t>>& vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options);

  // Appends the ids of one pre-tokenized word.
  void tokenize(std::string_view word, std::vector<std::int32_t>& out) const;

  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  // nullptr for an id without a token.
  const std::string* id_to_token(std::int32_t id) const;
  // Number of entries of the vocabulary (tokenizers' get_vocab_size for the model).
  std::size_t size() const { return vocab_.size(); }
  std::int32_t max_id() const { return static_cast<std::int32_t>(id_to_token_.size()) - 1; }

 private:
  struct Merge {
    std::uint32_t rank;
    std::int32_t new_id;
  };
  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
  }
  void merge_word(std::string_view word, std::vector<std::int32_t>& out) const;
  void add_char_ids(std::string_view word, std::vector<std::int32_t>& ids) const;
  void apply_merges(std::vector<std::int32_t>& ids) const;

  std::vector<std::string> id_to_token_;  // "" with has_token_ false: a hole
  std::vector<bool> has_token_;
  std::vector<std::string> keys_;                             // every vocabulary token
  std::unordered_map<std::string_view, std::int32_t> vocab_;  // views into keys_
  std::unordered_map<std::uint64_t, Merge> merges_;
  BpeOptions options_;
  std::int32_t byte_ids_[256];  // <0xNN> ids, -1 when absent

  // Words seen before (tokenizers caches too; the result is the same either way).
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
};

}  // namespace e2llm::bpe
