// llama.cpp's SPM tokenizer (src/llama-vocab.cpp, llm_tokenizer_spm), which is SentencePiece's
// BPE encoding: start from the characters, repeatedly merge the adjacent pair whose merged
// piece has the highest score (the leftmost among equal scores), and write pieces the
// vocabulary lacks as their <0xNN> byte tokens (docs/tokenizer-gguf.md §SPM).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf_vocab.hpp"

namespace e2llm::gguftok {

class SpmModel {
 public:
  explicit SpmModel(const GgufVocab& vocab);

  // Appends the ids of `text`, whose spaces are already written as U+2581.
  void tokenize(std::string_view text, std::vector<std::int32_t>& out) const;

 private:
  void emit(std::string_view piece, std::vector<std::int32_t>& out) const;

  struct Piece {
    std::int32_t id;
    float score;
    bool unused;
  };
  // The pieces a merge may form: normal, user-defined, unused and undefined tokens, as
  // SentencePiece's own piece table (control, unknown and byte tokens are never merged into).
  std::vector<std::string> keys_;                       // the pieces' text
  std::unordered_map<std::string_view, Piece> pieces_;  // views into keys_
  std::int32_t byte_ids_[256];
  std::int32_t unk_ = -1;
};

}  // namespace e2llm::gguftok
