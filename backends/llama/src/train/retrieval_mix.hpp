// Synthetic retrieval documents mixed into pretraining, so that a small base model learns to
// retrieve within its window before context extension is measured (otherwise a passkey probe
// reads 0% for every method at every window and says nothing). Two kinds, drawn per row:
//   passkey: the Landmark-attention passkey text (the probe's own template, docs/protocols.md
//            §Passkey) with the key at a random depth, followed by its answer;
//   key-value: "key xxxx is NNNNN." lines hidden in filler, then questions about up to four
//            of the keys, each with its answer (dense copying signal).
// Each synthetic row of R + 1 tokens ends with one such document of random length (at most
// the row), after corpus tokens; every draw is counter-based on (seed, row), so a row is the
// same wherever and whenever it is made (rows are made when read, not stored). Keys come from their own seed domain:
// held-out probe prompts (the passkey task's seeded keys, depths and lengths) are not reproduced (tested).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "e2llm/tokenizer.hpp"

namespace e2llm::llama::train {

struct RetrievalRow {
  std::vector<int32_t> tokens;  // exactly row_len
  std::string kind;             // "passkey" | "key-value"
  int64_t document_tokens = 0;  // the document at the row's end, with BOS when the tokenizer adds one
  std::string answer;           // the key or value the document asks for
};

// Row `index` of the synthetic part. `corpus_token(i)` for i < corpus_size (> 0) supplies the
// tokens before the document, read from a seeded offset (wrapping around).
RetrievalRow retrieval_row(const Tokenizer& tokenizer, int64_t row_len, uint64_t seed, int64_t index,
                           const std::function<int32_t(uint64_t)>& corpus_token, uint64_t corpus_size);

// How many synthetic rows a train split of `corpus_rows` rows gets for a fraction f of all
// training rows: round(f / (1 - f) * corpus_rows).
int64_t retrieval_rows_for(double fraction, int64_t corpus_rows);

}  // namespace e2llm::llama::train
