// Training data: text / JSONL corpora -> tokens -> documents joined with BOS -> packed
// sequences of R + 1 tokens (R inputs, R shifted targets), stored as a memory-mapped
// uint16 (vocab <= 65536) or uint32 file, cached by content hash. The train/validation
// split is by document and recorded in meta.json. No LibTorch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2llm/tokenizer.hpp"

namespace e2llm::llama::train {

struct DataOptions {
  // Files or folders. *.jsonl: one document per row (field `text_field`); any other file:
  // one document. A folder: its *.txt, *.jsonl, *.md, *.tex files, sorted, recursively.
  std::vector<std::filesystem::path> corpus;
  std::string text_field = "text";
  int64_t seq_len = 0;            // R
  double val_fraction = 0.05;     // share of documents held out (evenly spaced, by index)
  std::filesystem::path cache_dir;  // the dataset lands in cache_dir/data-<hash>/
  // Share of training sequences that are synthetic retrieval documents (retrieval_mix.hpp),
  // in [0, 1); 0 = the corpus only. Validation stays corpus-only.
  double retrieval_fraction = 0.0;
  uint64_t retrieval_seed = 0;
};

class MappedTokens;

// One split of a packed dataset: `count` sequences of seq_len + 1 tokens stored in a file,
// then `synthetic` sequences made on demand by `make` (the retrieval mix).
class TokenSplit {
 public:
  using Maker = std::function<void(int64_t index, int64_t* out)>;
  TokenSplit() = default;
  TokenSplit(std::shared_ptr<const MappedTokens> file, int64_t count, int64_t row_len, int64_t synthetic = 0,
             Maker make = {});
  int64_t size() const { return count_ + synthetic_; }
  int64_t row_len() const { return row_len_; }  // R + 1
  // Copies sequence `index` into out[0 .. R] as int64 ids.
  void read(int64_t index, int64_t* out) const;

 private:
  std::shared_ptr<const MappedTokens> file_;
  int64_t count_ = 0, row_len_ = 0, synthetic_ = 0;
  Maker make_;
};

struct TokenDataset {
  std::filesystem::path dir;
  std::string hash;  // the content hash naming dir
  nlohmann::json meta;  // documents, tokens, split, dtype, sources with their sha256
  TokenSplit train, val;
};

// Builds (or reuses) the dataset; every rank may call it: files are written atomically. With
// a retrieval mix the train split makes its synthetic rows with `tokenizer`, which must
// outlive the dataset.
TokenDataset load_or_build_dataset(const DataOptions& options, const Tokenizer& tokenizer);

// The corpus files in order, expanded from `corpus`; throws e2llm::Error for a missing path.
std::vector<std::filesystem::path> expand_corpus(const std::vector<std::filesystem::path>& corpus);
// sha256 over the tokenizer fingerprint, the corpus files' sha256, R, the split and format.
std::string dataset_hash(const DataOptions& options, const Tokenizer& tokenizer);

}  // namespace e2llm::llama::train
