#include "e2llm/bpe/bpe_model.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <queue>

#include "e2llm/bpe/unicode.hpp"
#include "e2llm/error.hpp"

namespace e2llm::bpe {
namespace {

// A token as a JSON string, any byte escaped: messages stay one printable line.
std::string quoted(const std::string& token) {
  return nlohmann::json(token).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

constexpr std::size_t kCacheMaxWordBytes = 256;  // longer words are rare: not cached
constexpr std::size_t kCacheMaxEntries = 1 << 18;

// One symbol of a word being merged: a doubly linked list over a vector, as in tokenizers.
struct Symbol {
  std::int32_t id;
  std::int32_t prev, next;
  std::uint32_t len;  // 0 once merged into its left neighbour
};

struct Candidate {
  std::uint32_t rank;
  std::int32_t pos;
  std::int32_t new_id;
  // The lowest rank first, then the leftmost position.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

BpeModel::BpeModel(const std::vector<std::pair<std::string, std::int32_t>>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options)
    : options_(std::move(options)) {
  std::int32_t max_id = -1;
  for (const auto& [token, id] : vocab) {
    if (id < 0) throw Error("token " + quoted(token) + " has a negative id");
    max_id = std::max(max_id, id);
  }
  id_to_token_.assign(static_cast<std::size_t>(max_id + 1), std::string());
  has_token_.assign(id_to_token_.size(), false);
  // Keys live in keys_ (reserved up front, so the views stay valid); when two tokens share
  // an id (never in real files), both encode to it and the later one decodes.
  keys_.reserve(vocab.size());
  vocab_.reserve(vocab.size());
  for (const auto& [token, id] : vocab) {
    id_to_token_[static_cast<std::size_t>(id)] = token;
    has_token_[static_cast<std::size_t>(id)] = true;
    keys_.push_back(token);
    vocab_[std::string_view(keys_.back())] = id;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto id = token_to_id(name);
    byte_ids_[b] = id ? *id : -1;
  }

  merges_.reserve(merges.size());
  std::uint32_t rank = 0;
  for (const auto& [a, b] : merges) {
    auto a_id = token_to_id(a), b_id = token_to_id(b);
    if (!a_id || !b_id) throw Error("merge " + quoted(a + " " + b) + " names a token that is not in the vocabulary");
    // tokenizers drops the prefix's length from the right part, whatever it holds.
    const std::size_t prefix = std::min(options_.continuing_subword_prefix.size(), b.size());
    auto merged = token_to_id(a + b.substr(prefix));
    if (!merged) throw Error("the result of merge " + quoted(a + " " + b) + " is not in the vocabulary");
    merges_[pair_key(*a_id, *b_id)] = {rank++, *merged};  // a repeated pair keeps its last rank
  }
}

std::optional<std::int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size() || !has_token_[static_cast<std::size_t>(id)])
    return nullptr;
  return &id_to_token_[static_cast<std::size_t>(id)];
}

void BpeModel::tokenize(std::string_view word, std::vector<std::int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges)
    if (auto id = token_to_id(word)) {
      out.push_back(*id);
      return;
    }
  if (word.size() >= kCacheMaxWordBytes) {
    merge_word(word, out);
    return;
  }
  std::string key(word);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::int32_t> ids;
  merge_word(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() < kCacheMaxEntries) cache_.emplace(std::move(key), std::move(ids));
}

// The initial symbols: one per character (with the subword prefix / word suffix where
// configured), else its <0xNN> byte tokens, else the unknown token (fused if configured),
// else nothing — in tokenizers' order, where a pending unknown is flushed only by a
// character found in the vocabulary.
void BpeModel::add_char_ids(std::string_view word, std::vector<std::int32_t>& ids) const {
  std::int32_t pending_unk = -1;
  auto unk_id = [&]() -> std::int32_t {
    auto id = token_to_id(*options_.unk_token);
    if (!id) throw Error("the unknown token " + quoted(*options_.unk_token) + " is not in the vocabulary");
    return *id;
  };
  std::string buffer;
  for (std::size_t i = 0; i < word.size();) {
    const std::size_t len = utf8_length(static_cast<unsigned char>(word[i]));
    std::string_view s = word.substr(i, len);
    const bool first = i == 0, last = i + len >= word.size();
    i += len;
    if ((!first && !options_.continuing_subword_prefix.empty()) || (last && !options_.end_of_word_suffix.empty())) {
      buffer.assign(first ? "" : options_.continuing_subword_prefix)
          .append(s)
          .append(last ? options_.end_of_word_suffix : "");
      s = buffer;
    }
    if (auto id = token_to_id(s)) {
      if (pending_unk >= 0) ids.push_back(pending_unk), pending_unk = -1;
      ids.push_back(*id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (unsigned char b : s) all = all && byte_ids_[b] >= 0;
      if (all) {
        for (unsigned char b : s) ids.push_back(byte_ids_[b]);
        continue;
      }
    }
    if (!options_.unk_token) continue;  // dropped, as tokenizers does without an unknown token
    if (pending_unk >= 0 && !options_.fuse_unk) ids.push_back(pending_unk);
    if (pending_unk < 0 || !options_.fuse_unk) pending_unk = unk_id();
  }
  if (pending_unk >= 0) ids.push_back(pending_unk);
}

void BpeModel::merge_word(std::string_view word, std::vector<std::int32_t>& out) const {
  std::vector<std::int32_t> ids;
  ids.reserve(word.size());
  add_char_ids(word, ids);
  apply_merges(ids);
  out.insert(out.end(), ids.begin(), ids.end());
}

// Merges the lowest-ranked adjacent pair first (leftmost among equals) until none applies;
// a queued candidate is stale when its pair no longer yields the same token.
void BpeModel::apply_merges(std::vector<std::int32_t>& ids) const {
  if (ids.size() < 2) return;
  const auto n = static_cast<std::int32_t>(ids.size());
  std::vector<Symbol> symbols(ids.size());
  for (std::int32_t k = 0; k < n; ++k) symbols[k] = {ids[k], k - 1, k + 1 < n ? k + 1 : -1, 1};
  std::vector<Candidate> storage;
  storage.reserve(ids.size());
  std::priority_queue<Candidate> queue(std::less<Candidate>(), std::move(storage));
  auto find = [&](std::int32_t a, std::int32_t b) -> const Merge* {
    auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  };
  for (std::int32_t k = 0; k + 1 < n; ++k)
    if (const Merge* m = find(symbols[k].id, symbols[k + 1].id)) queue.push({m->rank, k, m->new_id});
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.len == 0 || left.next < 0) continue;
    const Symbol right = symbols[left.next];
    const Merge* current = find(left.id, right.id);
    if (!current || current->new_id != top.new_id) continue;
    symbols[left.next].len = 0;
    left.id = top.new_id;
    left.len += right.len;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0)
      if (const Merge* m = find(symbols[left.prev].id, left.id)) queue.push({m->rank, left.prev, m->new_id});
    if (left.next >= 0)
      if (const Merge* m = find(left.id, symbols[left.next].id)) queue.push({m->rank, top.pos, m->new_id});
  }
  ids.clear();
  for (const auto& s : symbols)
    if (s.len != 0) ids.push_back(s.id);
}

}  // namespace e2llm::bpe
