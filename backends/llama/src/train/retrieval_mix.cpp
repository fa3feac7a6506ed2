#include "retrieval_mix.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "e2llm/error.hpp"
#include "e2llm/llama/train/position_policy.hpp"
#include "e2llm/taskkit/passkey_text.hpp"
#include "e2llm/util/counter_stream.hpp"

namespace e2llm::llama::train {
namespace {

// One row's stream: the trainer's counter stream keyed by (seed, domain, row).
class RowRng : public util::CounterStream {
 public:
  RowRng(uint64_t seed, int64_t row)
      : CounterStream(mix64(mix64(seed ^ 0x7e791e5a1ull) + static_cast<uint64_t>(row))) {}
  int64_t uniform(int64_t lo, int64_t hi) { return modulo_uniform(lo, hi); }
};

std::string word_key(RowRng& rng) {
  std::string k;
  for (int i = 0; i < 4; ++i) k += static_cast<char>('a' + rng.uniform(0, 25));
  return k;
}

// "key abcd is 12345." lines among filler sentences, then questions about up to four of the
// keys, each followed by its answer: dense copying signal (every answer is a 5-digit string
// found only earlier in the document). More filler room holds more lines.
std::string key_value_text(RowRng& rng, size_t filler_chars, std::string* answer) {
  const size_t pairs = std::clamp<size_t>(filler_chars / 60 + 1, 1, 10);
  std::vector<std::string> keys, values;
  while (keys.size() < pairs) {
    std::string k = word_key(rng);
    if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
    keys.push_back(k);
    values.push_back(std::to_string(rng.uniform(10000, 99999)));
  }
  std::vector<size_t> order(pairs);
  for (size_t i = 0; i < pairs; ++i) order[i] = i;
  for (size_t i = pairs - 1; i > 0; --i) std::swap(order[i], order[static_cast<size_t>(rng.uniform(0, int64_t(i)))]);
  const size_t asked = std::min<size_t>(pairs, 4);
  const std::string filler = taskkit::passkey_text::filler_prefix(filler_chars);
  std::string text = "Remember the value of every key below.\n";
  size_t cut = 0;
  for (size_t i = 0; i < pairs; ++i) {
    const size_t next = filler.size() * (i + 1) / (pairs + 1);
    text += filler.substr(cut, next - cut) + "\nkey " + keys[i] + " is " + values[i] + ".\n";
    cut = next;
  }
  text += filler.substr(cut);
  for (size_t q = 0; q < asked; ++q) {
    const size_t k = order[q];
    text += "\nWhat is the value of key " + keys[k] + "? The value of key " + keys[k] + " is " + values[k] + ".";
  }
  *answer = values[order[asked - 1]];
  return text;
}

// Tokens of `make(filler_chars)` with a random length: uniform between the document without
// filler and `budget` tokens, the filler bisected to fit. Empty when even no filler is too long.
template <class Make>
std::vector<int32_t> fit(const Tokenizer& tok, RowRng& rng, int64_t budget, Make make) {
  auto size = [&](size_t chars) { return static_cast<int64_t>(tok.encode(make(chars)).size()); };
  const int64_t shortest = size(0);
  if (shortest > budget) return {};
  const int64_t target = rng.uniform(shortest, budget);
  size_t lo = 0, hi = static_cast<size_t>(target) * 2 + 16;
  while (size(hi) <= target) lo = hi, hi *= 2;
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    (size(mid) <= target ? lo : hi) = mid;
  }
  return tok.encode(make(lo));
}

}  // namespace

int64_t retrieval_rows_for(double fraction, int64_t corpus_rows) {
  if (!(fraction >= 0.0 && fraction < 1.0)) throw ConfigError("retrieval_fraction", "must be in [0, 1)");
  return static_cast<int64_t>(std::llround(fraction / (1.0 - fraction) * static_cast<double>(corpus_rows)));
}

RetrievalRow retrieval_row(const Tokenizer& tok, int64_t row_len, uint64_t seed, int64_t index,
                           const std::function<int32_t(uint64_t)>& corpus_token, uint64_t corpus_size) {
  if (corpus_size == 0) throw Error("retrieval mix: no corpus tokens to place before the documents");
  RowRng rng(seed, index);
  RetrievalRow row;
  const bool passkey = rng.next() % 2 == 0;
  row.kind = passkey ? "passkey" : "key-value";
  // The document starts as the tokenizer frames a text (BOS when its file says so: every
  // SentencePiece base; none for GPT-2-style vocabularies), and fills the rest of the row.
  const std::vector<int32_t> start = prompt_start(tok);
  const int64_t budget = row_len - static_cast<int64_t>(start.size());
  std::vector<int32_t> doc;
  if (passkey) {
    const int64_t key = rng.uniform(taskkit::passkey_text::kKeyMin, taskkit::passkey_text::kKeyMax);
    const double depth = static_cast<double>(rng.uniform(0, 1000)) / 1000.0;
    doc = fit(tok, rng, budget, [&](size_t chars) {
      const size_t prefix = static_cast<size_t>(std::floor(depth * static_cast<double>(chars)));
      return taskkit::passkey_text::prompt_text(key, prefix, chars - prefix) + " " + std::to_string(key) + ".";
    });
    row.answer = std::to_string(key);
  } else {
    const uint64_t kv_seed = rng.next();
    doc = fit(tok, rng, budget, [&](size_t chars) {
      RowRng local(kv_seed, 0);  // the same keys and values at every trial length
      return key_value_text(local, chars, &row.answer);
    });
  }
  if (doc.empty())  // the row is too short for even an empty-filler document: corpus only
    row.document_tokens = 0;
  else
    row.document_tokens = static_cast<int64_t>(start.size() + doc.size());
  const int64_t before = row_len - row.document_tokens;
  uint64_t at = rng.next() % corpus_size;
  row.tokens.reserve(static_cast<size_t>(row_len));
  for (int64_t i = 0; i < before; ++i, at = (at + 1) % corpus_size) row.tokens.push_back(corpus_token(at));
  if (!doc.empty()) {
    row.tokens.insert(row.tokens.end(), start.begin(), start.end());
    row.tokens.insert(row.tokens.end(), doc.begin(), doc.end());
  }
  return row;
}

}  // namespace e2llm::llama::train
