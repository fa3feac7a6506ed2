#include "spm.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <queue>

namespace e2llm::gguftok {
namespace {

// One symbol of the text being merged: a doubly linked list over a vector.
struct Symbol {
  std::int32_t prev, next;
  std::size_t start, len;  // len 0 once merged into its left neighbour
};

struct Bigram {
  std::int32_t left, right;
  float score;
  std::size_t size;  // bytes of the merged piece: a stale entry no longer adds up to it
  // The highest score first, then the leftmost position.
  bool operator<(const Bigram& o) const { return score != o.score ? score < o.score : left > o.left; }
};

std::size_t utf8_length(unsigned char b0) {
  return b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
}

}  // namespace

SpmModel::SpmModel(const GgufVocab& vocab) : unk_(vocab.unk) {
  std::unordered_map<std::string, std::int32_t> all;
  keys_.reserve(vocab.tokens.size());  // no reallocation: pieces_ views them
  for (std::size_t i = 0; i < vocab.tokens.size(); ++i) {
    const auto id = static_cast<std::int32_t>(i);
    all.emplace(vocab.tokens[i], id);
    switch (vocab.types[i]) {
      case TokenType::normal:
      case TokenType::user_defined:
      case TokenType::unused:
      case TokenType::undefined:
        keys_.push_back(vocab.tokens[i]);
        pieces_.emplace(keys_.back(), Piece{id, vocab.scores[i], vocab.types[i] == TokenType::unused});
        break;
      default:
        break;
    }
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = all.find(name);
    byte_ids_[b] = it == all.end() ? -1 : it->second;
  }
}

void SpmModel::tokenize(std::string_view text, std::vector<std::int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (std::size_t offset = 0; offset < text.size();) {
    const std::size_t len = std::min(utf8_length(static_cast<unsigned char>(text[offset])), text.size() - offset);
    const auto index = static_cast<std::int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + len < text.size() ? index + 1 : -1, offset, len});
    offset += len;
  }
  std::vector<Bigram> storage;
  storage.reserve(symbols.size());
  std::priority_queue<Bigram> queue(std::less<Bigram>(), std::move(storage));
  // Merged pieces that are "unused" tokens are written as the two pieces they came from
  // (SentencePiece's resegmentation).
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> unused_parts;
  auto try_add = [&](std::int32_t left, std::int32_t right) {
    if (left < 0 || right < 0) return;
    const std::string_view merged = text.substr(symbols[left].start, symbols[left].len + symbols[right].len);
    auto it = pieces_.find(merged);
    if (it == pieces_.end()) return;
    queue.push({left, right, it->second.score, merged.size()});
    if (it->second.unused)
      unused_parts[merged] = {text.substr(symbols[left].start, symbols[left].len),
                              text.substr(symbols[right].start, symbols[right].len)};
  };
  for (std::int32_t i = 1; i < static_cast<std::int32_t>(symbols.size()); ++i) try_add(i - 1, i);
  while (!queue.empty()) {
    const Bigram top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    if (left.len == 0 || right.len == 0 || left.len + right.len != top.size) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    try_add(left.prev, top.left);
    try_add(top.left, left.next);
  }
  std::function<void(std::string_view)> resegment = [&](std::string_view piece) {
    auto it = pieces_.find(piece);
    if (it != pieces_.end() && it->second.unused)
      if (auto parts = unused_parts.find(piece); parts != unused_parts.end()) {
        resegment(parts->second.first);
        resegment(parts->second.second);
        return;
      }
    emit(piece, out);
  };
  for (std::int32_t i = 0; i >= 0; i = symbols[i].next) resegment(text.substr(symbols[i].start, symbols[i].len));
}

// A final piece: its id, else its bytes as <0xNN> tokens, else the unknown token, else
// nothing (a vocabulary with neither).
void SpmModel::emit(std::string_view piece, std::vector<std::int32_t>& out) const {
  if (auto it = pieces_.find(piece); it != pieces_.end()) {
    out.push_back(it->second.id);
    return;
  }
  bool bytes = true;
  for (unsigned char b : piece) bytes = bytes && byte_ids_[b] >= 0;
  if (bytes) {
    for (unsigned char b : piece) out.push_back(byte_ids_[b]);
  } else if (unk_ >= 0) {
    out.push_back(unk_);
  }
}

}  // namespace e2llm::gguftok
